// dicomweb-client (the library browser viewers such as OHIF use) against the frontend's DICOMweb
// door, over HTTPS with a client certificate. Exits 0 when every check holds, 1 naming the first
// that does not (tests/dicomweb_test.cc runs it).
//
//   node client.mjs BASE_URL TLS_DIR CERT_NAME STUDY SERIES SOP FILE PATIENT_ID
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import https from 'node:https';

const require = createRequire(import.meta.url);
const XMLHttpRequest = require('xhr2');
const dwc = require('dicomweb-client');

const [base, tls, name, study, series, sop, file, patient] = process.argv.slice(2);
XMLHttpRequest.nodejsSet({
  httpsAgent: new https.Agent({
    ca: readFileSync(`${tls}/ca.crt`),
    cert: readFileSync(`${tls}/${name}.crt`),
    key: readFileSync(`${tls}/${name}.key`),
  }),
});
globalThis.XMLHttpRequest = XMLHttpRequest;

function fail(why) {
  console.error(`dicomweb-client check failed: ${why}`);
  process.exit(1);
}

const stored = readFileSync(file);
const same = (buffer) => Buffer.compare(Buffer.from(buffer), stored) === 0;
const client = new dwc.api.DICOMwebClient({ url: `${base}/dicomweb` });
try {
  const instance = await client.retrieveInstance({
    studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: sop,
  });
  if (!same(instance)) fail('retrieveInstance: not the stored bytes');
  const inSeries = await client.retrieveSeries({
    studyInstanceUID: study, seriesInstanceUID: series,
  });
  if (!inSeries.some(same)) fail('retrieveSeries: the stored instance is missing');
  const inStudy = await client.retrieveStudy({ studyInstanceUID: study });
  if (!inStudy.some(same)) fail('retrieveStudy: the stored instance is missing');
  const found = await client.searchForStudies({ queryParams: { PatientID: patient } });
  const uids = found.map((s) => s['0020000D'] && s['0020000D'].Value && s['0020000D'].Value[0]);
  if (!uids.includes(study)) fail(`searchForStudies: study not found among ${uids.length}`);
} catch (e) {
  fail(`request failed: ${e && (e.status || e.message || e)}`);
}
console.log('ok');

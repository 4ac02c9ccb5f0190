// dicomweb-client (the library browser viewers such as OHIF use) against the frontend's DICOMweb
// door, over HTTPS with a client certificate. Exits 0 when every check holds, 1 naming the first
// that does not (tests/dicomweb_test.cc runs it). QIDO-RS answers (study, series, instance level)
// are compared attribute by attribute with what pydicom reads from FILE (expected.py); WADO-RS
// metadata at every level and the Pixel Data's bulk data are fetched too. With `store` first, it
// stores FILE with storeInstances (STOW-RS) and reads it back instead.
//
//   node client.mjs BASE_URL TLS_DIR CERT_NAME STUDY SERIES SOP FILE PATIENT_ID
//   node client.mjs store BASE_URL TLS_DIR CERT_NAME STUDY SERIES SOP FILE
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import https from 'node:https';

const require = createRequire(import.meta.url);
const XMLHttpRequest = require('xhr2');
const dwc = require('dicomweb-client');

const storing = process.argv[2] === 'store';
const [base, tls, name, study, series, sop, file, patient] =
  process.argv.slice(storing ? 3 : 2);
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
  if (storing) {
    await client.storeInstances({ datasets: [stored] });
    const back = await client.retrieveInstance({
      studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: sop,
    });
    if (!same(back)) fail('storeInstances: retrieveInstance does not return the stored bytes');
    console.log('ok');
    process.exit(0);
  }
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

  const expected = JSON.parse(execFileSync('/usr/bin/python3', [
    join(dirname(fileURLToPath(import.meta.url)), 'expected.py'), file]).toString());
  // The first value of a DICOM JSON attribute as expected.py writes it; null when absent.
  const first = (item, tag) => {
    const a = item[tag];
    if (!a || !a.Value || a.Value.length === 0) return null;
    const v = a.Value[0];
    return a.vr === 'PN' ? v.Alphabetic : v;
  };
  const check = (what, item, attributes) => {
    for (const [tag, want] of Object.entries(attributes)) {
      const got = first(item, tag);
      if (got !== want) fail(`${what}: attribute ${tag} is ${got}, pydicom reads ${want}`);
    }
  };
  const one = (what, items, tag, uid) => {
    const found = items.filter((i) => first(i, tag) === uid);
    if (found.length !== 1) fail(`${what}: ${found.length} answers for the stored one`);
    return found[0];
  };
  const studies = await client.searchForStudies({ queryParams: { StudyInstanceUID: study } });
  check('searchForStudies', one('searchForStudies', studies, '0020000D', study), expected.study);
  const inStudySeries = await client.searchForSeries({ studyInstanceUID: study });
  check('searchForSeries in study',
    one('searchForSeries in study', inStudySeries, '0020000E', series), expected.series);
  const allSeries = await client.searchForSeries({
    queryParams: { Modality: expected.series['00080060'], PatientID: patient },
  });
  const s = one('searchForSeries', allSeries, '0020000E', series);
  check('searchForSeries', s, expected.series);
  check('searchForSeries (study attributes)', s, expected.study);
  const seriesInstances = await client.searchForInstances({
    studyInstanceUID: study, seriesInstanceUID: series,
  });
  check('searchForInstances in series',
    one('searchForInstances in series', seriesInstances, '00080018', sop), expected.instance);
  const allInstances = await client.searchForInstances({
    queryParams: { SOPInstanceUID: sop, includefield: 'all' },
  });
  const i = one('searchForInstances', allInstances, '00080018', sop);
  check('searchForInstances', i, expected.instance);
  check('searchForInstances (series attributes)', i, expected.series);
  check('searchForInstances (study attributes)', i, expected.study);
  const wildcard = await client.searchForStudies({
    queryParams: { PatientName: `${expected.study['00100010'].slice(0, 3)}*` },
  });
  one('searchForStudies with a wildcard', wildcard, '0020000D', study);

  // WADO-RS metadata at the instance, series and study level, and the Pixel Data's bulk data.
  const uidsOf = (item) => ['0020000D', '0020000E', '00080018'].map((t) => first(item, t)).join(' ');
  const metaInstance = await client.retrieveInstanceMetadata({
    studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: sop,
  });
  if (metaInstance.length !== 1) fail(`retrieveInstanceMetadata: ${metaInstance.length} objects`);
  if (uidsOf(metaInstance[0]) !== [study, series, sop].join(' ')) {
    fail('retrieveInstanceMetadata: not the instance asked for');
  }
  check('retrieveInstanceMetadata', metaInstance[0], {
    '00080016': expected.instance['00080016'], '00100020': expected.study['00100020'],
  });
  const pixels = metaInstance[0]['7FE00010'];
  if (!pixels || !pixels.BulkDataURI) fail('retrieveInstanceMetadata: Pixel Data has no BulkDataURI');
  const bulk = await client.retrieveBulkData({ BulkDataURI: pixels.BulkDataURI });
  if (!Array.isArray(bulk) || bulk.length !== 1 || Buffer.from(bulk[0]).length === 0) {
    fail('retrieveBulkData: not one non-empty part');
  }
  const metaSeries = await client.retrieveSeriesMetadata({
    studyInstanceUID: study, seriesInstanceUID: series,
  });
  one('retrieveSeriesMetadata', metaSeries, '00080018', sop);
  const metaStudy = await client.retrieveStudyMetadata({ studyInstanceUID: study });
  one('retrieveStudyMetadata', metaStudy, '00080018', sop);
} catch (e) {
  fail(`request failed: ${e && (e.status || e.message || e)}`);
}
console.log('ok');

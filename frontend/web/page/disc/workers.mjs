// Writes WORKERS.JS of the disc viewer (frontend/web/page/disc/viewer.js): dwv's decoder workers as
// text, for blob: URLs.   node workers.mjs DWV_WORKERS_DIR OUT
import { readFileSync, writeFileSync } from 'node:fs';

const [dir, out] = process.argv.slice(2);
const workers = {};
for (const name of ['jpeg2000', 'jpegbaseline', 'jpegloss', 'rle']) {
  const file = name + '.worker.min.js';
  workers[file] = readFileSync(dir + '/' + file, 'utf8').replace(/\/\/# sourceMappingURL=.*\s*$/, '');
}
writeFileSync(out, 'window.medvaultDisc = window.medvaultDisc || {};\n' +
  'window.medvaultDisc.workers = ' + JSON.stringify(workers) + ';\n');

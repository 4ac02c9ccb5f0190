// The offline viewer of an exported medium (VIEWER/VIEWER.HTM on the disc, ZIP or folder), opened
// from INDEX.HTM under file:// with no server and no network. Chromium refuses fetch and XHR of
// file:// URLs, but a page may still load scripts from beside it: so the medium carries each
// instance of a viewable series also as a script, VIEWER/STnnnnnn/SEnnnnnn/IMnnnnnn.JS, that calls
// medvaultDisc.put(id, base64 of the DICOM file), and dwv reads the bytes from memory. dwv's
// decoder workers (JPEG, JPEG-LS, JPEG 2000, RLE) come the same way, as text in WORKERS.JS, and
// are started from blob: URLs (a file:// page may not start a worker from a file:// URL), so
// compressed images (JPEG, JPEG-LS, JPEG 2000, RLE) are shown too.
//
// VIEWER.HTM#ST000001/SE000002/5 opens the 5 instances of series 2 of study 1.
import { App, AppOptions, ViewConfig } from 'dwv';

const disc = (window.medvaultDisc = window.medvaultDisc || {});
const $ = (id) => document.getElementById(id);
const waiting = new Map();  // instance id -> resolve

disc.put = (id, base64) => {
  const resolve = waiting.get(id);
  if (resolve === undefined) return;
  waiting.delete(id);
  resolve(base64);
};

// dwv starts its decoders as `new Worker(new URL('assets/workers/NAME', base))`.
const NativeWorker = window.Worker;
window.Worker = function DiscWorker(url, options) {
  const name = String(url).split('/').pop();
  const source = (disc.workers || {})[name];
  if (source === undefined) return new NativeWorker(url, options);
  const blob = new Blob([source], { type: 'text/javascript' });
  // A classic worker: Chromium refuses module workers from a file:// page's blob: URLs, and the
  // decoders import nothing.
  return new NativeWorker(URL.createObjectURL(blob), { name: options && options.name });
};

function say(text) {
  $('status').textContent = text;
}

function bytesOf(base64) {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; ++i) bytes[i] = text.charCodeAt(i);
  return bytes;
}

function loadInstance(id) {
  return new Promise((resolve, reject) => {
    waiting.set(id, resolve);
    const script = document.createElement('script');
    script.src = id + '.JS';
    script.onload = () => script.remove();
    script.onerror = () => {
      waiting.delete(id);
      script.remove();
      reject(new Error(id + '.JS is missing'));
    };
    document.head.append(script);
  });
}

async function open() {
  const m = /^#(ST\d{6}\/SE\d{6})\/(\d{1,6})$/.exec(window.location.hash);
  if (m === null) {
    say('Choose a series in INDEX.HTM.');
    document.body.dataset.viewer = 'idle';
    return;
  }
  const series = m[1];
  const count = Number(m[2]);
  $('title').textContent = series.replace('/', ' ') + ' (' + count + ')';
  document.body.dataset.viewer = 'loading';
  const files = [];
  try {
    for (let k = 1; k <= count; ++k) {
      const id = series + '/IM' + String(k).padStart(6, '0');
      say('Reading ' + k + ' of ' + count);
      files.push(new File([bytesOf(await loadInstance(id))], id));
    }
  } catch (e) {
    say('The images could not be read: ' + e.message);
    document.body.dataset.viewer = 'failed';
    return;
  }
  say('');
  const app = new App();
  app.init(new AppOptions({ '*': [new ViewConfig('layerGroup0')] }));
  app.addEventListener('renderend', () => { document.body.dataset.viewer = 'loaded'; });
  app.addEventListener('error', () => {
    say('The images could not be shown.');
    document.body.dataset.viewer = 'failed';
  });
  window.addEventListener('resize', () => app.onResize());
  app.loadFiles(files);
}

open();

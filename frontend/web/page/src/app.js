// The recipient's page: redeem a code and PIN, list the shared studies, open a series in dwv.
// Every value from the server is inserted as text (never as HTML). The session cookie is
// HttpOnly: this script never sees it; it sends the CSRF token the session answer carries.
import { App, AppOptions, ViewConfig } from 'dwv';

const $ = (id) => document.getElementById(id);
let csrf = '';
let app = null;

function say(text) {
  $('message').textContent = text;
}

function el(tag, text) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  return e;
}

function wadoUrl(study, series, instance) {
  const q = new URLSearchParams({
    requestType: 'WADO', studyUID: study, seriesUID: series, objectUID: instance,
    contentType: 'application/dicom',
  });
  return '/dicomweb/wado?' + q.toString();
}

function openSeries(study, series) {
  $('viewer').hidden = false;
  $('viewer-title').textContent =
    (series.description || series.modality || 'series') + ' (' + series.instances.length + ')';
  if (app === null) {
    app = new App();
    const options = new AppOptions({ '*': [new ViewConfig('layerGroup0')] });
    app.init(options);
    app.addEventListener('renderend', () => { document.body.dataset.viewer = 'loaded'; });
    app.addEventListener('error', () => { say('The images could not be read.'); });
  } else {
    app.reset();
  }
  document.body.dataset.viewer = 'loading';
  app.loadURLs(series.instances.map((i) => wadoUrl(study.study_uid, series.series_uid, i)));
}

function showStudies(session) {
  csrf = session.csrf;
  $('redeem').hidden = true;
  const list = $('studies');
  list.replaceChildren();
  list.hidden = false;
  for (const study of session.studies) {
    const box = el('div');
    box.className = 'study';
    box.append(el('h2', study.description || 'Study'));
    box.append(el('p', 'Patient: ' + study.patient_name + ' (' + study.patient_id + ')'));
    box.append(el('p', 'Date: ' + study.study_date));
    const series = el('div');
    series.className = 'series';
    for (const s of study.series) {
      const b = el('button', (s.modality || '') + ' ' + (s.description || s.series_uid) +
                             ' (' + s.instances.length + ')');
      b.type = 'button';
      b.dataset.series = s.series_uid;
      b.addEventListener('click', () => openSeries(study, s));
      series.append(b);
    }
    box.append(series);
    if (session.download) {
      // The study as a ZIP in the IHE PDI layout (DICOMDIR, DICOM/, README.TXT, INDEX.HTM).
      const a = el('a', 'Download (ZIP, DICOM disc layout)');
      a.className = 'download';
      a.href = '/share/api/download?study=' + encodeURIComponent(study.study_uid);
      a.download = 'study.zip';
      box.append(a);
    }
    list.append(box);
  }
  document.body.dataset.state = 'open';
}

async function loadSession() {
  const r = await fetch('/share/api/session', { credentials: 'same-origin' });
  if (r.status !== 200) return false;
  showStudies(await r.json());
  return true;
}

$('redeem').addEventListener('submit', async (event) => {
  event.preventDefault();
  say('');
  const body = new URLSearchParams({ code: $('code').value, pin: $('pin').value });
  const r = await fetch('/share/api/redeem', {
    method: 'POST', body, credentials: 'same-origin',
  });
  if (r.status === 200) {
    await loadSession();
    return;
  }
  let answer = {};
  try { answer = await r.json(); } catch (e) { /* not JSON */ }
  say(answer.error || ('The archive answered ' + r.status + '.'));
  document.body.dataset.state = 'refused';
});

loadSession();

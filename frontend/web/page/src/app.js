// The recipient's page: redeem a code and PIN, list the shared studies, open a series in dwv.
// Every value from the server is inserted as text (never as HTML). The session cookie is
// HttpOnly: this script never sees it; it sends the CSRF token the session answer carries.
import { App, AppOptions, ViewConfig } from 'dwv';
import { personName, seriesLabel, dicomDate } from './names.js';

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

// The series' thumbnail: WADO-RS /thumbnail of its middle instance (in the session's scope like
// every request of the page). Hidden when the instance has no image (a report, a waveform).
function thumbnail(study, series) {
  const img = el('img');
  img.className = 'thumbnail';
  img.alt = '';
  img.width = 96;
  img.height = 96;
  img.decoding = 'async';
  const instance = series.instances[Math.floor(series.instances.length / 2)];
  if (instance === undefined) {
    img.hidden = true;
    return img;
  }
  img.addEventListener('error', () => { img.hidden = true; });
  img.src = '/dicomweb/studies/' + encodeURIComponent(study.study_uid) + '/series/' +
            encodeURIComponent(series.series_uid) + '/instances/' +
            encodeURIComponent(instance) + '/thumbnail';
  return img;
}

function openSeries(study, series) {
  $('viewer').hidden = false;
  $('viewer-title').textContent = seriesLabel(series);
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
    const patient = el('p', 'Patient: ' + (personName(study.patient_name) || 'unnamed'));
    if (study.patient_id) patient.append(' (ID ' + study.patient_id + ')');
    box.append(patient);
    box.append(el('p', 'Date: ' + dicomDate(study.study_date)));
    const series = el('div');
    series.className = 'series';
    for (const s of study.series) {
      // The UID only as a tooltip: people pick a series by what it is.
      const b = el('button');
      b.type = 'button';
      b.title = 'Series ' + s.series_uid;
      b.dataset.series = s.series_uid;
      b.append(thumbnail(study, s), el('span', seriesLabel(s)));
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

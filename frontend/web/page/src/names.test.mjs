// node --test: the page's naming of patients and series (frontend/web/page/src/names.js).
import test from 'node:test';
import assert from 'node:assert/strict';
import { personName, seriesLabel, dicomDate } from './names.js';

test('person names are shown family first, carets gone', () => {
  assert.equal(personName('CompressedSamples^CT1'), 'CompressedSamples, CT1');
  assert.equal(personName('Doe^Jane^Q^Dr^PhD'), 'Doe, Dr Jane Q, PhD');
  assert.equal(personName('Yamada^Tarou=山田^太郎=やまだ^たろう'), 'Yamada, Tarou');
  assert.equal(personName('Anonymous'), 'Anonymous');
  assert.equal(personName('^Cher'), 'Cher');
  assert.equal(personName(''), '');
  assert.equal(personName(undefined), '');
});

test('a series is named by modality, number and description, never its UID', () => {
  const uid = '1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322';
  assert.equal(seriesLabel({ series_uid: uid, modality: 'CT', number: 3, description: 'Chest',
                             instances: ['a', 'b'] }), 'CT #3: Chest (2 images)');
  assert.equal(seriesLabel({ series_uid: uid, modality: 'MR', number: 0, description: '',
                             instances: ['a'] }), 'MR (1 image)');
  assert.equal(seriesLabel({ series_uid: uid, instances: [] }), 'Series (0 images)');
});

test('dates read as dates', () => {
  assert.equal(dicomDate('20040119'), '2004-01-19');
  assert.equal(dicomDate(''), '');
  assert.equal(dicomDate('2004'), '2004');
});

// How the page names what the server sends: a DICOM person name (PN) as people write it, and a
// series by what it is (modality, number, description) rather than by its UID. Pure functions
// returning plain strings; the page inserts them with textContent only.

// "Family^Given^Middle^Prefix^Suffix" (only the first, alphabetic, component group of
// "alphabetic=ideographic=phonetic") -> "Family, Prefix Given Middle, Suffix", empty parts
// left out; "" for an empty name.
export function personName(pn) {
  const group = String(pn || '').split('=')[0];
  const [family, given, middle, prefix, suffix] =
      group.split('^').map((part) => part.trim());
  const first = [prefix, given, middle].filter((p) => p).join(' ');
  return [family, first, suffix].filter((p) => p).join(', ');
}

// "CT #3: Chest 1.25 mm (120 images)": what a series button says. `number` 0 means none.
export function seriesLabel(series) {
  let label = series.modality || 'Series';
  if (series.number) label += ' #' + series.number;
  if (series.description) label += ': ' + series.description;
  const n = (series.instances || []).length;
  return label + ' (' + n + (n === 1 ? ' image)' : ' images)');
}

// A DICOM date (YYYYMMDD) as YYYY-MM-DD; anything else as it is.
export function dicomDate(da) {
  const s = String(da || '');
  return /^\d{8}$/.test(s) ? s.slice(0, 4) + '-' + s.slice(4, 6) + '-' + s.slice(6) : s;
}

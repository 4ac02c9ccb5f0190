// README.TXT, INDEX.HTM and IHE_PDI/STnnnnnn.HTM of a PDI medium. README.TXT names no patient (it
// is the file people open first, on any machine); the XHTML pages show what the DICOMDIR holds
// (patient, dates, descriptions) to whoever holds the medium, escaped, with no script and no link
// off the medium (the viewer they link to is on it).
#include <map>

#include "absl/strings/str_cat.h"
#include "common/media/pdi.h"

namespace medvault::media {
namespace {

std::string Html(absl::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        // DICOM's '^' separates name components.
        out += c == '^' ? ' ' : c;
    }
  }
  return out;
}

// YYYYMMDD as YYYY-MM-DD; anything else as it is.
std::string Date(const std::string& d) {
  if (d.size() != 8) return d;
  return absl::StrCat(d.substr(0, 4), "-", d.substr(4, 2), "-", d.substr(6, 2));
}

struct SeriesEntry {
  const PdiInstance* first;
  std::string folder;  // DICOM/STnnnnnn/SEnnnnnn
  std::vector<std::string> files;
  uint64_t bytes = 0;
};

struct StudyEntry {
  const PdiInstance* first;
  std::vector<SeriesEntry> series;
};

std::vector<StudyEntry> Group(const std::vector<PdiInstance>& instances,
                              const std::vector<std::string>& file_ids) {
  std::vector<StudyEntry> studies;
  for (size_t k = 0; k < instances.size(); ++k) {
    const PdiInstance& i = instances[k];
    if (studies.empty() || studies.back().first->study_uid != i.study_uid) {
      studies.push_back(StudyEntry{&i, {}});
    }
    StudyEntry& study = studies.back();
    if (study.series.empty() || study.series.back().first->series_uid != i.series_uid) {
      study.series.push_back(SeriesEntry{&i, file_ids[k].substr(0, file_ids[k].rfind('/')), {}, 0});
    }
    study.series.back().files.push_back(file_ids[k]);
    study.series.back().bytes += i.size;
  }
  return studies;
}

}  // namespace

std::string PdiReadme(const std::vector<PdiInstance>& instances,
                      const std::vector<std::string>& file_ids, PdiProfile profile,
                      const std::vector<PdiDocument>& documents) {
  const std::vector<StudyEntry> studies = Group(instances, file_ids);
  uint64_t bytes = 0;
  for (const PdiInstance& i : instances) bytes += i.size;
  std::string out = absl::StrCat(
      "MEDICAL IMAGES IN DICOM FORMAT\r\n"
      "==============================\r\n\r\n"
      "This medium was written by medvault, following IHE Portable Data for Imaging (PDI).\r\n"
      "DICOM application profile: ",
      ProfileName(profile),
      ".\r\n\r\n"
      "It holds personal health information: keep it as safely as the paper record.\r\n\r\n"
      "CONTENTS\r\n"
      "  DICOMDIR     the DICOM directory: open it (or the medium) with any DICOM viewer\r\n"
      "  DICOM\\       the images and documents, one DICOM file each, in folders\r\n"
      "               STnnnnnn (study) \\ SEnnnnnn (series) \\ IMnnnnnn (instance)\r\n"
      "  INDEX.HTM    a list of the studies and series, for a web browser\r\n"
      "  IHE_PDI\\     a page per study and a JPEG picture of each series that could be\r\n"
      "               rendered, shown by INDEX.HTM\r\n"
      "  VIEWER\\      if present, a browser viewer (dwv) opened from INDEX.HTM: it works from "
      "the\r\n"
      "               medium, without network, and holds a copy of each image it can show\r\n"
      "  DOCUMENT\\    reports and other documents DICOM has no format for, as their files,\r\n"
      "               each beside its archived DICOM copy (.DCM) that `medvault import` reads\r\n"
      "  README.TXT   this file\r\n\r\n",
      studies.size(), " stud", studies.size() == 1 ? "y" : "ies", ", ", instances.size(),
      " DICOM file", instances.size() == 1 ? "" : "s", ", ", bytes, " bytes:\r\n");
  for (size_t s = 0; s < studies.size(); ++s) {
    absl::StrAppend(&out, "  study ", s + 1, " (", studies[s].series.front().folder.substr(0, 14),
                    "): ", studies[s].series.size(), " series\r\n");
    for (const SeriesEntry& se : studies[s].series) {
      absl::StrAppend(&out, "    ", se.folder, ": ",
                      se.first->modality.empty() ? "" : se.first->modality + ", ", se.files.size(),
                      " file", se.files.size() == 1 ? "" : "s", "\r\n");
    }
  }
  if (!documents.empty()) {
    absl::StrAppend(&out, "\r\n", documents.size(), " document", documents.size() == 1 ? "" : "s",
                    ":\r\n");
    for (const PdiDocument& d : documents) {
      std::string path = d.path;
      for (char& c : path) c = c == '/' ? '\\' : c;
      absl::StrAppend(&out, "  ", path, ": ", d.media_type, ", ", d.bytes, " bytes\r\n");
    }
  }
  out +=
      "\r\nThe files are exactly as the archive stores them (not recompressed). medvault can\r\n"
      "read this medium back: `medvault import PATH` (a folder, a ZIP file or an ISO image).\r\n";
  return out;
}

namespace {

// The head of an XHTML 1.0 Strict page (IHE PDI's web content); `up` leads back to the root.
std::string XhtmlHead(absl::string_view title, absl::string_view up) {
  return absl::StrCat(
      "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" "
      "\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\n"
      "<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n<head>\n"
      "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />\n<title>",
      Html(title),
      "</title>\n<style type=\"text/css\">\n"
      "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}"
      "td,th{border:1px solid #bbb;padding:.3em .6em;text-align:left}"
      "h2{margin-top:1.5em}\n</style>\n</head>\n<body>\n<p><a href=\"",
      up, "README.TXT\">README.TXT</a></p>\n");
}

void AppendStudyTable(const PdiInstance& first, std::string* out) {
  absl::StrAppend(out, "<table class=\"study\">\n<tr><th>Patient</th><td>",
                  Html(first.patient_name), "</td></tr>\n");
  if (!first.patient_id.empty()) {
    absl::StrAppend(out, "<tr><th>Patient ID</th><td>", Html(first.patient_id), "</td></tr>\n");
  }
  absl::StrAppend(out, "<tr><th>Date</th><td>", Html(Date(first.study_date)), "</td></tr>\n");
  absl::StrAppend(out, "<tr><th>Description</th><td>", Html(first.study_description),
                  "</td></tr>\n</table>\n");
}

// The series of one study; `up` is "" from the root, "../" from IHE_PDI/.
void AppendSeriesTable(const StudyEntry& study, const PdiLinks& links, absl::string_view up,
                       std::string* out) {
  *out +=
      "<table class=\"series\">\n<tr><th>Series</th><th>Modality</th><th>Description</th>"
      "<th>Files</th><th>Bytes</th><th>Folder</th><th>View</th><th>Image</th></tr>\n";
  for (const SeriesEntry& se : study.series) {
    absl::StrAppend(out, "<tr><td>", se.first->series_number, "</td><td>", Html(se.first->modality),
                    "</td><td>", Html(se.first->series_description), "</td><td>", se.files.size(),
                    "</td><td>", se.bytes, "</td><td><a href=\"", up, se.files.front(), "\">",
                    se.folder, "</a></td><td>");
    auto viewer = links.viewer.find(se.folder);
    if (viewer != links.viewer.end()) {
      absl::StrAppend(out, "<a class=\"viewer\" href=\"", up, viewer->second, "\">Open</a>");
    }
    *out += "</td><td>";
    auto rendering = links.renderings.find(se.folder);
    if (rendering != links.renderings.end()) {
      absl::StrAppend(out, "<img src=\"", up, rendering->second, "\" alt=\"series ",
                      se.first->series_number, "\" height=\"256\" />");
    }
    *out += "</td></tr>\n";
  }
  *out += "</table>\n";
}

void AppendDocuments(const std::vector<const PdiDocument*>& documents, absl::string_view up,
                     std::string* out) {
  if (documents.empty()) return;
  *out += "<table class=\"documents\">\n<tr><th>Document</th><th>Type</th><th>Bytes</th></tr>\n";
  for (const PdiDocument* d : documents) {
    absl::StrAppend(out, "<tr><td><a href=\"", up, d->path, "\">", d->path, "</a></td><td>",
                    Html(d->media_type), "</td><td>", d->bytes, "</td></tr>\n");
  }
  *out += "</table>\n";
}

std::vector<const PdiDocument*> DocumentsOf(const PdiLinks& links, const std::string& study) {
  std::vector<const PdiDocument*> out;
  for (const PdiDocument& d : links.documents) {
    if (d.study_folder == study) out.push_back(&d);
  }
  return out;
}

std::string StudyFolder(const StudyEntry& study) {
  return study.series.front().folder.substr(6, 8);  // "DICOM/" + "STnnnnnn"
}

}  // namespace

std::string PdiIndexHtml(const std::vector<PdiInstance>& instances,
                         const std::vector<std::string>& file_ids, const PdiLinks& links) {
  const std::vector<StudyEntry> studies = Group(instances, file_ids);
  std::string out = XhtmlHead("Medical images (DICOM)", "");
  out +=
      "<h1>Medical images (DICOM)</h1>\n"
      "<p>This medium follows IHE Portable Data for Imaging. Open a series with <em>Open</em> to "
      "see its images in this browser (nothing is sent anywhere), or open <code>DICOMDIR</code> "
      "with a DICOM viewer.</p>\n";
  for (size_t s = 0; s < studies.size(); ++s) {
    const std::string folder = StudyFolder(studies[s]);
    absl::StrAppend(&out, "<h2>Study ", s + 1, " (<a href=\"IHE_PDI/", folder, ".HTM\">", folder,
                    "</a>)</h2>\n");
    AppendStudyTable(*studies[s].first, &out);
    AppendSeriesTable(studies[s], links, "", &out);
    AppendDocuments(DocumentsOf(links, folder), "", &out);
  }
  out += "</body>\n</html>\n";
  return out;
}

std::string PdiStudyPage(const std::vector<PdiInstance>& instances,
                         const std::vector<std::string>& file_ids, const PdiLinks& links,
                         int study) {
  const std::vector<StudyEntry> studies = Group(instances, file_ids);
  const StudyEntry& entry = studies.at(static_cast<size_t>(study - 1));
  const std::string folder = StudyFolder(entry);
  std::string out = XhtmlHead(absl::StrCat("Study ", study), "../");
  absl::StrAppend(&out, "<h1>Study ", study, " (", folder,
                  ")</h1>\n<p><a href=\"../INDEX.HTM\">All studies</a></p>\n");
  AppendStudyTable(*entry.first, &out);
  AppendSeriesTable(entry, links, "../", &out);
  AppendDocuments(DocumentsOf(links, folder), "../", &out);
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace medvault::media

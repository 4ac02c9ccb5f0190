#include "cli/format.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"

namespace medvault::cli {

std::string FormatSize(uint64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  static const char* const kUnits[] = {"KB", "MB", "GB", "TB", "PB", "EB"};
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  // Move up while the value would print as 1024.0 or more.
  while (std::round(value * 10) / 10 >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", value, kUnits[unit]);
}

std::string FormatStatus(const absl::Status& status) {
  std::string out = absl::StatusCodeToString(status.code());
  if (!status.message().empty()) absl::StrAppend(&out, ": ", status.message());
  return out;
}

std::string FormatError(absl::string_view verb, const absl::Status& status) {
  return absl::StrCat("medvault: ", verb, ": ", FormatStatus(status));
}

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if there is none.
size_t Utf8SequenceLength(absl::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b = byte(i);
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b >= 0xC2 && b <= 0xDF) {
    len = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    len = 3;
    if (b == 0xE0) lo = 0xA0;  // no overlong forms
    if (b == 0xED) hi = 0x9F;  // no surrogates
  } else if (b >= 0xF0 && b <= 0xF4) {
    len = 4;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return len;
}

// Shows control characters as '?', so a value cannot move the cursor or recolour the terminal.
std::string Printable(absl::string_view s) {
  std::string out(s);
  for (char& c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) c = '?';
  }
  return out;
}

std::string FormatDate(absl::string_view yyyymmdd) {
  if (yyyymmdd.empty()) return "-";
  if (yyyymmdd.size() != 8) return Printable(yyyymmdd);
  return absl::StrCat(yyyymmdd.substr(0, 4), "-", yyyymmdd.substr(4, 2), "-",
                      yyyymmdd.substr(6, 2));
}

std::string OrDash(absl::string_view s) { return s.empty() ? "-" : Printable(s); }

}  // namespace

std::string JsonQuote(absl::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20) {
            out += absl::StrFormat("\\u%04x", c);
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    size_t len = Utf8SequenceLength(s, i);
    if (len > 0) {
      out.append(s.data() + i, len);
      i += len;
    } else {
      out += absl::StrFormat("\\u%04x", c);  // Latin-1 byte -> the same code point
      ++i;
    }
  }
  out += "\"";
  return out;
}

std::string StudiesToJson(const std::vector<v1::StudySummary>& studies) {
  if (studies.empty()) return "[]\n";
  std::string out = "[\n";
  for (size_t i = 0; i < studies.size(); ++i) {
    const v1::StudySummary& s = studies[i];
    std::vector<std::string> modalities;
    for (const std::string& m : s.modalities()) modalities.push_back(JsonQuote(m));
    absl::StrAppend(&out, "  {",                                          //
                    "\"study_uid\": ", JsonQuote(s.study_uid()),          //
                    ", \"patient_id\": ", JsonQuote(s.patient_id()),      //
                    ", \"patient_name\": ", JsonQuote(s.patient_name()),  //
                    ", \"patient_birth_date\": ", JsonQuote(s.patient_birth_date()),
                    ", \"study_date\": ", JsonQuote(s.study_date()),                //
                    ", \"study_description\": ", JsonQuote(s.study_description()),  //
                    ", \"accession_number\": ", JsonQuote(s.accession_number()));
    absl::StrAppend(&out, ", \"modalities\": [", absl::StrJoin(modalities, ", "), "]",
                    ", \"series_count\": ", s.series_count(),      //
                    ", \"instance_count\": ", s.instance_count(),  //
                    ", \"total_bytes\": ", s.total_bytes());
    if (s.has_retention()) {
      absl::StrAppend(&out, ", \"retention\": ", JsonQuote(RetentionText(s.retention())));
    }
    std::vector<std::string> documents;
    for (const v1::StudyDocument& d : s.documents()) {
      documents.push_back(absl::StrCat("{\"sop_instance_uid\": ", JsonQuote(d.sop_instance_uid()),
                                       ", \"mime_type\": ", JsonQuote(d.mime_type()),
                                       ", \"size\": ", d.size(), "}"));
    }
    absl::StrAppend(&out, ", \"documents\": [", absl::StrJoin(documents, ", "), "]");
    absl::StrAppend(&out, "}", i + 1 < studies.size() ? ",\n" : "\n");
  }
  out += "]\n";
  return out;
}

namespace {
// Widest a `find` table column gets (64 characters fit a UID or a PatientID).
constexpr size_t kMaxColumnWidth = 64;
}  // namespace

std::string RetentionText(const v1::RetentionInfo& r) {
  std::vector<std::string> parts;
  if (r.state() == "deleting") parts.push_back("deleting");
  if (r.hold()) parts.push_back("held");
  if (r.rule().days_after_ingest() > 0) {
    parts.push_back(
        r.due_at_micros() > 0
            ? absl::StrCat("delete after ",
                           absl::FormatTime("%Y-%m-%d", absl::FromUnixMicros(r.due_at_micros()),
                                            absl::UTCTimeZone()))
            : absl::StrCat("delete ", r.rule().days_after_ingest(), " days after ingest"));
  }
  if (r.rule().after_last_share()) parts.push_back("delete after last share");
  return parts.empty() ? "-" : absl::StrJoin(parts, "; ");
}

std::string StudiesTable(const std::vector<v1::StudySummary>& studies) {
  if (studies.empty()) return "";
  bool retention = false;
  for (const v1::StudySummary& s : studies) retention = retention || s.has_retention();
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"DATE", "PATIENT ID", "PATIENT NAME", "MODALITIES", "SERIES", "INSTANCES", "SIZE",
                  "STUDY UID"});
  if (retention) rows[0].insert(rows[0].end() - 1, "RETENTION");
  for (const v1::StudySummary& s : studies) {
    rows.push_back({FormatDate(s.study_date()), OrDash(s.patient_id()), OrDash(s.patient_name()),
                    OrDash(absl::StrJoin(s.modalities(), ",")), absl::StrCat(s.series_count()),
                    absl::StrCat(s.instance_count()), FormatSize(s.total_bytes()),
                    OrDash(s.study_uid())});
    if (retention) rows.back().insert(rows.back().end() - 1, RetentionText(s.retention()));
  }
  const size_t columns = rows[0].size();
  std::vector<size_t> width(columns, 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < columns; ++c) {
      // A column is as wide as its widest cell up to kMaxColumnWidth: a longer cell is printed
      // whole and shifts the rest of its own row only, never padding every other row to it.
      width[c] = std::max(width[c], std::min(row[c].size(), kMaxColumnWidth));
    }
  }
  // Counts and sizes align right; text left. The last column is not padded.
  auto right_aligned = [](size_t c) { return c >= 4 && c <= 6; };
  std::string out;
  for (const auto& row : rows) {
    for (size_t c = 0; c < columns; ++c) {
      if (c > 0) out += "  ";
      if (c + 1 == columns) {
        out += row[c];
      } else if (right_aligned(c)) {
        out += std::string(width[c] - std::min(width[c], row[c].size()), ' ') + row[c];
      } else {
        out += row[c] + std::string(width[c] - std::min(width[c], row[c].size()), ' ');
      }
    }
    out += "\n";
  }
  return out + DocumentLines(studies);
}

std::string DocumentLines(const std::vector<v1::StudySummary>& studies) {
  std::string out;
  for (const v1::StudySummary& s : studies) {
    for (const v1::StudyDocument& d : s.documents()) {
      absl::StrAppend(&out, "document  ", OrDash(s.study_uid()), "  ", OrDash(d.mime_type()), "  ",
                      FormatSize(d.size()), "  ", OrDash(d.sop_instance_uid()), "\n");
    }
  }
  return out;
}

}  // namespace medvault::cli

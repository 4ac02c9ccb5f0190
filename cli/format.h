// Text the CLI prints: byte sizes, status lines, and study listings as a table or JSON. Pure
// functions, unit-tested. Output goes to the user's own terminal, never to a log.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "medvault/v1/common.pb.h"

namespace medvault::cli {

// "0 B", "512 B", "531.2 KB", "1.5 MB", "2.0 GB" (binary units: 1 KB = 1024 bytes).
std::string FormatSize(uint64_t bytes);

// "INVALID_ARGUMENT: message" (just the code name when there is no message).
std::string FormatStatus(const absl::Status& status);

// "medvault: <verb>: <CODE>: <message>", the error line of a failed operation.
std::string FormatError(absl::string_view verb, const absl::Status& status);

// `s` as a quoted JSON string. Bytes that are not valid UTF-8 are read as Latin-1 (DICOM's
// default character set) and escaped, so the result is always valid JSON.
std::string JsonQuote(absl::string_view s);

// A JSON array with one object per study: study_uid, patient_id, patient_name,
// patient_birth_date, study_date, study_description, accession_number, modalities (array),
// series_count, instance_count, total_bytes (numbers), "retention" (RetentionText) when the
// study has a rule or hold, and "documents": an array of {sop_instance_uid, mime_type, size}, one
// per document the study holds (StudySummary.documents). Ends with a newline.
std::string StudiesToJson(const std::vector<v1::StudySummary>& studies);

// A study's retention in a few words: "held", "deleting", "delete after 2026-01-04", "delete
// after last share", joined by "; " ("-" when it has neither rule nor hold).
std::string RetentionText(const v1::RetentionInfo& retention);

// An aligned table with a header row: date, patient id, patient name, modalities, series and
// instance counts, size, (retention, when any study has a rule or hold,) study uid. Control
// characters in values are shown as '?'. Empty when there are no studies. The studies' documents
// follow the table (DocumentLines).
std::string StudiesTable(const std::vector<v1::StudySummary>& studies);

// One line per document of the studies: "document  STUDY_UID  MEDIA_TYPE  SIZE  SOP_UID".
std::string DocumentLines(const std::vector<v1::StudySummary>& studies);

}  // namespace medvault::cli

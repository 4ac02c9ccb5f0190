// Queries answered from the metaserver's index at the study, series or instance level, shared by
// both DICOM doors: C-FIND (frontend/dimse/find_query.h) and QIDO-RS (frontend/web/qido.h). One
// table says which attributes the index holds, at which level, with which VR and how each matches
// (PS3.4 C.2.2.2, find_match.h); the exact values among the keys narrow the index search (a
// LevelQuery: study, series and SOP Instance UIDs, patient id, accession number, study date range,
// modality; a list of UIDs becomes one search per UID); and one walk reads the matching rows page
// by page through FindStudies, FindSeries or FindInstances: never an object, never a whole study's
// listing.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "frontend/query/find_match.h"
#include "medvault/v1/image_store.pb.h"

namespace medvault::frontend {

enum class IndexLevel { kStudy = 0, kSeries = 1, kInstance = 2 };

// One row at a query's level: the study, and the series and instance below it when the level has
// them (null above).
struct IndexRow {
  const v1::StudySummary* study = nullptr;
  const v1::SeriesInfo* series = nullptr;
  const v1::InstanceInfo* instance = nullptr;
};

struct IndexAttribute {
  const char* tag;      // 8 upper-case hex digits: "0020000D"
  const char* keyword;  // "StudyInstanceUID"
  const char* vr;       // "UI"
  IndexLevel level;
  MatchVr match;
  // False: the index never holds it (returned empty; a matching key on it is not applied).
  bool indexed;
  // The row's value, multiple values separated by backslashes; empty when absent (a series or
  // instance number, rows, columns ... of 0 are absent; counts are always given).
  std::string (*value)(const IndexRow&);
};

// Every attribute either door answers from the index: PatientName, PatientID, PatientBirthDate,
// PatientSex, StudyInstanceUID, StudyDate, StudyTime, AccessionNumber, StudyDescription,
// ModalitiesInStudy, NumberOfStudyRelatedSeries/Instances, InstanceAvailability,
// ReferringPhysicianName and StudyID (not indexed: always empty); SeriesInstanceUID, Modality,
// SeriesDescription, SeriesNumber, NumberOfSeriesRelatedInstances; SOPInstanceUID, SOPClassUID,
// InstanceNumber, NumberOfFrames, Rows, Columns, BitsAllocated.
const std::vector<IndexAttribute>& IndexAttributes();
// By tag ("0020000D", upper case) or keyword; null when the table does not have it.
const IndexAttribute* FindIndexAttribute(absl::string_view tag);
const IndexAttribute* FindIndexAttributeByKeyword(absl::string_view keyword);

// A matching key: an indexed attribute and the value asked for, in C-FIND's form (a list of UIDs
// separated by backslashes; empty or "*" is universal).
struct IndexKey {
  const IndexAttribute* attribute;
  std::string value;
};

// True when `row` matches every key (PS3.4 C.2.2.2; ModalitiesInStudy matches when any of the
// study's modalities matches any value asked for). Keys must be at or above the row's level.
bool RowMatches(const std::vector<IndexKey>& keys, const IndexRow& row);

// The searches that narrow `keys` at `level`: one LevelQuery, or one per UID when the most specific
// UID key lists several (each value once). Only exact values narrow: single UIDs, a PatientID or
// AccessionNumber without wildcards, a single Modality (ModalitiesInStudy at the study level), a
// StudyDate or date range of YYYYMMDD dates. Every key is still matched on the rows.
std::vector<v1::LevelQuery> NarrowingQueries(const std::vector<IndexKey>& keys, IndexLevel level);

// Where rows come from (ImageStoreCore in the server, fakes in tests).
struct IndexSource {
  std::function<absl::StatusOr<v1::FindStudiesResponse>(const v1::FindStudiesRequest&)> studies;
  std::function<absl::StatusOr<v1::FindSeriesResponse>(const v1::FindSeriesRequest&)> series;
  std::function<absl::StatusOr<v1::FindInstancesResponse>(const v1::FindInstancesRequest&)>
      instances;
};

struct WalkResult {
  size_t examined = 0;    // rows read from the index (matched or not)
  bool complete = false;  // every candidate row was examined (not stopped by `visit` or budget)
};

// Reads the rows at `level` the narrowing searches return, in index order (a study named by UID
// through its first series row, FindSeries with one row a page), and calls `visit` with each that
// matches every key, until `visit` returns false or `max_examined` rows were read (0: no limit).
// Errors of the source are returned as they are.
absl::StatusOr<WalkResult> WalkIndex(const IndexSource& source, IndexLevel level,
                                     const std::vector<IndexKey>& keys, size_t max_examined,
                                     const std::function<bool(const IndexRow&)>& visit);

}  // namespace medvault::frontend

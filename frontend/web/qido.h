// QIDO-RS (PS3.18 10.6) without HTTP: the query parameters of a search at the study, series or
// instance level become index searches (the exact values narrow the metaserver's indexes:
// study/series/SOP UIDs, patient id, accession number, study date range, modality) and PS3.4
// C.2.2.2 matching of every key on the rows (frontend/query/index_query.h, shared with C-FIND);
// the answer is DICOM JSON (PS3.18 F.2) with the level's default attributes, the matching keys
// and `includefield` ones (or `all`), cut by `offset` and `limit`.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "frontend/query/index_query.h"
#include "medvault/v1/image_store.pb.h"

namespace medvault::frontend::web {

enum class QidoLevel { kStudy, kSeries, kInstance };

// Where rows come from (ImageStoreCore in the server, fakes in tests).
using QidoSource = IndexSource;

struct QidoRequest {
  QidoLevel level = QidoLevel::kStudy;
  // From the path (/studies/{study}/series[/{series}/instances]); empty when absent.
  std::string study_uid;
  std::string series_uid;
  // Decoded query parameters in order (a key may repeat: includefield).
  std::vector<std::pair<std::string, std::string>> params;
  // "https://host:port/dicomweb" for RetrieveURL (0008,1190); empty: not returned.
  std::string base_url;
};

struct QidoAnswer {
  std::string json;  // a DICOM JSON array
  // Query keys the index does not hold (ignored, PS3.18 allows it; the door adds a Warning).
  std::vector<std::string> ignored;
  bool truncated = false;  // the row budget ran out before `limit` rows: a partial answer
};

// INVALID_ARGUMENT naming the parameter for a malformed limit/offset/includefield or an
// attribute key that is not a DICOM keyword or tag; errors of the source otherwise.
absl::StatusOr<QidoAnswer> AnswerQido(const QidoSource& source, const QidoRequest& request);

}  // namespace medvault::frontend::web

// Answers a C-FIND identifier (Patient Root or Study Root, level PATIENT, STUDY, SERIES or IMAGE)
// from the index alone, through the core calls QIDO-RS and the gRPC API use (FindStudies,
// FindSeries, FindInstances; frontend/query/index_query.h): the exact values among the keys
// (study, series and SOP Instance UIDs or lists of them, patient id, accession number, study date
// range, modality) narrow the index search, every key of the identifier is then matched by PS3.4
// C.2.2.2 (find_match.h) on the rows, and each match is answered with exactly the identifier's
// keys, filled from the index (empty where it holds nothing). No object is read and no study's
// whole listing is fetched.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "frontend/query/index_query.h"
#include "medvault/v1/image_store.pb.h"

class DcmDataset;

namespace medvault::frontend {

// The index calls a C-GET or C-MOVE lists its instances with (retrieve.h; ImageStoreCore's, or a
// fake in tests).
struct FindSource {
  std::function<absl::StatusOr<v1::FindStudiesResponse>(const v1::FindStudiesRequest&)> find;
  std::function<absl::StatusOr<v1::GetStudyResponse>(const v1::GetStudyRequest&)> get;
};

enum class QueryModel { kPatientRoot, kStudyRoot };

// The answers to `identifier`, one data set each. INVALID_ARGUMENT when QueryRetrieveLevel is
// missing or not one the model has (PATIENT only in Patient Root); RESOURCE_EXHAUSTED when the
// keys leave more than 200,000 candidate rows to examine. `retrieve_ae` fills RetrieveAETitle
// when the identifier asks for it.
absl::StatusOr<std::vector<std::unique_ptr<DcmDataset>>> AnswerFind(const IndexSource& source,
                                                                    QueryModel model,
                                                                    DcmDataset& identifier,
                                                                    const std::string& retrieve_ae);

}  // namespace medvault::frontend

// Answers a C-FIND identifier (Patient Root or Study Root, level PATIENT, STUDY, SERIES or IMAGE)
// from the index alone, through the same core calls the gRPC API's FindStudies and GetStudy make:
// the criteria the index can narrow by (patient id, study date range, modality, study UIDs) select
// the candidate studies, each candidate's listing gives its series and instances, and every key of
// the identifier is then matched by PS3.4 C.2.2.2 (find_match.h). Each match is answered with
// exactly the identifier's keys, filled from the index (empty where it holds nothing).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "medvault/v1/image_store.pb.h"

class DcmDataset;

namespace medvault::frontend {

// The index calls a C-FIND needs (ImageStoreCore's, or a fake in tests).
struct FindSource {
  std::function<absl::StatusOr<v1::FindStudiesResponse>(const v1::FindStudiesRequest&)> find;
  std::function<absl::StatusOr<v1::GetStudyResponse>(const v1::GetStudyRequest&)> get;
};

enum class QueryModel { kPatientRoot, kStudyRoot };

// The answers to `identifier`, one data set each. INVALID_ARGUMENT when QueryRetrieveLevel is
// missing or not one the model has (PATIENT only in Patient Root). `retrieve_ae` fills
// RetrieveAETitle when the identifier asks for it.
absl::StatusOr<std::vector<std::unique_ptr<DcmDataset>>> AnswerFind(const FindSource& source,
                                                                    QueryModel model,
                                                                    DcmDataset& identifier,
                                                                    const std::string& retrieve_ae);

}  // namespace medvault::frontend

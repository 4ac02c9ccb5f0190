// The pieces of a C-GET or C-MOVE: which stored instances an identifier names (from the index
// alone), and one C-STORE sub-operation that sends a stored instance's data set as its bytes are
// read and decrypted, unchanged (no transcoding, never whole in memory, never on disk).
//
// DCMTK 3.6.7 sends a data set only from a DcmDataset in memory or from a file
// (DIMSE_sendMessageUsingMemoryData / ...UsingFileData), and re-encodes it either way. A
// sub-operation therefore writes its C-STORE-RQ command set itself (encoded by DCMTK) and hands
// the stored data set's bytes to DCMTK's upper layer (DUL_WritePDVs) as PDV fragments as they come
// out of ImageStoreCore::Get: the same read path, key release and audit as the gRPC GetInstance.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "frontend/dimse/find_query.h"

struct T_ASC_Association;

namespace medvault::frontend {

class ImageStoreCore;

// One instance a retrieve sends.
struct RetrieveItem {
  std::string sop_instance_uid;
  std::string sop_class_uid;
  std::string transfer_syntax_uid;  // of the stored data set; empty: no meta header
};

// The instances a C-GET or C-MOVE identifier names, study by study in index order. Levels:
// PATIENT (Patient Root only; PatientID), STUDY (StudyInstanceUID, a list allowed), SERIES
// (StudyInstanceUID and SeriesInstanceUID, a list allowed), IMAGE (StudyInstanceUID,
// SeriesInstanceUID and SOPInstanceUID, a list allowed). INVALID_ARGUMENT naming the attribute
// when the level or a unique key is missing; NOT_FOUND is never returned (a study not stored
// contributes nothing).
absl::StatusOr<std::vector<RetrieveItem>> ListRetrieve(const FindSource& source, QueryModel model,
                                                       DcmDataset& identifier);

// Where the data set starts in a stored object (after the preamble, "DICM" and group 0002), given
// its first bytes: nullopt while more bytes are needed, 0 when it has no meta header.
// DATA_LOSS when the meta header is malformed.
absl::StatusOr<std::optional<size_t>> DataSetOffset(absl::string_view head);

// A C-STORE-RQ command set (group 0000, implicit VR little endian) announcing a data set.
// `move_originator_ae` empty: no Move Originator attributes (a C-GET's sub-operation).
absl::StatusOr<std::string> StoreCommandSet(const RetrieveItem& item, uint16_t message_id,
                                            const std::string& move_originator_ae,
                                            uint16_t move_originator_id);

// The outcome of one C-STORE sub-operation.
struct SubOperation {
  // False when the association can no longer be used (a send or receive failed, or the instance
  // could not be read to its end after its first bytes were sent): the caller aborts it.
  bool association_ok = true;
  // True when the C-STORE was sent and answered; `status` is then the C-STORE-RSP's. False: the
  // sub-operation failed here (no context accepted for the SOP class in the stored transfer
  // syntax, or the instance could not be read), `why` says which.
  bool sent = false;
  uint16_t status = 0;
  bool cancelled = false;  // a C-CANCEL-RQ arrived while the response was awaited
  std::string why;         // for the log: never a UID
};

// Sends `item` over `assoc` as a C-STORE-RQ on a presentation context accepted for its SOP class
// and exactly its stored transfer syntax (`as_scp_role`: one on which the peer accepted the SCP
// role, as a C-GET's SCU does), reading it through `core` for `caller` (the key service's audit
// name), and waits up to `timeout_seconds` for the response.
SubOperation SendStoredInstance(T_ASC_Association* assoc, bool as_scp_role, ImageStoreCore* core,
                                const RetrieveItem& item, uint16_t message_id,
                                const std::string& move_originator_ae, uint16_t move_originator_id,
                                const std::string& caller, int timeout_seconds);

}  // namespace medvault::frontend

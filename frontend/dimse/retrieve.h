// The pieces of a C-GET or C-MOVE: which stored instances an identifier names (from the index
// alone), and one C-STORE sub-operation that sends a stored instance's data set as its bytes are
// read and decrypted, unchanged (no transcoding, never on disk).
//
// DCMTK 3.6.7 sends a data set only from a DcmDataset in memory or from a file
// (DIMSE_sendMessageUsingMemoryData / ...UsingFileData), and re-encodes it either way. A
// sub-operation therefore writes its C-STORE-RQ command set itself (encoded by DCMTK) and hands
// the stored data set's bytes to DCMTK's upper layer (DUL_WritePDVs) as PDV fragments as they come
// out of ImageStoreCore::RetrieveSet: the same read path, one audited key release for the
// retrieve's set, as the gRPC RetrieveStudy stream.
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

// The presentation context accepted on `assoc` for `item`'s SOP class in exactly its stored
// transfer syntax (`as_scp_role`: one on which the peer also accepted the SCP role, as a C-GET's
// SCU does), or 0 when there is none: the instance cannot be sent over `assoc` unchanged.
uint8_t AcceptedContextFor(T_ASC_Association* assoc, bool as_scp_role, const RetrieveItem& item);

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

// One C-STORE sub-operation: what a C-GET or C-MOVE does with one instance's bytes as they are read
// (RunSubOperations, sub_operations.h, feeds it from a set retrieval).
class SubOperationSend {
 public:
  virtual ~SubOperationSend() = default;
  // The next bytes of the stored object. An error stops the read (the association failed, or the
  // object's meta header is malformed).
  virtual absl::Status Data(absl::string_view data) = 0;
  // Ends the sub-operation once the read ended with `read` (OK: every byte was given to Data):
  // sends what is left and waits for the response.
  virtual SubOperation Finish(const absl::Status& read) = 0;
};

// A sub-operation that fails without sending (its bytes are dropped), for `why`.
class RefusedSend : public SubOperationSend {
 public:
  explicit RefusedSend(std::string why) : why_(std::move(why)) {}
  absl::Status Data(absl::string_view) override { return absl::OkStatus(); }
  SubOperation Finish(const absl::Status&) override {
    SubOperation out;
    out.why = why_;
    return out;
  }

 private:
  const std::string why_;
};

// Sends `item` over `assoc` as a C-STORE-RQ on a presentation context accepted for its SOP class
// and exactly its stored transfer syntax (`as_scp_role`: one on which the peer accepted the SCP
// role, as a C-GET's SCU does), and waits up to `timeout_seconds` for the response. Without such
// a context the bytes are dropped and Finish reports why.
class StoredInstanceSender : public SubOperationSend {
 public:
  StoredInstanceSender(T_ASC_Association* assoc, bool as_scp_role, const RetrieveItem& item,
                       uint16_t message_id, const std::string& move_originator_ae,
                       uint16_t move_originator_id, int timeout_seconds);
  absl::Status Data(absl::string_view data) override;
  SubOperation Finish(const absl::Status& read) override;

 private:
  void Start(size_t offset);
  void FlushFull();
  bool WritePdv(int type, const char* data, size_t length, bool last);

  T_ASC_Association* const assoc_;
  const uint16_t message_id_;
  const int timeout_seconds_;
  uint8_t pres_id_ = 0;
  std::string why_;      // set when no context was accepted or the command cannot be encoded
  std::string command_;  // the C-STORE-RQ command set
  size_t max_fragment_ = 2;
  std::string head_;     // the object's first bytes, until the data set's offset is known
  std::string pending_;  // data set bytes not yet sent (the last fragment is sent at the end)
  bool started_ = false;
  absl::Status network_;  // set when a PDV could not be written
};

}  // namespace medvault::frontend

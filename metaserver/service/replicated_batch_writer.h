// The catalog's and registry's BatchWriter when the metaserver runs as a Raft group: batches are
// replicated through the group before they are applied, and every mutation plans from current state.
#pragma once

#include "metaserver/core/store_access.h"
#include "raft/replicated_writer.h"

namespace medvault::metaserver {

class ReplicatedBatchWriter : public BatchWriter {
 public:
  explicit ReplicatedBatchWriter(raft::ReplicatedWriter* writer) : writer_(writer) {}
  absl::Status Write(rocksdb::WriteBatch* batch) override { return writer_->Write(*batch); }
  absl::Status Barrier() override { return writer_->Barrier(); }

 private:
  raft::ReplicatedWriter* const writer_;
};

}  // namespace medvault::metaserver

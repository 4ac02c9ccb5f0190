// Wires the audit hash chain (keyservice/core/audit_chain.h) into the Raft state machine, so every
// replica chains audit records as it applies them, in log order.
#pragma once

#include "common/log.h"
#include "keyservice/core/audit_chain.h"
#include "raft/kv_state_machine.h"

namespace medvault::keyservice {

class AuditChainRewriter : public raft::CommandRewriter {
 public:
  // `chain` must outlive this object.
  explicit AuditChainRewriter(AuditChain* chain) : chain_(chain) {}
  absl::Status Rewrite(v1::RaftKvBatch* command) override { return chain_->Rewrite(command); }
  void Undo() override { chain_->Undo(); }
  void Settle(bool written) override { chain_->Settle(written); }
  void Reload() override {
    if (absl::Status s = chain_->Load(); !s.ok()) {
      MV_LOG(ERROR) << "reloading the audit chain's head after a snapshot: " << s;
    }
  }

 private:
  AuditChain* const chain_;
};

}  // namespace medvault::keyservice

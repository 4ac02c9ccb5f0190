// A linearizability checker for histories of reads and writes on a key-value map (Wing & Gong's
// search with Lowe's memoisation, per key since keys are independent registers).
//
// A history records, per operation, when the client invoked it and when (if ever) it saw the
// answer. A write whose answer never came may or may not have taken effect; a read without an
// answer says nothing and should be left out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace medvault::raft::testing {

struct KvOp {
  enum class Kind { kRead, kWrite };
  Kind kind = Kind::kRead;
  std::string key;
  std::string value;  // write: the value written; read: the value observed ("" = absent)
  int64_t invoke = 0;
  int64_t respond = -1;  // -1: no answer (writes only)
};

struct LinearizabilityResult {
  bool ok = true;
  std::string explanation;  // on failure: which key and what could not be ordered
};

// Cost grows with the number of operations that overlap in time; histories of a few hundred
// operations per key with a handful of concurrent clients check in milliseconds.
LinearizabilityResult CheckLinearizable(const std::vector<KvOp>& history);

}  // namespace medvault::raft::testing

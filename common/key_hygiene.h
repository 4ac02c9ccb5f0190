// Keeping key material of this process out of places it could leak from: core dumps and other
// processes' debuggers. For the processes that hold keys in memory (key service: KEKs and DEKs;
// frontend: DEKs and plaintext images). See docs/security.md, "Key hygiene".
#pragma once

#include "absl/status/status.h"

namespace medvault {

// Marks the process non-dumpable (prctl PR_SET_DUMPABLE 0: no core dump, no ptrace attach or
// /proc/<pid>/mem reads by other processes of the same user) and sets the core size limit to 0
// (in case a system-wide suid_dumpable setting would still dump). Call first in main(), before any
// key is loaded. INTERNAL naming the call that failed.
absl::Status ProtectKeyMaterialInThisProcess();

}  // namespace medvault

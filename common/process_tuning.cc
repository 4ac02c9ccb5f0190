#include "common/process_tuning.h"

#include <malloc.h>

#include "absl/synchronization/mutex.h"

namespace medvault {

void TuneProcessForServing() {
  // Allocations up to 64 MiB come from the heap; up to 256 MiB of free heap top stays mapped.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

void ReleaseFreeHeap() { malloc_trim(0); }

}  // namespace medvault

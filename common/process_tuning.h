// Process-wide settings every medvault service applies at start (ServiceRunner does it).
#pragma once

namespace medvault {

// glibc maps every allocation above its mmap threshold (128 KiB at start) with mmap and unmaps it
// on free, and trims freed heap tops back to the kernel: each ~1 MiB chunk buffer then costs page
// faults and zeroing of fresh pages (a seventh of the frontend's CPU under ingest in the issue 6
// profile). Raises both thresholds so chunk-sized buffers are reused from the heap.
// Also turns off absl::Mutex deadlock-cycle tracking in services (tests keep it): it is a debug
// aid that costs a graph update on every lock acquisition.
void TuneProcessForServing();

// Returns the allocator's free pages, in every arena, to the kernel (glibc's malloc_trim). With the
// thresholds above a burst of big allocations spread over many threads' arenas stays resident
// after it is freed, and another burst on other threads adds to it; a long bulk job (a streamed
// snapshot) calls this after each step so its peak is one step's working set, not several.
// Costs a walk of the heap: for bulk work every few MiB, not per request.
void ReleaseFreeHeap();

}  // namespace medvault

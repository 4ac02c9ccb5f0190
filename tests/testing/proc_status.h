// Memory of a running process, read from /proc for tests that prove a path is streamed: its peak
// resident set (VmHWM), reset just before the work (clear_refs), against its size before.
#pragma once

#include <sys/types.h>

#include <string>

namespace medvault::testing {

// A field of /proc/PID/status in kB ("VmHWM", "VmRSS"), -1 when absent.
long StatusKb(pid_t pid, const std::string& field);
// Resets the process's peak RSS (VmHWM) to its current RSS (proc(5), clear_refs "5").
void ResetPeakRss(pid_t pid);
// The pid of the process running `binary` with `marker` (e.g. a cluster's directory) on its
// command line; -1 when there is none.
pid_t PidOf(const std::string& binary, const std::string& marker);

}  // namespace medvault::testing

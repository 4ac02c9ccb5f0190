// Child processes for multi-process tests: start a real binary, read its stdout line by line
// (with a deadline), signal it, reap it; and run a command to completion capturing its output.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace medvault::testing {

class Subprocess {
 public:
  // Starts argv[0] with argv; stdout is a pipe read by ReadLine, stderr appends to stderr_path.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(const std::vector<std::string>& argv,
                                                           const std::string& stderr_path);
  ~Subprocess();  // SIGKILLs and reaps a child still running

  // Next line of stdout (without '\n'); DEADLINE_EXCEEDED if none arrives in time, NOT_FOUND at
  // EOF.
  absl::StatusOr<std::string> ReadLine(std::chrono::milliseconds timeout);
  void Signal(int sig);
  // Waits for exit; returns the exit code, or 128+signal.
  int Wait();
  pid_t pid() const { return pid_; }

 private:
  Subprocess() = default;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string buffered_;
  bool reaped_ = false;
  int exit_code_ = -1;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a command to completion (stdin /dev/null) and captures stdout and stderr.
CommandResult RunCommand(const std::vector<std::string>& argv);

}  // namespace medvault::testing

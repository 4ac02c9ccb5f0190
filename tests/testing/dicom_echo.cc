#include "tests/testing/dicom_echo.h"

#include "absl/time/clock.h"
#include "tests/testing/subprocess.h"

namespace medvault::testing {

bool WaitUntil(const std::function<bool()>& ready, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    if (ready()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));  // between polls of a peer that is starting
  }
}

bool WaitForEcho(const std::vector<std::string>& args, absl::Duration timeout) {
  std::vector<std::string> argv = {"/usr/bin/echoscu"};
  argv.insert(argv.end(), args.begin(), args.end());
  return WaitUntil([&] { return RunCommand(argv).exit_code == 0; }, timeout);
}

}  // namespace medvault::testing

#include "tests/testing/proc_status.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace medvault::testing {

long StatusKb(pid_t pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(in, line);) {
    if (absl::StartsWith(line, field + ":")) return std::atol(line.c_str() + field.size() + 1);
  }
  return -1;
}

void ResetPeakRss(pid_t pid) { std::ofstream(absl::StrCat("/proc/", pid, "/clear_refs")) << "5"; }

pid_t PidOf(const std::string& binary, const std::string& marker) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    const std::string cmdline((std::istreambuf_iterator<char>(in)), {});
    if (absl::StartsWith(cmdline, binary + std::string(1, '\0')) &&
        absl::StrContains(cmdline, marker)) {
      return std::atoi(name.c_str());
    }
  }
  return -1;
}

}  // namespace medvault::testing

#include "common/testing/dev_certs.h"

#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace medvault::testing {

absl::Status MakeDevCerts(const std::string& dir, const std::vector<std::string>& names,
                          const DevCertOptions& options) {
  std::vector<std::string> argv = {"/bin/bash",
                                   std::string(MEDVAULT_SOURCE_DIR) + "/scripts/dev-certs"};
  if (!options.not_before.empty() || !options.not_after.empty()) {
    argv.insert(argv.end(), {"--startdate", options.not_before, "--enddate", options.not_after});
  }
  argv.push_back(dir);
  argv.insert(argv.end(), names.begin(), names.end());
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ);
  if (rc != 0)
    return absl::InternalError(absl::StrCat("cannot run scripts/dev-certs: ", std::strerror(rc)));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat("scripts/dev-certs failed (wait status ", status, ")"));
  }
  return absl::OkStatus();
}

TlsFiles DevTlsFiles(const std::string& dir, const std::string& name) {
  return TlsFiles{dir + "/ca.crt", absl::StrCat(dir, "/", name, ".crt"),
                  absl::StrCat(dir, "/", name, ".key")};
}

}  // namespace medvault::testing

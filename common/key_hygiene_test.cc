// ProtectKeyMaterialInThisProcess, checked in a forked child so the test runner keeps its settings.
#include "common/key_hygiene.h"

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace medvault {
namespace {

TEST(KeyHygieneTest, ProcessBecomesNonDumpableWithNoCoreLimit) {
  ASSERT_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1) << "the test runner starts dumpable";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (!ProtectKeyMaterialInThisProcess().ok()) _exit(10);
    if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) _exit(11);
    struct rlimit core;
    if (getrlimit(RLIMIT_CORE, &core) != 0 || core.rlim_cur != 0 || core.rlim_max != 0) _exit(12);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: call failed, 11: still dumpable, 12: core limit not 0";
}

}  // namespace
}  // namespace medvault

#include <gtest/gtest.h>

#include "cli/args.h"

namespace medvault::cli {
namespace {

TEST(ArgsImportTest, OnePathWithJobsAndQuiet) {
  absl::StatusOr<Command> cmd =
      ParseArgs({"import", "/media/cdrom", "--jobs", "8", "--quiet"}, "fe:1");
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->verb, Verb::kImport);
  EXPECT_EQ(cmd->import.path, "/media/cdrom");
  EXPECT_EQ(cmd->import.jobs, 8);
  EXPECT_TRUE(cmd->import.quiet);
  cmd = ParseArgs({"import", "disc.iso"}, "fe:1");
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->import.jobs, kDefaultJobs);
  EXPECT_FALSE(cmd->import.quiet);
  EXPECT_EQ(VerbName(Verb::kImport), "import");
}

TEST(ArgsImportTest, UsageErrors) {
  for (const auto& args : std::vector<std::vector<std::string>>{{"import"},
                                                                {"import", "a", "b"},
                                                                {"import", ""},
                                                                {"import", "a", "--jobs", "0"},
                                                                {"import", "a", "--json"}}) {
    absl::StatusOr<Command> cmd = ParseArgs(args, "fe:1");
    EXPECT_EQ(cmd.status().code(), absl::StatusCode::kInvalidArgument) << args.size();
  }
  EXPECT_NE(UsageText().find("import PATH"), std::string::npos);
}

}  // namespace
}  // namespace medvault::cli

#include <gtest/gtest.h>

#include "cli/args.h"

namespace medvault::cli {
namespace {

TEST(ArgsAttachTest, StudyFileAndType) {
  absl::StatusOr<Command> cmd =
      ParseArgs({"attach", "--study", "1.2.3", "report.pdf", "--type", "pdf"}, "fe:1");
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->verb, Verb::kAttach);
  EXPECT_EQ(cmd->attach.study_uid, "1.2.3");
  EXPECT_EQ(cmd->attach.path, "report.pdf");
  EXPECT_EQ(cmd->attach.type, "pdf");
  cmd = ParseArgs({"attach", "note.txt", "--study=1.2.3"}, "fe:1");
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->attach.type, "");
  EXPECT_EQ(VerbName(Verb::kAttach), "attach");
}

TEST(ArgsAttachTest, UsageErrors) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"attach", "a.pdf"},
           {"attach", "--study", "1.2"},
           {"attach", "--study", "1.2", "a", "b"},
           {"attach", "--study", "1.2", "a", "--type", "docx"},
           {"attach", "--study", "1.2", "a", "--jobs", "2"},
           {"get", "--study", "1.2", "--document", "-o", "d"},
           {"get", "--instance", "1.2", "--document", "--length", "5", "-o", "f"}}) {
    absl::StatusOr<Command> cmd = ParseArgs(args, "fe:1");
    EXPECT_EQ(cmd.status().code(), absl::StatusCode::kInvalidArgument) << args[1];
  }
  absl::StatusOr<Command> cmd =
      ParseArgs({"get", "--instance", "1.2", "--document", "-o", "r.pdf"}, "fe:1");
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_TRUE(cmd->get.document);
  EXPECT_NE(UsageText().find("attach --study UID FILE"), std::string::npos);
}

}  // namespace
}  // namespace medvault::cli

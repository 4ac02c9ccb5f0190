#include "cli/args_backup.h"

#include <gtest/gtest.h>

#include "cli/args.h"

namespace medvault::cli {
namespace {

absl::StatusOr<Command> Parse(std::vector<std::string> args) {
  return ParseArgs(args, "fe:1", "/tls");
}

TEST(BackupArgsTest, CreateAndVerify) {
  absl::StatusOr<Command> cmd = Parse({"backup", "create", "--out", "b.mv", "--backup_key", "k"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->verb, Verb::kBackup);
  EXPECT_EQ(cmd->backup.action, BackupArgs::Action::kCreate);
  EXPECT_EQ(cmd->backup.path, "b.mv");
  EXPECT_EQ(cmd->backup.key_file, "k");
  cmd = Parse({"backup", "verify", "--in=b.mv", "--backup_key=k", "--json"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->backup.action, BackupArgs::Action::kVerify);
  EXPECT_EQ(cmd->backup.path, "b.mv");
  EXPECT_TRUE(cmd->backup.json);
}

TEST(BackupArgsTest, UsageErrors) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"backup"},
           {"backup", "restore", "--in", "b", "--backup_key", "k"},
           {"backup", "create", "--backup_key", "k"},
           {"backup", "create", "--out", "b"},
           {"backup", "create", "--in", "b", "--out", "b", "--backup_key", "k"},
           {"backup", "verify", "--out", "b", "--backup_key", "k"},
           {"backup", "create", "extra", "--out", "b", "--backup_key", "k"},
           {"get", "--backup_key", "k"}}) {
    EXPECT_EQ(Parse(args).status().code(), absl::StatusCode::kInvalidArgument) << args[0];
  }
}

}  // namespace
}  // namespace medvault::cli

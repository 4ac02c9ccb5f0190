#include "cli/args_raft.h"

#include <gtest/gtest.h>

#include "cli/args.h"

namespace medvault::cli {
namespace {

absl::StatusOr<Command> Parse(std::vector<std::string> args) {
  return ParseArgs(args, "fe:1", "/tls");
}

TEST(RaftArgsTest, StatusDefaultsToBothGroups) {
  absl::StatusOr<Command> cmd = Parse({"raft", "status", "--json"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->verb, Verb::kRaft);
  EXPECT_EQ(cmd->raft.action, RaftArgs::Action::kStatus);
  EXPECT_EQ(cmd->raft.groups, (std::vector<std::string>{"metaserver", "keyservice"}));
  EXPECT_TRUE(cmd->raft.json);
  cmd = Parse({"raft", "status", "keyservice"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->raft.groups, (std::vector<std::string>{"keyservice"}));
}

TEST(RaftArgsTest, AddRemoveAndTransfer) {
  absl::StatusOr<Command> cmd = Parse({"raft", "add", "metaserver", "4", "10.0.0.4:7000"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->raft.action, RaftArgs::Action::kAdd);
  EXPECT_EQ(cmd->raft.groups, (std::vector<std::string>{"metaserver"}));
  EXPECT_EQ(cmd->raft.id, 4u);
  EXPECT_EQ(cmd->raft.address, "10.0.0.4:7000");
  cmd = Parse({"raft", "remove", "keyservice", "2"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->raft.action, RaftArgs::Action::kRemove);
  EXPECT_EQ(cmd->raft.id, 2u);
  cmd = Parse({"raft", "transfer-leader", "keyservice"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->raft.action, RaftArgs::Action::kTransferLeader);
  EXPECT_EQ(cmd->raft.id, 0u);
  cmd = Parse({"raft", "transfer-leader", "keyservice", "3"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->raft.id, 3u);
}

TEST(RaftArgsTest, UsageErrors) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"raft"},
                                             {"raft", "status", "chunkserver"},
                                             {"raft", "add", "metaserver", "4"},
                                             {"raft", "add", "metaserver", "0", "h:1"},
                                             {"raft", "remove", "metaserver", "x"},
                                             {"raft", "remove", "metaserver", "2", "extra"},
                                             {"raft", "remove", "metaserver", "2", "--json"},
                                             {"raft", "transfer-leader"}}) {
    absl::StatusOr<Command> cmd = Parse(args);
    EXPECT_TRUE(absl::IsInvalidArgument(cmd.status())) << args.size() << " " << args.back();
  }
}

}  // namespace
}  // namespace medvault::cli

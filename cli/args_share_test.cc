// Parsing of `medvault share ...`.
#include <gtest/gtest.h>

#include "cli/args.h"

namespace medvault::cli {
namespace {

absl::StatusOr<Command> Parse(std::vector<std::string> args) {
  return ParseArgs(args, "default:1");
}

TEST(ShareArgsTest, CreateTakesRepeatedStudiesAndOptions) {
  absl::StatusOr<Command> cmd =
      Parse({"share", "create", "--study", "1.2.3", "--study=1.2.4", "--expires", "7d",
             "--max-uses", "3", "--no-download", "--label", "Dr Who"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->verb, Verb::kShare);
  EXPECT_EQ(cmd->share.action, ShareArgs::Action::kCreate);
  EXPECT_EQ(cmd->share.study_uids, (std::vector<std::string>{"1.2.3", "1.2.4"}));
  EXPECT_EQ(cmd->share.expires_seconds, 7 * 86400);
  EXPECT_EQ(cmd->share.max_uses, 3u);
  EXPECT_TRUE(cmd->share.no_download);
  EXPECT_EQ(cmd->share.label, "Dr Who");
  // Elsewhere --study keeps its last value.
  cmd = Parse({"rm", "--study", "1", "--study", "2"});
  ASSERT_TRUE(cmd.ok());
  EXPECT_EQ(cmd->rm.study_uid, "2");
}

TEST(ShareArgsTest, ActionsNameOneShare) {
  for (const char* action : {"show", "revoke", "unlock", "log"}) {
    absl::StatusOr<Command> cmd = Parse({"share", action, "0123456789abcdef"});
    ASSERT_TRUE(cmd.ok()) << cmd.status();
    EXPECT_EQ(cmd->share.share, "0123456789abcdef");
    EXPECT_FALSE(Parse({"share", action}).ok());
  }
  absl::StatusOr<Command> list = Parse({"share", "list", "--json"});
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->share.action, ShareArgs::Action::kList);
  EXPECT_TRUE(list->share.json);
}

TEST(ShareArgsTest, RefusesBadInput) {
  EXPECT_FALSE(Parse({"share"}).ok());
  EXPECT_FALSE(Parse({"share", "create"}).ok());
  EXPECT_FALSE(Parse({"share", "create", "--study", "1", "--expires", "soon"}).ok());
  EXPECT_FALSE(Parse({"share", "create", "--study", "1", "--max-uses", "0"}).ok());
  EXPECT_FALSE(Parse({"share", "list", "--study", "1"}).ok());
  EXPECT_FALSE(Parse({"share", "frobnicate"}).ok());
  EXPECT_FALSE(Parse({"find", "--label", "x"}).ok());
  EXPECT_EQ(*ParseExpiry("90m"), 5400);
  EXPECT_EQ(*ParseExpiry("3600"), 3600);
  EXPECT_FALSE(ParseExpiry("-1d").ok());
}

}  // namespace
}  // namespace medvault::cli

// Parsing of `medvault retention ...`, and how find shows a study's retention.
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "cli/args.h"
#include "cli/format.h"

namespace medvault::cli {
namespace {

absl::StatusOr<Command> Parse(std::vector<std::string> args) {
  return ParseArgs(args, "default:1");
}

TEST(RetentionArgsTest, SetTakesDaysOrAfterLastShare) {
  absl::StatusOr<Command> cmd = Parse({"retention", "set", "1.2.3", "--days", "30"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->verb, Verb::kRetention);
  EXPECT_EQ(cmd->retention.action, RetentionArgs::Action::kSet);
  EXPECT_EQ(cmd->retention.study_uid, "1.2.3");
  EXPECT_EQ(cmd->retention.days, 30u);
  EXPECT_FALSE(cmd->retention.after_last_share);
  cmd = Parse({"retention", "set", "1.2.3", "--after-last-share"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_TRUE(cmd->retention.after_last_share);
  EXPECT_EQ(cmd->retention.days, 0u);
}

TEST(RetentionArgsTest, OtherActionsTakeOneStudy) {
  for (const auto& [word, action] : std::vector<std::pair<std::string, RetentionArgs::Action>>{
           {"clear", RetentionArgs::Action::kClear},
           {"hold", RetentionArgs::Action::kHold},
           {"release", RetentionArgs::Action::kRelease},
           {"show", RetentionArgs::Action::kShow}}) {
    absl::StatusOr<Command> cmd = Parse({"retention", word, "1.2.3"});
    ASSERT_TRUE(cmd.ok()) << word << ": " << cmd.status();
    EXPECT_EQ(cmd->retention.action, action);
    EXPECT_EQ(cmd->retention.study_uid, "1.2.3");
  }
  absl::StatusOr<Command> json = Parse({"retention", "show", "1.2.3", "--json"});
  ASSERT_TRUE(json.ok());
  EXPECT_TRUE(json->retention.json);
}

TEST(RetentionArgsTest, RefusesWhatMakesNoSense) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"retention"},
           {"retention", "keep", "1.2.3"},
           {"retention", "set", "1.2.3"},
           {"retention", "set", "1.2.3", "--days", "3", "--after-last-share"},
           {"retention", "set", "1.2.3", "--days", "0"},
           {"retention", "set", "1.2.3", "--days", "36501"},
           {"retention", "set", "1.2.3", "--days", "x"},
           {"retention", "hold"},
           {"retention", "hold", "1.2.3", "1.2.4"},
           {"retention", "hold", "1.2.3", "--days", "3"},
           {"retention", "set", "1.2.3", "--days", "3", "--json"},
           {"share", "list", "--days", "3"}}) {
    absl::StatusOr<Command> cmd = Parse(args);
    EXPECT_FALSE(cmd.ok()) << absl::StrJoin(args, " ");
  }
}

TEST(RetentionFormatTest, FindShowsRuleAndHoldOnlyWhenAnyStudyHasOne) {
  v1::StudySummary plain;
  plain.set_study_uid("1.2.3");
  EXPECT_FALSE(absl::StrContains(StudiesTable({plain}), "RETENTION"));
  EXPECT_FALSE(absl::StrContains(StudiesToJson({plain}), "retention"));
  v1::StudySummary kept = plain;
  kept.set_study_uid("1.2.4");
  kept.mutable_retention()->set_hold(true);
  kept.mutable_retention()->mutable_rule()->set_days_after_ingest(30);
  kept.mutable_retention()->set_due_at_micros(1'700'000'000'000'000);
  const std::string table = StudiesTable({plain, kept});
  EXPECT_TRUE(absl::StrContains(table, "RETENTION")) << table;
  EXPECT_TRUE(absl::StrContains(table, "held; delete after 2023-11-14")) << table;
  EXPECT_TRUE(absl::StrContains(StudiesToJson({kept}), "\"retention\": \"held; delete after"));
  v1::RetentionInfo shares;
  shares.mutable_rule()->set_after_last_share(true);
  EXPECT_EQ(RetentionText(shares), "delete after last share");
  EXPECT_EQ(RetentionText(v1::RetentionInfo()), "-");
}

}  // namespace
}  // namespace medvault::cli

#include <gtest/gtest.h>

#include "cli/args.h"

namespace medvault::cli {
namespace {

absl::StatusOr<Command> Parse(std::vector<std::string> args) {
  return ParseArgs(args, kDefaultFrontend);
}

TEST(ExportArgsTest, StudiesOutAndFormat) {
  absl::StatusOr<Command> cmd =
      Parse({"export", "--study", "1.2", "--study", "1.3", "--out", "/tmp/DISC.ISO", "--quiet"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->verb, Verb::kExport);
  EXPECT_EQ(cmd->export_.study_uids, (std::vector<std::string>{"1.2", "1.3"}));
  EXPECT_EQ(cmd->export_.out, "/tmp/DISC.ISO");
  EXPECT_EQ(cmd->export_.format, "iso");  // from the name
  EXPECT_TRUE(cmd->export_.quiet);

  cmd = Parse({"export", "--study", "1.2", "--out", "x.zip"});
  ASSERT_TRUE(cmd.ok());
  EXPECT_EQ(cmd->export_.format, "zip");
  cmd = Parse({"export", "--study", "1.2", "--out", "disc"});
  ASSERT_TRUE(cmd.ok());
  EXPECT_EQ(cmd->export_.format, "dir");
  cmd = Parse({"export", "--study", "1.2", "--out", "disc.zip", "--format", "DIR"});
  ASSERT_TRUE(cmd.ok());
  EXPECT_EQ(cmd->export_.format, "dir");
}

TEST(ExportArgsTest, Refusals) {
  EXPECT_FALSE(Parse({"export", "--out", "x.zip"}).ok());                     // no study
  EXPECT_FALSE(Parse({"export", "--study", "1.2"}).ok());                     // no out
  EXPECT_FALSE(Parse({"export", "--study", "", "--out", "x"}).ok());          // empty study
  EXPECT_FALSE(Parse({"export", "--study", "1.2", "--out", "x", "y"}).ok());  // positional
  EXPECT_FALSE(Parse({"export", "--study", "1.2", "--out", "x", "--format", "tar"}).ok());
  EXPECT_FALSE(Parse({"put", "--out", "x", "f.dcm"}).ok());  // --out is export's
}

}  // namespace
}  // namespace medvault::cli

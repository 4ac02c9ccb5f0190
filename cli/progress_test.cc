#include "cli/progress.h"

#include <gtest/gtest.h>

#include <sstream>

namespace medvault::cli {
namespace {

TEST(ProgressTest, FormatsDurations) {
  EXPECT_EQ(FormatDuration(0), "0:00");
  EXPECT_EQ(FormatDuration(6), "0:06");
  EXPECT_EQ(FormatDuration(754), "12:34");
  EXPECT_EQ(FormatDuration(3723), "1:02:03");
  EXPECT_EQ(FormatDuration(-5), "0:00");
}

TEST(ProgressTest, LineHasFilesBytesRateAndTimeLeft) {
  ProgressState state;
  state.files_done = 12;
  state.files_total = 40;
  state.bytes_done = 2 << 20;
  state.bytes_total = 10 << 20;
  state.elapsed_micros = 2'000'000;  // 1 MB/s, 8 MB to go
  const std::string line = FormatProgress(state, 100);
  EXPECT_EQ(line.size(), 100u) << line;
  EXPECT_EQ(line.substr(0, 1), "[");
  EXPECT_NE(line.find("12/40 files  2.0 MB/10.0 MB  1.0 MB/s  0:08 left"), std::string::npos)
      << line;
  // A fifth of the bar is filled.
  const size_t close = line.find(']');
  const std::string bar = line.substr(1, close - 1);
  EXPECT_EQ(std::count(bar.begin(), bar.end(), '#'), static_cast<long>(bar.size() / 5)) << line;
}

TEST(ProgressTest, NoRateBeforeTheFirstSecondOrByte) {
  ProgressState state;
  state.files_total = 3;
  state.bytes_total = 1000;
  state.elapsed_micros = 5'000'000;
  EXPECT_NE(FormatProgress(state, 100).find("--/s  -- left"), std::string::npos);
  state.bytes_done = 10;
  state.elapsed_micros = 999'999;
  EXPECT_NE(FormatProgress(state, 100).find("--/s  -- left"), std::string::npos);
}

TEST(ProgressTest, NarrowTerminalDropsTheBar) {
  ProgressState state;
  state.files_total = 1;
  const std::string line = FormatProgress(state, 30);
  EXPECT_LE(line.size(), 30u);
  EXPECT_EQ(line.find('['), std::string::npos) << line;
}

TEST(ProgressTest, BarRedrawsInPlaceAtMostEveryInterval) {
  std::ostringstream terminal;
  FakeClock clock;
  ProgressBar bar(&terminal, &clock, /*enabled=*/true, /*width=*/80,
                  /*min_interval_micros=*/100'000);
  bar.SetTotal(3, 300);
  bar.Add(1, 100);  // first draw
  bar.Add(0, 50);   // too soon: not drawn
  const std::string first = terminal.str();
  EXPECT_EQ(std::count(first.begin(), first.end(), '\r'), 1);
  clock.Advance(100'000);
  bar.Add(1, 50);
  const std::string s = terminal.str();
  EXPECT_EQ(std::count(s.begin(), s.end(), '\r'), 2);
  EXPECT_NE(s.find("2/3 files"), std::string::npos) << s;
  EXPECT_EQ(s.find('\n'), std::string::npos);
  bar.Clear();  // room for a message: the line is blanked and the cursor at its start
  EXPECT_EQ(terminal.str().back(), '\r');
  bar.Add(1, 100);  // drawn again at once after a Clear
  EXPECT_NE(terminal.str().rfind("3/3 files"), std::string::npos);
  bar.Finish();
  EXPECT_EQ(terminal.str().back(), '\n');
  // Every drawn line fits the terminal.
  std::string last = terminal.str();
  last.pop_back();
  EXPECT_LE(last.size() - last.rfind('\r') - 1, 79u);
}

TEST(ProgressTest, DisabledBarPrintsNothing) {
  std::ostringstream not_a_terminal;
  FakeClock clock;
  ProgressBar bar(&not_a_terminal, &clock, /*enabled=*/false);
  bar.SetTotal(1, 10);
  bar.Add(1, 10);
  bar.Clear();
  bar.StartPhase("ISO image", 0, 100);  // nor a phase
  bar.Add(0, 100);
  bar.Finish();
  EXPECT_EQ(not_a_terminal.str(), "");
}

TEST(ProgressTest, PhaseComesFirstAndLeavesOutFilesItDoesNotCount) {
  ProgressState state;
  state.phase = "ISO image";
  state.bytes_done = 1 << 20;
  state.bytes_total = 4 << 20;
  state.elapsed_micros = 1'000'000;
  const std::string line = FormatProgress(state, 100);
  EXPECT_NE(line.find("]  ISO image: 1.0 MB/4.0 MB  1.0 MB/s  0:03 left"), std::string::npos)
      << line;
  EXPECT_EQ(line.find("files"), std::string::npos) << line;
  state.files_total = 2;
  EXPECT_NE(FormatProgress(state, 100).find("ISO image: 0/2 files  1.0 MB"), std::string::npos);
}

TEST(ProgressTest, StartPhaseEndsTheLineAndStartsItsOwnCountersAndClock) {
  std::ostringstream terminal;
  FakeClock clock;
  ProgressBar bar(&terminal, &clock, /*enabled=*/true, /*width=*/100);
  bar.SetTotal(2, 200);
  bar.Add(2, 200);
  clock.Advance(10'000'000);  // 10 s for the instances
  bar.StartPhase("ISO image", 0, 1000);
  std::string s = terminal.str();
  // The instances' line is finished (drawn in its final state, ended), the phase drawn at once
  // (within the interval of the last draw) from zero, with no rate yet.
  const size_t newline = s.find('\n');
  ASSERT_NE(newline, std::string::npos) << s;
  EXPECT_NE(s.substr(0, newline).rfind("2/2 files  200 B/200 B"), std::string::npos) << s;
  EXPECT_NE(s.find("ISO image: 0 B/1000 B  --/s  -- left", newline), std::string::npos) << s;
  clock.Advance(2'000'000);
  bar.Add(0, 500);  // 250 B/s over the phase's 2 s, not over the run's 12 s
  EXPECT_NE(terminal.str().rfind("ISO image: 500 B/1000 B  250 B/s  0:02 left"), std::string::npos)
      << terminal.str();
  bar.Finish();
  s = terminal.str();
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 2);
}

}  // namespace
}  // namespace medvault::cli

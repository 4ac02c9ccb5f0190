// The progress bar of long CLI runs (`import`, `export`): files and bytes done of the total, the
// rate and the time left, redrawn in place on a terminal, in named phases when a run has several
// (export's "ISO image" after its instances). Formatting is a pure function; the bar takes its
// clock and stream from the caller so tests drive it with a fake terminal.
#pragma once

#include <cstdint>
#include <mutex>
#include <ostream>
#include <string>

#include "common/env.h"

namespace medvault::cli {

struct ProgressState {
  uint64_t files_done = 0;
  uint64_t files_total = 0;
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;
  int64_t elapsed_micros = 0;
  std::string phase;  // shown first ("ISO image: ..."); empty: none
};

// "[#########...........]  12/40 files  3.1 MB/10.2 MB  1.2 MB/s  0:06 left", at most `width`
// columns (the bar shrinks first; below ~50 columns it is dropped). Before any byte is done, or
// within the first second, the rate and time left read "--". A phase comes first
// ("[####....]  ISO image: 1.2 MB/10.2 MB ..."); with no files to count (files_total 0) the files
// are left out.
std::string FormatProgress(const ProgressState& state, int width);

// The columns of the terminal on stderr; 80 when it is not one.
int StderrTerminalWidth();

// "0:06", "12:34", "1:02:03".
std::string FormatDuration(int64_t seconds);

// A progress line redrawn with '\r' at most every `min_interval_micros` (and on Finish). When not
// `enabled` (the output is not a terminal, or --quiet) it draws nothing. Thread-safe.
class ProgressBar {
 public:
  ProgressBar(std::ostream* out, Clock* clock, bool enabled, int width = 80,
              int64_t min_interval_micros = 200'000);

  void SetTotal(uint64_t files, uint64_t bytes);
  // Adds to the done counters and redraws when due.
  void Add(uint64_t files, uint64_t bytes);
  // Ends the current phase's line as it stands (Finish) and starts `phase` with its own totals,
  // counters and clock (for its rate and time left), drawn at once.
  void StartPhase(const std::string& phase, uint64_t files, uint64_t bytes);
  // Erases the bar so a line can be printed; the next Add draws it again.
  void Clear();
  // Draws the final state and ends the line.
  void Finish();

 private:
  void DrawLocked(bool force);

  std::mutex mu_;
  std::ostream* out_;
  Clock* clock_;
  const bool enabled_;
  const int width_;
  const int64_t min_interval_micros_;
  int64_t start_micros_;
  ProgressState state_;
  int64_t last_draw_micros_ = -1;
  bool drawn_ = false;  // a bar is on the current line
};

}  // namespace medvault::cli

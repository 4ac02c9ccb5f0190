#include "cli/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/format.h"

namespace medvault::cli {

int StderrTerminalWidth() {
  struct winsize ws;
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

std::string FormatDuration(int64_t seconds) {
  if (seconds < 0) seconds = 0;
  const int64_t h = seconds / 3600, m = (seconds / 60) % 60, s = seconds % 60;
  if (h > 0) return absl::StrFormat("%d:%02d:%02d", h, m, s);
  return absl::StrFormat("%d:%02d", m, s);
}

std::string FormatProgress(const ProgressState& state, int width) {
  std::string counts =
      absl::StrCat(state.phase.empty() ? "" : absl::StrCat(state.phase, ": "),
                   state.files_total == 0 && !state.phase.empty()
                       ? ""
                       : absl::StrCat(state.files_done, "/", state.files_total, " files  "),
                   FormatSize(state.bytes_done), "/", FormatSize(state.bytes_total));
  std::string rate = "--/s", left = "-- left";
  if (state.bytes_done > 0 && state.elapsed_micros >= 1'000'000) {
    const double per_second =
        static_cast<double>(state.bytes_done) * 1e6 / static_cast<double>(state.elapsed_micros);
    rate = absl::StrCat(FormatSize(static_cast<uint64_t>(per_second)), "/s");
    const uint64_t remaining =
        state.bytes_total > state.bytes_done ? state.bytes_total - state.bytes_done : 0;
    left =
        absl::StrCat(FormatDuration(static_cast<int64_t>(remaining / per_second + 0.5)), " left");
  }
  std::string tail = absl::StrCat(counts, "  ", rate, "  ", left);
  const int bar_width = width - static_cast<int>(tail.size()) - 4;  // "[", "]", two spaces
  if (bar_width < 10) return tail.substr(0, std::max(width, 0));
  const double fraction =
      state.bytes_total > 0
          ? std::min(1.0, static_cast<double>(state.bytes_done) / state.bytes_total)
          : (state.files_total > 0 ? static_cast<double>(state.files_done) / state.files_total
                                   : 1.0);
  const int filled = static_cast<int>(fraction * bar_width);
  return absl::StrCat("[", std::string(filled, '#'), std::string(bar_width - filled, '.'), "]  ",
                      tail);
}

ProgressBar::ProgressBar(std::ostream* out, Clock* clock, bool enabled, int width,
                         int64_t min_interval_micros)
    : out_(out),
      clock_(clock),
      enabled_(enabled),
      width_(width),
      min_interval_micros_(min_interval_micros),
      start_micros_(clock->NowMicros()) {}

void ProgressBar::SetTotal(uint64_t files, uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  state_.files_total = files;
  state_.bytes_total = bytes;
}

void ProgressBar::Add(uint64_t files, uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  state_.files_done += files;
  state_.bytes_done += bytes;
  DrawLocked(/*force=*/false);
}

void ProgressBar::StartPhase(const std::string& phase, uint64_t files, uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (enabled_ && drawn_) {
    DrawLocked(/*force=*/true);
    *out_ << "\n";
  }
  state_ = ProgressState();
  state_.phase = phase;
  state_.files_total = files;
  state_.bytes_total = bytes;
  start_micros_ = clock_->NowMicros();
  DrawLocked(/*force=*/true);
}

void ProgressBar::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!enabled_ || !drawn_) return;
  *out_ << "\r" << std::string(width_ - 1, ' ') << "\r";
  out_->flush();
  drawn_ = false;
  last_draw_micros_ = -1;  // draw again at the next Add
}

void ProgressBar::Finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!enabled_) return;
  DrawLocked(/*force=*/true);
  *out_ << "\n";
  out_->flush();
  drawn_ = false;
}

void ProgressBar::DrawLocked(bool force) {
  if (!enabled_) return;
  const int64_t now = clock_->NowMicros();
  if (!force && last_draw_micros_ >= 0 && now - last_draw_micros_ < min_interval_micros_) return;
  last_draw_micros_ = now;
  state_.elapsed_micros = now - start_micros_;
  std::string line = FormatProgress(state_, width_ - 1);
  line.resize(width_ - 1, ' ');  // overwrite a longer previous line
  *out_ << "\r" << line;
  out_->flush();
  drawn_ = true;
}

}  // namespace medvault::cli

#include "common/group_channels.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace medvault {

absl::StatusOr<std::vector<std::string>> ParseAddressList(absl::string_view list) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part.empty()) return absl::InvalidArgumentError("an address in the list is empty");
    out.emplace_back(part);
  }
  return out;
}

GroupChannels::GroupChannels(std::vector<std::string> addresses, ChannelMaker make_channel)
    : addresses_(std::move(addresses)) {
  for (const std::string& a : addresses_) channels_.push_back(make_channel(a));
}

size_t GroupChannels::Pick() {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

void GroupChannels::Advance(size_t tried, const absl::Status& error) {
  std::lock_guard<std::mutex> lock(mu_);
  if (current_ != tried) return;  // another caller already moved on
  constexpr absl::string_view kHint = "leader is ";
  const absl::string_view message = error.message();
  const size_t at = message.find(kHint);
  if (at != absl::string_view::npos) {
    const std::string leader(message.substr(at + kHint.size()));
    auto it = std::find(addresses_.begin(), addresses_.end(), leader);
    if (it != addresses_.end()) {
      current_ = it - addresses_.begin();
      return;
    }
  }
  current_ = (current_ + 1) % addresses_.size();
}

absl::Status GroupChannels::Call(const Attempt& attempt, std::chrono::milliseconds budget,
                                 std::chrono::milliseconds attempt_limit) {
  using Clock = std::chrono::system_clock;
  const Clock::time_point end = Clock::now() + budget;
  auto backoff = std::chrono::milliseconds(20);
  absl::Status last = absl::UnavailableError("no member of the group answered");
  absl::Status last_unavailable;  // OK until a member answers UNAVAILABLE
  for (size_t tries = 0; Clock::now() < end; ++tries) {
    const size_t i = Pick();
    const Clock::time_point deadline = std::min(end, Clock::now() + attempt_limit);
    last = attempt(channels_[i], deadline);
    // An attempt's context is never cancelled here: a CANCELLED answer comes from a member that
    // dropped the call while stopping (SIGTERM), as UNAVAILABLE would say (rolling_restart_test).
    if (absl::IsCancelled(last)) {
      last = absl::UnavailableError(
          absl::StrCat("a member cancelled the call (stopping?): ", last.message()));
    }
    const bool cut_short = absl::IsDeadlineExceeded(last) && deadline < end;
    if (absl::IsDeadlineExceeded(last) && !cut_short && !last_unavailable.ok()) {
      // The budget ran out inside an attempt (often one still connecting) after members had
      // answered UNAVAILABLE: that answer says why, where a bare "Deadline Exceeded" does not.
      return absl::UnavailableError(absl::StrCat(last_unavailable.message(),
                                                 " (still failing when the time budget ran out)"));
    }
    if (!absl::IsUnavailable(last) && !cut_short) return last;
    if (absl::IsUnavailable(last)) last_unavailable = last;
    const bool hinted = last.message().find("leader is ") != absl::string_view::npos;
    Advance(i, last);
    // Follow a hint at once; after a full round without a leader, back off a little (an election
    // takes about a second).
    if (!hinted && (tries + 1) % addresses_.size() == 0) {
      std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
          backoff, std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now())));
      backoff = std::min(backoff * 2, std::chrono::milliseconds(250));
    }
  }
  return last;
}

}  // namespace medvault

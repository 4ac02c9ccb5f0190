// Clients of a replicated group (metaserver, keyservice): calls go to the member believed to lead;
// UNAVAILABLE answers ("not the leader; leader is ADDR", "no leader elected yet", a dead member)
// are retried on the named leader or the next member, with a short backoff between rounds, until
// the caller's time budget is spent. Every other answer is final.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace medvault {

using ChannelMaker = std::function<std::shared_ptr<grpc::Channel>(const std::string& address)>;

// "a:1,b:2,c:3" → addresses. INVALID_ARGUMENT when empty or an entry is blank.
absl::StatusOr<std::vector<std::string>> ParseAddressList(absl::string_view list);

// Thread-safe.
class GroupChannels {
 public:
  GroupChannels(std::vector<std::string> addresses, ChannelMaker make_channel);

  // One attempt gets a channel and the deadline it must respect.
  using Attempt = std::function<absl::Status(const std::shared_ptr<grpc::Channel>& channel,
                                             std::chrono::system_clock::time_point deadline)>;
  // Runs attempts until one returns anything but UNAVAILABLE (or DEADLINE_EXCEEDED of an attempt
  // cut short by `attempt_limit`: a member that hangs) or `budget` is spent; then the last error,
  // except that a budget spent inside an attempt after UNAVAILABLE answers reports UNAVAILABLE
  // with the last such answer (a misconfigured or unreachable group, not a slow one).
  // A CANCELLED answer counts as UNAVAILABLE (attempts are never cancelled by the caller: a
  // member that stops cancels the calls it drops). Callers' operations must therefore be safe to
  // repeat.
  absl::Status Call(const Attempt& attempt, std::chrono::milliseconds budget,
                    std::chrono::milliseconds attempt_limit = std::chrono::seconds(10));

  const std::vector<std::string>& addresses() const { return addresses_; }

 private:
  size_t Pick();
  void Advance(size_t tried, const absl::Status& error);

  const std::vector<std::string> addresses_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::mutex mu_;
  size_t current_ = 0;  // index of the member believed to lead
};

}  // namespace medvault

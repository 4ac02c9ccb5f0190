#include "common/periodic_task.h"

#include <utility>

namespace medvault {

PeriodicTask::PeriodicTask(absl::Duration interval, std::function<void()> fn)
    : interval_(interval), fn_(std::move(fn)) {}

PeriodicTask::~PeriodicTask() { Stop(); }

void PeriodicTask::Start() {
  thread_ = std::thread([this] { Run(); });
}

void PeriodicTask::Kick() {
  absl::MutexLock lock(&mu_);
  kicked_ = true;
}

void PeriodicTask::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void PeriodicTask::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(this, &PeriodicTask::Woken), interval_);
      if (stop_) return;
      kicked_ = false;
    }
    fn_();
  }
}

}  // namespace medvault

#include "tests/testing/uploader.h"

#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/rpc.h"
#include "medvault/v1/image_store.grpc.pb.h"
#include "tests/testing/image_store_calls.h"

namespace medvault::testing {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

Uploader::Uploader(const ExternalCluster& cluster, std::string study_uid)
    : cluster_(cluster),
      factory_(ReadAll(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/CT_small.dcm")),
      study_uid_(std::move(study_uid)),
      run_(absl::StrCat(std::random_device()() % 1000000)) {}

absl::Status Uploader::PutOne() {
  const std::string uid = absl::StrCat("1.2.826.0.1.3680043.8.498.", run_, ".", ++seq_);
  absl::StatusOr<std::string> bytes =
      factory_.WithUids(uid, study_uid_, study_uid_.empty() ? "" : study_uid_ + ".1");
  if (!bytes.ok()) return bytes.status();
  auto stub = v1::ImageStore::NewStub(cluster_.Channel(cluster_.frontend(), kFrontendPeer));
  absl::StatusOr<v1::PutInstanceResponse> put =
      PutInstance(stub.get(), *bytes, std::chrono::seconds(20));
  std::lock_guard<std::mutex> lock(mu_);
  if (!put.ok()) {
    failures_.push_back(put.status());
    return put.status();
  }
  acked_[uid] = std::move(*bytes);
  study_ = put->study_uid();
  return absl::OkStatus();
}

void Uploader::StartLoad(int threads) {
  for (int t = 0; t < threads; ++t) {
    workers_.emplace_back([this] {
      while (!stop_) (void)PutOne();
    });
  }
}

void Uploader::Stop() {
  stop_ = true;
  for (auto& w : workers_) w.join();
  workers_.clear();
  stop_ = false;
}

size_t Uploader::acked_count() {
  std::lock_guard<std::mutex> lock(mu_);
  return acked_.size();
}

bool Uploader::WaitForAcks(size_t n, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Acknowledgements come from the load threads: poll the count until it holds.
  while (acked_count() < n) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::map<std::string, std::string> Uploader::acked() {
  std::lock_guard<std::mutex> lock(mu_);
  return acked_;
}

std::string Uploader::study() {
  std::lock_guard<std::mutex> lock(mu_);
  return study_;
}

std::vector<absl::Status> Uploader::failures() {
  std::lock_guard<std::mutex> lock(mu_);
  return failures_;
}

}  // namespace medvault::testing

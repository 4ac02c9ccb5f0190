#include "frontend/core/set_retrieval.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/index_fields.h"
#include "common/status_macros.h"

namespace medvault::frontend {
namespace {

// "instance 3 of 500 of the set": how errors name an instance (never by its UID).
std::string Position(size_t i, size_t n) { return absl::StrCat("instance ", i + 1, " of ", n); }

// One instance read ahead: its plaintext chunks in order, each in the buffer it was fetched and
// decrypted in (no copy into a buffer of the whole instance).
using Chunks = std::vector<PlainChunk>;

// The threads that run one retrieval's read-ahead: started as reads are queued (at most
// `max_threads`, never more than there are reads waiting for a thread) and reused from instance
// to instance, instead of a thread per instance (each a clone and a fresh stack's page faults:
// a 500-instance study paid 500 of them). The destructor drops the reads not yet started and
// waits for the running ones.
class ReadAheadWorkers {
 public:
  explicit ReadAheadWorkers(size_t max_threads) : max_threads_(max_threads) {}
  ~ReadAheadWorkers() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      queue_.clear();
    }
    ready_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

  // Runs `read` on one of the threads; its result comes through the future.
  std::future<absl::StatusOr<Chunks>> Run(std::function<absl::StatusOr<Chunks>()> read) {
    auto task = std::make_shared<std::packaged_task<absl::StatusOr<Chunks>()>>(std::move(read));
    std::future<absl::StatusOr<Chunks>> result = task->get_future();
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back([task] { (*task)(); });
      if (queue_.size() > idle_ && threads_.size() < max_threads_) {
        threads_.emplace_back([this] { Serve(); });
      }
    }
    ready_.notify_one();
    return result;
  }

 private:
  void Serve() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      ++idle_;
      ready_.wait(lock, [this] { return done_ || !queue_.empty(); });
      --idle_;
      if (done_) return;
      std::function<void()> job = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }

  const size_t max_threads_;
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  size_t idle_ = 0;                          // guarded by mu_
  bool done_ = false;                        // guarded by mu_
  std::vector<std::thread> threads_;         // changed under mu_; joined by the destructor
};

}  // namespace

absl::StatusOr<std::vector<v1::InstanceInfo>> SetRetrieval::List(const std::string& study_uid,
                                                                 const std::string& series_uid) {
  ASSIGN_OR_RETURN(const std::string study, RequestUid(study_uid, "study_uid"));
  std::string series;
  if (!series_uid.empty()) {
    ASSIGN_OR_RETURN(series, RequestUid(series_uid, "series_uid"));
  }
  ASSIGN_OR_RETURN(v1::GetStudyMetaResponse found, meta_->GetStudy(study));
  std::vector<v1::InstanceInfo> set;
  for (v1::SeriesInfo& s : *found.mutable_series()) {
    if (!series.empty() && s.series_uid() != series) continue;
    for (v1::InstanceInfo& i : *s.mutable_instances()) set.push_back(std::move(i));
  }
  if (set.empty()) return absl::NotFoundError("no such series in the study");
  return set;
}

absl::Status SetRetrieval::Retrieve(const std::vector<v1::InstanceInfo>& set, const KeyAudit& audit,
                                    const ImageStoreCore::Sink& sink) {
  const size_t n = set.size();
  // Every manifest, from the frontend's manifest cache or several lookups at once (each a
  // linearizable metaserver read). A cached manifest proves nothing about the object still being
  // stored: its key release below does.
  std::vector<absl::StatusOr<v1::GetInstanceMetaResponse>> metas(
      n, absl::UnknownError("not looked up"));
  std::vector<char> cached(n, 0);
  auto look_up = [&](size_t i, bool use_cache) {
    bool hit = false;
    absl::StatusOr<ManifestCache::Entry> found =
        core_->LookUp(set[i].tags().sop_instance_uid(), use_cache, &hit);
    cached[i] = hit;
    if (found.ok()) {
      metas[i] = **found;
    } else {
      metas[i] = found.status();
    }
  };
  {
    std::atomic<size_t> next{0};
    std::vector<std::future<void>> lookups;
    const size_t parallel = std::clamp<size_t>(options_.set_lookups_in_parallel, 1, n);
    for (size_t w = 0; w < parallel; ++w) {
      lookups.push_back(std::async(std::launch::async, [&] {
        for (size_t i = next++; i < n; i = next++) look_up(i, /*use_cache=*/true);
      }));
    }
  }  // the futures wait for every lookup here

  // One key release for the whole set (in calls of kMaxKeysPerRelease for a larger one).
  std::vector<absl::StatusOr<SecretBytes>> keys;
  keys.reserve(n);
  for (size_t i = 0; i < n; ++i) keys.push_back(absl::UnknownError("no key asked for"));
  std::vector<size_t> to_release;
  for (size_t i = 0; i < n; ++i) {
    if (metas[i].ok()) to_release.push_back(i);
  }
  for (size_t from = 0; from < to_release.size(); from += kMaxKeysPerRelease) {
    const size_t to = std::min(to_release.size(), from + kMaxKeysPerRelease);
    std::vector<std::string> ids;
    for (size_t k = from; k < to; ++k) ids.push_back(metas[to_release[k]]->manifest().object_id());
    absl::StatusOr<std::vector<absl::StatusOr<SecretBytes>>> released =
        keys_->GetDataKeys(ids, audit);
    if (!released.ok()) return Annotate(released.status(), "releasing the set's data keys");
    if (released->size() != ids.size()) return absl::InternalError("key release lost keys");
    for (size_t k = from; k < to; ++k) keys[to_release[k]] = std::move((*released)[k - from]);
  }
  // A cached manifest whose key was refused may name an object deleted and stored again since
  // it was cached: look it up afresh and release the key that manifest names.
  for (size_t i = 0; i < n; ++i) {
    if (!cached[i] || keys[i].ok()) continue;
    core_->ForgetManifest(set[i].tags().sop_instance_uid());
    look_up(i, /*use_cache=*/false);
    if (metas[i].ok()) keys[i] = keys_->GetDataKey(metas[i]->manifest().object_id(), audit);
  }

  // Why instance i cannot be read, before any read: deleted since the listing, or key refused.
  auto unreadable = [&](size_t i) -> absl::Status {
    if (!metas[i].ok()) {
      if (absl::IsNotFound(metas[i].status())) {
        return absl::NotFoundError(absl::StrCat(
            Position(i, n), " of the set is no longer stored (deleted while the set was read)"));
      }
      return Annotate(metas[i].status(), absl::StrCat("looking up ", Position(i, n)));
    }
    if (!keys[i].ok()) {
      if (absl::IsNotFound(keys[i].status())) {
        return absl::NotFoundError(
            absl::StrCat(Position(i, n), " of the set cannot be read: its data key was destroyed"));
      }
      return Annotate(keys[i].status(), absl::StrCat("the data key of ", Position(i, n)));
    }
    return absl::OkStatus();
  };

  // Instances being read ahead, in order. The first is the one sent next.
  struct Ahead {
    size_t index = 0;
    uint64_t bytes = 0;   // held against read_ahead_bytes
    bool direct = false;  // too large to hold: streamed straight to the sink when its turn comes
    std::future<absl::StatusOr<Chunks>> data;
  };
  std::atomic<bool> stop{false};
  std::deque<Ahead> window;
  const size_t max_in_flight = size_t{std::max<uint32_t>(1, options_.read_ahead_instances)} + 1;
  // Declared after the window and before stop_reads: on any return the reads still running stop
  // early, and the workers wait for them while what they read is alive.
  ReadAheadWorkers workers(max_in_flight);
  absl::Cleanup stop_reads = [&stop] { stop = true; };
  uint64_t ahead_bytes = 0;
  size_t next = 0;
  for (size_t i = 0; i < n; ++i) {
    while (next < n && window.size() < max_in_flight) {
      const uint64_t size = metas[next].ok() ? metas[next]->manifest().size() : 0;
      if (size > options_.read_ahead_bytes) {
        if (window.empty()) window.push_back(Ahead{next++, 0, true, {}});
        break;
      }
      if (!window.empty() && ahead_bytes + size > options_.read_ahead_bytes) break;
      const size_t at = next++;
      Ahead a{at, size, false, {}};
      if (unreadable(at).ok()) {  // otherwise it fails when its turn comes
        a.data = workers.Run([this, &set, &metas, &keys, &cached, &stop, at] {
          Chunks chunks;
          const ImageStoreCore::ChunkSink collect = [&](uint64_t, PlainChunk chunk) {
            if (stop) return absl::CancelledError("the set retrieval ended");
            chunks.push_back(std::move(chunk));
            return absl::OkStatus();
          };
          absl::Status read = core_->ReadObjectChunks(*metas[at], keys[at]->view(), collect);
          const std::string& uid = set[at].tags().sop_instance_uid();
          if (!read.ok() && !stop) core_->ForgetManifest(uid);
          if (!read.ok() && !stop && cached[at]) {
            // Its replicas may have moved since it was cached: once more, as the metaserver
            // has it now (the same object, so the same key).
            bool hit = false;
            absl::StatusOr<ManifestCache::Entry> fresh =
                core_->LookUp(uid, /*use_cache=*/false, &hit);
            if (fresh.ok() &&
                (*fresh)->manifest().object_id() == metas[at]->manifest().object_id()) {
              chunks.clear();
              read = core_->ReadObjectChunks(**fresh, keys[at]->view(), collect);
            }
          }
          if (!read.ok()) return absl::StatusOr<Chunks>(read);
          return absl::StatusOr<Chunks>(std::move(chunks));
        });
      }
      ahead_bytes += size;
      window.push_back(std::move(a));
    }
    Ahead head = std::move(window.front());
    window.pop_front();
    RETURN_IF_ERROR(unreadable(i));
    if (head.direct) {
      absl::Status read = core_->ReadObject(*metas[i], 0, 0, keys[i]->view(), sink);
      if (!read.ok()) core_->ForgetManifest(set[i].tags().sop_instance_uid());
      RETURN_IF_ERROR(Annotate(read, Position(i, n)));
      keys[i]->Wipe();
      continue;
    }
    absl::StatusOr<Chunks> chunks = head.data.get();
    ahead_bytes -= head.bytes;
    if (!chunks.ok()) return Annotate(chunks.status(), absl::StrCat("reading ", Position(i, n)));
    keys[i]->Wipe();
    RETURN_IF_ERROR(sink(&metas[i]->info(), 0, absl::string_view()));
    uint64_t at = 0;
    for (const PlainChunk& chunk : *chunks) {
      RETURN_IF_ERROR(sink(nullptr, at, chunk.view()));
      at += chunk.size();
    }
  }
  return absl::OkStatus();
}

absl::Status ImageStoreCore::RetrieveStudy(const v1::RetrieveStudyRequest& request,
                                           const Sink& sink, const std::string& caller) {
  SetRetrieval retrieval(this, keys_, meta_, options_);
  ASSIGN_OR_RETURN(std::vector<v1::InstanceInfo> set,
                   retrieval.List(request.study_uid(), request.series_uid()));
  return retrieval.Retrieve(set, KeyAudit{caller, "RetrieveStudy"}, sink);
}

absl::Status ImageStoreCore::RetrieveSet(const std::vector<v1::InstanceInfo>& set, const Sink& sink,
                                         const std::string& caller, const std::string& purpose,
                                         const std::string& peer) {
  return SetRetrieval(this, keys_, meta_, options_)
      .Retrieve(set, KeyAudit{caller, purpose, peer}, sink);
}

}  // namespace medvault::frontend

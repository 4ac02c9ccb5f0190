// HedgedRead against a scripted ChunkClient whose replicas answer at once or block until the test
// releases them (or the read is cancelled). Tests synchronise on those events only: a blocked
// replica stays blocked however long the machine takes, so no assertion depends on timing.
#include "frontend/core/hedged_read.h"

#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"

namespace medvault::frontend {
namespace {

class ScriptedChunkClient : public ChunkClient {
 public:
  ~ScriptedChunkClient() override {
    {
      absl::MutexLock lock(&mu_);
      for (auto& [address, r] : replicas_) r.released = true;
    }
    for (std::thread& t : threads_) t.join();
  }

  // `address` answers `answer` at once, or (blocking) only once Release(address) is called.
  void Script(const std::string& address, absl::StatusOr<ChunkRead> answer, bool blocking = false) {
    absl::MutexLock lock(&mu_);
    replicas_[address] = Replica{std::move(answer), blocking, !blocking};
  }
  void Release(const std::string& address) {
    absl::MutexLock lock(&mu_);
    replicas_[address].released = true;
  }
  std::vector<std::string> asked() {
    absl::MutexLock lock(&mu_);
    return asked_;
  }
  int cancelled() {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }
  // Blocks until `n` reads were started.
  void AwaitAsked(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&] { return asked_.size() >= n; };
    mu_.Await(absl::Condition(&enough));
  }

  void StartWrite(const ReplicatedChunkWrite&, WriteDone done) override { done({}); }
  absl::StatusOr<ChunkRead> ReadChunk(const std::string&, const std::string&) override {
    return absl::UnimplementedError("reads go through StartRead");
  }
  std::unique_ptr<PendingRead> StartRead(const std::string& address, const std::string&,
                                         ReadDone done) override {
    auto call = std::make_shared<Call>();
    call->client = this;
    absl::StatusOr<ChunkRead> answer = absl::UnavailableError("unscripted");
    bool blocking = false;
    {
      absl::MutexLock lock(&mu_);
      asked_.push_back(address);
      auto it = replicas_.find(address);
      if (it != replicas_.end()) {
        answer = it->second.answer;
        blocking = it->second.blocking;
      }
    }
    if (!blocking) {
      done(std::move(answer));
    } else {
      threads_.emplace_back([this, call, address, answer, done = std::move(done)]() mutable {
        bool was_cancelled;
        {
          absl::MutexLock lock(&mu_);
          auto ready = [&] { return replicas_[address].released || call->cancelled; };
          mu_.Await(absl::Condition(&ready));
          was_cancelled = call->cancelled && !replicas_[address].released;
        }
        done(was_cancelled ? absl::CancelledError("cancelled") : std::move(answer));
      });
    }
    return std::make_unique<Handle>(call);
  }

 private:
  struct Replica {
    absl::StatusOr<ChunkRead> answer = absl::UnavailableError("unscripted");
    bool blocking = false;
    bool released = true;
  };
  struct Call {
    ScriptedChunkClient* client = nullptr;
    bool cancelled = false;  // guarded by client->mu_
  };
  class Handle final : public PendingRead {
   public:
    explicit Handle(std::shared_ptr<Call> call) : call_(std::move(call)) {}
    void Cancel() override {
      absl::MutexLock lock(&call_->client->mu_);
      if (!call_->cancelled) ++call_->client->cancelled_;
      call_->cancelled = true;
    }

   private:
    std::shared_ptr<Call> call_;
  };
  absl::Mutex mu_;
  std::map<std::string, Replica> replicas_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> asked_ ABSL_GUARDED_BY(mu_);
  int cancelled_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> threads_;  // touched only by the test thread
};

ChunkRead Good(const std::string& data) { return ChunkRead{data, 0}; }

const std::vector<ReplicaAddress> kReplicas = {{"a", "host-a"}, {"b", "host-b"}, {"c", "host-c"}};

class HedgedReadTest : public ::testing::Test {
 protected:
  HedgedReadTest() {
    options_.hedge_delay = absl::Milliseconds(1);
    options_.verify = [](const ReplicaAddress&,
                         absl::StatusOr<ChunkRead> read) -> absl::StatusOr<std::string> {
      if (!read.ok()) return read.status();
      if (read->data == "corrupt") return absl::DataLossError("bad checksum");
      return read->data;
    };
    options_.on_error = [this](const ReplicaAddress& r, const absl::Status&) {
      refused_.push_back(r.server_id);
    };
  }

  absl::StatusOr<std::string> Read() {
    return HedgedRead(&client_, "chunk", kReplicas, options_, &counters_);
  }

  ScriptedChunkClient client_;
  HedgedReadOptions options_;
  HedgedReadCounters counters_;
  std::vector<std::string> refused_;
};

TEST_F(HedgedReadTest, SlowReplicaIsHedgedAndTheFirstGoodAnswerWins) {
  client_.Script("host-a", Good("from a"), /*blocking=*/true);  // stopped: never answers by itself
  client_.Script("host-b", Good("from b"));
  absl::StatusOr<std::string> read = Read();
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "from b");
  EXPECT_EQ(counters_.hedges, 1u);
  EXPECT_EQ(counters_.failovers, 0u);
  EXPECT_EQ(client_.asked(), (std::vector<std::string>{"host-a", "host-b"}));
  EXPECT_EQ(client_.cancelled(), 2);  // the slow call (and the finished one) are told to stop
  EXPECT_TRUE(refused_.empty());
}

TEST_F(HedgedReadTest, ReplicaAnsweringInTimeIsNotHedged) {
  options_.hedge_delay = absl::InfiniteDuration();  // whatever the machine's speed, no hedge fires
  client_.Script("host-a", Good("from a"));
  client_.Script("host-b", Good("from b"));
  EXPECT_EQ(*Read(), "from a");
  EXPECT_EQ(client_.asked(), std::vector<std::string>{"host-a"});
  EXPECT_EQ(counters_.hedges, 0u);
}

TEST_F(HedgedReadTest, FailedReplicaFailsOverAtOnceAndIsReported) {
  options_.hedge_delay = absl::InfiniteDuration();  // failover must not wait for a hedge
  client_.Script("host-a", absl::NotFoundError("gone"));
  client_.Script("host-b", Good("corrupt"));
  client_.Script("host-c", Good("from c"));
  EXPECT_EQ(*Read(), "from c");
  EXPECT_EQ(counters_.failovers, 2u);
  EXPECT_EQ(refused_, (std::vector<std::string>{"a", "b"}));
}

TEST_F(HedgedReadTest, SlowReplicaStillCountsWhenTheOthersFail) {
  client_.Script("host-a", Good("from a"), /*blocking=*/true);
  client_.Script("host-b", absl::UnavailableError("down"));
  client_.Script("host-c", Good("corrupt"));
  absl::StatusOr<std::string> read;
  std::thread reader([&] { read = Read(); });
  client_.AwaitAsked(3);  // b and c were asked (and refused) while a is still blocked
  client_.Release("host-a");
  reader.join();
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "from a");
}

TEST_F(HedgedReadTest, NoGoodReplicaGivesTheLastError) {
  client_.Script("host-a", absl::UnavailableError("down"));
  client_.Script("host-b", Good("corrupt"));
  client_.Script("host-c", Good("corrupt"));
  EXPECT_TRUE(absl::IsDataLoss(Read().status()));
  EXPECT_TRUE(absl::IsUnavailable(HedgedRead(&client_, "chunk", {}, options_, nullptr).status()));
}

}  // namespace
}  // namespace medvault::frontend

// Key service costs on this machine, next to its own bound measured in the same run: how fast a
// KEK rotation rewraps stored keys, how many audited key releases per second one caller gets (each
// writes its audit record synchronously before the key is returned), and how long shredding one
// destroyed key out of the database files takes. The KeyStore runs over a real RocksDB on disk
// with synchronous writes and no Raft (a replicated key service adds one replicated commit per
// batch or release: see raft_commit_bench).
//
//   build/bin/kek_bench [--keys=100000] [--releases=2000] [--dir=var/bench-kek]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "common/env.h"
#include "common/kv.h"
#include "keyservice/core/kek.h"
#include "keyservice/core/key_store.h"
#include "keyservice/core/shredder.h"

ABSL_FLAG(int, keys, 100000, "Data keys stored before the rotation");
ABSL_FLAG(int, releases, 2000, "Audited key releases timed");
ABSL_FLAG(std::string, dir, "var/bench-kek", "Scratch directory on the disk under test (emptied)");

namespace {

using Clock = std::chrono::steady_clock;
namespace ks = medvault::keyservice;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

[[noreturn]] void Die(const std::string& what, const absl::Status& s) {
  std::fprintf(stderr, "kek_bench: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string dir = absl::GetFlag(FLAGS_dir);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto kv = medvault::KvStore::Open(dir + "/db", ks::KeyStoreColumnFamilies());
  if (!kv.ok()) Die("open", kv.status());

  // The bound: synchronous single-writer RocksDB batches of 256 small puts, as the rewrap writes.
  const int bound_batches = 200;
  auto start = Clock::now();
  for (int i = 0; i < bound_batches; ++i) {
    rocksdb::WriteBatch batch;
    for (int j = 0; j < 256; ++j)
      batch.Put((*kv)->cf(ks::kKeysColumnFamily), "b" + std::to_string(i * 256 + j),
                std::string(80, 'x'));
    if (absl::Status s = (*kv)->Write(&batch); !s.ok()) Die("bound write", s);
  }
  const double sync_batches_per_s = bound_batches / Seconds(Clock::now() - start);
  // And single small synchronous writes (an audit record's size), as each release makes.
  const int bound_small = 2000;
  start = Clock::now();
  for (int i = 0; i < bound_small; ++i) {
    rocksdb::WriteBatch batch;
    batch.Put((*kv)->cf(ks::kKeysColumnFamily), "b" + std::to_string(i), std::string(150, 'x'));
    if (absl::Status s = (*kv)->Write(&batch); !s.ok()) Die("bound write", s);
  }
  const double sync_small_per_s = bound_small / Seconds(Clock::now() - start);
  {
    rocksdb::WriteBatch cleanup;
    cleanup.DeleteRange((*kv)->cf(ks::kKeysColumnFamily), "b", "c");
    (void)(*kv)->Write(&cleanup);
  }

  ks::KekRing keks;
  for (uint32_t v : {1u, 2u}) {
    if (absl::Status s = keks.Add(v, medvault::SecretBytes(medvault::RandomBytes(32).value()));
        !s.ok())
      Die("kek", s);
  }
  ks::KekRing only_v1;
  (void)only_v1.Add(1, medvault::SecretBytes(std::string(keks.Find(1)->key)));
  const int n = absl::GetFlag(FLAGS_keys);
  std::vector<std::string> ids;
  {
    ks::KeyStore v1_store(kv->get(), &only_v1, medvault::RealClock());  // pins version 1
    for (int done = 0; done < n;) {
      auto keys = v1_store.Generate(std::min(1000, n - done));
      if (!keys.ok()) Die("generate", keys.status());
      for (const auto& k : *keys) ids.push_back(k.object_id);
      done += keys->size();
    }
  }
  ks::KeyStore store(kv->get(), &keks, medvault::RealClock());

  // Rotation: rewrap everything in batches of 256, as the key service's leader does.
  if (absl::Status s = store.Rotate(2, {"bench", "", "bench"}); !s.ok()) Die("rotate", s);
  start = Clock::now();
  uint64_t rewrapped = 0;
  std::string cursor;
  do {
    auto step = store.RewrapSome(cursor, 256);
    if (!step.ok()) Die("rewrap", step.status());
    rewrapped += step->rewrapped;
    cursor = step->next;
  } while (!cursor.empty());
  const double rewrap_s = Seconds(Clock::now() - start);

  // Audited releases, one caller.
  const int releases = absl::GetFlag(FLAGS_releases);
  start = Clock::now();
  for (int i = 0; i < releases; ++i) {
    auto key = store.Get(ids[i % ids.size()], {"bench", "", "bench"});
    if (!key.ok()) Die("release", key.status());
  }
  const double release_s = Seconds(Clock::now() - start);

  // Shredding one destroyed key.
  ks::Shredder shredder(kv->get(), {}, {});
  if (auto d = store.Destroy({ids[0]}, {"bench", "", "bench"}); !d.ok()) Die("destroy", d.status());
  shredder.Destroyed(ids[0]);
  start = Clock::now();
  if (absl::Status s = shredder.ShredPending(); !s.ok()) Die("shred", s);
  const double shred_s = Seconds(Clock::now() - start);

  std::printf("synchronous 256-put batches/s (bound): %.0f\n", sync_batches_per_s);
  std::printf("rewrap: %lu keys in %.2f s = %.0f keys/s = %.0f batches/s (%.2f of the bound)\n",
              static_cast<unsigned long>(rewrapped), rewrap_s, rewrapped / rewrap_s,
              rewrapped / 256.0 / rewrap_s, rewrapped / 256.0 / rewrap_s / sync_batches_per_s);
  std::printf("synchronous small writes/s (bound): %.0f\n", sync_small_per_s);
  std::printf(
      "audited releases, 1 caller: %.0f /s = %.2f of the small-write bound (one synchronous write "
      "each)\n",
      releases / release_s, releases / release_s / sync_small_per_s);
  std::printf("shred one key among %d: %.3f s (flush + range compaction)\n", n, shred_s);
  std::filesystem::remove_all(dir);
  return 0;
}

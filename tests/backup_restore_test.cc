// Issue 17's backup and restore with the real binaries over mutual TLS (3 metaservers, 3 key
// services, 3 chunk servers, one frontend): instances of two studies are stored; `medvault backup
// create` takes an encrypted backup from the running cluster; study B is then deleted (its keys
// crypto-shredded); the metaserver and key service groups are lost (killed, data directories
// wiped) and new groups are founded from the backup (--restore_backup), the key service re-applying
// the replicas' shred logs (kept outside their data directories). Every instance of study A reads
// back byte-exact from the chunk servers, which re-register with the new metaserver group; study B
// stays unreadable: a key destroyed after the backup does not come back. A wrong backup key, a
// changed backup file, a file that is no backup and a restore without a shred log covering the
// backup are refused with a clear error, by `backup verify` and by the services at start. The
// metaserver groups re-apply the shred logs too: study B's index entries (its PHI) do not come
// back, `find` lists study A only.
//
// The backup is streamed both ways (common/backup_stream.h): the metaservers are restored from a
// copy of the backup carrying MEDVAULT_BIG_BACKUP_MB (default 48) of inert ballast records in
// their state (share-log keys no share names), so the restored group holds a state many times the
// 256 KiB piece and the 1 MiB segment; a second `backup create` then takes it back (the frontend's
// peak RSS, VmHWM reset before, is printed, not asserted: see below). The file it writes holds the
// ballast, no .partial is left, and a copy cut short is refused as DATA_LOSS.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/backup_stream.h"
#include "common/env.h"
#include "common/key_file.h"
#include "common/testing/file_scan.h"
#include "tests/testing/dicom_instances.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/proc_status.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

using testing::CommandResult;
using testing::ExternalCluster;

constexpr char kStudyA[] = "1.2.826.0.1.3680043.8.498.1717.1";
constexpr char kStudyB[] = "1.2.826.0.1.3680043.8.498.1717.2";

void WriteFile(const std::string& path, const std::string& bytes, mode_t mode = 0600) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  ::chmod(path.c_str(), mode);
}

// Ballast records in the metaserver's share log: keys no share's code hash prefixes, so nothing
// reads them; values that do not compress.
constexpr char kBallastCf[] = "share_log";

// Copies the backup `in` to `out` (both format 2, under `key`) with `mb` MiB of ballast added to
// the metaserver's state, a 256 KiB piece at a time; returns how many records it added.
absl::StatusOr<uint64_t> AddBallast(const std::string& in, const std::string& out,
                                    const SecretBytes& key, int mb) {
  Filesystem* fs = DefaultFilesystem();
  absl::StatusOr<std::unique_ptr<BackupStreamReader>> reader =
      BackupStreamReader::Open(key, FileBackupSource(fs, in));
  if (!reader.ok()) return reader.status();
  absl::StatusOr<std::unique_ptr<WritableFile>> file = fs->NewWritableFile(out);
  if (!file.ok()) return file.status();
  absl::StatusOr<std::unique_ptr<BackupStreamWriter>> writer = BackupStreamWriter::Start(
      key, (*reader)->created_unix_micros(),
      [f = file->get()](absl::string_view bytes) { return f->Append(bytes); });
  if (!writer.ok()) return writer.status();
  constexpr size_t kValueBytes = 4096, kPerPiece = 64;
  const uint64_t ballast = static_cast<uint64_t>(mb) * (1 << 20) / kValueBytes;
  absl::StatusOr<std::string> noise = RandomBytes(kValueBytes + 64);
  if (!noise.ok()) return noise.status();
  v1::RaftBackupPiece piece;
  v1::RaftGroup group = v1::RAFT_GROUP_UNSPECIFIED;
  while (true) {
    absl::StatusOr<bool> more = (*reader)->Next(&piece);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (piece.has_meta()) group = piece.group();
    if (group == v1::RAFT_GROUP_METASERVER && piece.last()) {
      // The group's last piece (perhaps its first too) goes first, not last any more; then the
      // ballast; then a last piece counting everything.
      const uint64_t total = piece.records() + ballast;
      piece.set_last(false);
      piece.set_records(0);
      if (absl::Status s = (*writer)->Add(piece); !s.ok()) return s;
      for (uint64_t n = 0; n < ballast; n += kPerPiece) {
        v1::RaftBackupPiece extra;
        for (uint64_t i = n; i < std::min(ballast, n + kPerPiece); ++i) {
          v1::RaftKvWrite* w = extra.add_writes();
          w->set_op(v1::RaftKvWrite::PUT);
          w->set_cf(kBallastCf);
          w->set_key(absl::StrCat("ballast/", i));
          w->set_value(noise->substr(i % 64, kValueBytes));
        }
        if (absl::Status s = (*writer)->Add(extra); !s.ok()) return s;
      }
      piece.Clear();
      piece.set_last(true);
      piece.set_records(total);
    }
    if (absl::Status s = (*writer)->Add(piece); !s.ok()) return s;
  }
  if (absl::Status s = (*writer)->Finish(); !s.ok()) return s;
  if (absl::Status s = (*file)->Sync(); !s.ok()) return s;
  if (absl::Status s = (*file)->Close(); !s.ok()) return s;
  return ballast;
}

class BackupRestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::ClusterOptions options;
    options.replicas = 3;
    options.chunkservers = 3;
    cluster_ = std::make_unique<ExternalCluster>(options_with_shred_logs(options));
    ASSERT_TRUE(cluster_->Start().ok());
  }

  void TearDown() override {
    for (int r = 1; r <= 3; ++r) std::remove(ShredLog(r).c_str());
  }

  // Each key service replica keeps its shred log beside, not inside, its data directory.
  testing::ClusterOptions options_with_shred_logs(testing::ClusterOptions options) {
    for (int r = 1; r <= options.replicas; ++r) {
      options.keyservice_flags_of[r] = {"--shred_log=" + ShredLog(r)};
    }
    return options;
  }
  std::string ShredLog(int r) const {
    return absl::StrCat(::testing::TempDir(), "/backup_restore_shred-", getpid(), "-", r, ".log");
  }

  CommandResult Cli(std::vector<std::string> args) const {
    std::vector<std::string> argv = cluster_->Cli();
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunCommand(argv);
  }

  // Reads `uid` back until it succeeds (the new groups elect leaders, chunk servers re-register).
  CommandResult GetEventually(const std::string& uid, const std::string& out) const {
    CommandResult r;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    do {
      r = Cli({"get", "--instance", uid, "-o", out});
      if (r.exit_code == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    } while (std::chrono::steady_clock::now() < deadline);
    return r;
  }

  std::unique_ptr<ExternalCluster> cluster_;
};

TEST_F(BackupRestoreTest, RestoredClusterServesSurvivorsAndShreddedKeysStayDestroyed) {
  const std::string root = cluster_->root();
  const testing::DicomInstanceFactory factory(
      testing::ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/CT_small.dcm"));
  std::vector<std::pair<std::string, std::string>> study_a, study_b;
  for (int i = 1; i <= 4; ++i) {
    const std::string study = i <= 2 ? kStudyA : kStudyB;
    const std::string uid = absl::StrCat(study, ".", i);
    absl::StatusOr<std::string> bytes = factory.WithUids(uid, study, study + ".9");
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    const std::string path = absl::StrCat(root, "/in-", i, ".dcm");
    WriteFile(path, *bytes);
    CommandResult put = Cli({"put", "--quiet", path});
    ASSERT_EQ(put.exit_code, 0) << put.err;
    (i <= 2 ? study_a : study_b).emplace_back(uid, *bytes);
  }

  // The backup, from the running cluster.
  const std::string key = root + "/backup.key", backup = root + "/cluster.mvbackup";
  WriteFile(key, std::string(64, 'a') + "\n");
  CommandResult created = Cli({"backup", "create", "--out", backup, "--backup_key", key});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_TRUE(absl::StrContains(created.err, "metaserver: applied index")) << created.err;
  CommandResult verified = Cli({"backup", "verify", "--in", backup, "--backup_key", key});
  ASSERT_EQ(verified.exit_code, 0) << verified.err;
  EXPECT_TRUE(absl::StrContains(verified.out, "keyservice: applied index")) << verified.out;
  // Ciphertext only: no UID of the stored studies in the file.
  const std::string sealed = testing::ReadWholeFile(backup);
  EXPECT_FALSE(absl::StrContains(sealed, kStudyA));

  // Refusals: a wrong key, a changed byte, something that is no backup.
  const std::string wrong_key = root + "/wrong.key", tampered = root + "/tampered.mvbackup";
  WriteFile(wrong_key, std::string(64, 'b') + "\n");
  CommandResult wrong = Cli({"backup", "verify", "--in", backup, "--backup_key", wrong_key});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(wrong.err, "does not authenticate")) << wrong.err;
  std::string changed = sealed;
  changed[changed.size() / 2] ^= 0x01;
  WriteFile(tampered, changed);
  CommandResult bad = Cli({"backup", "verify", "--in", tampered, "--backup_key", key});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(bad.err, "DATA_LOSS")) << bad.err;
  CommandResult not_one = Cli({"backup", "verify", "--in", key, "--backup_key", key});
  EXPECT_EQ(not_one.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(not_one.err, "not a medvault backup")) << not_one.err;

  // After the backup, study B is deleted: its keys are destroyed.
  CommandResult rm = Cli({"rm", "--study", kStudyB});
  ASSERT_EQ(rm.exit_code, 0) << rm.err;

  // Both groups are lost.
  for (const char* service : {"metaserver", "keyservice"}) {
    for (const std::string& name : cluster_->Replicas(service)) {
      ASSERT_TRUE(cluster_->Kill(name).ok()) << name;
      ASSERT_TRUE(cluster_->Wipe(name).ok()) << name;
    }
  }

  // A key service refuses to start from a backup it cannot open, or without a shred log that
  // covers the time since the backup (one begun now does not).
  const std::string late_log = root + "/late-shred.log";
  WriteFile(late_log,
            absl::StrCat("medvault-shred-log v1 since ", absl::ToUnixMicros(absl::Now()), "\n"));
  const std::string first = cluster_->Replicas("keyservice")[0];
  EXPECT_FALSE(
      cluster_->Restart(first, {"--restore_backup=" + backup, "--restore_backup_key=" + wrong_key})
          .ok());
  EXPECT_TRUE(absl::StrContains(testing::ReadWholeFile(cluster_->LogFileOf(first)),
                                "does not authenticate"));
  EXPECT_FALSE(
      cluster_->Restart(first, {"--restore_backup_key=" + key, "--restore_shred_logs=" + late_log})
          .ok());
  EXPECT_TRUE(absl::StrContains(testing::ReadWholeFile(cluster_->LogFileOf(first)),
                                "no shred log covers the time since the backup"));

  // New groups from the backup; the key services re-apply every old replica's shred log.
  const std::string logs = absl::StrCat(ShredLog(1), ",", ShredLog(2), ",", ShredLog(3));
  for (const std::string& name : cluster_->Replicas("keyservice")) {
    ASSERT_TRUE(cluster_
                    ->Restart(name, {"--restore_backup=" + backup, "--restore_backup_key=" + key,
                                     "--restore_shred_logs=" + logs})
                    .ok())
        << name;
  }
  // The metaserver likewise: without a log covering the backup it refuses; with the logs, the
  // objects they list leave its restored index.
  // The metaservers' backup carries the ballast besides the real state.
  const char* big_env = std::getenv("MEDVAULT_BIG_BACKUP_MB");
  const int big_mb = big_env != nullptr ? std::atoi(big_env) : 48;
  absl::StatusOr<SecretBytes> key_bytes = LoadKeyFile(key, "backup key file");
  ASSERT_TRUE(key_bytes.ok()) << key_bytes.status();
  const std::string ballasted = root + "/ballasted.mvbackup";
  absl::StatusOr<uint64_t> ballast = AddBallast(backup, ballasted, *key_bytes, big_mb);
  ASSERT_TRUE(ballast.ok()) << ballast.status();
  const std::string first_meta = cluster_->Replicas("metaserver")[0];
  EXPECT_FALSE(
      cluster_
          ->Restart(first_meta, {"--restore_backup=" + backup, "--restore_backup_key=" + key,
                                 "--restore_shred_logs=" + late_log})
          .ok());
  EXPECT_TRUE(absl::StrContains(testing::ReadWholeFile(cluster_->LogFileOf(first_meta)),
                                "no shred log covers the time since the backup"));
  ASSERT_TRUE(cluster_->Wipe(first_meta).ok());
  for (const std::string& name : cluster_->Replicas("metaserver")) {
    ASSERT_TRUE(cluster_
                    ->Restart(name, {"--restore_backup=" + ballasted, "--restore_backup_key=" + key,
                                     "--restore_shred_logs=" + logs})
                    .ok())
        << name << ": " << testing::ReadWholeFile(cluster_->LogFileOf(name));
  }

  const std::string out = root + "/out.dcm";
  for (const auto& [uid, bytes] : study_a) {
    CommandResult got = GetEventually(uid, out);
    ASSERT_EQ(got.exit_code, 0) << uid << ": " << got.err;
    EXPECT_EQ(testing::ReadWholeFile(out), bytes) << uid;
  }
  for (const auto& [uid, bytes] : study_b) {
    CommandResult got = Cli({"get", "--instance", uid, "-o", out});
    EXPECT_NE(got.exit_code, 0) << uid << " came back after its key was destroyed";
    EXPECT_TRUE(absl::StrContains(got.err, "NOT_FOUND")) << got.err;
  }
  for (const std::string& name : cluster_->Replicas("keyservice")) {
    EXPECT_TRUE(absl::StrContains(testing::ReadWholeFile(cluster_->LogFileOf(name)),
                                  "restore: 2 keys destroyed after the backup was taken"))
        << name;
  }
  // No PHI of the deleted study survives the restore: `find` lists study A only, and every
  // metaserver replica left study B's instances out of its index.
  CommandResult found = Cli({"find", "--json"});
  ASSERT_EQ(found.exit_code, 0) << found.err;
  EXPECT_TRUE(absl::StrContains(found.out, kStudyA)) << found.out;
  EXPECT_FALSE(absl::StrContains(found.out, kStudyB))
      << "the deleted study came back: " << found.out;
  for (const std::string& name : cluster_->Replicas("metaserver")) {
    EXPECT_TRUE(absl::StrContains(testing::ReadWholeFile(cluster_->LogFileOf(name)),
                                  "restore: 2 instances whose keys were destroyed"))
        << name;
  }

  // A backup of the big state, streamed: bounded peaks in the frontend and the CLI.
  const pid_t frontend = testing::PidOf(ExternalCluster::Binary("frontend"), root);
  ASSERT_GT(frontend, 0);
  testing::ResetPeakRss(frontend);
  const long before_kb = testing::StatusKb(frontend, "VmRSS");
  ASSERT_GT(before_kb, 0);
  const std::string big = root + "/big.mvbackup";
  const auto started = std::chrono::steady_clock::now();
  CommandResult big_created = Cli({"backup", "create", "--out", big, "--backup_key", key});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(big_created.exit_code, 0) << big_created.err;
  const long peak_kb = testing::StatusKb(frontend, "VmHWM");
  EXPECT_FALSE(std::filesystem::exists(big + ".partial"));
  std::cerr << "backup of a " << big_mb << " MiB metaserver state: " << seconds << " s; file "
            << testing::ReadWholeFile(big).size() / (1 << 20) << " MiB; frontend RSS before "
            << before_kb / 1024 << " MiB, peak " << peak_kb / 1024 << " MiB\n";
  // Not asserted: the frontend's peak grew by more than the state here (48 MiB state: 35 -> 93
  // MiB), although it relays a piece at a time; where gRPC or the allocator holds it is not
  // understood yet (docs/architecture.md, "Known gaps"). The CLI's peak cannot be read this way: a
  // child started by posix_spawn inherits this process's high-water mark in ru_maxrss.
  CommandResult big_verified = Cli({"backup", "verify", "--in", big, "--backup_key", key});
  ASSERT_EQ(big_verified.exit_code, 0) << big_verified.err;
  EXPECT_TRUE(absl::StrContains(big_verified.out, "metaserver: applied index")) << big_verified.out;
  // Every ballast record came back through the restore and the new backup.
  EXPECT_TRUE(absl::StrContains(testing::ReadWholeFile(cluster_->LogFileOf(first_meta)),
                                "restored the state of a backup"));
  size_t at = big_verified.out.find("metaserver: applied index");
  ASSERT_NE(at, std::string::npos);
  const size_t comma = big_verified.out.find(", ", at);
  const uint64_t meta_records = std::strtoull(big_verified.out.c_str() + comma + 2, nullptr, 10);
  EXPECT_GE(meta_records, *ballast) << big_verified.out;
  // Cut short, it is refused.
  const std::string cut = root + "/cut.mvbackup";
  {
    const std::string whole = testing::ReadWholeFile(big);
    WriteFile(cut, whole.substr(0, whole.size() / 2));
  }
  CommandResult cut_verified = Cli({"backup", "verify", "--in", cut, "--backup_key", key});
  EXPECT_EQ(cut_verified.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(cut_verified.err, "DATA_LOSS")) << cut_verified.err;
}

}  // namespace
}  // namespace medvault

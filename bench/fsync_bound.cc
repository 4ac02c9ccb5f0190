// The physical bounds medvault's ingest is measured against (bench/run): the same bytes written 3
// times with fsync by a program that does nothing else, and AES-256-GCM throughput on one core.
//
//   fsync_bound --inputs=DIR1,file --dir=SCRATCH [--replicas=3] [--concurrency=4]
//   fsync_bound --aes_mb=512
//
// Every input file is written once per replica, as its own file in SCRATCH/r<i>/, then
// fdatasync'd and its directory fsync'd (what a chunk server does for each chunk). By default each
// file is written with O_DIRECT where the filesystem takes it (common/env.h WriteFileSynced, as
// chunkserver --direct_io does), which on the bench machine is the faster way for CT slices, so
// the bound is the stricter one; --direct=false writes through the page cache in 1 MiB writes. The
// rate is input (plaintext) bytes per second, so it compares directly with an ingest rate. The
// files are read into memory first. --json_out appends one JSON line per figure.
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bench/inputs.h"
#include "common/env.h"

ABSL_FLAG(std::string, inputs, "", "comma-separated files and directories (not recursive)");
ABSL_FLAG(std::string, dir, "", "scratch directory on the disk under test (emptied afterwards)");
ABSL_FLAG(int, replicas, 3, "copies of every byte");
ABSL_FLAG(int, concurrency, 1, "files written at once");
ABSL_FLAG(int, aes_mb, 0, "if > 0: also measure AES-256-GCM over this many MiB on one core");
ABSL_FLAG(std::string, label, "fsync", "name of the write measurement");
ABSL_FLAG(bool, direct, true,
          "write with O_DIRECT where supported (as chunkserver --direct_io); false: through the "
          "page cache");
ABSL_FLAG(std::string, json_out, "", "append the figures as JSON lines to this file");

namespace medvault::bench {
namespace {

using Clock = std::chrono::steady_clock;

void Die(const std::string& what) {
  std::cerr << "fsync_bound: " << what << ": " << strerror(errno) << "\n";
  std::exit(1);
}

void WriteDurably(const std::string& dir, const std::string& name, const std::string& data) {
  const std::string path = dir + "/" + name;
  if (absl::GetFlag(FLAGS_direct)) {
    static Filesystem* direct = NewPosixFilesystem(/*direct_writes=*/true).release();
    absl::Status s = direct->WriteFileSynced(path, "", data);
    if (!s.ok()) {
      std::cerr << "fsync_bound: " << s << "\n";
      std::exit(1);
    }
    int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (dfd < 0 || fsync(dfd) != 0) Die("fsync " + dir);
    close(dfd);
    return;
  }
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) Die("open " + path);
  for (size_t at = 0; at < data.size();) {
    ssize_t n = write(fd, data.data() + at, std::min<size_t>(data.size() - at, 1 << 20));
    if (n <= 0) Die("write " + path);
    at += n;
  }
  if (fdatasync(fd) != 0) Die("fdatasync " + path);
  close(fd);
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd < 0 || fsync(dfd) != 0) Die("fsync " + dir);
  close(dfd);
}

void AppendJson(const std::string& line) {
  if (absl::GetFlag(FLAGS_json_out).empty()) return;
  std::ofstream(absl::GetFlag(FLAGS_json_out), std::ios::app) << line << "\n";
}

void MeasureWrites() {
  std::vector<std::string> data;
  uint64_t bytes = 0;
  for (const std::string& f : ListInputs(absl::GetFlag(FLAGS_inputs))) {
    data.push_back(ReadWhole(f));
    bytes += data.back().size();
  }
  if (data.empty()) Die("no input files");
  const std::string root = absl::GetFlag(FLAGS_dir);
  const int replicas = absl::GetFlag(FLAGS_replicas);
  std::vector<std::string> dirs;
  for (int r = 0; r < replicas; ++r) {
    dirs.push_back(absl::StrFormat("%s/r%d", root, r));
    mkdir(root.c_str(), 0700);
    if (mkdir(dirs.back().c_str(), 0700) != 0 && errno != EEXIST) Die("mkdir " + dirs.back());
  }
  std::atomic<size_t> next{0};
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> workers;
  for (int w = 0; w < std::max(1, absl::GetFlag(FLAGS_concurrency)); ++w) {
    workers.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < data.size();) {
        for (const std::string& d : dirs) WriteDurably(d, absl::StrFormat("f%06d", i), data[i]);
      }
    });
  }
  for (std::thread& t : workers) t.join();
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  for (const std::string& d : dirs) {
    for (size_t i = 0; i < data.size(); ++i) unlink(absl::StrFormat("%s/f%06d", d, i).c_str());
    rmdir(d.c_str());
  }
  const std::string label = absl::GetFlag(FLAGS_label);
  std::cout << absl::StrFormat(
      "%s: %d files, %.1f MB x %d copies with fdatasync in %.2f s: %.1f files/s, %.1f MB/s of "
      "input "
      "(concurrency %d, %s)\n",
      label, data.size(), bytes / 1e6, replicas, wall, data.size() / wall, bytes / wall / 1e6,
      absl::GetFlag(FLAGS_concurrency), absl::GetFlag(FLAGS_direct) ? "direct" : "page cache");
  AppendJson(absl::StrFormat(
      "{\"label\":\"%s\",\"files\":%d,\"bytes\":%d,\"replicas\":%d,\"seconds\":%.4f,\"per_s\":%.3f,"
      "\"mb_s\":%.3f,\"direct\":%s}",
      label, data.size(), bytes, replicas, wall, data.size() / wall, bytes / wall / 1e6,
      absl::GetFlag(FLAGS_direct) ? "true" : "false"));
}

void MeasureAes(int mib) {
  std::string plain(1 << 20, 'x'), cipher(plain.size() + 16, '\0');
  unsigned char key[32] = {1}, iv[12] = {2}, tag[16];
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < mib; ++i) {
    iv[0] = static_cast<unsigned char>(i);
    int len = 0;
    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key, iv);
    EVP_EncryptUpdate(ctx, reinterpret_cast<unsigned char*>(&cipher[0]), &len,
                      reinterpret_cast<const unsigned char*>(plain.data()), plain.size());
    EVP_EncryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(&cipher[len]), &len);
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag);
  }
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  EVP_CIPHER_CTX_free(ctx);
  const double mb_s = mib * double(1 << 20) / wall / 1e6;
  std::cout << absl::StrFormat("aes-256-gcm: %d MiB in 1 MiB chunks on one core: %.0f MB/s\n", mib,
                               mb_s);
  AppendJson(absl::StrFormat("{\"label\":\"aes\",\"bytes\":%d,\"seconds\":%.4f,\"mb_s\":%.3f}",
                             int64_t{mib} << 20, wall, mb_s));
}

}  // namespace
}  // namespace medvault::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (!absl::GetFlag(FLAGS_inputs).empty()) {
    if (absl::GetFlag(FLAGS_dir).empty()) {
      std::cerr << "fsync_bound: --inputs needs --dir\n";
      return 2;
    }
    medvault::bench::MeasureWrites();
  }
  if (absl::GetFlag(FLAGS_aes_mb) > 0) medvault::bench::MeasureAes(absl::GetFlag(FLAGS_aes_mb));
  return 0;
}

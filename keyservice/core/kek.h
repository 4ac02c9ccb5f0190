// Master keys (KEKs) of the key service: loading one from a protected file, and a ring of
// versioned KEKs in which the newest version wraps new data keys and every held version can unwrap
// old ones, so a KEK can be rotated without rewrapping every stored DEK at once.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/crypto.h"

namespace medvault::keyservice {

// Reads a 256-bit KEK from `path`. The file holds either exactly 32 raw bytes, or 64 hex characters
// optionally followed by one '\n'. Its permission bits must be exactly 0600 or 0400 (no access for
// group or others). FAILED_PRECONDITION when the file is missing, unreadable, not a regular file,
// too open, or of the wrong size/format; the message names the path but never the content.
// Every temporary copy of the file's bytes is wiped before returning.
absl::StatusOr<SecretBytes> LoadKekFile(const std::string& path);

class KekRing;

// Loads every KEK in directory `dir` into `ring`: each file is named by its version, "<n>" or
// "kek-<n>" (n a positive integer; a Kubernetes Secret with keys "1", "2", ... mounted as a volume
// gives exactly this), and is read as LoadKekFile reads one. Names starting with '.' (the
// Secret's own bookkeeping) are skipped. FAILED_PRECONDITION for any other name, an unreadable or
// malformed file, or a directory holding no KEK; INVALID_ARGUMENT for a version the ring already
// holds. Returns the versions loaded.
absl::StatusOr<std::vector<uint32_t>> LoadKekDir(const std::string& dir, KekRing* ring);

// One KEK as the ring hands it out. `key` stays valid for the ring's lifetime.
struct KekRef {
  uint32_t version = 0;
  absl::string_view key;
};

// Versioned KEKs. Versions are positive; the highest one is "newest" and wraps new DEKs; any held
// version unwraps. Keys are only ever added, never removed, so the views handed out stay valid
// until the ring is destroyed. Thread-safe.
class KekRing {
 public:
  KekRing() = default;
  KekRing(const KekRing&) = delete;
  KekRing& operator=(const KekRing&) = delete;

  // Adds `key` as `version`. INVALID_ARGUMENT when the version is 0, the key is not 32 bytes, or
  // the version is already held (a version never changes meaning).
  absl::Status Add(uint32_t version, SecretBytes key);

  // The newest KEK. FAILED_PRECONDITION when the ring is empty.
  absl::StatusOr<KekRef> Newest() const;

  // The KEK of `version`. FAILED_PRECONDITION when this ring does not hold it (the data key was
  // wrapped under a KEK this process was not given).
  absl::StatusOr<KekRef> Find(uint32_t version) const;

  // Held versions, ascending.
  std::vector<uint32_t> versions() const;

 private:
  mutable absl::Mutex mu_;
  // std::map nodes never move, so views into the SecretBytes stay valid while entries are added.
  std::map<uint32_t, SecretBytes> keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace medvault::keyservice

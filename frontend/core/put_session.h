// One PutInstance in progress. The file arrives in pieces; as soon as the parser has read the UIDs
// the session places chunks, and from then on every chunk is sealed and its replicas written as
// it fills, with a bounded window of chunks in flight. Receiving, parsing, sealing and the chunk
// servers' writes and fsyncs thus overlap instead of following one another. The manifest is
// committed only when the whole file has arrived and parsed as DICOM, and every replica of every
// chunk is durable; until then nothing is visible, and chunks of a put that fails are orphans the
// metaserver collects after its grace.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/crypto.h"
#include "common/env.h"
#include "frontend/core/chunk_placer.h"
#include "frontend/core/clients.h"
#include "frontend/core/dek_pool.h"
#include "frontend/core/dicom_parser.h"
#include "frontend/core/options.h"
#include "frontend/core/put_commit.h"
#include "frontend/core/slot_pool.h"
#include "medvault/v1/image_store.pb.h"

namespace medvault::frontend {

// What a put works with, all owned elsewhere (by ImageStoreCore in the frontend, by fakes in
// tests). Everything must outlive the sessions that use it.
struct PutContext {
  const FrontendOptions* options;
  Clock* clock;
  MetaClient* meta;         // confirms a re-send the placement hinted at
  ChunkClient* chunks;      // replica writes
  DekPool* keys;            // the put's data key
  SlotPool* chunk_budget;   // the frontend's slots for chunk writes beyond a put's first
  ChunkPlacer* placer;      // where chunks go
  PutCommitter* committer;  // the manifest's commit, or the key's destruction
  CoreStats* stats;
};

class PutSession {
 public:
  // `timings` may be null.
  PutSession(const PutContext& context, PutTimings* timings);
  // A session that did not reach its commit waits for its writes, then destroys its key.
  ~PutSession();
  PutSession(const PutSession&) = delete;
  PutSession& operator=(const PutSession&) = delete;

  // The put is refused (FAILED_PRECONDITION, before any chunk is placed) unless the file's SOP
  // Instance UID is `uid`: a door whose protocol names the instance apart from its bytes (a
  // C-STORE request) must not file it under another. REQUIRES: before the first Append.
  void ExpectSopInstanceUid(std::string uid) { expected_uid_ = std::move(uid); }
  // Likewise unless the file's Study Instance UID is `uid` (a STOW-RS request to one study).
  void ExpectStudyUid(std::string uid) { expected_study_ = std::move(uid); }

  // The next piece of the file. May block while the window of chunk writes is full. An error
  // (not DICOM, a replica write failed, ...) ends the put: later calls return it again.
  absl::Status Append(absl::string_view piece);

  // The file is complete: finishes parsing, writes the last chunk, waits for every replica and
  // commits. Errors: see ImageStore.PutInstance. Call at most once.
  absl::StatusOr<v1::PutInstanceResponse> Finish();

 private:
  enum class Mode {
    kUndecided,  // UIDs not known yet: full chunks are held
    kWriting,    // placed and keyed: chunks are written as they fill
    kResend,     // the instance is already stored: the bytes are only hashed, to compare
  };

  // Places the first `placements` chunks and learns whether the instance is already stored.
  // `complete`: the whole file has arrived, so `placements` is its exact chunk count, and a small
  // file places from the frontend's lease (chunk_placer.h), learning nothing.
  absl::Status Decide(const InstanceUids& uids, uint32_t placements, bool complete);
  // A full chunk (or, at Finish, the last one): written now, or held until the mode is decided.
  absl::Status ChunkDone(std::string plain, bool last);
  // Seals chunk `next_index_` and starts writing its replicas.
  absl::Status Dispatch(const std::string& plain, bool last);
  // Waits for room for one more chunk write (fewer than `limit` in flight, and a slot of the
  // frontend's chunk budget for any beside the first) and counts it in flight; or the first
  // write error.
  absl::Status ReserveWrite(uint32_t limit);
  // Waits until every write has answered, or the first write error.
  absl::Status WaitForAllWrites();

  // A chunk whose replica write failed, to be written again on servers placed afresh.
  struct Replacement {
    uint32_t index;
    std::shared_ptr<const std::string> data;
    uint32_t crc32c;
    int attempt;         // writes of this chunk so far
    absl::Status cause;  // why the last one failed
  };
  // Starts writing chunk `index` (sealed `data`) to the servers of `placement` (attempt 1, 2, ...).
  void StartChunkWrite(uint32_t index, std::shared_ptr<const std::string> data, uint32_t crc32c,
                       const v1::ChunkPlacement& placement, int attempt);
  // With mu_ held: writes every chunk waiting in replacements_ again (unlocking around the
  // placement call). A placement that fails becomes the put's write error.
  void WriteReplacements(std::unique_lock<std::mutex>& lock);
  // With mu_ held: one chunk write is over (written, failed for good, or dropped).
  void WriteEnded();
  absl::Status Fail(absl::Status status);

  const PutContext ctx_;
  PutTimings* const timings_;
  absl::Status error_;
  bool finished_ = false;

  DicomStreamParser parser_;
  Sha256Hasher hash_;
  uint64_t size_ = 0;
  std::string current_;            // plaintext of the chunk being filled
  std::vector<std::string> held_;  // full chunks waiting for the mode to be decided
  Mode mode_ = Mode::kUndecided;
  std::string decided_uid_;                            // the SOP Instance UID Decide ran with
  std::string expected_uid_;                           // ExpectSopInstanceUid, or empty
  std::string expected_study_;                         // ExpectStudyUid, or empty
  std::optional<v1::GetInstanceMetaResponse> stored_;  // kResend: what is stored under it

  std::vector<v1::ChunkPlacement> placements_;  // unused, in order
  size_t next_placement_ = 0;
  uint32_t next_index_ = 0;
  std::optional<DataKeyMaterial> key_;  // set in kWriting until the commit takes it over
  v1::ObjectManifest manifest_;
  int64_t first_write_micros_ = -1;

  std::mutex mu_;
  std::condition_variable cv_;
  uint32_t in_flight_ = 0;     // chunks whose replicas have not all answered
  uint32_t budget_slots_ = 0;  // slots of the core's chunk budget held: in_flight_ - 1, or 0
  absl::Status write_error_;   // the first replica write that failed for good
  // Chunks whose write failed, waiting to be placed again (still counted in in_flight_), and the
  // servers that failed in this put (never placed on again by it).
  std::vector<Replacement> replacements_;
  std::vector<std::string> failed_servers_;
  bool abandoned_ = false;  // the session is being destroyed: failures are final
};

}  // namespace medvault::frontend

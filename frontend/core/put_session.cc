#include "frontend/core/put_session.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/index_fields.h"
#include "common/status_macros.h"
#include "frontend/core/chunk_crypto.h"
#include "frontend/core/stage_timer.h"

namespace medvault::frontend {
namespace {

// A chunk whose replica write fails is written again, whole, on servers placed afresh: at most
// this many writes per chunk, and only while the put has seen no more failed servers than one
// placement may exclude.
constexpr int kMaxChunkWriteAttempts = 3;
constexpr size_t kMaxFailedServersPerPut = 16;

}  // namespace

PutSession::PutSession(const PutContext& context, PutTimings* timings)
    : ctx_(context), timings_(timings) {
  current_.reserve(ctx_.options->chunk_size);
}

PutSession::~PutSession() {
  // Callbacks of writes still in flight refer to this session. Chunks waiting to be written
  // again are dropped, and failures from now on are final.
  std::unique_lock<std::mutex> lock(mu_);
  abandoned_ = true;
  for (size_t i = 0; i < replacements_.size(); ++i) WriteEnded();
  replacements_.clear();
  cv_.wait(lock, [&] { return in_flight_ == 0; });
  lock.unlock();
  if (key_) ctx_.committer->Abandon(*key_);
}

absl::Status PutSession::Fail(absl::Status status) {
  if (error_.ok()) error_ = status;
  return error_;
}

absl::Status PutSession::Append(absl::string_view piece) {
  if (!error_.ok()) return error_;
  if (finished_) return absl::FailedPreconditionError("PutSession appended to after Finish");
  {
    StageTimer t(ctx_.clock, timings_, &PutTimings::parse);
    size_ += piece.size();
    hash_.Update(piece);
    if (absl::Status parsed = parser_.Feed(piece); !parsed.ok()) return Fail(parsed);
  }
  const uint32_t chunk_size = ctx_.options->chunk_size;
  while (!piece.empty()) {
    if (current_.size() == chunk_size) {
      // More bytes follow, so the full chunk is not the last one.
      std::string full;
      full.reserve(chunk_size);
      full.swap(current_);
      if (absl::Status s = ChunkDone(std::move(full), /*last=*/false); !s.ok()) return Fail(s);
    }
    const size_t take = std::min<size_t>(piece.size(), chunk_size - current_.size());
    current_.append(piece.data(), take);
    piece.remove_prefix(take);
  }
  // Decided once a full chunk waits (a file smaller than a chunk is decided at Finish, with its
  // exact size) and the UIDs are known.
  if (mode_ == Mode::kUndecided && !held_.empty()) {
    if (std::optional<InstanceUids> uids = parser_.Uids()) {
      // Twice what has arrived: the placements grow with the file, like a vector.
      const auto count = static_cast<uint32_t>(2 * (held_.size() + 1));
      if (absl::Status s = Decide(*uids, count, /*complete=*/false); !s.ok()) return Fail(s);
    }
  }
  return absl::OkStatus();
}

absl::Status PutSession::Decide(const InstanceUids& uids, uint32_t placements, bool complete) {
  if (!expected_uid_.empty() && uids.sop_instance_uid != expected_uid_) {
    return absl::FailedPreconditionError(
        "the file's SOP Instance UID is not the one the request named");
  }
  if (!expected_study_.empty() && uids.study_uid != expected_study_) {
    return absl::FailedPreconditionError(
        "the file's Study Instance UID is not the one the request named");
  }
  decided_uid_ = uids.sop_instance_uid;
  // The same rule the complete parse applies (common/index_fields.h), before anything is placed.
  RETURN_IF_ERROR(CheckUid(decided_uid_, "SOPInstanceUID"));
  const FrontendOptions& options = *ctx_.options;
  bool exists_hint = false;
  {
    StageTimer t(ctx_.clock, timings_, &PutTimings::place);
    absl::StatusOr<v1::AllocateChunksResponse> placed;
    if (complete && ctx_.placer->Leases(placements)) {
      // A small put places from the frontend's lease, without a round trip of its own and so
      // without the "already stored" hint: a re-send of a stored instance is settled by the
      // commit, which is authoritative (its chunks become orphans that collection reclaims).
      placed = ctx_.placer->Take(placements);
    } else {
      // Placement and a hint whether the instance is already stored, in one round trip.
      placed = ctx_.placer->Place(placements, decided_uid_, {});
    }
    if (!placed.ok()) return placed.status();
    for (v1::ChunkPlacement& p : *placed->mutable_chunks()) placements_.push_back(std::move(p));
    exists_hint = placed->instance_exists();
  }
  if (exists_hint) {
    // A re-send of a stored instance costs a lookup, not a key and three replicas. The hint was
    // read without a quorum round, so confirm it; "absent" needs no check (the commit decides).
    StageTimer t(ctx_.clock, timings_, &PutTimings::lookup);
    auto existing = ctx_.meta->GetInstance(decided_uid_);
    if (existing.ok()) {
      stored_ = std::move(*existing);
      mode_ = Mode::kResend;
      held_.clear();
      return absl::OkStatus();
    }
    if (existing.status().code() != absl::StatusCode::kNotFound) {
      return Annotate(existing.status(), "looking up the instance");
    }
  }
  {
    StageTimer t(ctx_.clock, timings_, &PutTimings::key);
    ASSIGN_OR_RETURN(DataKeyMaterial key, ctx_.keys->Take());
    key_ = std::move(key);
  }
  manifest_.set_object_id(key_->object_id);
  manifest_.set_chunk_size(options.chunk_size);
  mode_ = Mode::kWriting;
  std::vector<std::string> held;
  held.swap(held_);
  for (const std::string& plain : held) RETURN_IF_ERROR(Dispatch(plain, /*last=*/false));
  return absl::OkStatus();
}

absl::Status PutSession::ChunkDone(std::string plain, bool last) {
  switch (mode_) {
    case Mode::kUndecided:
      held_.push_back(std::move(plain));
      return absl::OkStatus();
    case Mode::kResend:
      return absl::OkStatus();  // only the hash matters
    case Mode::kWriting:
      return Dispatch(plain, last);
  }
  return absl::InternalError("unknown put mode");
}

absl::Status PutSession::Dispatch(const std::string& plain, bool last) {
  const FrontendOptions& options = *ctx_.options;
  if (next_placement_ == placements_.size()) {
    StageTimer t(ctx_.clock, timings_, &PutTimings::place);
    const uint32_t more = std::max(options.placement_batch, next_index_);  // grows with the file
    std::vector<std::string> exclude;
    {
      std::lock_guard<std::mutex> lock(mu_);
      exclude = failed_servers_;
    }
    ASSIGN_OR_RETURN(v1::AllocateChunksResponse placed, ctx_.placer->Place(more, "", exclude));
    for (v1::ChunkPlacement& p : *placed.mutable_chunks()) placements_.push_back(std::move(p));
    if (next_placement_ == placements_.size())
      return absl::InternalError("metaserver returned no placement");
  }
  const v1::ChunkPlacement p = placements_[next_placement_++];
  const uint32_t index = next_index_++;

  ReplicatedChunkWrite write;
  {
    StageTimer t(ctx_.clock, timings_, &PutTimings::seal);
    ASSIGN_OR_RETURN(std::string sealed,
                     EncryptChunk(key_->key.view(), key_->object_id, index, last, plain));
    write.crc32c = Crc32c(sealed);
    write.data = std::make_shared<const std::string>(std::move(sealed));
  }
  v1::ChunkLocation* loc = manifest_.add_chunks();
  loc->set_stored_size(write.data->size());
  loc->set_crc32c(write.crc32c);
  RETURN_IF_ERROR(ReserveWrite(options.max_chunks_in_flight));
  if (first_write_micros_ < 0) first_write_micros_ = ctx_.clock->NowMicros();
  StartChunkWrite(index, std::move(write.data), write.crc32c, p, /*attempt=*/1);
  return absl::OkStatus();
}

void PutSession::StartChunkWrite(uint32_t index, std::shared_ptr<const std::string> data,
                                 uint32_t crc32c, const v1::ChunkPlacement& placement,
                                 int attempt) {
  // The manifest names the servers of the write that succeeds: each attempt overwrites them.
  v1::ChunkLocation* loc = manifest_.mutable_chunks(static_cast<int>(index));
  loc->set_chunk_id(placement.chunk_id());
  loc->clear_server_ids();
  ReplicatedChunkWrite write;
  write.chunk_id = placement.chunk_id();
  write.data = data;
  write.crc32c = crc32c;
  std::vector<std::string> server_ids;
  for (const v1::ChunkServerInfo& server : placement.servers()) {
    loc->add_server_ids(server.server_id());
    server_ids.push_back(server.server_id());
    write.addresses.push_back(server.address());
  }
  // Not under mu_: the callback may run before StartWrite returns.
  StageTimer t(ctx_.clock, timings_, &PutTimings::write);
  ctx_.chunks->StartWrite(write, [this, index, attempt, data, crc32c, server_ids,
                                  addresses = write.addresses](std::vector<absl::Status> results) {
    std::lock_guard<std::mutex> lock(mu_);
    absl::Status failed;  // the first failure of this write, as the caller would see it
    for (size_t r = 0; r < results.size(); ++r) {
      if (results[r].ok()) continue;
      ctx_.stats->replica_write_failures += 1;
      if (std::find(failed_servers_.begin(), failed_servers_.end(), server_ids[r]) ==
          failed_servers_.end()) {
        failed_servers_.push_back(server_ids[r]);
      }
      if (!failed.ok()) continue;
      // Whatever a chunk server answered, for the caller it means "try again later" (a full
      // server stays RESOURCE_EXHAUSTED): never echo an internal INVALID_ARGUMENT or DATA_LOSS.
      absl::StatusCode code = results[r].code() == absl::StatusCode::kResourceExhausted
                                  ? absl::StatusCode::kResourceExhausted
                                  : absl::StatusCode::kUnavailable;
      failed =
          Annotate(absl::Status(code, results[r].message()),
                   absl::StrCat("writing chunk ", index, " replica ", r, " to ", addresses[r]));
    }
    if (!failed.ok()) ctx_.placer->DropLease();  // leased placements may name the failed server
    if (failed.ok()) {
      WriteEnded();
    } else if (!abandoned_ && write_error_.ok() && attempt < kMaxChunkWriteAttempts &&
               failed_servers_.size() <= kMaxFailedServersPerPut) {
      // Written again, whole, on servers placed afresh without the failed ones; the copies
      // this attempt did write are orphans garbage collection reclaims.
      replacements_.push_back(Replacement{index, data, crc32c, attempt, failed});
    } else {
      if (write_error_.ok()) write_error_ = failed;
      WriteEnded();
    }
    cv_.notify_all();
  });
}

void PutSession::WriteEnded() {
  --in_flight_;
  if (budget_slots_ > 0) {
    --budget_slots_;
    ctx_.chunk_budget->Give();
  }
}

void PutSession::WriteReplacements(std::unique_lock<std::mutex>& lock) {
  if (replacements_.empty()) return;
  // Placements fetched before a server failed may name it: fetch fresh ones for later chunks.
  placements_.resize(next_placement_);
  while (!replacements_.empty() && write_error_.ok()) {
    Replacement again = std::move(replacements_.back());
    replacements_.pop_back();
    const std::vector<std::string> exclude = failed_servers_;
    lock.unlock();
    absl::StatusOr<v1::AllocateChunksResponse> placed;
    {
      StageTimer t(ctx_.clock, timings_, &PutTimings::place);
      placed = ctx_.placer->Place(1, "", exclude);
    }
    if (placed.ok() && placed->chunks_size() == 1) {
      ctx_.stats->chunks_replaced += 1;
      StartChunkWrite(again.index, std::move(again.data), again.crc32c, placed->chunks(0),
                      again.attempt + 1);
      lock.lock();
      continue;
    }
    lock.lock();
    const absl::Status why =
        placed.ok() ? absl::InternalError("metaserver returned no placement") : placed.status();
    if (write_error_.ok()) {
      // The write's failure is what the caller sees (UNAVAILABLE or RESOURCE_EXHAUSTED: try
      // again later); placement only says why it could not be worked around. A placement that
      // falls short because this put excluded the failed servers is FAILED_PRECONDITION from the
      // metaserver, which must not read as a cluster-wide shortage.
      write_error_ =
          absl::Status(again.cause.code(),
                       absl::StrCat(again.cause.message(),
                                    "; placing the chunk elsewhere failed: ", why.message()));
    }
    WriteEnded();
  }
  // After a write error, whatever still waits is dropped.
  for (size_t i = 0; i < replacements_.size(); ++i) WriteEnded();
  replacements_.clear();
  cv_.notify_all();
}

absl::Status PutSession::ReserveWrite(uint32_t limit) {
  StageTimer t(ctx_.clock, timings_, &PutTimings::write);
  std::unique_lock<std::mutex> lock(mu_);
  bool waited = false;
  while (write_error_.ok()) {
    WriteReplacements(lock);
    if (!write_error_.ok()) break;
    // The first write in flight is the put's own; each one beside it holds a slot of the
    // frontend's budget. Without a slot the put waits for its own writes, never for others'.
    if (in_flight_ == 0) break;
    if (in_flight_ < limit && ctx_.chunk_budget->TryTake()) {
      ++budget_slots_;
      break;
    }
    if (!waited) ctx_.stats->put_window_waits += 1;
    waited = true;
    const uint32_t seen = in_flight_;
    cv_.wait(lock,
             [&] { return in_flight_ < seen || !replacements_.empty() || !write_error_.ok(); });
  }
  if (!write_error_.ok()) return write_error_;
  ++in_flight_;
  return absl::OkStatus();
}

absl::Status PutSession::WaitForAllWrites() {
  StageTimer t(ctx_.clock, timings_, &PutTimings::write);
  std::unique_lock<std::mutex> lock(mu_);
  bool waited = false;
  for (;;) {
    WriteReplacements(lock);
    if (in_flight_ == 0 || !write_error_.ok()) break;
    if (!waited) ctx_.stats->put_window_waits += 1;
    waited = true;
    cv_.wait(lock, [&] { return in_flight_ == 0 || !replacements_.empty() || !write_error_.ok(); });
  }
  return write_error_;
}

absl::StatusOr<v1::PutInstanceResponse> PutSession::Finish() {
  if (!error_.ok()) return error_;
  if (finished_) return absl::FailedPreconditionError("PutSession finished twice");
  finished_ = true;
  absl::StatusOr<v1::InstanceTags> parsed;
  std::string sha256;
  {
    StageTimer t(ctx_.clock, timings_, &PutTimings::parse);
    parsed = parser_.Finish();
    if (!parsed.ok()) return Fail(parsed.status());
    sha256 = hash_.Finish();
  }
  const v1::InstanceTags& tags = *parsed;  // the index's rules applied (dicom_parser.h)

  v1::PutInstanceResponse response;
  response.set_patient_id(tags.patient_id());
  response.set_study_uid(tags.study_uid());
  response.set_series_uid(tags.series_uid());
  response.set_sop_instance_uid(tags.sop_instance_uid());
  response.set_size(size_);

  if (mode_ == Mode::kUndecided) {
    // A file smaller than a chunk (or one whose UIDs came late): decided now, with its exact
    // chunk count, from the complete parse.
    const auto count = static_cast<uint32_t>(held_.size() + 1);
    if (absl::Status s =
            Decide({tags.study_uid(), tags.series_uid(), tags.sop_instance_uid()}, count,
                   /*complete=*/true);
        !s.ok()) {
      return Fail(s);
    }
  }
  if (decided_uid_ != tags.sop_instance_uid()) {
    // Cannot happen (DCMTK keeps an attribute's first occurrence), but a put must never store an
    // instance under placement decisions made for another.
    return Fail(absl::AbortedError(
        "the SOP Instance UID changed while the file was parsed; retry the put"));
  }
  if (mode_ == Mode::kResend) {
    if (stored_->info().sha256() == sha256) {
      response.set_already_stored(true);
      return response;
    }
    return Fail(absl::AlreadyExistsError(
        "an instance with this SOP Instance UID is already stored with different content"));
  }

  std::optional<v1::InstanceHeader> header;
  {
    // The header for WADO-RS /metadata, from the data set just parsed (no second parse).
    StageTimer t(ctx_.clock, timings_, &PutTimings::parse);
    header = parser_.Header();
  }
  if (absl::Status s = Dispatch(current_, /*last=*/true); !s.ok()) return Fail(s);
  current_.clear();
  if (absl::Status s = WaitForAllWrites(); !s.ok()) return Fail(s);
  if (ctx_.clock->NowMicros() - first_write_micros_ > ctx_.options->max_write_seconds * 1'000'000) {
    return Fail(
        absl::DeadlineExceededError("the put took longer than the frontend's --max_write_seconds "
                                    "from its first chunk write to its commit"));
  }
  manifest_.set_size(size_);
  manifest_.set_sha256(sha256);
  DataKeyMaterial key = std::move(*key_);
  key_.reset();  // from here the commit decides the key's fate
  StageTimer t(ctx_.clock, timings_, &PutTimings::commit);
  return ctx_.committer->Commit(tags, std::move(manifest_), key, sha256, std::move(response),
                                header ? &*header : nullptr);
}

}  // namespace medvault::frontend

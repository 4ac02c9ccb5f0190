// In-memory fakes of the key service, metaserver and chunk servers for the frontend core's unit
// tests (the real services are exercised by tests/cluster_test.cc and others).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "frontend/core/clients.h"

namespace medvault::frontend {

inline std::string ReadTestFile(const std::string& name) {
  std::ifstream f(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class FakeKeys : public KeyClient {
 public:
  absl::StatusOr<std::vector<DataKeyMaterial>> GenerateDataKeys(uint32_t count,
                                                                const KeyAudit&) override {
    std::vector<DataKeyMaterial> out;
    for (uint32_t i = 0; i < count; ++i) {
      std::string id = RandomBytes(16).value(), key = RandomBytes(32).value();
      keys[id] = key;
      out.push_back(DataKeyMaterial{id, SecretBytes(key)});
    }
    return out;
  }
  absl::StatusOr<SecretBytes> GetDataKey(absl::string_view id, const KeyAudit&) override {
    if (on_get_key) on_get_key();
    auto it = keys.find(std::string(id));
    if (it == keys.end()) return absl::NotFoundError("no such key");
    return SecretBytes(it->second);
  }
  absl::Status DestroyDataKeys(const std::vector<std::string>& ids, const KeyAudit&) override {
    if (!destroy_error.ok()) return destroy_error;  // nothing destroyed
    for (const auto& id : ids) {
      keys.erase(id);
      destroyed.insert(id);
    }
    return absl::OkStatus();
  }
  std::map<std::string, std::string> keys;
  std::set<std::string> destroyed;
  std::function<void()> on_get_key;
  absl::Status destroy_error;  // when set, DestroyDataKeys fails with it and destroys nothing
};

class FakeMeta : public MetaClient {
 public:
  explicit FakeMeta(FakeKeys* keys) : keys_(keys) {}
  // Injected commit outcome: when set, the commit is applied iff apply_commit, and this error
  // returned.
  absl::Status commit_error;
  bool apply_commit = true;
  // When set, AllocateChunks reports this instead of the truth (a stale leader's hint).
  std::optional<bool> stale_exists_hint;
  // Servers placement chooses from: s0..s{servers-1} at cs0..; the first `replicas` not excluded.
  int servers = 3;
  absl::StatusOr<v1::AllocateChunksResponse> AllocateChunks(
      uint32_t n, uint32_t replicas, const std::string& uid,
      const std::vector<std::string>& exclude) override {
    allocations.push_back(n);
    exclusions.push_back(exclude);
    v1::AllocateChunksResponse r;
    r.set_instance_exists(stale_exists_hint.has_value() ? *stale_exists_hint
                                                        : instances.count(uid) > 0);
    std::vector<int> chosen;
    for (int k = 0; k < servers && chosen.size() < replicas; ++k) {
      if (std::find(exclude.begin(), exclude.end(), "s" + std::to_string(k)) == exclude.end())
        chosen.push_back(k);
    }
    if (chosen.size() < replicas)
      return absl::FailedPreconditionError("placement needs more chunk servers up");
    for (uint32_t i = 0; i < n; ++i) {
      auto* p = r.add_chunks();
      p->set_chunk_id(RandomBytes(16).value());
      placed_ids.push_back(p->chunk_id());
      for (int k : chosen) {
        auto* s = p->add_servers();
        s->set_server_id("s" + std::to_string(k));
        s->set_address("cs" + std::to_string(k));
      }
    }
    return r;
  }
  std::vector<uint32_t> allocations;                 // chunk counts asked for, in order
  std::vector<std::string> placed_ids;               // every chunk id placed, in order
  std::vector<std::vector<std::string>> exclusions;  // the servers each call excluded
  std::function<void()> on_commit;
  std::function<void()> on_get_instance;  // called by every lookup, before it answers
  absl::StatusOr<v1::CommitInstanceResponse> CommitInstance(
      const v1::CommitInstanceRequest& req) override {
    if (on_commit) on_commit();
    if (!commit_error.ok() && !apply_commit) return commit_error;
    auto stored = instances.find(req.tags().sop_instance_uid());
    if (stored != instances.end()) {  // like the metaserver: an identical re-send is a no-op
      if (stored->second.info().sha256() != req.manifest().sha256())
        return absl::AlreadyExistsError("other content");
      v1::CommitInstanceResponse already;
      already.set_already_stored(true);
      return already;
    }
    ++commits;
    v1::GetInstanceMetaResponse rec;
    *rec.mutable_info()->mutable_tags() = req.tags();
    rec.mutable_info()->set_size(req.manifest().size());
    rec.mutable_info()->set_sha256(req.manifest().sha256());
    *rec.mutable_manifest() = req.manifest();
    for (int k = 0; k < 5; ++k)
      (*rec.mutable_server_addresses())["s" + std::to_string(k)] = "cs" + std::to_string(k);
    instances[req.tags().sop_instance_uid()] = rec;
    if (req.has_header()) headers[req.tags().sop_instance_uid()] = req.header();
    if (!commit_error.ok()) return commit_error;  // applied, but the reply was lost
    return v1::CommitInstanceResponse();
  }
  absl::StatusOr<v1::GetInstanceMetaResponse> GetInstance(const std::string& uid) override {
    if (on_get_instance) on_get_instance();
    auto it = instances.find(uid);
    if (it == instances.end()) return absl::NotFoundError("instance not found");
    return it->second;
  }
  absl::StatusOr<v1::FindStudiesMetaResponse> FindStudies(const v1::StudyQuery&) override {
    return v1::FindStudiesMetaResponse();
  }
  absl::StatusOr<v1::GetStudyMetaResponse> GetStudy(const std::string&) override {
    return absl::NotFoundError("unused");
  }
  // Like the metaserver: removes the study's instances from the index and names every object
  // whose key must now be destroyed, including those of an earlier delete whose destruction was
  // never confirmed (so a retried delete finishes the shredding).
  absl::StatusOr<v1::DeleteMetaResponse> DeleteStudy(const std::string& study_uid) override {
    std::set<std::string>& pending = unconfirmed[study_uid];
    v1::DeleteMetaResponse r;
    for (auto it = instances.begin(); it != instances.end();) {
      if (it->second.info().tags().study_uid() != study_uid) {
        ++it;
        continue;
      }
      pending.insert(it->second.manifest().object_id());
      r.set_instances_deleted(r.instances_deleted() + 1);
      it = instances.erase(it);
    }
    if (pending.empty()) {
      unconfirmed.erase(study_uid);
      return absl::NotFoundError("no such study");
    }
    for (const std::string& id : pending) r.add_object_ids(id);
    return r;
  }
  absl::StatusOr<v1::DeleteMetaResponse> DeleteInstance(const std::string& uid) override {
    auto it = instances.find(uid);
    if (it == instances.end()) return absl::NotFoundError("instance not found");
    v1::DeleteMetaResponse r;
    r.set_instances_deleted(1);
    r.add_object_ids(it->second.manifest().object_id());
    instances.erase(it);
    return r;
  }
  absl::Status ReportBadReplica(const std::string& chunk_id,
                                const std::string& server_id) override {
    bad_replicas.emplace_back(chunk_id, server_id);
    return absl::OkStatus();
  }
  std::vector<std::pair<std::string, std::string>> bad_replicas;
  absl::Status ConfirmKeysDestroyed(const std::vector<std::string>& ids) override {
    // The protocol's order: keys are destroyed before the metaserver hears they are.
    for (const auto& id : ids)
      EXPECT_TRUE(keys_->destroyed.count(id)) << "confirmed before destroyed";
    confirmed.insert(ids.begin(), ids.end());
    for (auto& [study, pending] : unconfirmed) {
      for (const auto& id : ids) pending.erase(id);
    }
    return absl::OkStatus();
  }
  // Like the metaserver: the instances of the study (series, instance), with their headers.
  absl::StatusOr<v1::GetInstanceHeadersResponse> GetInstanceHeaders(
      const v1::GetInstanceHeadersRequest& req) override {
    v1::GetInstanceHeadersResponse out;
    for (const auto& [sop, rec] : instances) {
      const v1::InstanceTags& t = rec.info().tags();
      if (t.study_uid() != req.study_uid() ||
          (!req.series_uid().empty() && t.series_uid() != req.series_uid()) ||
          (!req.sop_instance_uid().empty() && sop != req.sop_instance_uid())) {
        continue;
      }
      v1::InstanceHeaderEntry* e = out.add_instances();
      *e->mutable_info() = rec.info();
      if (headers.count(sop) > 0) *e->mutable_header() = headers[sop];
    }
    if (out.instances_size() == 0) return absl::NotFoundError("no such instance");
    return out;
  }
  std::map<std::string, v1::GetInstanceMetaResponse> instances;
  std::map<std::string, v1::InstanceHeader> headers;  // as CommitInstance received them
  // Per study: objects deleted from the index whose key destruction is not yet confirmed.
  std::map<std::string, std::set<std::string>> unconfirmed;
  std::set<std::string> confirmed;
  int commits = 0;

 private:
  FakeKeys* keys_;
};

class FakeChunks : public ChunkClient {
 public:
  // Synchronous: `done` runs before StartWrite returns (allowed by the interface).
  void StartWrite(const ReplicatedChunkWrite& w, WriteDone done) override {
    if (on_write) on_write();
    std::vector<absl::Status> out;
    for (const std::string& address : w.addresses) {
      if (down.count(address)) {
        out.push_back(absl::UnavailableError("connection refused"));
        continue;
      }
      stored[{address, w.chunk_id}] = *w.data;
      out.push_back(absl::OkStatus());
    }
    done(std::move(out));
  }
  // Reads may come from several threads at once (a read fetches chunks ahead); they only look.
  absl::StatusOr<ChunkRead> ReadChunk(const std::string& address, const std::string& id) override {
    ++reads;
    if (on_read) on_read(address, id);
    if (down.count(address)) return absl::UnavailableError("connection refused");
    auto it = stored.find({address, id});
    if (it == stored.end()) return absl::NotFoundError("no chunk");
    return ChunkRead{it->second, 0};
  }
  std::map<std::pair<std::string, std::string>, std::string> stored;
  std::set<std::string> down;
  std::atomic<int> reads{0};
  std::function<void()> on_write;
  std::function<void(const std::string& address, const std::string& id)> on_read;
};

}  // namespace medvault::frontend

// Test fixtures for the catalog: a real RocksDB in a temp dir, a writer that can be told to fail,
// and builders for instance tags and manifests. Test-only.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/kv.h"
#include "common/testing/temp_dir.h"
#include "metaserver/core/catalog.h"
#include "metaserver/core/catalog_keys.h"
#include "metaserver/core/store_access.h"

namespace medvault::metaserver::testing {

// Writes through to the store unless told to fail, in which case nothing is applied.
class FailingWriter : public BatchWriter {
 public:
  explicit FailingWriter(KvStore* kv) : kv_(kv) {}
  absl::Status Write(rocksdb::WriteBatch* batch) override {
    ++writes_;
    if (before_write_) before_write_();
    if (fail_) return absl::UnavailableError("injected write failure");
    return kv_->Write(batch);
  }
  void set_fail(bool fail) { fail_ = fail; }
  // Called at the start of every write (on the writing thread), e.g. to race another operation.
  void set_before_write(std::function<void()> hook) { before_write_ = std::move(hook); }
  int writes() const { return writes_; }

 private:
  KvStore* const kv_;
  bool fail_ = false;
  int writes_ = 0;
  std::function<void()> before_write_;
};

inline v1::InstanceTags Tags(const std::string& study, const std::string& series,
                             const std::string& sop, const std::string& patient = "PAT1",
                             const std::string& date = "20240105",
                             const std::string& modality = "CT") {
  v1::InstanceTags t;
  t.set_patient_id(patient);
  t.set_patient_name("Doe^Jane");
  t.set_patient_birth_date("19700101");
  t.set_study_uid(study);
  t.set_study_date(date);
  t.set_study_description("Head");
  t.set_series_uid(series);
  t.set_modality(modality);
  t.set_series_number(1);
  t.set_sop_instance_uid(sop);
  t.set_instance_number(1);
  return t;
}

// A manifest with fresh random ids: `chunks` chunks, each on servers s1..s3.
inline v1::ObjectManifest Manifest(uint64_t size = 1000, int chunks = 2,
                                   const std::string& content = "") {
  v1::ObjectManifest m;
  m.set_object_id(RandomBytes(16).value());
  m.set_size(size);
  m.set_sha256(Sha256(content.empty() ? absl::StrCat("content-", size) : content));
  m.set_chunk_size(1 << 20);
  for (int i = 0; i < chunks; ++i) {
    v1::ChunkLocation* c = m.add_chunks();
    c->set_chunk_id(RandomBytes(16).value());
    c->set_stored_size(size / chunks + 28);
    c->set_crc32c(1234);
    for (const char* s : {"s1", "s2", "s3"}) c->add_server_ids(s);
  }
  return m;
}

class CatalogTestBase : public ::testing::Test {
 protected:
  CatalogTestBase() { Reopen(); }

  void Reopen() {
    catalog_.reset();
    writer_.reset();
    kv_.reset();
    auto kv = KvStore::Open(dir_.path() + "/db", MetaserverColumnFamilies());
    ASSERT_TRUE(kv.ok()) << kv.status();
    kv_ = std::move(*kv);
    writer_ = std::make_unique<FailingWriter>(kv_.get());
    catalog_ = std::make_unique<Catalog>(kv_.get(), writer_.get());
  }

  // Commits and expects a fresh store.
  void MustCommit(const v1::InstanceTags& tags, const v1::ObjectManifest& manifest) {
    absl::StatusOr<CommitResult> r = catalog_->Commit(tags, manifest, now_);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_FALSE(r->already_stored);
  }

  // Number of keys in a column family.
  size_t CountKeys(const std::string& cf) {
    size_t n = 0;
    auto it = kv_->NewIterator(cf);
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    return n;
  }

  // Uids of the studies a query returns (one page).
  std::vector<std::string> FindUids(const v1::StudyQuery& q) {
    absl::StatusOr<v1::StudyPage> page = catalog_->FindStudies(q);
    EXPECT_TRUE(page.ok()) << page.status();
    std::vector<std::string> uids;
    if (page.ok()) {
      for (const auto& s : page->studies()) uids.push_back(s.study_uid());
    }
    return uids;
  }

  medvault::testing::TempDir dir_;
  int64_t now_ = 1'700'000'000'000'000;
  std::unique_ptr<KvStore> kv_;
  std::unique_ptr<FailingWriter> writer_;
  std::unique_ptr<Catalog> catalog_;
};

}  // namespace medvault::metaserver::testing

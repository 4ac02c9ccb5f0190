// The instance headers WADO-RS /metadata is answered from: kept in the instance row by Commit
// (also when group-committed), listed per study, series and instance a page at a time, and gone
// with the instance.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "metaserver/core/catalog.h"
#include "metaserver/testing/catalog_test_util.h"

namespace medvault::metaserver {
namespace {

using testing::CatalogTestBase;
using ::testing::ElementsAre;
using testing::Manifest;
using testing::Tags;

v1::InstanceHeader HeaderOf(const std::string& sop, size_t size = 100) {
  v1::InstanceHeader h;
  h.set_dataset(std::string(size, 'x') + sop);
  h.add_bulk_paths("7FE00010");
  return h;
}

class CatalogHeadersTest : public CatalogTestBase {
 protected:
  void Commit(const std::string& study, const std::string& series, const std::string& sop,
              const v1::InstanceHeader* header, int manifest_seed) {
    absl::StatusOr<CommitResult> r =
        catalog_->Commit(Tags(study, series, sop), Manifest(manifest_seed), now_, header);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  // Every (sop, dataset) of the request, following page tokens.
  std::vector<std::pair<std::string, std::string>> All(v1::GetInstanceHeadersRequest request) {
    std::vector<std::pair<std::string, std::string>> out;
    do {
      absl::StatusOr<v1::GetInstanceHeadersResponse> page = catalog_->GetInstanceHeaders(request);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      for (const v1::InstanceHeaderEntry& e : page->instances()) {
        out.emplace_back(e.info().tags().sop_instance_uid(),
                         e.has_header() ? e.header().dataset() : "-");
      }
      request.set_page_token(page->next_page_token());
    } while (!request.page_token().empty());
    return out;
  }

  static v1::GetInstanceHeadersRequest Of(const std::string& study, const std::string& series = "",
                                          const std::string& sop = "") {
    v1::GetInstanceHeadersRequest r;
    r.set_study_uid(study);
    r.set_series_uid(series);
    r.set_sop_instance_uid(sop);
    return r;
  }
};

TEST_F(CatalogHeadersTest, HeaderRoundTripsAndIsListedPerStudySeriesInstance) {
  const v1::InstanceHeader a = HeaderOf("1.1.1"), b = HeaderOf("1.1.2"), c = HeaderOf("1.2.1");
  Commit("1", "1.1", "1.1.1", &a, 100);
  Commit("1", "1.1", "1.1.2", &b, 200);
  Commit("1", "1.2", "1.2.1", &c, 300);
  Commit("1", "1.2", "1.2.2", nullptr, 400);  // stored before headers were kept
  using P = std::pair<std::string, std::string>;
  EXPECT_THAT(All(Of("1")), ElementsAre(P{"1.1.1", a.dataset()}, P{"1.1.2", b.dataset()},
                                        P{"1.2.1", c.dataset()}, P{"1.2.2", "-"}));
  EXPECT_THAT(All(Of("1", "1.2")), ElementsAre(P{"1.2.1", c.dataset()}, P{"1.2.2", "-"}));
  EXPECT_THAT(All(Of("1", "1.1", "1.1.2")), ElementsAre(P{"1.1.2", b.dataset()}));
  absl::StatusOr<v1::GetInstanceHeadersResponse> one =
      catalog_->GetInstanceHeaders(Of("1", "1.1", "1.1.2"));
  ASSERT_TRUE(one.ok());
  EXPECT_THAT(one->instances(0).header().bulk_paths(), ElementsAre("7FE00010"));
  EXPECT_TRUE(absl::IsNotFound(catalog_->GetInstanceHeaders(Of("9")).status()));
  EXPECT_TRUE(absl::IsNotFound(catalog_->GetInstanceHeaders(Of("1", "9")).status()));
  EXPECT_TRUE(absl::IsNotFound(catalog_->GetInstanceHeaders(Of("1", "1.2", "1.1.1")).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(catalog_->GetInstanceHeaders(Of("1", "", "1.1.1")).status()));
}

TEST_F(CatalogHeadersTest, PagesEndBeforeTwoMebibytesOfHeaders) {
  // 40 headers of 60 KiB: 2.4 MB in all, so at least two pages, every instance once.
  std::vector<v1::InstanceHeader> headers;
  for (int i = 0; i < 40; ++i) headers.push_back(HeaderOf(absl::StrCat("1.1.", 100 + i), 60 << 10));
  for (int i = 0; i < 40; ++i) {
    Commit("1", "1.1", absl::StrCat("1.1.", 100 + i), &headers[i], 1000 + 10 * i);
  }
  absl::StatusOr<v1::GetInstanceHeadersResponse> first = catalog_->GetInstanceHeaders(Of("1"));
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->next_page_token().empty());
  EXPECT_LT(first->instances_size(), 40);
  std::vector<std::pair<std::string, std::string>> all = All(Of("1"));
  ASSERT_EQ(all.size(), 40u);
  for (int i = 0; i < 40; ++i) EXPECT_EQ(all[i].second, headers[i].dataset());
}

TEST_F(CatalogHeadersTest, OversizedHeaderIsRefused) {
  const v1::InstanceHeader big = HeaderOf("1.1.1", kMaxHeaderBytes);
  absl::StatusOr<CommitResult> r =
      catalog_->Commit(Tags("1", "1.1", "1.1.1"), Manifest(100), now_, &big);
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  EXPECT_TRUE(absl::IsNotFound(catalog_->GetInstance("1.1.1").status()));
}

TEST_F(CatalogHeadersTest, GroupCommittedHeadersAreEachInTheirRow) {
  std::vector<v1::InstanceHeader> headers;
  for (int i = 0; i < 16; ++i) headers.push_back(HeaderOf(absl::StrCat("1.1.", i)));
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      absl::StatusOr<CommitResult> r = catalog_->Commit(Tags("1", "1.1", absl::StrCat("1.1.", i)),
                                                        Manifest(100 + 10 * i), now_, &headers[i]);
      EXPECT_TRUE(r.ok()) << r.status();
    });
  }
  for (std::thread& t : threads) t.join();
  for (const auto& [sop, dataset] : All(Of("1"))) EXPECT_EQ(dataset, HeaderOf(sop).dataset());
  EXPECT_EQ(All(Of("1")).size(), 16u);
}

TEST_F(CatalogHeadersTest, HeaderIsDeletedWithItsInstanceAndStudy) {
  const v1::InstanceHeader a = HeaderOf("1.1.1"), b = HeaderOf("1.1.2");
  Commit("1", "1.1", "1.1.1", &a, 100);
  Commit("1", "1.1", "1.1.2", &b, 200);
  ASSERT_TRUE(catalog_->DeleteInstance("1.1.1", now_).ok());
  using P = std::pair<std::string, std::string>;
  EXPECT_THAT(All(Of("1")), ElementsAre(P{"1.1.2", b.dataset()}));
  ASSERT_TRUE(catalog_->DeleteStudy("1", now_).ok());
  EXPECT_TRUE(absl::IsNotFound(catalog_->GetInstanceHeaders(Of("1")).status()));
  // No row of any column family holds a header's bytes any more.
  for (const std::string& cf : MetaserverColumnFamilies()) {
    auto it = kv_->NewIterator(cf);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      EXPECT_EQ(it->value().ToString().find(a.dataset()), std::string::npos) << cf;
      EXPECT_EQ(it->value().ToString().find(b.dataset()), std::string::npos) << cf;
    }
  }
}

}  // namespace
}  // namespace medvault::metaserver

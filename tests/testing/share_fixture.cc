#include "tests/testing/share_fixture.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/rpc.h"
#include "common/testing/file_scan.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "medvault/v1/admin.grpc.pb.h"
#include "tests/testing/cli_fixture.h"

namespace medvault {
namespace testing {

std::string JsonField(const std::string& json, const std::string& key) {
  for (const std::string& quote :
       {absl::StrCat("\"", key, "\":\""), absl::StrCat("\"", key, "\": \"")}) {
    size_t at = json.find(quote);
    if (at == std::string::npos) continue;
    at += quote.size();
    return json.substr(at, json.find('"', at) - at);
  }
  return "";
}

double JsonNumber(const std::string& json, const std::string& key) {
  const std::string quote = absl::StrCat("\"", key, "\":");
  const size_t at = json.find(quote);
  if (at == std::string::npos) return -1;
  return std::atof(json.c_str() + at + quote.size());
}

std::string StoredFileOfStudy(const std::string& study) {
  for (const char* name : {"CT_small.dcm", "MR_small.dcm"}) {
    DcmFileFormat file;
    if (file.loadFile((std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/" + name).c_str()).bad())
      continue;
    OFString uid;
    file.getDataset()->findAndGetOFString(DCM_StudyInstanceUID, uid);
    if (study == uid.c_str()) return name;
  }
  return "";
}

void ExpectNoLogHolds(const ExternalCluster& cluster, const std::string& code,
                      const std::string& pin) {
  const std::string bare = absl::StrReplaceAll(code, {{"-", ""}});
  for (const std::string& file : cluster.log_files()) {
    const std::string text = ReadWholeFile(file);
    EXPECT_FALSE(absl::StrContains(text, pin)) << file;
    EXPECT_FALSE(absl::StrContains(text, code)) << file;
    EXPECT_FALSE(absl::StrContains(text, bare)) << file;
  }
}

}  // namespace testing

void ShareBrowserTest::SetUp() {
  testing::ClusterOptions options;
  absl::StatusOr<std::string> base = testing::AddHttpsDoor(options);
  ASSERT_TRUE(base.ok()) << base.status();
  base_ = *base;
  // The metaserver's share and retention clock follows clock_file_ (absent: the real clock);
  // retention passes run every second.
  clock_file_ = clock_dir_.path() + "/offset-seconds";
  options.metaserver_flags = {"--testing_clock_offset_file=" + clock_file_,
                              "--retention_interval_s=1"};
  cluster_ = std::make_unique<testing::ExternalCluster>(options);
  ASSERT_TRUE(cluster_->Start().ok());
  for (const char* file : {"CT_small.dcm", "MR_small.dcm"}) {
    testing::CommandResult put =
        testing::Cli(*cluster_, {"put", std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/" + file});
    ASSERT_EQ(put.exit_code, 0) << put.err;
  }
  testing::CommandResult find = testing::Cli(*cluster_, {"find", "--json"});
  ASSERT_EQ(find.exit_code, 0) << find.err;
  // One study to share, one that stays private.
  shared_ = testing::JsonField(find.out, "study_uid");
  other_ =
      testing::JsonField(find.out.substr(find.out.find(shared_) + shared_.size()), "study_uid");
  ASSERT_FALSE(shared_.empty());
  ASSERT_FALSE(other_.empty()) << find.out;
  jar_ = cluster_->root() + "/cookies";
}

HttpAnswer ShareBrowserTest::Curl(const std::string& path, std::vector<std::string> extra) {
  extra.insert(extra.begin(), {"-b", jar_, "-c", jar_});
  return testing::CurlHttps(*cluster_, base_, "", path, extra);
}

HttpAnswer ShareBrowserTest::Redeem(const std::string& code, const std::string& pin,
                                    std::vector<std::string> extra) {
  extra.insert(extra.end(), {"--data-urlencode", "code=" + code, "--data-urlencode", "pin=" + pin});
  return Curl("/share/api/redeem", extra);
}

std::vector<v1::AuditRecord> ShareBrowserTest::Audit() {
  auto admin = v1::Admin::NewStub(
      MakeChannel(cluster_->frontend(), cluster_->SecurityAs("client"), kFrontendPeer));
  std::vector<v1::AuditRecord> out;
  v1::QueryAuditRequest request;
  request.set_limit(1000);
  for (;;) {
    grpc::ClientContext ctx;
    v1::QueryAuditResponse response;
    grpc::Status s = admin->QueryAudit(&ctx, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok()) break;
    for (const v1::AuditRecord& r : response.records()) out.push_back(r);
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  return out;
}

}  // namespace medvault

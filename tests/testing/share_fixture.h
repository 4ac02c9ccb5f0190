// What the share tests (share_test.cc, share_recipient_test.cc, one share_test binary) share: a
// cluster whose frontend has the HTTPS door and whose metaserver's share and retention clock a
// test can move, two of pydicom's studies stored (one to share, one that stays private), curl as
// the recipient (no client certificate, a cookie jar), the key service's audit, and the fields of
// the JSON the CLI prints.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/testing/temp_dir.h"
#include "medvault/v1/admin.pb.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/https_door.h"

namespace medvault {
namespace testing {

// The string value of "key":"..." in one line of JSON the CLI printed ("" when absent).
std::string JsonField(const std::string& json, const std::string& key);

// The JSON number after "key": in `json` (-1 when absent).
double JsonNumber(const std::string& json, const std::string& key);

// Which of the files ShareBrowserTest stores (CT_small.dcm, MR_small.dcm) holds `study` (Study
// Instance UID); "" for neither.
std::string StoredFileOfStudy(const std::string& study);

// No log file of the cluster's services holds the share's PIN or its access code, with or without
// the code's dashes.
void ExpectNoLogHolds(const ExternalCluster& cluster, const std::string& code,
                      const std::string& pin);

}  // namespace testing

// A fresh cluster for each test (a test may lock, revoke, expire and delete): the frontend's
// HTTPS door at base_, the metaserver's share clock offset read from clock_file_ (absent: the
// real clock), retention passes every second; shared_ and other_ are the two stored studies.
class ShareBrowserTest : public ::testing::Test {
 protected:
  void SetUp() override;

  // curl without a client certificate, with the cookie jar; extra arguments before the URL.
  HttpAnswer Curl(const std::string& path, std::vector<std::string> extra = {});

  // Posts a code and a PIN to the share page's redemption endpoint (the session lands in the jar).
  HttpAnswer Redeem(const std::string& code, const std::string& pin,
                    std::vector<std::string> extra = {});

  // Every audit record of the key service (through the frontend's Admin.QueryAudit), oldest first.
  std::vector<v1::AuditRecord> Audit();

  medvault::testing::TempDir clock_dir_;
  std::string clock_file_;
  std::unique_ptr<testing::ExternalCluster> cluster_;
  std::string base_, shared_, other_, jar_;
};

}  // namespace medvault

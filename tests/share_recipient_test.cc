// Issue 18's shares from the recipient's side (the share verbs, replication and scopes are in
// share_test.cc; both files make the share_test binary over tests/testing/share_fixture.h).
//
// With curl (no client certificate) against the real frontend's HTTPS port: five wrong PINs lock
// (each answer counting down), the right PIN opens a session whose cookie is HttpOnly, Secure and
// SameSite=Strict; the session reads its study through DICOMweb and gets the same 404 for another
// stored study as for a missing one; a cross-site redemption is refused; the session downloads its
// study as a PDI ZIP in `medvault export`'s layout (unzipped: the stored bytes, a DICOMDIR dcmdump
// reads, INDEX.HTM and README.TXT, and the offline viewer, which shows the image from file:// in
// headless Chromium), not another study; a --no-download share refuses the download (403);
// revocation ends the open session at its next request; the share log and the key service's audit
// record the accesses, and the key service's tamper-evident audit the redemptions (wrong PINs, the
// lockout, the refusal while locked, the opening), the unlock and the revocation (op=share), with
// `medvault audit verify` still clean. Then, on the same cluster: a study whose retention rule is
// "after its last share" is deleted by the metaserver's retention task once its share is revoked
// (keys destroyed and audited with the reason: GetInstance is NOT_FOUND); every key released for a
// share session is in the key service's audit with the share id and the recipient's address
// (QueryAudit); a legal hold refuses rm; and with the metaserver's clock moved past a share's
// expiry (--testing_clock_offset_file) the code is refused at the HTTPS door and the open session
// ends.
//
// The page in Debian's headless Chromium (playwright-core): five wrong PINs lock; the right PIN
// shows the studies and dwv draws the image (the canvas' pixel variance is not zero; a screenshot
// is kept in the build tree); another study's UID in a hand-made request gets the missing-study
// 404; revocation ends the open session at its next request (and the reloaded page asks for the
// code again); a second share's open session ends at its next request once the share clock passes
// its expiry; the patient's name reads as a name, series buttons by modality, number and
// description with a drawn thumbnail each; nothing is loaded from elsewhere.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/rpc.h"
#include "common/testing/file_scan.h"
#include "medvault/v1/image_store.grpc.pb.h"
#include "tests/testing/browser_script.h"
#include "tests/testing/cli_fixture.h"
#include "tests/testing/share_fixture.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

using testing::Cli;
using testing::JsonField;
using testing::JsonNumber;
using testing::ReadWholeFile;
using testing::StoredFileOfStudy;

TEST_F(ShareBrowserTest, PinLockSessionScopeRevocationRetentionAndExpiryWithCurl) {
  testing::CommandResult made = Cli(*cluster_, {"share", "create", "--study", shared_, "--json"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const std::string code = JsonField(made.out, "access_code");
  const std::string pin = JsonField(made.out, "pin");
  const std::string id = JsonField(made.out, "id");
  const std::string wrong = pin == "AAAAAA" ? "CCCCCC" : "AAAAAA";
  const std::string bare_code = absl::StrReplaceAll(code, {{"-", ""}});

  for (int left = 4; left >= 0; --left) {
    HttpAnswer a = Redeem(code, wrong);
    EXPECT_EQ(a.status, 403);
    EXPECT_TRUE(absl::StrContains(a.body, absl::StrCat(left, " attempt"))) << a.body;
  }
  // Locked: the right PIN gets the answer a code that opens nothing gets.
  HttpAnswer locked = Redeem(code, pin);
  HttpAnswer unknown = Redeem("0000-0000-0000-0000-00000-00000", pin);
  EXPECT_EQ(locked.status, 403);
  EXPECT_EQ(locked.body, unknown.body);
  ASSERT_EQ(Cli(*cluster_, {"share", "unlock", id}).exit_code, 0);

  // A redemption posted from another site is refused before it counts.
  EXPECT_EQ(Redeem(code, pin, {"-H", "Origin: https://evil.example"}).status, 403);
  HttpAnswer opened = Redeem(code, pin);
  ASSERT_EQ(opened.status, 200) << opened.body;
  EXPECT_TRUE(absl::StrContains(opened.headers, "HttpOnly")) << opened.headers;
  EXPECT_TRUE(absl::StrContains(opened.headers, "Secure"));
  EXPECT_TRUE(absl::StrContains(opened.headers, "SameSite=Strict"));

  HttpAnswer info = Curl("/share/api/session");
  ASSERT_EQ(info.status, 200) << info.body;
  EXPECT_TRUE(absl::StrContains(info.body, shared_));
  EXPECT_FALSE(absl::StrContains(info.body, other_));

  HttpAnswer study = Curl("/dicomweb/studies/" + shared_);
  EXPECT_EQ(study.status, 200);
  EXPECT_TRUE(absl::StrContains(study.body, "DICM"));
  // This frontend has no --http_cors_origins: nothing CORS-ish, even to a viewer's Origin, and a
  // preflight is an unsupported method (docs/dicomweb.md).
  HttpAnswer cross = Curl("/dicomweb/studies/" + shared_, {"-H", "Origin: https://viewer.example"});
  EXPECT_EQ(cross.status, 200);
  HttpAnswer preflight =
      Curl("/dicomweb/studies/" + shared_, {"-X", "OPTIONS", "-H", "Origin: https://viewer.example",
                                            "-H", "Access-Control-Request-Method: GET"});
  EXPECT_EQ(preflight.status, 405);
  for (const HttpAnswer* a : {&cross, &preflight}) {
    EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(a->headers), "access-control-"))
        << a->headers;
  }
  // Another stored study, by its real UID: the same answer as one that does not exist.
  HttpAnswer other = Curl("/dicomweb/studies/" + other_);
  HttpAnswer nowhere = Curl("/dicomweb/studies/1.2.3.4.5.6.7.8.9");
  EXPECT_EQ(other.status, 404);
  EXPECT_EQ(other.status, nowhere.status);
  EXPECT_EQ(other.body, nowhere.body);
  EXPECT_EQ(Curl("/dicomweb/studies").status, 404);  // no search across the archive

  // The study as a ZIP in the IHE PDI layout: unzipped, its instance is the stored bytes and its
  // DICOMDIR (dcmdump) references it. Another study's download gets the missing-study 404.
  HttpAnswer zip = Curl("/share/api/download?study=" + shared_);
  ASSERT_EQ(zip.status, 200) << zip.body;
  EXPECT_TRUE(absl::StrContains(zip.headers, "application/zip")) << zip.headers;
  const std::string unzipped = cluster_->root() + "/unzipped";
  std::filesystem::create_directories(unzipped);
  std::ofstream(cluster_->root() + "/download.zip", std::ios::binary) << zip.body;
  testing::CommandResult extracted = testing::RunCommand(
      {"/usr/bin/bsdtar", "-xf", cluster_->root() + "/download.zip", "-C", unzipped});
  ASSERT_EQ(extracted.exit_code, 0) << extracted.err;
  const std::string instance = ReadWholeFile(unzipped + "/DICOM/ST000001/SE000001/IM000001");
  EXPECT_TRUE(instance == ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/" +
                                        StoredFileOfStudy(shared_)))
      << instance.size();
  testing::CommandResult dumped = testing::RunCommand({"/usr/bin/dcmdump", unzipped + "/DICOMDIR"});
  EXPECT_EQ(dumped.exit_code, 0) << dumped.err;
  EXPECT_TRUE(absl::StrContains(dumped.out, "DICOM\\ST000001\\SE000001\\IM000001")) << dumped.out;
  // The layout `medvault export --zip` writes (the same writer): the pages, and the offline viewer
  // with the study's image as a script it loads from file://.
  for (const char* entry :
       {"INDEX.HTM", "README.TXT", "IHE_PDI/ST000001.HTM", "VIEWER/VIEWER.HTM", "VIEWER/VIEWER.JS",
        "VIEWER/WORKERS.JS", "VIEWER/ST000001/SE000001/IM000001.JS"}) {
    EXPECT_TRUE(std::filesystem::exists(unzipped + "/" + entry)) << entry;
  }
  // Opened from the unzipped folder in headless Chromium (export_test's page script): INDEX.HTM
  // lists the study and its "Open" link shows the image in the viewer, from file://, with
  // nothing fetched from elsewhere.
  const std::string script = testing::StageBrowserScript(
      MEDVAULT_SOURCE_DIR, "tests/export/index_page.mjs", MEDVAULT_SHARE_PAGE_NODE_DIR);
  const std::string page_config = absl::StrCat(
      "{\"url\":\"file://", unzipped, "/INDEX.HTM\",\"screenshot\":\"", cluster_->root(),
      "/download-index.png\",\"viewer_screenshot\":\"", MEDVAULT_SHARE_DOWNLOAD_SCREENSHOT, "\"}");
  testing::CommandResult browsed = testing::RunCommand({"/usr/bin/node", script, page_config});
  ASSERT_EQ(browsed.exit_code, 0) << browsed.err;
  EXPECT_TRUE(absl::StrContains(browsed.out, "\"studies\":1")) << browsed.out;
  EXPECT_TRUE(absl::StrContains(browsed.out, "\"viewer\":[{\"hash\":\"#ST000001/SE000001/"))
      << browsed.out;
  EXPECT_TRUE(absl::StrContains(browsed.out, "\"state\":\"loaded\"")) << browsed.out;
  EXPECT_FALSE(absl::StrContains(browsed.out, "\"variance\":0}")) << browsed.out;
  EXPECT_TRUE(absl::StrContains(browsed.out, "\"viewer_foreign_requests\":[]")) << browsed.out;
  EXPECT_EQ(Curl("/share/api/download?study=" + other_).status, 404);

  // Revocation ends the open session at its next request; the code then opens nothing, with the
  // answer an unknown code gets.
  ASSERT_EQ(Cli(*cluster_, {"share", "revoke", id}).exit_code, 0);
  EXPECT_EQ(Curl("/dicomweb/studies/" + shared_).status, 401);
  EXPECT_EQ(Curl("/share/api/session").status, 401);
  HttpAnswer revoked = Redeem(code, pin);
  EXPECT_EQ(revoked.status, 403);
  EXPECT_EQ(revoked.body, unknown.body);

  // A share made with --no-download opens for viewing but refuses the download; made with
  // --max-uses 1, its second redemption gets the same answer as an unknown code.
  testing::CommandResult view_only = Cli(*cluster_, {"share", "create", "--study", shared_,
                                                     "--no-download", "--max-uses", "1", "--json"});
  ASSERT_EQ(view_only.exit_code, 0) << view_only.err;
  const std::string view_code = JsonField(view_only.out, "access_code");
  const std::string view_pin = JsonField(view_only.out, "pin");
  ASSERT_EQ(Redeem(view_code, view_pin).status, 200);
  EXPECT_EQ(Curl("/dicomweb/studies/" + shared_).status, 200);
  EXPECT_EQ(Curl("/share/api/download?study=" + shared_).status, 403);
  HttpAnswer used_up = Redeem(view_code, view_pin);
  EXPECT_EQ(used_up.status, 403);
  EXPECT_EQ(used_up.body, unknown.body);

  testing::CommandResult log = Cli(*cluster_, {"share", "log", id});
  ASSERT_EQ(log.exit_code, 0) << log.err;
  EXPECT_TRUE(absl::StrContains(log.out, "wrong PIN")) << log.out;
  EXPECT_TRUE(absl::StrContains(log.out, "(locked)")) << log.out;
  EXPECT_TRUE(absl::StrContains(log.out, "not in the share")) << log.out;
  EXPECT_TRUE(absl::StrContains(log.out, "(revoked)")) << log.out;
  EXPECT_TRUE(absl::StrContains(log.out, "download")) << log.out;
  EXPECT_TRUE(absl::StrContains(log.out, "127.0.0.1:")) << log.out;
  // The key service's audit names the share session as the one the keys were released for.
  testing::CommandResult audit = Cli(*cluster_, {"audit"});
  ASSERT_EQ(audit.exit_code, 0) << audit.err;
  EXPECT_TRUE(absl::StrContains(audit.out, "share-session/" + id)) << audit.out;
  // The redemptions, the lockout, the unlock and the revocation are in the key service's
  // tamper-evident audit too (op=share), by share id, never with the code or the PIN ...
  std::string share_events;
  for (const v1::AuditRecord& r : Audit()) {
    if (r.op() != "share") continue;
    EXPECT_FALSE(absl::StrContains(r.DebugString(), pin)) << r.DebugString();
    EXPECT_FALSE(absl::StrContains(r.DebugString(), bare_code)) << r.DebugString();
    EXPECT_EQ(r.caller(), "frontend/frontend");
    if (r.on_behalf_of() == "share-session/" + id) {
      EXPECT_TRUE(absl::StartsWith(r.peer(), "127.0.0.1:")) << r.DebugString();
    }
    if (r.on_behalf_of() == "share-session/" + id || absl::StrContains(r.purpose(), id))
      absl::StrAppend(&share_events, r.purpose(), " ", r.result(), "\n");
  }
  for (const std::string& event :
       {std::string("ShareRedeem (wrong PIN, 4 attempts left) PERMISSION_DENIED"),
        std::string("ShareRedeem (wrong PIN, 1 attempt left) PERMISSION_DENIED"),
        std::string("ShareRedeem (wrong PIN, share locked) PERMISSION_DENIED"),
        std::string("ShareRedeem (refused: locked) PERMISSION_DENIED"),
        "ShareUnlock share/" + id + " OK", std::string("ShareRedeem OK"),
        "ShareRevoke share/" + id + " OK"}) {
    EXPECT_TRUE(absl::StrContains(share_events, event)) << event << " not in\n" << share_events;
  }
  // ... whose hash chain and signed heads still verify.
  testing::CommandResult verified = Cli(*cluster_, {"audit", "verify", "--json"});
  EXPECT_EQ(verified.exit_code, 0) << verified.err;
  EXPECT_TRUE(absl::StrContains(verified.out, "\"ok\":true")) << verified.out;

  testing::ExpectNoLogHolds(*cluster_, code, pin);

  // --- Read and delete when done: `other_` goes once its last share has ended. ---
  testing::CommandResult rule = Cli(*cluster_, {"retention", "set", other_, "--after-last-share"});
  ASSERT_EQ(rule.exit_code, 0) << rule.err;
  EXPECT_TRUE(absl::StrContains(rule.out, "delete after last share")) << rule.out;
  testing::CommandResult listed = Cli(*cluster_, {"find"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_TRUE(absl::StrContains(listed.out, "RETENTION")) << listed.out;
  EXPECT_TRUE(absl::StrContains(listed.out, "delete after last share")) << listed.out;
  auto stub = v1::ImageStore::NewStub(
      MakeChannel(cluster_->frontend(), cluster_->SecurityAs("client"), kFrontendPeer));
  std::string other_instance;
  {
    grpc::ClientContext ctx;
    v1::GetStudyRequest req;
    req.set_study_uid(other_);
    v1::GetStudyResponse resp;
    ASSERT_TRUE(stub->GetStudy(&ctx, req, &resp).ok());
    ASSERT_GT(resp.series_size(), 0);
    ASSERT_GT(resp.series(0).instances_size(), 0);
    other_instance = resp.series(0).instances(0).tags().sop_instance_uid();
  }
  testing::CommandResult made2 = Cli(*cluster_, {"share", "create", "--study", other_, "--json"});
  ASSERT_EQ(made2.exit_code, 0) << made2.err;
  const std::string code2 = JsonField(made2.out, "access_code");
  const std::string id2 = JsonField(made2.out, "id");
  ASSERT_EQ(Redeem(code2, JsonField(made2.out, "pin")).status, 200);
  ASSERT_EQ(Curl("/dicomweb/studies/" + other_).status, 200);
  // The key released for the share session is in the key service's audit with the share id and
  // the recipient's address, never the code.
  bool release_seen = false;
  for (const v1::AuditRecord& r : Audit()) {
    EXPECT_FALSE(absl::StrContains(r.DebugString(), code2));
    if (r.op() == "release" && r.on_behalf_of() == "share-session/" + id2) {
      release_seen = true;
      EXPECT_TRUE(absl::StartsWith(r.peer(), "127.0.0.1:")) << r.DebugString();
      // A study retrieved through WADO-RS is one set release (frontend/core/set_retrieval.h).
      EXPECT_EQ(r.purpose(), "RetrieveStudy");
    }
  }
  EXPECT_TRUE(release_seen);
  // Still shared: kept, however many retention passes run.
  testing::CommandResult held = Cli(*cluster_, {"retention", "show", other_});
  ASSERT_EQ(held.exit_code, 0) << held.err;
  EXPECT_TRUE(absl::StrContains(held.out, "delete after last share")) << held.out;

  ASSERT_EQ(Cli(*cluster_, {"share", "revoke", id2}).exit_code, 0);
  // The leader's next retention pass deletes the study as rm does.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  absl::StatusOr<double> deleted = 0.0;
  while (std::chrono::steady_clock::now() < deadline) {
    deleted = cluster_->Metric("metaserver", "medvault_metaserver_retention_deletions_total");
    if (deleted.ok() && *deleted >= 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(deleted.ok() && *deleted == 1) << "the retention task deleted nothing";
  {
    grpc::ClientContext ctx;
    v1::GetInstanceRequest req;
    req.set_sop_instance_uid(other_instance);
    auto reader = stub->GetInstance(&ctx, req);
    v1::GetInstanceResponse piece;
    while (reader->Read(&piece)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::NOT_FOUND);
  }
  testing::CommandResult gone = Cli(*cluster_, {"find", "--json"});
  ASSERT_EQ(gone.exit_code, 0) << gone.err;
  EXPECT_FALSE(absl::StrContains(gone.out, other_)) << gone.out;
  // Its keys were destroyed by the metaserver, the reason in the key service's audit.
  bool destroyed = false;
  for (const v1::AuditRecord& r : Audit()) {
    if (r.op() == "destroy" && r.purpose() == "Retention (last share ended)") {
      destroyed = true;
      EXPECT_EQ(r.caller(), "metaserver/metaserver");
      EXPECT_EQ(r.on_behalf_of(), "client/client");  // who set the rule
      EXPECT_EQ(r.result(), "OK");
      EXPECT_GT(r.object_ids_size(), 0);
    }
  }
  EXPECT_TRUE(destroyed);

  // --- A legal hold refuses rm until released. ---
  ASSERT_EQ(Cli(*cluster_, {"retention", "hold", shared_}).exit_code, 0);
  testing::CommandResult refused = Cli(*cluster_, {"rm", "--study", shared_});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(refused.err, "FAILED_PRECONDITION")) << refused.err;
  EXPECT_TRUE(absl::StrContains(Cli(*cluster_, {"find"}).out, "held"));
  ASSERT_EQ(Cli(*cluster_, {"retention", "release", shared_}).exit_code, 0);

  // --- Expiry at the HTTPS door: the metaserver's clock moves past the share's expiry. ---
  testing::CommandResult made3 =
      Cli(*cluster_, {"share", "create", "--study", shared_, "--expires", "1d", "--json"});
  ASSERT_EQ(made3.exit_code, 0) << made3.err;
  const std::string code3 = JsonField(made3.out, "access_code");
  const std::string pin3 = JsonField(made3.out, "pin");
  ASSERT_EQ(Redeem(code3, pin3).status, 200);
  ASSERT_EQ(Curl("/dicomweb/studies/" + shared_).status, 200);
  std::ofstream(clock_file_) << 2 * 86400 << "\n";
  // The open session ends at its next request, and the code now opens nothing: the answer is
  // the one a code that never existed gets.
  EXPECT_EQ(Curl("/dicomweb/studies/" + shared_).status, 401);
  HttpAnswer expired = Redeem(code3, pin3);
  EXPECT_EQ(expired.status, 403);
  EXPECT_EQ(expired.body, unknown.body);
  testing::CommandResult log3 = Cli(*cluster_, {"share", "log", JsonField(made3.out, "id")});
  ASSERT_EQ(log3.exit_code, 0) << log3.err;
  EXPECT_TRUE(absl::StrContains(log3.out, "(expired)")) << log3.out;
  std::remove(clock_file_.c_str());

  // Failed redemptions from this address (five wrong PINs, locked, unknown, revoked, used up,
  // expired) reach the per-address limit: the next attempt is refused before any lookup.
  HttpAnswer limited;
  for (int i = 0; i < 11 && limited.status != 429; ++i)
    limited = Redeem("0000-0000-0000-0000-00000-00000", pin);
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_TRUE(absl::StrContains(limited.body, "too many attempts")) << limited.body;
}

TEST_F(ShareBrowserTest, PageInHeadlessChromium) {
  testing::CommandResult made = Cli(*cluster_, {"share", "create", "--study", shared_, "--json"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const std::string code = JsonField(made.out, "access_code");
  const std::string pin = JsonField(made.out, "pin");
  const std::string id = JsonField(made.out, "id");
  // A second share, for a day: the page sees it end when the share clock passes its expiry.
  testing::CommandResult made2 =
      Cli(*cluster_, {"share", "create", "--study", shared_, "--expires", "1d", "--json"});
  ASSERT_EQ(made2.exit_code, 0) << made2.err;
  const std::string script = testing::StageBrowserScript(
      MEDVAULT_SOURCE_DIR, "tests/share_page/page.mjs", MEDVAULT_SHARE_PAGE_NODE_DIR);
  auto argv_json = [&](const std::string& verb) {
    std::string out = "[";
    for (const std::string& a : cluster_->Cli()) absl::StrAppend(&out, "\"", a, "\",");
    return absl::StrCat(out, "\"share\",\"", verb, "\",\"", id, "\"]");
  };
  const std::string config = absl::StrCat(
      "{\"base\":\"", base_, "\",\"code\":\"", code, "\",\"pin\":\"", pin, "\",\"wrong_pin\":\"",
      pin == "AAAAAA" ? "CCCCCC" : "AAAAAA", "\",\"shared_study\":\"", shared_,
      "\",\"other_study\":\"", other_, "\",\"screenshot\":\"", MEDVAULT_SHARE_SCREENSHOT,
      "\",\"unlock_argv\":", argv_json("unlock"), ",\"revoke_argv\":", argv_json("revoke"),
      ",\"code2\":\"", JsonField(made2.out, "access_code"), "\",\"pin2\":\"",
      JsonField(made2.out, "pin"), "\",\"clock_file\":\"", clock_file_, "\"}");
  testing::CommandResult run = testing::RunCommand({"/usr/bin/node", script, config});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string& seen = run.out;
  EXPECT_FALSE(absl::StrContains(seen, "\"error\":")) << seen;
  for (int left = 4; left >= 0; --left)
    EXPECT_TRUE(absl::StrContains(seen, absl::StrCat(left, " attempt"))) << seen;
  EXPECT_TRUE(absl::StrContains(seen, "do not open a share")) << seen;
  EXPECT_GT(JsonNumber(seen, "pixel_variance"), 0) << seen;
  EXPECT_TRUE(std::filesystem::exists(MEDVAULT_SHARE_SCREENSHOT));
  EXPECT_TRUE(absl::StrContains(seen, "\"other_study\":{\"status\":404,\"body\":\"NOT_FOUND\\n\"}"))
      << seen;
  EXPECT_TRUE(
      absl::StrContains(seen, "\"missing_study\":{\"status\":404,\"body\":\"NOT_FOUND\\n\"}"))
      << seen;
  EXPECT_EQ(JsonNumber(seen, "shared_study_status"), 200) << seen;
  EXPECT_EQ(JsonNumber(seen, "after_revoke_status"), 401) << seen;
  EXPECT_TRUE(absl::StrContains(seen, "\"after_revoke_form_shown\":true")) << seen;
  EXPECT_EQ(JsonNumber(seen, "before_expiry_status"), 200) << seen;
  EXPECT_EQ(JsonNumber(seen, "after_expiry_status"), 401) << seen;
  EXPECT_EQ(JsonNumber(seen, "after_expiry_session_status"), 401) << seen;
  std::remove(clock_file_.c_str());
  // The patient as people write a name (CT_small's PN is "CompressedSamples^CT1"); the series by
  // modality, number and description, its UID only in the tooltip; a drawn thumbnail each.
  const std::string modality = StoredFileOfStudy(shared_) == "CT_small.dcm" ? "CT" : "MR";
  EXPECT_TRUE(absl::StrContains(seen, "Patient: CompressedSamples, " + modality + "1")) << seen;
  EXPECT_FALSE(absl::StrContains(seen, "CompressedSamples^")) << seen;
  const size_t buttons = seen.find("\"series_buttons\":[\"");
  ASSERT_NE(buttons, std::string::npos) << seen;
  const std::string labels = seen.substr(buttons, seen.find(']', buttons) - buttons);
  EXPECT_TRUE(absl::StrContains(labels, modality + " #1")) << labels;
  EXPECT_TRUE(absl::StrContains(labels, "image")) << labels;
  EXPECT_FALSE(absl::StrContains(labels, "1.3.6.1.4.1")) << labels;  // no UID in any label
  EXPECT_TRUE(absl::StrContains(seen, "\"series_titles\":[\"Series 1.")) << seen;
  EXPECT_TRUE(absl::StrContains(seen, "\"thumbnails\":[{\"width\":")) << seen;
  EXPECT_FALSE(absl::StrContains(seen, "\"width\":0")) << seen;
  EXPECT_FALSE(absl::StrContains(seen, "\"hidden\":true")) << seen;
  EXPECT_TRUE(absl::StrContains(seen, "\"foreign_requests\":[]")) << seen;
}

}  // namespace
}  // namespace medvault

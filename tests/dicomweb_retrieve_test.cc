// Issue 16's WADO-RS, WADO-URI and QIDO-RS, and issue 20's RetrieveStudy stream: pydicom's files
// stored through gRPC come back byte-exact (instance, series, study: multipart/related; WADO-URI;
// the gRPC stream under one audited key release), QIDO-RS finds them from the index, and
// dicomweb-client (npm) does both. The cluster is tests/testing/dicomweb_fixture.h.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/rpc.h"
#include "common/testing/dev_certs.h"
#include "common/testing/file_scan.h"
#include "medvault/v1/image_store.grpc.pb.h"
#include "medvault/v1/keyservice.grpc.pb.h"
#include "medvault/v1/metaserver.grpc.pb.h"
#include "tests/testing/dicom_instances.h"
#include "tests/testing/dicomweb_fixture.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/image_store_calls.h"
#include "tests/testing/key_audit.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

using testing::ExternalCluster;
using testing::ReadWholeFile;

TEST_F(DicomWebTest, WadoRsInstanceIsTheStoredBytes) {
  for (const Stored& s : *stored_) {
    HttpAnswer a = Curl("client", InstancePath(s.put), {"-H", kMultipartDicom});
    ASSERT_EQ(a.status, 200) << s.file << ": " << a.body;
    std::vector<std::string> parts = Parts(a);
    ASSERT_EQ(parts.size(), 1u) << s.file;
    EXPECT_TRUE(parts[0] == s.bytes)
        << s.file << ": " << parts[0].size() << " bytes, stored " << s.bytes.size();
  }
}

TEST_F(DicomWebTest, WadoRsSeriesAndStudyHoldEveryInstance) {
  // Three instances of one study, two of them in one series, made from CT_small.
  auto stub = v1::ImageStore::NewStub(
      MakeChannel(cluster_->frontend(), cluster_->SecurityAs("client"), kFrontendPeer));
  testing::DicomInstanceFactory factory(
      ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/CT_small.dcm"));
  const std::string study = "1.2.826.0.1.3680043.10.1016.1";
  std::map<std::string, std::string> bytes_of;  // SOP Instance UID -> bytes
  for (const auto& [sop, series] : std::vector<std::pair<std::string, std::string>>{
           {"1.2.826.0.1.3680043.10.1016.1.1.1", "1.2.826.0.1.3680043.10.1016.1.1"},
           {"1.2.826.0.1.3680043.10.1016.1.1.2", "1.2.826.0.1.3680043.10.1016.1.1"},
           {"1.2.826.0.1.3680043.10.1016.1.2.1", "1.2.826.0.1.3680043.10.1016.1.2"}}) {
    absl::StatusOr<std::string> b = factory.WithUids(sop, study, series);
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_TRUE(testing::PutInstance(stub.get(), *b).ok());
    bytes_of[sop] = *b;
  }
  auto expect_parts = [&](const std::string& path, std::vector<std::string> sops) {
    HttpAnswer a = Curl("client", path, {"-H", kMultipartDicom});
    ASSERT_EQ(a.status, 200) << path << ": " << a.body;
    std::vector<std::string> parts = Parts(a);
    ASSERT_EQ(parts.size(), sops.size()) << path;
    std::multiset<std::string> got(parts.begin(), parts.end()), want;
    for (const std::string& sop : sops) want.insert(bytes_of[sop]);
    EXPECT_TRUE(got == want) << path;
  };
  expect_parts("/dicomweb/studies/" + study,
               {"1.2.826.0.1.3680043.10.1016.1.1.1", "1.2.826.0.1.3680043.10.1016.1.1.2",
                "1.2.826.0.1.3680043.10.1016.1.2.1"});
  expect_parts("/dicomweb/studies/" + study + "/series/1.2.826.0.1.3680043.10.1016.1.1",
               {"1.2.826.0.1.3680043.10.1016.1.1.1", "1.2.826.0.1.3680043.10.1016.1.1.2"});
  // An instance addressed under the wrong series is not found.
  EXPECT_EQ(Curl("client", "/dicomweb/studies/" + study +
                               "/series/1.2.826.0.1.3680043.10.1016.1.2/instances/"
                               "1.2.826.0.1.3680043.10.1016.1.1.1")
                .status,
            404);
}

TEST_F(DicomWebTest, WadoUriIsTheStoredBytes) {
  for (const Stored& s : *stored_) {
    HttpAnswer a =
        Curl("client", absl::StrCat("/dicomweb/wado?requestType=WADO&studyUID=", s.put.study_uid(),
                                    "&seriesUID=", s.put.series_uid(), "&objectUID=",
                                    s.put.sop_instance_uid(), "&contentType=application%2Fdicom"));
    ASSERT_EQ(a.status, 200) << s.file;
    EXPECT_EQ(a.content_type, "application/dicom");
    EXPECT_TRUE(a.body == s.bytes) << s.file;
  }
  EXPECT_EQ(Curl("client", "/dicomweb/wado?requestType=WADO&studyUID=1&seriesUID=2").status, 400);
}

TEST_F(DicomWebTest, QidoRsFindsStudiesFromTheIndex) {
  const Stored& ct = stored_->front();
  HttpAnswer a = Curl("client", "/dicomweb/studies?PatientID=" + ct.put.patient_id());
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.content_type, "application/dicom+json");
  EXPECT_TRUE(absl::StrContains(a.body, absl::StrCat("\"0020000D\":{\"vr\":\"UI\",\"Value\":[\"",
                                                     ct.put.study_uid(), "\"]}")))
      << a.body;
  HttpAnswer all = Curl("client", "/dicomweb/studies?limit=1000");
  HttpAnswer one = Curl("client", "/dicomweb/studies?limit=1&offset=1");
  ASSERT_EQ(all.status, 200);
  ASSERT_EQ(one.status, 200);
  // Each study is one object carrying the StudyInstanceUID tag once.
  auto count = [](const std::string& json) {
    size_t n = 0;
    for (size_t p = json.find("\"0020000D\""); p != std::string::npos;
         p = json.find("\"0020000D\"", p + 1)) {
      ++n;
    }
    return n;
  };
  EXPECT_GE(count(all.body), 3u);
  EXPECT_EQ(count(one.body), 1u);
  // offset=1 is the second study of the full list.
  auto uids = [](const std::string& json) {
    std::vector<std::string> out;
    const std::string key = "\"0020000D\":{\"vr\":\"UI\",\"Value\":[\"";
    for (size_t p = json.find(key); p != std::string::npos; p = json.find(key, p + 1)) {
      const size_t start = p + key.size();
      out.push_back(json.substr(start, json.find('"', start) - start));
    }
    return out;
  };
  ASSERT_GE(uids(all.body).size(), 2u);
  EXPECT_EQ(uids(one.body), std::vector<std::string>{uids(all.body)[1]});
}

// QIDO-RS below the study level (issue 16): each level's resource answers DICOM JSON from the
// index; bad parameters get 400, other methods 405.
TEST_F(DicomWebTest, QidoRsSeriesAndInstancesFromTheIndex) {
  const Stored& mr = (*stored_)[1];
  const v1::PutInstanceResponse& p = mr.put;
  auto has = [](const HttpAnswer& a, const std::string& tag, const std::string& uid) {
    return absl::StrContains(
        a.body, absl::StrCat("\"", tag, "\":{\"vr\":\"UI\",\"Value\":[\"", uid, "\"]}"));
  };
  HttpAnswer series = Curl("client", "/dicomweb/studies/" + p.study_uid() + "/series");
  ASSERT_EQ(series.status, 200) << series.body;
  EXPECT_EQ(series.content_type, "application/dicom+json");
  EXPECT_TRUE(has(series, "0020000E", p.series_uid())) << series.body;
  EXPECT_TRUE(absl::StrContains(series.body, "\"00080060\":{\"vr\":\"CS\",\"Value\":[\"MR\"]}"));
  HttpAnswer instances = Curl(
      "client", "/dicomweb/studies/" + p.study_uid() + "/series/" + p.series_uid() + "/instances");
  ASSERT_EQ(instances.status, 200) << instances.body;
  EXPECT_TRUE(has(instances, "00080018", p.sop_instance_uid())) << instances.body;
  HttpAnswer by_uid = Curl("client", "/dicomweb/instances?SOPInstanceUID=" + p.sop_instance_uid());
  ASSERT_EQ(by_uid.status, 200);
  EXPECT_TRUE(has(by_uid, "0020000D", p.study_uid())) << by_uid.body;
  HttpAnswer of_study = Curl("client", "/dicomweb/studies/" + p.study_uid() + "/instances");
  ASSERT_EQ(of_study.status, 200);
  EXPECT_TRUE(has(of_study, "00080018", p.sop_instance_uid()));
  HttpAnswer by_modality =
      Curl("client", "/dicomweb/series?Modality=MR&PatientID=" + p.patient_id());
  ASSERT_EQ(by_modality.status, 200);
  EXPECT_TRUE(has(by_modality, "0020000E", p.series_uid())) << by_modality.body;
  EXPECT_FALSE(has(by_modality, "0020000E", stored_->front().put.series_uid()));
  EXPECT_EQ(Curl("client", "/dicomweb/series?Modality=US&PatientID=" + p.patient_id()).body, "[]");
  EXPECT_EQ(Curl("client", "/dicomweb/instances?limit=ten").status, 400);
  EXPECT_EQ(Curl("client", "/dicomweb/series?NoSuchKeyword=1").status, 400);
  EXPECT_EQ(Curl("client", "/dicomweb/series", {"-X", "DELETE"}).status, 405);
  EXPECT_EQ(Curl("client", "/dicomweb/series", {"-H", "Accept: application/dicom"}).status, 406);
}

// dicomweb-client (npm), the library browser viewers use, retrieves (instance, series, study) the
// stored bytes and finds the study, its series and instances with every attribute pydicom reads
// (tests/dicomweb/client.mjs).
TEST_F(DicomWebTest, DicomwebClientRetrievesAndSearches) {
  for (const Stored& s : *stored_) {
    testing::CommandResult r = testing::RunCommand(
        {"/usr/bin/node", std::string(MEDVAULT_DICOMWEB_NODE_DIR) + "/client.mjs", base_,
         cluster_->tls_dir(), "client", s.put.study_uid(), s.put.series_uid(),
         s.put.sop_instance_uid(), std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/" + s.file,
         s.put.patient_id()});
    EXPECT_EQ(r.exit_code, 0) << s.file << ": " << r.out << r.err;
    EXPECT_EQ(r.out, "ok\n") << s.file;
  }
}

// The ImageStore.RetrieveStudy stream as (SOP Instance UID, bytes) in the order received, and
// the call's status.
struct Retrieved {
  std::vector<std::pair<std::string, std::string>> instances;
  grpc::Status status;
};
Retrieved RetrieveStudy(v1::ImageStore::Stub* stub, const std::string& study,
                        const std::string& series = "") {
  Retrieved r;
  grpc::ClientContext ctx;
  v1::RetrieveStudyRequest req;
  req.set_study_uid(study);
  req.set_series_uid(series);
  auto reader = stub->RetrieveStudy(&ctx, req);
  v1::RetrieveStudyResponse msg;
  while (reader->Read(&msg)) {
    if (msg.has_info()) r.instances.emplace_back(msg.info().tags().sop_instance_uid(), "");
    if (r.instances.empty()) {
      ADD_FAILURE() << "data before any instance info";
      continue;
    }
    EXPECT_EQ(msg.offset(), r.instances.back().second.size());
    r.instances.back().second += msg.data();
  }
  r.status = reader->Finish();
  return r;
}

// The object id of a stored instance (tests/testing/key_audit.h).
std::string ObjectIdOf(ExternalCluster* cluster, const std::string& sop) {
  absl::StatusOr<std::string> id = testing::ObjectIdOf(*cluster, sop);
  EXPECT_TRUE(id.ok()) << sop << ": " << id.status();
  return id.value_or("");
}

// Issues 16 and 20: a study is one retrieval. Through the gRPC stream and through WADO-RS, every
// instance comes back byte-exact, and the key service records ONE release for the set (naming
// every object, the caller and the purpose, never a UID) instead of one per instance.
TEST_F(DicomWebTest, RetrieveStudyIsByteExactUnderOneKeyRelease) {
  auto stub = v1::ImageStore::NewStub(
      MakeChannel(cluster_->frontend(), cluster_->SecurityAs("client"), kFrontendPeer));
  testing::DicomInstanceFactory factory(
      ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/CT_small.dcm"));
  const std::string study = "1.2.826.0.1.3680043.10.1016.2";
  std::map<std::string, std::string> bytes_of;
  for (int i = 1; i <= 5; ++i) {
    const std::string series = absl::StrCat(study, ".", i <= 3 ? 1 : 2);
    const std::string sop = absl::StrCat(series, ".", i);
    absl::StatusOr<std::string> b = factory.WithUids(sop, study, series);
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_TRUE(testing::PutInstance(stub.get(), *b).ok());
    bytes_of[sop] = *b;
  }
  Retrieved got = RetrieveStudy(stub.get(), study);
  ASSERT_TRUE(got.status.ok()) << got.status.error_message();
  ASSERT_EQ(got.instances.size(), bytes_of.size());
  for (const auto& [sop, bytes] : got.instances) {
    EXPECT_TRUE(bytes == bytes_of[sop]) << sop << ": " << bytes.size() << " bytes";
  }
  Retrieved one_series = RetrieveStudy(stub.get(), study, study + ".2");
  ASSERT_TRUE(one_series.status.ok()) << one_series.status.error_message();
  EXPECT_EQ(one_series.instances.size(), 2u);

  HttpAnswer a = Curl("client", "/dicomweb/studies/" + study, {"-H", kMultipartDicom});
  ASSERT_EQ(a.status, 200) << a.body;
  std::vector<std::string> parts = Parts(a);
  ASSERT_EQ(parts.size(), got.instances.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    EXPECT_TRUE(parts[i] == got.instances[i].second) << "part " << i;
  }

  // The audit: each object is named by one release record per retrieval that read it (the
  // study by gRPC, the series by gRPC for the two in it, the study by WADO-RS), each the set's
  // one record naming all its objects: none per instance.
  auto keys = v1::KeyService::NewStub(cluster_->Channel(cluster_->keyservice(), kKeyServicePeer));
  for (const auto& [sop, bytes] : bytes_of) {
    grpc::ClientContext actx;
    v1::QueryAuditRequest q;
    q.set_object_id(ObjectIdOf(cluster_, sop));
    v1::QueryAuditResponse page;
    ASSERT_TRUE(keys->QueryAudit(&actx, q, &page).ok());
    std::vector<int> release_sizes;
    for (const v1::AuditRecord& r : page.records()) {
      if (r.op() != "release") continue;
      EXPECT_EQ(r.result(), "OK");
      EXPECT_EQ(r.purpose(), "RetrieveStudy");
      EXPECT_EQ(r.on_behalf_of(), "client/client");
      EXPECT_EQ(r.caller(), "frontend/frontend");
      std::string all;
      EXPECT_TRUE(r.SerializeToString(&all));
      EXPECT_FALSE(absl::StrContains(all, study)) << "a UID in an audit record";
      release_sizes.push_back(r.object_ids_size());
    }
    // The study (5 objects) by gRPC and by WADO-RS; the series (2) for the instances in it.
    std::vector<int> want = {5, 5};
    if (sop.find(study + ".2.") == 0) want = {5, 2, 5};
    EXPECT_EQ(release_sizes, want) << sop;
  }
}

TEST_F(DicomWebTest, RetrieveStudyNeedsTheReadScope) {
  auto writer = v1::ImageStore::NewStub(
      MakeChannel(cluster_->frontend(), cluster_->SecurityAs("client-writer"), kFrontendPeer));
  Retrieved got = RetrieveStudy(writer.get(), stored_->front().put.study_uid());
  EXPECT_EQ(got.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(got.instances.empty());
  auto reader = v1::ImageStore::NewStub(
      MakeChannel(cluster_->frontend(), cluster_->SecurityAs("client-readonly"), kFrontendPeer));
  got = RetrieveStudy(reader.get(), stored_->front().put.study_uid());
  EXPECT_TRUE(got.status.ok()) << got.status.error_message();
  EXPECT_EQ(got.instances.size(), 1u);
}

// A study one of whose keys was destroyed (the index still lists it): the instances before it
// arrive, then the stream ends with NOT_FOUND naming its position, never its UID
// (docs/dicomweb.md, image_store.proto).
TEST_F(DicomWebTest, RetrieveStudyWithADestroyedKeyEndsWithNotFound) {
  auto stub = v1::ImageStore::NewStub(
      MakeChannel(cluster_->frontend(), cluster_->SecurityAs("client"), kFrontendPeer));
  testing::DicomInstanceFactory factory(
      ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/CT_small.dcm"));
  const std::string study = "1.2.826.0.1.3680043.10.1016.3";
  const std::string series = study + ".1";
  std::vector<std::string> sops;
  for (int i = 1; i <= 3; ++i) {
    sops.push_back(absl::StrCat(series, ".", i));
    absl::StatusOr<std::string> b = factory.WithUids(sops.back(), study, series);
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_TRUE(testing::PutInstance(stub.get(), *b).ok());
  }
  Retrieved before = RetrieveStudy(stub.get(), study);
  ASSERT_TRUE(before.status.ok()) << before.status.error_message();
  ASSERT_EQ(before.instances.size(), 3u);
  const std::string victim = before.instances[1].first;  // the second in the index's order
  auto keys = v1::KeyService::NewStub(cluster_->Channel(cluster_->keyservice(), kKeyServicePeer));
  {
    grpc::ClientContext dctx;
    v1::DestroyDataKeysRequest d;
    d.add_object_ids(ObjectIdOf(cluster_, victim));
    v1::DestroyDataKeysResponse dr;
    ASSERT_TRUE(keys->DestroyDataKeys(&dctx, d, &dr).ok());
    ASSERT_EQ(dr.destroyed(), 1u);
  }
  Retrieved after = RetrieveStudy(stub.get(), study);
  EXPECT_EQ(after.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(absl::StrContains(after.status.error_message(),
                                "instance 2 of 3 of the set cannot be read: its data key was "
                                "destroyed"))
      << after.status.error_message();
  EXPECT_FALSE(absl::StrContains(after.status.error_message(), victim));
  ASSERT_EQ(after.instances.size(), 1u);
  EXPECT_TRUE(after.instances[0] == before.instances[0]);
}

// The CLI's `get --study` (issue 16) reads a study as one set retrieval: every file it writes is
// the stored bytes, and the key service recorded ONE release naming every object of the study,
// for the CLI's certificate (none per instance).
TEST_F(DicomWebTest, CliGetStudyIsOneKeyRelease) {
  auto stub = v1::ImageStore::NewStub(
      MakeChannel(cluster_->frontend(), cluster_->SecurityAs("client"), kFrontendPeer));
  testing::DicomInstanceFactory factory(
      ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/CT_small.dcm"));
  const std::string study = "1.2.826.0.1.3680043.10.1016.7";
  std::map<std::string, std::string> bytes_of;  // path under the output folder -> bytes
  std::vector<std::string> sops;
  for (int i = 1; i <= 4; ++i) {
    const std::string series = absl::StrCat(study, ".", i <= 2 ? 1 : 2);
    sops.push_back(absl::StrCat(series, ".", i));
    absl::StatusOr<std::string> b = factory.WithUids(sops.back(), study, series);
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_TRUE(testing::PutInstance(stub.get(), *b).ok());
    bytes_of[absl::StrCat(series, "/", sops.back(), ".dcm")] = *b;
  }
  const std::string out = cluster_->root() + "/cli-get-study";
  std::vector<std::string> argv = cluster_->Cli();
  argv.insert(argv.end(), {"get", "--study", study, "-o", out});
  testing::CommandResult r = testing::RunCommand(argv);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const auto& [path, bytes] : bytes_of) {
    EXPECT_TRUE(ReadWholeFile(out + "/" + path) == bytes) << path;
  }
  for (const std::string& sop : sops) {
    absl::StatusOr<std::vector<v1::AuditRecord>> releases = testing::KeyReleasesOf(*cluster_, sop);
    ASSERT_TRUE(releases.ok()) << releases.status();
    ASSERT_EQ(releases->size(), 1u) << sop;
    EXPECT_EQ((*releases)[0].object_ids_size(), 4);
    EXPECT_EQ((*releases)[0].purpose(), "RetrieveStudy");
    EXPECT_EQ((*releases)[0].on_behalf_of(), "client/client");
  }
}

}  // namespace
}  // namespace medvault

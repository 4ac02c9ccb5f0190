// The verbs against a small fake ImageStore served in-process on 127.0.0.1:0. The fake exists only
// for these tests: it "parses" files of the form "DICM-FAKE study=S series=E sop=I\n<payload>".
#include "cli/commands.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <sstream>

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"
#include "common/rpc.h"
#include "common/testing/fault_fs.h"
#include "common/testing/fifo_reader.h"
#include "common/testing/file_scan.h"
#include "common/testing/temp_dir.h"

namespace medvault::cli {
namespace {

using grpc::ServerContext;
using grpc::Status;
using grpc::StatusCode;

class FakeImageStore final : public v1::ImageStore::Service {
 public:
  struct Instance {
    std::string study, series, bytes;
  };

  // Knobs for failure tests.
  std::atomic<bool> corrupt_sha{false};    // GetInstance reports a wrong SHA-256
  std::atomic<uint32_t> max_page_size{2};  // FindStudies returns at most this many per page

  size_t largest_piece() {
    std::lock_guard<std::mutex> lock(mu_);
    return largest_piece_;
  }
  int find_calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return find_calls_;
  }

  Status PutInstance(ServerContext*, grpc::ServerReader<v1::PutInstanceRequest>* reader,
                     v1::PutInstanceResponse* response) override {
    std::string data;
    v1::PutInstanceRequest piece;
    while (reader->Read(&piece)) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        largest_piece_ = std::max(largest_piece_, piece.data().size());
      }
      data += piece.data();
    }
    if (!absl::StartsWith(data, "DICM-FAKE ")) {
      return Status(StatusCode::INVALID_ARGUMENT, "not a DICOM file");
    }
    std::map<std::string, std::string> tags;
    for (absl::string_view kv : absl::StrSplit(data.substr(10, data.find('\n') - 10), ' ')) {
      std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
      tags[p.first] = p.second;
    }
    if (tags["sop"].empty() || tags["study"].empty() || tags["series"].empty()) {
      return Status(StatusCode::INVALID_ARGUMENT, "missing UIDs");
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto it = instances_.find(tags["sop"]);
    if (it != instances_.end() && it->second.bytes != data) {
      return Status(StatusCode::ALREADY_EXISTS, "different bytes under the same UID");
    }
    response->set_already_stored(it != instances_.end());
    instances_[tags["sop"]] = {tags["study"], tags["series"], data};
    response->set_study_uid(tags["study"]);
    response->set_series_uid(tags["series"]);
    response->set_sop_instance_uid(tags["sop"]);
    response->set_size(data.size());
    return Status::OK;
  }

  Status GetInstance(ServerContext*, const v1::GetInstanceRequest* request,
                     grpc::ServerWriter<v1::GetInstanceResponse>* writer) override {
    std::string bytes;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++get_instance_calls_;
      auto it = instances_.find(request->sop_instance_uid());
      if (it == instances_.end()) return Status(StatusCode::NOT_FOUND, "no such instance");
      bytes = it->second.bytes;
    }
    if (request->offset() > bytes.size()) return Status(StatusCode::OUT_OF_RANGE, "offset");
    std::string range = bytes.substr(
        request->offset(), request->length() == 0 ? std::string::npos : request->length());
    v1::GetInstanceResponse first;
    first.mutable_info()->set_size(bytes.size());
    first.mutable_info()->set_sha256(corrupt_sha ? Sha256("other") : Sha256(bytes));
    first.set_offset(request->offset());
    // Small pieces, so the client has to reassemble many.
    constexpr size_t kPiece = 7000;
    first.set_data(range.substr(0, kPiece));
    writer->Write(first);
    for (size_t at = kPiece; at < range.size(); at += kPiece) {
      v1::GetInstanceResponse next;
      next.set_offset(request->offset() + at);
      next.set_data(range.substr(at, kPiece));
      writer->Write(next);
    }
    return Status::OK;
  }

  // The study's instances in GetStudy's order, each as its info then its bytes in pieces (no
  // key is involved here: what matters is that the CLI asks once for the set).
  Status RetrieveStudy(ServerContext*, const v1::RetrieveStudyRequest* request,
                       grpc::ServerWriter<v1::RetrieveStudyResponse>* writer) override {
    std::map<std::pair<std::string, std::string>, std::string> set;  // (series, sop) -> bytes
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++retrieve_calls_;
      for (const auto& [sop, inst] : instances_) {
        if (inst.study == request->study_uid()) set[{inst.series, sop}] = inst.bytes;
      }
    }
    if (set.empty()) return Status(StatusCode::NOT_FOUND, "no such study");
    constexpr size_t kPiece = 7000;
    for (const auto& [key, bytes] : set) {
      v1::RetrieveStudyResponse first;
      first.mutable_info()->mutable_tags()->set_sop_instance_uid(key.second);
      first.mutable_info()->set_size(bytes.size());
      first.mutable_info()->set_sha256(corrupt_sha ? Sha256("other") : Sha256(bytes));
      writer->Write(first);
      for (size_t at = 0; at < bytes.size(); at += kPiece) {
        v1::RetrieveStudyResponse next;
        next.set_offset(at);
        next.set_data(bytes.substr(at, kPiece));
        writer->Write(next);
      }
    }
    return Status::OK;
  }
  int retrieve_calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return retrieve_calls_;
  }
  int get_instance_calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return get_instance_calls_;
  }

  Status FindStudies(ServerContext*, const v1::FindStudiesRequest* request,
                     v1::FindStudiesResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++find_calls_;
    std::map<std::string, v1::StudySummary> studies;  // by study uid
    for (const auto& [sop, inst] : instances_) {
      v1::StudySummary& s = studies[inst.study];
      s.set_study_uid(inst.study);
      s.set_patient_id("PAT-" + inst.study);
      s.set_study_date("20240101");
      s.set_instance_count(s.instance_count() + 1);
      s.set_total_bytes(s.total_bytes() + inst.bytes.size());
    }
    const v1::StudyQuery& q = request->query();
    size_t start = q.page_token().empty() ? 0 : std::stoul(q.page_token());
    size_t page = q.page_size() == 0 ? 100 : q.page_size();
    page = std::min<size_t>(page, max_page_size);
    size_t i = 0;
    for (const auto& [uid, s] : studies) {
      if (!q.patient_id().empty() && s.patient_id() != q.patient_id()) continue;
      if (i >= start && i < start + page) *response->mutable_page()->add_studies() = s;
      ++i;
    }
    if (start + page < i)
      response->mutable_page()->set_next_page_token(std::to_string(start + page));
    return Status::OK;
  }

  Status GetStudy(ServerContext*, const v1::GetStudyRequest* request,
                  v1::GetStudyResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::map<std::string, v1::SeriesInfo> series;
    for (const auto& [sop, inst] : instances_) {
      if (inst.study != request->study_uid()) continue;
      v1::SeriesInfo& s = series[inst.series];
      s.set_series_uid(inst.series);
      v1::InstanceInfo* info = s.add_instances();
      info->mutable_tags()->set_sop_instance_uid(sop);
      info->set_size(inst.bytes.size());
    }
    if (series.empty()) return Status(StatusCode::NOT_FOUND, "no such study");
    response->mutable_study()->set_study_uid(request->study_uid());
    for (auto& [uid, s] : series) *response->add_series() = s;
    return Status::OK;
  }

  Status DeleteStudy(ServerContext*, const v1::DeleteStudyRequest* request,
                     v1::DeleteStudyResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t n = 0;
    for (auto it = instances_.begin(); it != instances_.end();) {
      if (it->second.study == request->study_uid()) {
        it = instances_.erase(it);
        ++n;
      } else {
        ++it;
      }
    }
    if (n == 0) return Status(StatusCode::NOT_FOUND, "no such study");
    response->set_instances_deleted(n);
    return Status::OK;
  }

  Status DeleteInstance(ServerContext*, const v1::DeleteInstanceRequest* request,
                        v1::DeleteInstanceResponse*) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (instances_.erase(request->sop_instance_uid()) == 0) {
      return Status(StatusCode::NOT_FOUND, "no such instance");
    }
    return Status::OK;
  }

 private:
  std::mutex mu_;
  std::map<std::string, Instance> instances_;  // by SOP instance UID
  size_t largest_piece_ = 0;
  int find_calls_ = 0;
  int retrieve_calls_ = 0;
  int get_instance_calls_ = 0;
};

// A gRPC server on 127.0.0.1 with the fake ImageStore and the standard health service.
class FakeServer {
 public:
  explicit FakeServer(int port = 0) {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    int bound = 0;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", port), grpc::InsecureServerCredentials(),
                             &bound);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    address_ = absl::StrCat("127.0.0.1:", bound);
  }
  ~FakeServer() { server_->Shutdown(std::chrono::system_clock::now()); }

  FakeImageStore& service() { return service_; }
  const std::string& address() const { return address_; }
  grpc::Server* server() { return server_.get(); }

 private:
  FakeImageStore service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

using ::medvault::testing::ReadWholeFile;

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

std::string FakeDicom(const std::string& study, const std::string& series, const std::string& sop,
                      size_t payload_bytes) {
  std::string out = absl::StrCat("DICM-FAKE study=", study, " series=", series, " sop=", sop, "\n");
  for (size_t i = 0; i < payload_bytes; ++i) out.push_back(static_cast<char>((i * 131 + 7) % 256));
  return out;
}

class CommandsTest : public ::testing::Test {
 protected:
  CommandsTest() {
    stub_ = v1::ImageStore::NewStub(
        MakeChannel(server_.address(), TransportSecurity::InsecurePlaintext(), kFrontendPeer));
    ctx_.stub = stub_.get();
    ctx_.fs = DefaultFilesystem();
    ctx_.out = &out_;
    ctx_.err = &err_;
    ctx_.timeout = absl::Seconds(30);
  }

  // Stores `content` under a fresh file name through `put`; returns the exit code.
  int Put(const std::string& content) {
    std::string path = absl::StrCat(tmp_.path(), "/put", ++puts_, ".dcm");
    WriteFile(path, content);
    PutArgs args;
    args.paths = {path};
    return RunPut(ctx_, args);
  }

  FakeServer server_;
  testing::TempDir tmp_;
  std::unique_ptr<v1::ImageStore::Stub> stub_;
  std::ostringstream out_, err_;
  CommandContext ctx_;
  int puts_ = 0;
};

TEST_F(CommandsTest, PutThreeFilesOneRefused) {
  const std::string dir = tmp_.path() + "/cd";
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  WriteFile(dir + "/a.dcm", FakeDicom("S1", "E1", "I1", 1000));
  WriteFile(dir + "/b.txt", "just some notes");
  WriteFile(dir + "/c.dcm", FakeDicom("S1", "E1", "I2", (5 << 20) / 2));  // 2.5 MiB
  PutArgs args;
  args.paths = {dir};
  args.jobs = 2;
  EXPECT_EQ(RunPut(ctx_, args), kExitFailure);
  const std::string err = err_.str();
  EXPECT_NE(err.find(dir + "/b.txt: FAILED: INVALID_ARGUMENT: not a DICOM file"), std::string::npos)
      << err;
  EXPECT_NE(err.find(dir + "/a.dcm: stored 1.0 KB"), std::string::npos) << err;
  EXPECT_NE(err.find(dir + "/c.dcm: stored 2.5 MB"), std::string::npos) << err;
  EXPECT_NE(err.find("[3/3] "), std::string::npos) << err;
  EXPECT_NE(err.find("2 stored, 0 already stored, 1 failed\n"), std::string::npos) << err;
  EXPECT_EQ(server_.service().largest_piece(), kPutPieceBytes);

  // Sending the same file again is fine and reported as such.
  err_.str("");
  args.paths = {dir + "/a.dcm"};
  EXPECT_EQ(RunPut(ctx_, args), kExitOk);
  EXPECT_NE(err_.str().find("[1/1] " + dir + "/a.dcm: already stored"), std::string::npos)
      << err_.str();
  EXPECT_NE(err_.str().find("0 stored, 1 already stored, 0 failed"), std::string::npos);
}

TEST_F(CommandsTest, PutQuietPrintsOnlyFailuresAndSummary) {
  WriteFile(tmp_.path() + "/ok.dcm", FakeDicom("S1", "E1", "I1", 10));
  PutArgs args;
  args.paths = {tmp_.path() + "/ok.dcm", tmp_.path() + "/missing.dcm"};
  args.quiet = true;
  EXPECT_EQ(RunPut(ctx_, args), kExitFailure);
  EXPECT_EQ(err_.str().find("ok.dcm"), std::string::npos) << err_.str();
  EXPECT_NE(err_.str().find("missing.dcm: FAILED: NOT_FOUND: "), std::string::npos) << err_.str();
  EXPECT_NE(err_.str().find("1 stored, 0 already stored, 1 failed"), std::string::npos);
}

TEST_F(CommandsTest, PutConflictingBytesFails) {
  ASSERT_EQ(Put(FakeDicom("S1", "E1", "I1", 10)), kExitOk);
  err_.str("");
  EXPECT_EQ(Put(FakeDicom("S1", "E1", "I1", 11)), kExitFailure);
  EXPECT_NE(err_.str().find("FAILED: ALREADY_EXISTS: "), std::string::npos) << err_.str();
}

TEST_F(CommandsTest, GetWritesTheExactBytes) {
  const std::string content = FakeDicom("S1", "E1", "I1", 100000);
  ASSERT_EQ(Put(content), kExitOk);
  GetArgs args;
  args.instance_uid = "I1";
  args.output = tmp_.path() + "/out.dcm";
  ASSERT_EQ(RunGet(ctx_, args), kExitOk) << err_.str();
  EXPECT_EQ(ReadWholeFile(args.output), content);
  EXPECT_FALSE(Exists(args.output + ".partial"));

  // A byte range.
  args.offset = 10;
  args.length = 20000;
  args.output = tmp_.path() + "/range.bin";
  ASSERT_EQ(RunGet(ctx_, args), kExitOk) << err_.str();
  EXPECT_EQ(ReadWholeFile(args.output), content.substr(10, 20000));
}

TEST_F(CommandsTest, GetMissingUidLeavesNoFile) {
  GetArgs args;
  args.instance_uid = "nope";
  args.output = tmp_.path() + "/out.dcm";
  EXPECT_EQ(RunGet(ctx_, args), kExitFailure);
  EXPECT_EQ(err_.str(), "medvault: get: NOT_FOUND: no such instance\n");
  EXPECT_FALSE(Exists(args.output));
  EXPECT_FALSE(Exists(args.output + ".partial"));
}

TEST_F(CommandsTest, GetWithWrongChecksumLeavesNoFile) {
  ASSERT_EQ(Put(FakeDicom("S1", "E1", "I1", 50000)), kExitOk);
  server_.service().corrupt_sha = true;
  GetArgs args;
  args.instance_uid = "I1";
  args.output = tmp_.path() + "/out.dcm";
  EXPECT_EQ(RunGet(ctx_, args), kExitFailure);
  EXPECT_NE(err_.str().find("medvault: get: DATA_LOSS: "), std::string::npos) << err_.str();
  EXPECT_FALSE(Exists(args.output));
  EXPECT_FALSE(Exists(args.output + ".partial"));
}

TEST_F(CommandsTest, GetOnFullDiskLeavesNoFile) {
  ASSERT_EQ(Put(FakeDicom("S1", "E1", "I1", 50000)), kExitOk);
  testing::FaultInjectingFilesystem fault_fs(DefaultFilesystem());
  fault_fs.SetSpaceLeft(20000);
  ctx_.fs = &fault_fs;
  GetArgs args;
  args.instance_uid = "I1";
  args.output = tmp_.path() + "/out.dcm";
  EXPECT_EQ(RunGet(ctx_, args), kExitFailure);
  EXPECT_NE(err_.str().find("medvault: get: RESOURCE_EXHAUSTED: "), std::string::npos)
      << err_.str();
  EXPECT_FALSE(Exists(args.output));
  EXPECT_FALSE(Exists(args.output + ".partial"));
}

// The file type of `path` itself (a link is not followed); 0 when it does not exist.
mode_t TypeOf(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 ? (st.st_mode & S_IFMT) : 0;
}

// Issue 14, item 4: `get -o` writes into a FIFO or a device, follows a symbolic link to the file
// it names, and never replaces any of them; a device that cannot take the bytes fails the get.
TEST_F(CommandsTest, GetIntoAFifoADeviceOrALinkNeverReplacesIt) {
  const std::string content = FakeDicom("S1", "E1", "I1", 100000);
  ASSERT_EQ(Put(content), kExitOk);
  GetArgs args;
  args.instance_uid = "I1";

  args.output = tmp_.path() + "/fifo";
  ASSERT_EQ(::mkfifo(args.output.c_str(), 0600), 0);
  testing::FifoReader reader(args.output);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(RunGet(ctx_, args), kExitOk) << err_.str();
  const std::string& got = reader.Finish();
  EXPECT_TRUE(got == content) << got.size() << " bytes arrived";
  EXPECT_EQ(TypeOf(args.output), S_IFIFO);
  EXPECT_FALSE(Exists(args.output + ".partial"));

  const std::string target = tmp_.path() + "/target.dcm";
  WriteFile(target, "old");
  args.output = tmp_.path() + "/link";
  ASSERT_EQ(::symlink(target.c_str(), args.output.c_str()), 0);
  EXPECT_EQ(RunGet(ctx_, args), kExitOk) << err_.str();
  EXPECT_EQ(TypeOf(args.output), S_IFLNK);
  EXPECT_EQ(ReadWholeFile(target), content);
  EXPECT_FALSE(Exists(target + ".partial"));

  // Device nodes of our own with /dev/null's and /dev/full's numbers (never the system's).
  args.output = tmp_.path() + "/null";
  if (::mknod(args.output.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) {
    GTEST_SKIP() << "cannot make a device node here";
  }
  EXPECT_EQ(RunGet(ctx_, args), kExitOk) << err_.str();
  EXPECT_EQ(TypeOf(args.output), S_IFCHR);

  err_.str("");
  args.output = tmp_.path() + "/full";
  ASSERT_EQ(::mknod(args.output.c_str(), S_IFCHR | 0666, makedev(1, 7)), 0);
  EXPECT_EQ(RunGet(ctx_, args), kExitFailure);
  EXPECT_NE(err_.str().find("medvault: get: RESOURCE_EXHAUSTED: "), std::string::npos)
      << err_.str();
  EXPECT_EQ(TypeOf(args.output), S_IFCHR);

  err_.str("");
  args.output = tmp_.path();  // a folder is refused
  EXPECT_EQ(RunGet(ctx_, args), kExitFailure);
  EXPECT_NE(err_.str().find("FAILED_PRECONDITION"), std::string::npos) << err_.str();
}

TEST_F(CommandsTest, GetStudyWritesSeriesFolders) {
  const std::string a = FakeDicom("S1", "E1", "I1", 10);
  const std::string b = FakeDicom("S1", "E1", "I2", 20000);
  const std::string c = FakeDicom("S1", "E2", "I3", 30);
  const std::string other = FakeDicom("S2", "E3", "I4", 30);
  for (const std::string* content : {&a, &b, &c, &other}) ASSERT_EQ(Put(*content), kExitOk);
  GetArgs args;
  args.study_uid = "S1";
  args.output = tmp_.path() + "/export";
  ASSERT_EQ(RunGet(ctx_, args), kExitOk) << err_.str();
  EXPECT_EQ(ReadWholeFile(args.output + "/E1/I1.dcm"), a);
  EXPECT_EQ(ReadWholeFile(args.output + "/E1/I2.dcm"), b);
  EXPECT_EQ(ReadWholeFile(args.output + "/E2/I3.dcm"), c);
  EXPECT_FALSE(Exists(args.output + "/E3"));
  EXPECT_NE(err_.str().find("3 written, 0 failed"), std::string::npos) << err_.str();
  // One RetrieveStudy stream for the study (one key release), no instance fetched alone.
  EXPECT_EQ(server_.service().retrieve_calls(), 1);
  EXPECT_EQ(server_.service().get_instance_calls(), 0);

  err_.str("");
  args.study_uid = "S9";
  EXPECT_EQ(RunGet(ctx_, args), kExitFailure);
  EXPECT_EQ(err_.str(), "medvault: get: NOT_FOUND: no such study\n");
}

// Issue 14, item 9: a series whose instances are all refused (or all fail) gets no folder, and
// DIR is not left behind empty when nothing was written.
TEST_F(CommandsTest, GetStudyLeavesNoEmptyFolders) {
  const std::string good = FakeDicom("S1", "E1", "I1", 10);
  ASSERT_EQ(Put(good), kExitOk);
  ASSERT_EQ(Put(FakeDicom("S1", "E2", "..", 10)), kExitOk);  // refused as a file name
  ASSERT_EQ(Put(FakeDicom("S1", "..", "I3", 10)), kExitOk);  // refused as a folder name
  GetArgs args;
  args.study_uid = "S1";
  args.output = tmp_.path() + "/export";
  EXPECT_EQ(RunGet(ctx_, args), kExitFailure);
  EXPECT_NE(err_.str().find("1 written, 2 failed"), std::string::npos) << err_.str();
  EXPECT_EQ(ReadWholeFile(args.output + "/E1/I1.dcm"), good);
  EXPECT_FALSE(Exists(args.output + "/E2"));

  // Every fetch fails: neither series folders nor DIR stay.
  ASSERT_EQ(Put(FakeDicom("S2", "E4", "I4", 10)), kExitOk);
  server_.service().corrupt_sha = true;
  err_.str("");
  args.study_uid = "S2";
  args.output = tmp_.path() + "/export2";
  EXPECT_EQ(RunGet(ctx_, args), kExitFailure);
  EXPECT_NE(err_.str().find("0 written, 1 failed"), std::string::npos) << err_.str();
  EXPECT_FALSE(Exists(args.output)) << err_.str();
}

TEST_F(CommandsTest, FindPagesThroughEverything) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(Put(FakeDicom(absl::StrCat("S", i), "E", absl::StrCat("I", i), 10)), kExitOk);
  }
  FindArgs args;
  args.json = true;
  ASSERT_EQ(RunFind(ctx_, args), kExitOk) << err_.str();
  EXPECT_EQ(server_.service().find_calls(), 3);  // pages of 2, 2, 1
  for (int i = 0; i < 5; ++i) {
    EXPECT_NE(out_.str().find(absl::StrCat("\"study_uid\": \"S", i, "\"")), std::string::npos)
        << out_.str();
  }

  // With a limit, stops early.
  args.limit = 3;
  absl::StatusOr<std::vector<v1::StudySummary>> some =
      FindAllStudies(*stub_, args, absl::Seconds(10));
  ASSERT_TRUE(some.ok()) << some.status();
  EXPECT_EQ(some->size(), 3u);

  // The table, filtered by patient.
  out_.str("");
  args = FindArgs();
  args.patient_id = "PAT-S2";
  ASSERT_EQ(RunFind(ctx_, args), kExitOk);
  EXPECT_NE(out_.str().find("STUDY UID"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("PAT-S2"), std::string::npos) << out_.str();
  EXPECT_EQ(out_.str().find("PAT-S1"), std::string::npos) << out_.str();
}

TEST_F(CommandsTest, RmStudyAndInstance) {
  ASSERT_EQ(Put(FakeDicom("S1", "E1", "I1", 10)), kExitOk);
  ASSERT_EQ(Put(FakeDicom("S1", "E1", "I2", 10)), kExitOk);
  ASSERT_EQ(Put(FakeDicom("S2", "E2", "I3", 10)), kExitOk);
  err_.str("");
  RmArgs args;
  args.study_uid = "S1";
  EXPECT_EQ(RunRm(ctx_, args), kExitOk);
  EXPECT_EQ(out_.str(), "deleted study (2 instances)\n");
  EXPECT_EQ(RunRm(ctx_, args), kExitFailure);
  EXPECT_EQ(err_.str(), "medvault: rm: NOT_FOUND: no such study\n");
  args = RmArgs();
  args.instance_uid = "I3";
  EXPECT_EQ(RunRm(ctx_, args), kExitOk);
  GetArgs get;
  get.instance_uid = "I3";
  get.output = tmp_.path() + "/gone.dcm";
  EXPECT_EQ(RunGet(ctx_, get), kExitFailure);
}

TEST_F(CommandsTest, RunCommandFromArgv) {
  WriteFile(tmp_.path() + "/x.dcm", FakeDicom("S1", "E1", "I1", 10));
  absl::StatusOr<Command> cmd = ParseArgs(
      {"put", tmp_.path() + "/x.dcm", "--frontend", server_.address(), "--insecure_plaintext"},
      "unused:1");
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(RunCommand(*cmd, out_, err_), kExitOk) << err_.str();
  cmd = ParseArgs({"--frontend", server_.address(), "--insecure_plaintext", "find", "--json"},
                  "unused:1");
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(RunCommand(*cmd, out_, err_), kExitOk) << err_.str();
  EXPECT_NE(out_.str().find("\"study_uid\": \"S1\""), std::string::npos) << out_.str();
}

TEST_F(CommandsTest, MissingDefaultClientCertificateIsExplainedNotDowngraded) {
  // No --tls_* and no --insecure_plaintext: the default directory's certificate is required; the
  // client never falls back to plaintext (which this plaintext fake server would accept).
  absl::StatusOr<Command> cmd =
      ParseArgs({"--frontend", server_.address(), "find"}, "unused:1", tmp_.path() + "/no-tls");
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(RunCommand(*cmd, out_, err_), kExitFailure);
  EXPECT_NE(err_.str().find("TLS CA file"), std::string::npos) << err_.str();
  EXPECT_NE(err_.str().find(tmp_.path() + "/no-tls/ca.crt"), std::string::npos) << err_.str();
  EXPECT_NE(err_.str().find("MEDVAULT_TLS_DIR"), std::string::npos) << err_.str();
  EXPECT_EQ(out_.str(), "");
}

TEST_F(CommandsTest, UnreachableFrontendFailsWithUnavailable) {
  FindArgs args;
  std::unique_ptr<v1::ImageStore::Stub> dead;
  {
    FakeServer gone;
    dead = v1::ImageStore::NewStub(
        MakeChannel(gone.address(), TransportSecurity::InsecurePlaintext(), kFrontendPeer));
  }
  ctx_.stub = dead.get();
  EXPECT_EQ(RunFind(ctx_, args), kExitFailure);
  EXPECT_EQ(err_.str().rfind("medvault: find: UNAVAILABLE: ", 0), 0u) << err_.str();
}

// ---- health ----

TEST(HealthTest, ServingServer) {
  FakeServer server;
  std::ostringstream out, err;
  const TransportSecurity plaintext = TransportSecurity::InsecurePlaintext();
  CommandContext ctx;
  ctx.out = &out;
  ctx.err = &err;
  ctx.security = &plaintext;
  HealthArgs args;
  args.addresses = {server.address()};
  EXPECT_EQ(RunHealth(ctx, args), kExitOk);
  EXPECT_EQ(out.str(), server.address() + " SERVING\n");

  server.server()->GetHealthCheckService()->SetServingStatus(false);
  out.str("");
  EXPECT_EQ(RunHealth(ctx, args), kExitFailure);
  EXPECT_EQ(out.str(), server.address() + " NOT_SERVING\n");
}

TEST(HealthTest, DeadAddressFails) {
  std::string address;
  { address = FakeServer().address(); }
  std::ostringstream out, err;
  const TransportSecurity plaintext = TransportSecurity::InsecurePlaintext();
  CommandContext ctx;
  ctx.out = &out;
  ctx.err = &err;
  ctx.security = &plaintext;
  HealthArgs args;
  args.addresses = {address};
  EXPECT_EQ(RunHealth(ctx, args), kExitFailure);
  EXPECT_EQ(out.str().rfind(address + " UNAVAILABLE", 0), 0u) << out.str();

  // With a short wait it keeps trying, then gives up.
  out.str("");
  args.wait = absl::Milliseconds(300);
  absl::Time start = absl::Now();
  EXPECT_EQ(RunHealth(ctx, args), kExitFailure);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
  EXPECT_EQ(out.str().rfind(address + " ", 0), 0u) << out.str();
  EXPECT_EQ(out.str().find("SERVING"), std::string::npos) << out.str();
}

// A free loopback port (bound then released).
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(HealthTest, WaitsForAServerThatStartsLater) {
  const int port = FreePort();
  const std::string address = absl::StrCat("127.0.0.1:", port);
  auto state = std::async(std::launch::async, [&] {
    return CheckHealth(address, TransportSecurity::InsecurePlaintext(), "", absl::Seconds(30),
                       absl::Seconds(30));
  });
  FakeServer server(port);
  ASSERT_EQ(server.address(), address);
  absl::StatusOr<std::string> result = state.get();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "SERVING");
}

}  // namespace
}  // namespace medvault::cli

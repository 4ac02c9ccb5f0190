#include "frontend/web/stow.h"

#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "frontend/core/dicom_parser.h"
#include "frontend/testing/core_fakes.h"
#include "frontend/testing/http_recorder.h"
#include "gtest/gtest.h"

namespace medvault::frontend::web {
namespace {

// A store of committed instances: a writer commits on Finish only, with the put's rules that
// matter here (DICOM, the study, a re-send with other bytes).
struct FakeStore {
  std::map<std::string, std::string> committed;  // SOP Instance UID -> bytes
  int started = 0;
  int abandoned = 0;

  StartInstance Start() {
    return [this](const std::string& study) -> std::unique_ptr<InstanceWriter> {
      ++started;
      return std::make_unique<Writer>(this, study);
    };
  }

  class Writer : public InstanceWriter {
   public:
    Writer(FakeStore* store, std::string study) : store_(store), study_(std::move(study)) {}
    ~Writer() override {
      if (!finished_) ++store_->abandoned;
    }
    absl::Status Append(absl::string_view piece) override {
      bytes_.append(piece.data(), piece.size());
      return absl::OkStatus();
    }
    absl::StatusOr<v1::PutInstanceResponse> Finish() override {
      finished_ = true;
      absl::StatusOr<v1::InstanceTags> tags = ParseDicomHeader(bytes_);
      if (!tags.ok()) return tags.status();
      if (!study_.empty() && tags->study_uid() != study_) {
        return absl::FailedPreconditionError("other study");
      }
      auto it = store_->committed.find(tags->sop_instance_uid());
      if (it != store_->committed.end() && it->second != bytes_) {
        return absl::AlreadyExistsError("other bytes");
      }
      store_->committed[tags->sop_instance_uid()] = bytes_;
      v1::PutInstanceResponse r;
      r.set_study_uid(tags->study_uid());
      r.set_series_uid(tags->series_uid());
      r.set_sop_instance_uid(tags->sop_instance_uid());
      return r;
    }

   private:
    FakeStore* store_;
    const std::string study_;
    std::string bytes_;
    bool finished_ = false;
  };
};

using Answer = RecordingResponder;

// Hands the body on in pieces, then ends with `end` (OK: the body's end).
class PieceReader : public HttpBodyReader {
 public:
  PieceReader(std::string body, size_t piece, absl::Status end)
      : body_(std::move(body)), piece_(piece), end_(std::move(end)) {}
  absl::StatusOr<absl::string_view> Read() override {
    if (at_ >= body_.size()) {
      if (!end_.ok()) return end_;
      return absl::string_view();
    }
    absl::string_view out = absl::string_view(body_).substr(at_, piece_);
    at_ += out.size();
    return out;
  }

 private:
  const std::string body_;
  const size_t piece_;
  const absl::Status end_;
  size_t at_ = 0;
};

std::string Body(const std::vector<std::string>& parts, const std::string& boundary = "bnd",
                 const std::string& type = "application/dicom") {
  std::string body;
  for (const std::string& p : parts) {
    absl::StrAppend(&body, "--", boundary, "\r\nContent-Type: ", type, "\r\n\r\n", p, "\r\n");
  }
  return absl::StrCat(body, "--", boundary, "--\r\n");
}

HttpRequest Post(std::string body, std::string content_type =
                                       "multipart/related; type=\"application/dicom\"; "
                                       "boundary=\"bnd\"") {
  HttpRequest r;
  r.method = "POST";
  r.path = "/dicomweb/studies";
  r.headers["content-type"] = std::move(content_type);
  r.body = std::move(body);
  return r;
}

constexpr uint64_t kNoLimit = uint64_t{1} << 40;
const char kBase[] = "https://h/dicomweb";

class StowTest : public ::testing::Test {
 protected:
  Answer Serve(const HttpRequest& request, const std::string& study = "",
               uint64_t max_instance = kNoLimit) {
    Answer a;
    EXPECT_TRUE(ServeStow(request, a, store_.Start(), study, max_instance, kBase).ok());
    return a;
  }
  const std::string ct_ = ReadTestFile("CT_small.dcm");
  const std::string mr_ = ReadTestFile("MR_small.dcm");
  FakeStore store_;
};

TEST_F(StowTest, StoresEveryPartByteExactAndListsThem) {
  Answer a = Serve(Post(Body({ct_, mr_})));
  EXPECT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.Header("Content-Type"), "application/dicom+json");
  absl::StatusOr<v1::InstanceTags> ct = ParseDicomHeader(ct_);
  absl::StatusOr<v1::InstanceTags> mr = ParseDicomHeader(mr_);
  ASSERT_TRUE(ct.ok() && mr.ok());
  EXPECT_EQ(store_.committed[ct->sop_instance_uid()], ct_);
  EXPECT_EQ(store_.committed[mr->sop_instance_uid()], mr_);
  EXPECT_TRUE(absl::StartsWith(a.body, "{\"00081199\":{\"vr\":\"SQ\",\"Value\":[{\"00081150\":"))
      << a.body;
  EXPECT_TRUE(absl::StrContains(
      a.body, absl::StrCat("{\"00081150\":{\"vr\":\"UI\",\"Value\":[\"", ct->sop_class_uid(),
                           "\"]},\"00081155\":{\"vr\":\"UI\",\"Value\":[\"", ct->sop_instance_uid(),
                           "\"]},\"00081190\":{\"vr\":\"UR\",\"Value\":[\"", kBase, "/studies/",
                           ct->study_uid(), "/series/", ct->series_uid(), "/instances/",
                           ct->sop_instance_uid(), "\"]}}")))
      << a.body;
  EXPECT_FALSE(absl::StrContains(a.body, "00081198"));
}

TEST_F(StowTest, StreamedInAnyPiecesLikeWhole) {
  for (size_t piece : {1, 100, 4096, 65536}) {
    FakeStore store;
    HttpRequest r = Post("");
    PieceReader reader(Body({ct_, mr_}), piece, absl::OkStatus());
    r.body_reader = &reader;
    Answer a;
    ASSERT_TRUE(ServeStow(r, a, store.Start(), "", kNoLimit, kBase).ok());
    EXPECT_EQ(a.status, 200) << piece;
    EXPECT_EQ(store.committed.size(), 2u) << piece;
  }
}

TEST_F(StowTest, ContentTypeQuotedOrNotAndWrongOnes) {
  for (const char* type : {"multipart/related; type=application/dicom; boundary=bnd",
                           "Multipart/Related; boundary=bnd; type=\"Application/DICOM\"",
                           "multipart/related; boundary=bnd"}) {
    FakeStore store;
    Answer a;
    ASSERT_TRUE(ServeStow(Post(Body({ct_}), type), a, store.Start(), "", kNoLimit, kBase).ok());
    EXPECT_EQ(a.status, 200) << type;
  }
  for (const char* type :
       {"", "application/dicom", "multipart/related; type=\"application/dicom+json\"; boundary=bnd",
        "multipart/mixed; boundary=bnd", "multipart/related; type=\"unterminated"}) {
    EXPECT_EQ(Serve(Post(Body({ct_}), type)).status, 415) << type;
  }
  EXPECT_EQ(Serve(Post(Body({ct_}), "multipart/related; type=\"application/dicom\"")).status, 400);
  EXPECT_EQ(store_.started, 0);
}

// Each failure is one FailedSOPSequence item with the C-STORE door's code.
TEST_F(StowTest, FailedPartsCarryTheirReasonAndTheOthersStore) {
  absl::StatusOr<v1::InstanceTags> ct = ParseDicomHeader(ct_);
  ASSERT_TRUE(ct.ok());
  std::string other_ct = ct_;
  other_ct[other_ct.size() - 1] ^= 1;  // the same UIDs, other pixel bytes
  const std::string text_part = "--bnd\r\nContent-Type: text/plain\r\n\r\nhello\r\n";
  Answer a = Serve(Post(absl::StrCat(text_part, Body({ct_, "not DICOM", other_ct}))));
  EXPECT_EQ(a.status, 202) << a.body;
  EXPECT_EQ(store_.committed.size(), 1u);
  // text/plain and not DICOM: C000 (49152); other bytes under a stored UID: 0111 (273).
  EXPECT_TRUE(absl::StrContains(a.body, "\"00081197\":{\"vr\":\"US\",\"Value\":[49152]}"));
  EXPECT_TRUE(absl::StrContains(
      a.body, absl::StrCat("\"00081155\":{\"vr\":\"UI\",\"Value\":[\"", ct->sop_instance_uid(),
                           "\"]},\"00081197\":{\"vr\":\"US\",\"Value\":[273]}")))
      << a.body;
  // The same bytes again succeed.
  EXPECT_EQ(Serve(Post(Body({ct_}))).status, 200);
}

TEST_F(StowTest, AnInstanceOfAnotherStudyThanTheUrlsFailsWithA900) {
  Answer a = Serve(Post(Body({ct_})), "1.2.3.4");
  EXPECT_EQ(a.status, 409) << a.body;
  EXPECT_TRUE(store_.committed.empty());
  EXPECT_TRUE(absl::StrContains(a.body, "\"00081197\":{\"vr\":\"US\",\"Value\":[43264]}"));
  absl::StatusOr<v1::InstanceTags> ct = ParseDicomHeader(ct_);
  ASSERT_TRUE(ct.ok());
  Answer ok = Serve(Post(Body({ct_})), ct->study_uid());
  EXPECT_EQ(ok.status, 200);
  EXPECT_TRUE(absl::StartsWith(ok.body, absl::StrCat("{\"00081190\":{\"vr\":\"UR\",\"Value\":[\"",
                                                     kBase, "/studies/", ct->study_uid(), "\"]}")));
}

TEST_F(StowTest, APartOverTheInstanceLimitFailsWithA700) {
  Answer a = Serve(Post(Body({ct_, mr_})), "", mr_.size());
  EXPECT_EQ(a.status, 202) << a.body;
  EXPECT_EQ(store_.committed.size(), 1u);
  EXPECT_TRUE(absl::StrContains(a.body, "\"00081197\":{\"vr\":\"US\",\"Value\":[42752]}"));
}

// A body cut short inside a part: the parts before it stay, the cut one is never finished.
TEST_F(StowTest, ACutBodyLeavesNothingOfItsLastPart) {
  const std::string body = Body({ct_, mr_});
  const size_t second = body.find("\r\n--bnd\r\n") + 2;
  for (size_t cut : {second + 100, body.size() - 12, body.size() - 10}) {
    for (const absl::Status& end :
         {absl::OkStatus(), absl::DataLossError("cut"), absl::ResourceExhaustedError("limit")}) {
      FakeStore store;
      HttpRequest r = Post("");
      PieceReader reader(body.substr(0, cut), 4096, end);
      r.body_reader = &reader;
      Answer a;
      ASSERT_TRUE(ServeStow(r, a, store.Start(), "", kNoLimit, kBase).ok());
      EXPECT_EQ(a.status, end.code() == absl::StatusCode::kResourceExhausted ? 413 : 400) << cut;
      absl::StatusOr<v1::InstanceTags> ct = ParseDicomHeader(ct_);
      ASSERT_TRUE(ct.ok());
      EXPECT_EQ(store.committed.size(), 1u) << cut;
      EXPECT_EQ(store.committed[ct->sop_instance_uid()], ct_);
      EXPECT_EQ(store.abandoned, 1) << cut;
      EXPECT_TRUE(absl::StrContains(a.body, ct->sop_instance_uid())) << a.body;
    }
  }
}

// The fuzz of tests/dimse_fuzz_test.cc's kind for STOW's input: valid bodies of two real files,
// mutated at random (a fixed seed and count). No crash, and what is committed is exactly a part
// of the body that arrived whole between two delimiters, never a piece of a broken part.
TEST_F(StowTest, FuzzedBodiesCommitOnlyWholeParts) {
  std::mt19937 rng(161205);
  const std::string valid = Body({ct_, mr_});
  for (int i = 0; i < 300; ++i) {
    std::string body = valid;
    for (int e = 0, edits = 1 + static_cast<int>(rng() % 3); e < edits; ++e) {
      const size_t at = rng() % body.size();
      switch (rng() % 4) {
        case 0:
          body[at] = static_cast<char>(rng());
          break;
        case 1:
          body.erase(at, 1 + rng() % 64);
          break;
        case 2:
          body.insert(at, body.substr(rng() % body.size(), rng() % 256));
          break;
        default:
          body.resize(at);
      }
    }
    FakeStore store;
    HttpRequest r = Post("");
    PieceReader reader(body, 1 + rng() % 70000, absl::OkStatus());
    r.body_reader = &reader;
    Answer a;
    ASSERT_TRUE(ServeStow(r, a, store.Start(), "", kNoLimit, kBase).ok());
    ASSERT_TRUE(a.status == 200 || a.status == 202 || a.status == 409 || a.status == 400) << i;
    for (const auto& [uid, bytes] : store.committed) {
      ASSERT_NE(body.find(absl::StrCat("\r\n\r\n", bytes, "\r\n--bnd")), std::string::npos) << i;
    }
  }
}

TEST(ReadPartUidsTest, FromTheMetaHeaderOrNothing) {
  std::string cls, inst;
  const std::string ct = ReadTestFile("CT_small.dcm");
  ReadPartUids(absl::string_view(ct).substr(0, 1000), &cls, &inst);
  absl::StatusOr<v1::InstanceTags> tags = ParseDicomHeader(ct);
  ASSERT_TRUE(tags.ok());
  EXPECT_EQ(cls, tags->sop_class_uid());
  EXPECT_EQ(inst, tags->sop_instance_uid());
  ReadPartUids("not DICOM at all", &cls, &inst);
  EXPECT_EQ(cls, "");
  EXPECT_EQ(inst, "");
}

}  // namespace
}  // namespace medvault::frontend::web

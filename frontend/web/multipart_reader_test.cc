#include "frontend/web/multipart_reader.h"

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace medvault::frontend::web {
namespace {

// Records every call as text, and each part's bytes.
class Recorder : public MultipartHandler {
 public:
  absl::Status OnPartBegin(const PartHeaders& headers) override {
    std::string h;
    for (const auto& [k, v] : headers) absl::StrAppend(&h, k, "=", v, ";");
    events.push_back("begin " + h);
    bytes.emplace_back();
    return absl::OkStatus();
  }
  absl::Status OnPartData(absl::string_view data) override {
    EXPECT_FALSE(data.empty());
    bytes.back().append(data.data(), data.size());
    ++pieces;
    return absl::OkStatus();
  }
  absl::Status OnPartEnd() override {
    events.push_back("end " + bytes.back());
    ++ended;
    return absl::OkStatus();
  }
  std::vector<std::string> events;
  std::vector<std::string> bytes;
  int ended = 0;
  int pieces = 0;
};

// Feeds `body` in pieces of `piece` bytes (0: at once), then finishes.
absl::Status Read(const std::string& boundary, const std::string& body, Recorder* r,
                  size_t piece = 0) {
  MultipartReader reader(boundary, r);
  if (piece == 0) piece = body.size() + 1;
  for (size_t at = 0; at < body.size(); at += piece) {
    if (absl::Status s = reader.Feed(absl::string_view(body).substr(at, piece)); !s.ok()) {
      return s;
    }
  }
  return reader.Finish();
}

const char kBody[] =
    "preamble to ignore\r\n"
    "--b0undary\r\n"
    "Content-Type: application/dicom\r\n"
    "\r\n"
    "first\r\n--b0undar not yet\r\n"
    "--b0undary   \r\n"
    "content-type: application/dicom;\r\n transfer-syntax=1.2\r\n"
    "X-Other: a\r\n"
    "x-other: b\r\n"
    "\r\n"
    "\r\n"
    "--b0undary\r\n"
    "\r\n"
    "third\r\n"
    "--b0undary--\r\n"
    "epilogue --b0undary\r\n";

TEST(MultipartReaderTest, PartsHeadersAndBytesInAnyPieces) {
  for (size_t piece : {0, 1, 2, 3, 7, 13, 64}) {
    Recorder r;
    ASSERT_TRUE(Read("b0undary", kBody, &r, piece).ok()) << piece;
    EXPECT_EQ(r.events,
              (std::vector<std::string>{
                  "begin content-type=application/dicom;", "end first\r\n--b0undar not yet",
                  "begin content-type=application/dicom; transfer-syntax=1.2;x-other=a, b;", "end ",
                  "begin ", "end third"}))
        << piece;
  }
}

// dicomweb-client's body: a CRLF before the first delimiter, none after the close.
TEST(MultipartReaderTest, LeadingCrlfAndNoTrailingCrlf) {
  Recorder r;
  ASSERT_TRUE(
      Read("x", "\r\n--x\r\nContent-Type: application/dicom\r\n\r\nDICM\r\n--x--", &r).ok());
  EXPECT_EQ(r.bytes, std::vector<std::string>{"DICM"});
}

TEST(MultipartReaderTest, APartIsHandedOnInPiecesNotHeld) {
  const std::string big(1 << 20, 'a');
  Recorder r;
  MultipartReader reader("b", &r);
  ASSERT_TRUE(reader.Feed("--b\r\n\r\n").ok());
  for (size_t at = 0; at < big.size(); at += 4096) {
    ASSERT_TRUE(reader.Feed(absl::string_view(big).substr(at, 4096)).ok());
    // Everything but the few bytes that could begin a delimiter has been handed on.
    EXPECT_GE(r.bytes.back().size() + 4, at + 4096);
  }
  ASSERT_TRUE(reader.Feed("\r\n--b--").ok());
  ASSERT_TRUE(reader.Finish().ok());
  EXPECT_EQ(r.bytes.back(), big);
}

TEST(MultipartReaderTest, TruncatedBodiesNeverEndTheirLastPart) {
  const std::string body = kBody;
  const size_t close = body.find("--b0undary--");
  for (size_t cut = 0; cut < close + 12; ++cut) {
    Recorder r;
    absl::Status s = Read("b0undary", body.substr(0, cut), &r);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << cut;
    // Only parts whose following delimiter arrived whole are ended.
    EXPECT_LE(r.ended, 3) << cut;
    if (cut < body.find("\r\n--b0undary   ") + 12) {
      EXPECT_EQ(r.ended, 0) << cut;
    }
  }
}

TEST(MultipartReaderTest, MalformedBodiesAreInvalidArgument) {
  for (const std::string& body : std::vector<std::string>{
           "",                                        // nothing
           "--b--",                                   // no part
           "no delimiter at all",                     // no part either
           "--b\r\nno colon\r\n\r\nx\r\n--b--",       // a header line that is no field
           "--b\r\n folded\r\n\r\nx\r\n--b--",        // a continuation first
           "--b\r\nBad Name: x\r\n\r\nx\r\n--b--",    // a name that is no token
           "--bX\r\n\r\nx\r\n--b--",                  // a delimiter followed by other text
           "--b\r\n\r\nx\r\n--bb\r\n\r\ny\r\n--b--",  // likewise, inside a part
           "--b" + std::string(2000, ' ') + "\r\n\r\nx\r\n--b--",             // padding without end
           "--b\r\nA: " + std::string(20 << 10, 'a') + "\r\n\r\nx\r\n--b--",  // header too long
       }) {
    Recorder r;
    EXPECT_EQ(Read("b", body, &r).code(), absl::StatusCode::kInvalidArgument) << body.size();
  }
  Recorder r;
  EXPECT_FALSE(Read("", "--\r\n\r\nx\r\n----", &r).ok());
  EXPECT_FALSE(Read(std::string(71, 'b'), "x", &r).ok());
}

TEST(MultipartReaderTest, AHandlerErrorStopsTheReader) {
  class Refusing : public Recorder {
    absl::Status OnPartBegin(const PartHeaders&) override {
      return absl::ResourceExhaustedError("no");
    }
  } r;
  MultipartReader reader("b", &r);
  EXPECT_EQ(reader.Feed("--b\r\n\r\nx").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(reader.Feed("\r\n--b--").code(), absl::StatusCode::kResourceExhausted);
}

// A bounded fuzz (a fixed seed and count, as tests/dimse_fuzz_test.cc does for DIMSE): valid
// bodies mutated at random, each read whole and in random pieces. The reader must never crash,
// must see the same parts however the body is cut, and must end only parts whose bytes are exactly
// what precedes a delimiter in the body (nothing of a broken part is ever complete).
TEST(MultipartReaderTest, FuzzedBodiesReadTheSameInAnyPiecesAndEndOnlyFramedParts) {
  std::mt19937 rng(20261205);
  const std::string boundary = "fuzz-b0undary";
  const std::string delimiter = "\r\n--" + boundary;
  auto valid = [&] {
    std::string body = "\r\n";
    const int parts = 1 + static_cast<int>(rng() % 4);
    for (int p = 0; p < parts; ++p) {
      std::string content(rng() % 300, '\0');
      for (char& c : content) c = static_cast<char>(rng() % 8 == 0 ? '-' : 'a' + rng() % 4);
      absl::StrAppend(&body, "--", boundary, "\r\nContent-Type: application/dicom\r\n\r\n", content,
                      "\r\n");
    }
    return absl::StrCat(body, "--", boundary, "--\r\n");
  };
  auto mutate = [&](std::string body) {
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !body.empty(); ++e) {
      const size_t at = rng() % body.size();
      switch (rng() % 5) {
        case 0:
          body[at] = static_cast<char>(rng());
          break;
        case 1:
          body.erase(at, 1 + rng() % 8);
          break;
        case 2:
          body.insert(at, std::string(1 + rng() % 4, "\r\n-"[rng() % 3]));
          break;
        case 3:
          body.insert(at, body.substr(rng() % body.size(), rng() % 64));
          break;
        default:
          body.resize(at);  // truncated
      }
    }
    return body;
  };
  for (int i = 0; i < 20000; ++i) {
    const std::string body = mutate(valid());
    Recorder whole;
    const absl::Status s = Read(boundary, body, &whole);
    Recorder cut;
    const absl::Status s2 = Read(boundary, body, &cut, 1 + rng() % 97);
    ASSERT_EQ(s.code(), s2.code()) << i;
    ASSERT_EQ(whole.events, cut.events) << i;
    ASSERT_EQ(whole.bytes, cut.bytes) << i;
    for (int p = 0; p < whole.ended; ++p) {
      ASSERT_NE(body.find(absl::StrCat("\r\n\r\n", whole.bytes[p], delimiter)), std::string::npos)
          << i;
    }
  }
}

}  // namespace
}  // namespace medvault::frontend::web

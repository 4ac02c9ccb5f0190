#include "frontend/web/multipart_reader.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace medvault::frontend::web {
namespace {

// Transport padding (RFC 2046: linear white space after a delimiter) longer than this is
// malformed.
constexpr size_t kMaxPaddingBytes = 1024;

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(c) ||
         absl::string_view("!#$%&'*+-.^_`|~").find(c) != absl::string_view::npos;
}

}  // namespace

MultipartReader::MultipartReader(std::string boundary, MultipartHandler* handler)
    : handler_(handler), delimiter_(absl::StrCat("\r\n--", boundary)) {
  // RFC 2046 5.1.1: 1 to 70 characters, and none a delimiter search could trip on.
  if (boundary.empty() || boundary.size() > 70 ||
      boundary.find_first_of("\r\n") != std::string::npos) {
    error_ = absl::InvalidArgumentError("the multipart boundary is empty, too long or malformed");
  }
  // The first delimiter may open the body without the CRLF that precedes every other one.
  pending_ = "\r\n";
}

absl::Status MultipartReader::Malformed(const char* what) {
  error_ = absl::InvalidArgumentError(absl::StrCat("malformed multipart body: ", what));
  return error_;
}

absl::Status MultipartReader::Feed(absl::string_view data) {
  if (!error_.ok()) return error_;
  if (state_ == State::kEpilogue) return absl::OkStatus();
  pending_.append(data.data(), data.size());
  for (bool progress = true; progress;) {
    progress = false;
    if (absl::Status s = Step(&progress); !s.ok()) {
      if (error_.ok()) error_ = s;
      return error_;
    }
  }
  return absl::OkStatus();
}

absl::Status MultipartReader::Finish() {
  if (!error_.ok()) return error_;
  if (state_ != State::kEpilogue) {
    return Malformed("the body ends before the closing delimiter");
  }
  if (parts_ == 0) return Malformed("no part");
  return absl::OkStatus();
}

absl::Status MultipartReader::Step(bool* progress) {
  switch (state_) {
    case State::kPreamble:
    case State::kBody: {
      const size_t at = pending_.find(delimiter_);
      // Without a delimiter, everything but a tail that could begin one is the part's (or the
      // preamble's, dropped).
      const size_t keep = delimiter_.size() - 1;
      const size_t take = at != std::string::npos  ? at
                          : pending_.size() > keep ? pending_.size() - keep
                                                   : 0;
      if (state_ == State::kBody && take > 0) {
        if (absl::Status s = handler_->OnPartData(absl::string_view(pending_).substr(0, take));
            !s.ok()) {
          return s;
        }
      }
      if (at == std::string::npos) {
        pending_.erase(0, take);
        return absl::OkStatus();
      }
      pending_.erase(0, at + delimiter_.size());
      if (state_ == State::kBody) {
        if (absl::Status s = handler_->OnPartEnd(); !s.ok()) return s;
      }
      state_ = State::kAfterDelim;
      *progress = true;
      return absl::OkStatus();
    }
    case State::kAfterDelim: {
      if (pending_.size() < 2) return absl::OkStatus();
      if (pending_[0] == '-' && pending_[1] == '-') {
        state_ = State::kEpilogue;
        pending_.clear();
        return absl::OkStatus();
      }
      const size_t end = pending_.find_first_not_of(" \t");
      if (std::min(end, pending_.size()) > kMaxPaddingBytes) {
        return Malformed("padding after a delimiter");
      }
      if (end == std::string::npos || end + 1 >= pending_.size()) return absl::OkStatus();
      if (pending_[end] != '\r' || pending_[end + 1] != '\n') {
        return Malformed("a delimiter is not followed by a line end");
      }
      pending_.erase(0, end + 2);
      state_ = State::kHeaders;
      *progress = true;
      return absl::OkStatus();
    }
    case State::kHeaders: {
      if (pending_.size() < 2) return absl::OkStatus();
      size_t block_end = 0, skip = 2;  // a part with no header fields: an empty line at once
      if (pending_[0] != '\r' || pending_[1] != '\n') {
        block_end = pending_.find("\r\n\r\n");
        skip = 4;
        if (block_end == std::string::npos || block_end > kMaxPartHeaderBytes) {
          if (pending_.size() > kMaxPartHeaderBytes + 4) return Malformed("part header too long");
          if (block_end == std::string::npos) return absl::OkStatus();
          return Malformed("part header too long");
        }
      }
      PartHeaders headers;
      if (absl::Status s = ParseHeaders(absl::string_view(pending_).substr(0, block_end), &headers);
          !s.ok()) {
        return s;
      }
      pending_.erase(0, block_end + skip);
      ++parts_;
      state_ = State::kBody;
      if (absl::Status s = handler_->OnPartBegin(headers); !s.ok()) return s;
      *progress = true;
      return absl::OkStatus();
    }
    case State::kEpilogue:
      pending_.clear();
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::Status MultipartReader::ParseHeaders(absl::string_view block, PartHeaders* out) {
  if (block.empty()) return absl::OkStatus();
  std::string name;
  std::string value;
  auto flush = [&] {
    if (name.empty()) return;
    std::string& v = (*out)[name];
    v = v.empty() ? value : absl::StrCat(v, ", ", value);
  };
  for (absl::string_view line : absl::StrSplit(block, "\r\n")) {
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      // Folded (obsolete, RFC 5322 3.2.2): continues the field before.
      if (name.empty()) return Malformed("a part header begins with a continuation line");
      absl::StrAppend(&value, " ", absl::StripAsciiWhitespace(line));
      continue;
    }
    flush();
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos || colon == 0) {
      return Malformed("a part header line is not a field");
    }
    for (char c : line.substr(0, colon)) {
      if (!IsTokenChar(c)) return Malformed("a part header field name is not a token");
    }
    name = absl::AsciiStrToLower(line.substr(0, colon));
    value = std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  }
  flush();
  return absl::OkStatus();
}

}  // namespace medvault::frontend::web

#include "frontend/dimse/dicom_access.h"

#include <arpa/inet.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace medvault::frontend {
namespace {

// The non-empty, comment-free lines of `text` split on blanks, with their line numbers.
std::vector<std::pair<int, std::vector<absl::string_view>>> Lines(absl::string_view text) {
  std::vector<std::pair<int, std::vector<absl::string_view>>> out;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    out.emplace_back(line_no, absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty()));
  }
  return out;
}

bool IsAddress(absl::string_view host) {
  std::string h(host);
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

}  // namespace

bool IsLoopbackAddress(absl::string_view host) {
  std::string h(host);
  in_addr v4;
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (inet_pton(AF_INET6, h.c_str(), &v6) != 1) return false;
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

absl::StatusOr<DicomAccess> DicomAccess::Parse(absl::string_view text) {
  DicomAccess out;
  for (const auto& [line_no, fields] : Lines(text)) {
    if (fields.size() != 3) {
      return absl::InvalidArgumentError(
          absl::StrCat("DICOM access line ", line_no,
                       ": expected \"<calling AE title or *> <host> <scope>[,<scope>...]\""));
    }
    if (fields[0].size() > 16) {
      return absl::InvalidArgumentError(
          absl::StrCat("DICOM access line ", line_no, ": an AE title has at most 16 characters"));
    }
    if (fields[1] != "*" && fields[1] != "loopback" && !IsAddress(fields[1])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "DICOM access line ", line_no, ": host must be an IP address, loopback or *"));
    }
    Rule rule{std::string(fields[0]), std::string(fields[1]), {}};
    for (absl::string_view name : absl::StrSplit(fields[2], ',', absl::SkipEmpty())) {
      absl::StatusOr<Scope> scope = ParseScope(name);
      if (!scope.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("DICOM access line ", line_no, ": ", scope.status().message()));
      }
      rule.scopes.insert(*scope);
    }
    out.rules_.push_back(std::move(rule));
  }
  return out;
}

absl::StatusOr<DicomAccess> DicomAccess::Load(Filesystem* fs, const std::string& path) {
  absl::StatusOr<std::string> text = fs->ReadFile(path);
  if (!text.ok()) {
    return absl::Status(text.status().code(), absl::StrCat("reading DICOM access rules ", path,
                                                           ": ", text.status().message()));
  }
  absl::StatusOr<DicomAccess> access = Parse(*text);
  if (!access.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", access.status().message()));
  }
  return access;
}

DicomAccess DicomAccess::LoopbackDefault() {
  DicomAccess out;
  out.rules_.push_back(Rule{"*", "loopback", {Scope::kRead, Scope::kWrite}});
  return out;
}

std::set<Scope> DicomAccess::ScopesOf(absl::string_view calling_ae,
                                      absl::string_view peer_host) const {
  const absl::string_view ae = absl::StripTrailingAsciiWhitespace(calling_ae);
  for (const Rule& rule : rules_) {
    if (rule.ae != "*" && rule.ae != ae) continue;
    if (rule.host == "loopback" ? !IsLoopbackAddress(peer_host)
                                : (rule.host != "*" && rule.host != peer_host)) {
      continue;
    }
    return rule.scopes;
  }
  return {};
}

absl::StatusOr<std::vector<DicomPeer>> ParseDicomPeers(absl::string_view text) {
  std::vector<DicomPeer> peers;
  for (const auto& [line_no, fields] : Lines(text)) {
    int port = 0;
    const bool tls_option =
        fields.size() == 4 &&
        (fields[3] == "tls" || (absl::StartsWith(fields[3], "tls=") && fields[3].size() > 4));
    if ((fields.size() != 3 && !tls_option) || !absl::SimpleAtoi(fields[2], &port) || port < 1 ||
        port > 65535 || fields[0].size() > 16) {
      return absl::InvalidArgumentError(absl::StrCat(
          "DICOM peers line ", line_no,
          ": expected \"AE_TITLE HOST PORT [tls | tls=CA_FILE]\" (AE title of at most 16 "
          "characters, port 1..65535)"));
    }
    for (const DicomPeer& p : peers) {
      if (p.ae_title == fields[0]) {
        return absl::InvalidArgumentError(
            absl::StrCat("DICOM peers line ", line_no, ": AE title listed twice"));
      }
    }
    DicomPeer peer{std::string(fields[0]), std::string(fields[1]), port};
    if (tls_option) {
      peer.tls = true;
      if (fields[3] != "tls") peer.tls_ca_file = std::string(fields[3].substr(4));
    }
    peers.push_back(std::move(peer));
  }
  return peers;
}

absl::StatusOr<std::vector<DicomPeer>> LoadDicomPeers(Filesystem* fs, const std::string& path) {
  absl::StatusOr<std::string> text = fs->ReadFile(path);
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat("reading DICOM peers ", path, ": ", text.status().message()));
  }
  absl::StatusOr<std::vector<DicomPeer>> peers = ParseDicomPeers(*text);
  if (!peers.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", peers.status().message()));
  }
  return peers;
}

std::string PrintableAeTitle(absl::string_view ae) {
  std::string out(absl::StripTrailingAsciiWhitespace(ae.substr(0, 16)));
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

}  // namespace medvault::frontend

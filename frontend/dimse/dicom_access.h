// Who may use the DIMSE door, and where C-MOVE may send. DICOM peers have no certificates here
// (plain DICOM on a trusted network), so a peer is known by its calling AE title and its address:
// an operator lists which (AE title, host) pairs hold which scopes, as the client-scopes file does
// for gRPC clients' certificate names.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/access_policy.h"
#include "common/env.h"

namespace medvault::frontend {

// The calling-AE rules. File format, one rule a line ('#' starts a comment):
//   <calling AE title or *> <host> <scope>[,<scope>...]
// where host is an IPv4/IPv6 address, "loopback" (127.0.0.0/8 and ::1) or "*" (anywhere). The
// first rule matching both the AE title and the peer's address decides; no match: refused.
// e.g. "* loopback read,write" (the local cluster's default) or "CT_SCANNER 10.1.2.3 write".
class DicomAccess {
 public:
  // INVALID_ARGUMENT naming the line for a malformed rule or an unknown scope.
  static absl::StatusOr<DicomAccess> Parse(absl::string_view text);
  static absl::StatusOr<DicomAccess> Load(Filesystem* fs, const std::string& path);
  // Any AE title from loopback, read and write.
  static DicomAccess LoopbackDefault();

  // The scopes the first matching rule grants, or none (the association is refused).
  std::set<Scope> ScopesOf(absl::string_view calling_ae, absl::string_view peer_host) const;
  size_t size() const { return rules_.size(); }

 private:
  struct Rule {
    std::string ae;    // "*" for any
    std::string host;  // "*", "loopback" or an address
    std::set<Scope> scopes;
  };
  std::vector<Rule> rules_;
};

// True for 127.0.0.0/8, ::1 and ::ffff:127.x.y.z.
bool IsLoopbackAddress(absl::string_view host);

// A C-MOVE destination.
struct DicomPeer {
  std::string ae_title;
  std::string host;
  int port = 0;
  // The destination speaks DICOM TLS (PS3.15 B.9): its certificate must chain to `tls_ca_file`,
  // or to the cluster's CA when that is empty.
  bool tls = false;
  std::string tls_ca_file;
};

// C-MOVE destinations, one "AE_TITLE HOST PORT [tls | tls=CA_FILE]" a line ('#' comments): with
// "tls" the association is DICOM TLS verified with the cluster's CA, with "tls=CA_FILE" with the
// CA certificates (PEM) of that file. INVALID_ARGUMENT naming the line for a malformed one, a
// port outside 1..65535, an unknown option, or an AE title listed twice.
absl::StatusOr<std::vector<DicomPeer>> ParseDicomPeers(absl::string_view text);
// The same, read from a file (the frontend's --dicom_peers_file).
absl::StatusOr<std::vector<DicomPeer>> LoadDicomPeers(Filesystem* fs, const std::string& path);

// An AE title fit for a log line or an audit record: printable ASCII only (others become '?'),
// trailing spaces dropped, at most 16 characters.
std::string PrintableAeTitle(absl::string_view ae);

}  // namespace medvault::frontend

// The rules every value the index takes must follow, in one place: the frontend applies them to
// what it parses from an instance and to the UIDs requests name, the metaserver to what it is asked
// to commit or look up, and `medvault fsck` reports stored entries that break them (written before
// the rules existed). Messages name the attribute, never its value (it may be PHI).
//
//  1. Values are text: no control characters other than ESC (ISO 2022 code extensions), and no
//     hex dump of an element DCMTK could not read as text ("31\2e\32...").
//  2. UIDs follow PS3.5 9.1: digits and dots, components without leading zeros ("0" itself is
//     fine), no empty component, at most 64 characters, trailing NUL/space padding removed.
//  3. Each field is at most the length its VR allows, counted in characters (a valid UTF-8
//     sequence counts as one): UI 64, LO 64, SH 16, CS 16, DA 8, TM 16, PN 64 per component
//     group. A field the index searches by (UIDs, PatientID, StudyDate, Modality) is refused when
//     longer; a field it only displays is truncated at a character boundary (the stored instance
//     keeps every byte). A StudyDate or birth date in the ACR-NEMA form YYYY.MM.DD is indexed as
//     YYYYMMDD.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "medvault/v1/common.pb.h"

namespace medvault {

// Longest UID PS3.5 9.1 allows.
inline constexpr size_t kMaxUidLength = 64;

// `uid` without its trailing NUL and space padding.
absl::string_view StripUidPadding(absl::string_view uid);
// True when `uid` (unpadded) follows PS3.5 9.1.
bool IsValidUid(absl::string_view uid);
// OK when `uid` follows PS3.5 9.1; INVALID_ARGUMENT naming `attribute` otherwise (empty included).
absl::Status CheckUid(absl::string_view uid, absl::string_view attribute);
// A UID as a request names it: padding removed, then checked as CheckUid does.
absl::StatusOr<std::string> RequestUid(absl::string_view uid, absl::string_view attribute);

// True when `value` looks like DCMTK's rendering of a binary value ("31\2e\32"): two or more
// two-digit hex bytes separated by backslashes.
bool LooksLikeHexDump(absl::string_view value);

// Applies rules 1-3 to tags read from an instance: UIDs unpadded, ACR-NEMA dates rewritten,
// displayed fields truncated; INVALID_ARGUMENT naming the attribute when a value is not text, a
// UID breaks PS3.5 9.1 (the three instance UIDs are required), or a searched field is too long.
absl::Status ApplyIndexRules(v1::InstanceTags* tags);

// One way stored tags break the rules (fsck). Names the attribute and the rule, never the value.
struct IndexViolation {
  std::string attribute;  // "StudyInstanceUID"
  std::string rule;       // "not a valid UID (PS3.5 9.1)", "longer than 64 characters (LO)"...
};
// Every violation in `tags` as stored (nothing is modified), hex dumps included.
std::vector<IndexViolation> FindIndexViolations(const v1::InstanceTags& tags);
// OK when ApplyIndexRules would accept `tags` and change nothing (what the metaserver requires of a
// commit); else INVALID_ARGUMENT naming the first attribute that breaks a rule.
absl::Status CheckIndexRules(const v1::InstanceTags& tags);

}  // namespace medvault

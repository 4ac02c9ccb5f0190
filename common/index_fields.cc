#include "common/index_fields.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace medvault {
namespace {

enum class Vr { kUI, kLO, kSH, kCS, kDA, kTM, kPN };

size_t MaxChars(Vr vr) {
  switch (vr) {
    case Vr::kUI:
    case Vr::kLO:
    case Vr::kPN:  // per component group
      return 64;
    case Vr::kSH:
    case Vr::kCS:
    case Vr::kTM:
      return 16;
    case Vr::kDA:
      return 8;
  }
  return 0;
}

const char* VrName(Vr vr) {
  switch (vr) {
    case Vr::kUI:
      return "UI";
    case Vr::kLO:
      return "LO";
    case Vr::kSH:
      return "SH";
    case Vr::kCS:
      return "CS";
    case Vr::kDA:
      return "DA";
    case Vr::kTM:
      return "TM";
    case Vr::kPN:
      return "PN";
  }
  return "";
}

struct Field {
  const char* attribute;
  Vr vr;
  bool searched;  // the index searches by it: refused when too long, never truncated
  bool required;
  std::string* (*mutable_value)(v1::InstanceTags*);
  const std::string& (*value)(const v1::InstanceTags&);
};

#define MEDVAULT_FIELD(name, attribute, vr, searched, required)                                 \
  Field {                                                                                       \
    attribute, vr, searched, required, [](v1::InstanceTags* t) { return t->mutable_##name(); }, \
        [](const v1::InstanceTags& t) -> const std::string& { return t.name(); }                \
  }

const Field kFields[] = {
    MEDVAULT_FIELD(study_uid, "StudyInstanceUID", Vr::kUI, true, true),
    MEDVAULT_FIELD(series_uid, "SeriesInstanceUID", Vr::kUI, true, true),
    MEDVAULT_FIELD(sop_instance_uid, "SOPInstanceUID", Vr::kUI, true, true),
    MEDVAULT_FIELD(sop_class_uid, "SOPClassUID", Vr::kUI, true, false),
    MEDVAULT_FIELD(transfer_syntax_uid, "TransferSyntaxUID", Vr::kUI, true, false),
    MEDVAULT_FIELD(patient_id, "PatientID", Vr::kLO, true, false),
    MEDVAULT_FIELD(study_date, "StudyDate", Vr::kDA, true, false),
    MEDVAULT_FIELD(modality, "Modality", Vr::kCS, true, false),
    MEDVAULT_FIELD(patient_name, "PatientName", Vr::kPN, false, false),
    MEDVAULT_FIELD(patient_birth_date, "PatientBirthDate", Vr::kDA, false, false),
    MEDVAULT_FIELD(patient_sex, "PatientSex", Vr::kCS, false, false),
    MEDVAULT_FIELD(study_time, "StudyTime", Vr::kTM, false, false),
    MEDVAULT_FIELD(study_description, "StudyDescription", Vr::kLO, false, false),
    MEDVAULT_FIELD(accession_number, "AccessionNumber", Vr::kSH, false, false),
    MEDVAULT_FIELD(series_description, "SeriesDescription", Vr::kLO, false, false),
    MEDVAULT_FIELD(mime_type, "MIMETypeOfEncapsulatedDocument", Vr::kLO, false, false),
};
#undef MEDVAULT_FIELD

// Bytes of the character starting at s[i]: a valid UTF-8 sequence, else one byte.
size_t CharBytes(absl::string_view s, size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  size_t n = lead < 0xC2 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : lead < 0xF5 ? 4 : 1;
  if (n == 1 || i + n > s.size()) return 1;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 1;
  }
  return n;
}

// The first `max_chars` characters of `s`; sets *cut when something was removed.
absl::string_view FirstChars(absl::string_view s, size_t max_chars, bool* cut) {
  size_t i = 0;
  for (size_t chars = 0; i < s.size() && chars < max_chars; ++chars) i += CharBytes(s, i);
  if (i < s.size()) *cut = true;
  return s.substr(0, i);
}

bool IsText(absl::string_view v) {
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != 0x1B) || u == 0x7F) return false;
  }
  return true;
}

bool IsAcrNemaDate(absl::string_view v) {
  if (v.size() != 10 || v[4] != '.' || v[7] != '.') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(v[i]))) return false;
  }
  return true;
}

// What the index keeps of `raw` for `field`, or the rule it breaks (`rule` non-empty: refused).
struct Verdict {
  std::string value;
  std::string rule;
  bool cut = false;  // a displayed field was truncated
};

Verdict Examine(const Field& field, absl::string_view raw) {
  Verdict v;
  if (!IsText(raw)) {
    v.rule = "is not text";
    return v;
  }
  if (field.vr == Vr::kUI) {
    const absl::string_view uid = StripUidPadding(raw);
    v.value = std::string(uid);
    if (uid.empty()) {
      if (field.required) v.rule = "is missing";
    } else if (!IsValidUid(uid)) {
      v.rule = "is not a valid UID (PS3.5 9.1)";
    }
    return v;
  }
  const size_t max = MaxChars(field.vr);
  if (field.vr == Vr::kDA && IsAcrNemaDate(raw)) {
    v.value = absl::StrCat(raw.substr(0, 4), raw.substr(5, 2), raw.substr(8, 2));
  } else if (field.vr == Vr::kPN) {
    std::vector<absl::string_view> groups = absl::StrSplit(raw, '=');
    for (absl::string_view& g : groups) g = FirstChars(g, max, &v.cut);
    v.value = absl::StrJoin(groups, "=");
  } else {
    v.value = std::string(FirstChars(raw, max, &v.cut));
  }
  if (v.cut && field.searched) {
    v.rule = absl::StrCat("is longer than ", max, " characters (", VrName(field.vr), ")");
  }
  return v;
}

// The rule `raw` breaks as the index would keep it, or "" when ApplyIndexRules leaves it as is.
std::string BrokenRule(const Field& field, absl::string_view raw) {
  Verdict v = Examine(field, raw);
  if (!v.rule.empty()) return v.rule;
  if (v.cut) {
    return absl::StrCat("is longer than ", MaxChars(field.vr), " characters (", VrName(field.vr),
                        field.vr == Vr::kPN ? " component group" : "", ")");
  }
  if (v.value != raw) return "is not in the index's form (padding or an ACR-NEMA date)";
  return "";
}

}  // namespace

absl::string_view StripUidPadding(absl::string_view uid) {
  while (!uid.empty() && (uid.back() == '\0' || uid.back() == ' ')) uid.remove_suffix(1);
  return uid;
}

bool IsValidUid(absl::string_view uid) {
  if (uid.empty() || uid.size() > kMaxUidLength) return false;
  for (absl::string_view component : absl::StrSplit(uid, '.')) {
    if (component.empty()) return false;
    if (component.size() > 1 && component[0] == '0') return false;
    for (char c : component) {
      if (c < '0' || c > '9') return false;
    }
  }
  return true;
}

absl::Status CheckUid(absl::string_view uid, absl::string_view attribute) {
  if (uid.empty()) return absl::InvalidArgumentError(absl::StrCat(attribute, " is missing"));
  if (!IsValidUid(uid)) {
    return absl::InvalidArgumentError(
        absl::StrCat(attribute, " is not a valid UID (PS3.5 9.1: digits and dots, at most ",
                     kMaxUidLength, " characters, no leading zeros)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RequestUid(absl::string_view uid, absl::string_view attribute) {
  const absl::string_view unpadded = StripUidPadding(uid);
  if (absl::Status s = CheckUid(unpadded, attribute); !s.ok()) return s;
  return std::string(unpadded);
}

bool LooksLikeHexDump(absl::string_view value) {
  if (value.size() < 5 || (value.size() + 1) % 3 != 0) return false;
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (i % 3 == 2) {
      if (c != '\\') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

absl::Status ApplyIndexRules(v1::InstanceTags* tags) {
  std::vector<std::pair<const Field*, std::string>> kept;
  for (const Field& field : kFields) {
    Verdict v = Examine(field, field.value(*tags));
    if (!v.rule.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(field.attribute, " ", v.rule));
    }
    kept.emplace_back(&field, std::move(v.value));
  }
  for (auto& [field, value] : kept) *field->mutable_value(tags) = std::move(value);
  return absl::OkStatus();
}

std::vector<IndexViolation> FindIndexViolations(const v1::InstanceTags& tags) {
  std::vector<IndexViolation> out;
  for (const Field& field : kFields) {
    const std::string& raw = field.value(tags);
    std::string rule = LooksLikeHexDump(raw) ? "looks like a hex dump of a value not read as text"
                                             : BrokenRule(field, raw);
    if (!rule.empty()) out.push_back({field.attribute, std::move(rule)});
  }
  return out;
}

absl::Status CheckIndexRules(const v1::InstanceTags& tags) {
  for (const Field& field : kFields) {
    if (std::string rule = BrokenRule(field, field.value(tags)); !rule.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(field.attribute, " ", rule));
    }
  }
  return absl::OkStatus();
}

}  // namespace medvault

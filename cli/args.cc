#include "cli/args.h"

#include <cstdint>
#include <map>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"

namespace medvault::cli {
namespace {

constexpr uint32_t Bit(Verb v) { return 1u << static_cast<int>(v); }
constexpr uint32_t kAllVerbs = ~0u;

// Every flag the client knows. Verb flags are valid only with their verbs; global flags with any.
struct FlagSpec {
  const char* name;
  bool takes_value;
  uint32_t verbs;
};

constexpr FlagSpec kFlags[] = {
    {"frontend", true, kAllVerbs},
    {"timeout", true, kAllVerbs},
    {"tls_ca", true, kAllVerbs},
    {"tls_cert", true, kAllVerbs},
    {"tls_key", true, kAllVerbs},
    {"tls_server_name", true, kAllVerbs},
    {"insecure_plaintext", false, kAllVerbs},
    {"help", false, kAllVerbs},
    {"jobs", true, Bit(Verb::kPut) | Bit(Verb::kGet) | Bit(Verb::kImport)},
    {"quiet", false, Bit(Verb::kPut) | Bit(Verb::kGet) | Bit(Verb::kImport) | Bit(Verb::kExport)},
    {"instance", true, Bit(Verb::kGet) | Bit(Verb::kRm)},
    {"study", true,
     Bit(Verb::kGet) | Bit(Verb::kRm) | Bit(Verb::kAttach) | Bit(Verb::kShare) |
         Bit(Verb::kExport)},
    {"type", true, Bit(Verb::kAttach)},
    {"document", false, Bit(Verb::kGet)},
    {"output", true, Bit(Verb::kGet)},
    {"offset", true, Bit(Verb::kGet)},
    {"length", true, Bit(Verb::kGet)},
    {"patient", true, Bit(Verb::kFind)},
    {"modality", true, Bit(Verb::kFind)},
    {"from", true, Bit(Verb::kFind)},
    {"to", true, Bit(Verb::kFind)},
    {"limit", true, Bit(Verb::kFind) | Bit(Verb::kAudit)},
    {"json", false,
     Bit(Verb::kFind) | Bit(Verb::kAudit) | Bit(Verb::kChunkserver) | Bit(Verb::kScrub) |
         Bit(Verb::kFsck) | Bit(Verb::kRaft) | Bit(Verb::kShare) | Bit(Verb::kBackup) |
         Bit(Verb::kRetention)},
    {"server", true, Bit(Verb::kScrub)},
    {"undo", false, Bit(Verb::kChunkserver)},
    {"wait", true, Bit(Verb::kHealth) | Bit(Verb::kKek)},
    {"object", true, Bit(Verb::kAudit)},
    {"since", true, Bit(Verb::kAudit)},
    {"until", true, Bit(Verb::kAudit)},
    {"expires", true, Bit(Verb::kShare)},
    {"max-uses", true, Bit(Verb::kShare)},
    {"no-download", false, Bit(Verb::kShare)},
    {"label", true, Bit(Verb::kShare)},
    {"sign", false, Bit(Verb::kAudit)},
    {"out", true, Bit(Verb::kExport) | Bit(Verb::kBackup)},
    {"format", true, Bit(Verb::kExport)},
    {"no-viewer", false, Bit(Verb::kExport)},
    {"in", true, Bit(Verb::kBackup)},
    {"backup_key", true, Bit(Verb::kBackup)},
    {"days", true, Bit(Verb::kRetention)},
    {"after-last-share", false, Bit(Verb::kRetention)},
};

const FlagSpec* FindFlag(absl::string_view name) {
  for (const FlagSpec& f : kFlags) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

// "-1" is a (negative) value, not a flag: no flag name starts with a digit, so "--offset -1" is
// refused by the number's own check ("wants a non-negative integer"), not as a missing value.
bool IsFlagToken(absl::string_view token) {
  return token.size() > 1 && token[0] == '-' && !absl::ascii_isdigit(token[1]);
}

// Splits "--name=value" / "--name" / "-o" into the canonical flag name and an optional inline
// value. Returns false for a token that is not a known flag.
struct FlagToken {
  std::string name;
  std::optional<std::string> value;
};

absl::StatusOr<FlagToken> SplitFlag(absl::string_view token) {
  absl::string_view body;
  if (absl::StartsWith(token, "--")) {
    body = token.substr(2);
  } else {
    body = token.substr(1);
    // Short aliases only: -o FILE, -h.
    absl::string_view name = body.substr(0, body.find('='));
    if (name != "o" && name != "h") {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag '", token, "'"));
    }
  }
  FlagToken out;
  size_t eq = body.find('=');
  out.name = std::string(body.substr(0, eq));
  if (eq != absl::string_view::npos) out.value = std::string(body.substr(eq + 1));
  if (out.name == "o") out.name = "output";
  if (out.name == "h") out.name = "help";
  if (FindFlag(out.name) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown flag '", token, "'"));
  }
  return out;
}

std::optional<Verb> ParseVerb(absl::string_view name) {
  if (name == "put") return Verb::kPut;
  if (name == "get") return Verb::kGet;
  if (name == "find") return Verb::kFind;
  if (name == "rm") return Verb::kRm;
  if (name == "health") return Verb::kHealth;
  if (name == "kek") return Verb::kKek;
  if (name == "audit") return Verb::kAudit;
  if (name == "chunkserver") return Verb::kChunkserver;
  if (name == "scrub") return Verb::kScrub;
  if (name == "fsck") return Verb::kFsck;
  if (name == "import") return Verb::kImport;
  if (name == "attach") return Verb::kAttach;
  if (name == "raft") return Verb::kRaft;
  if (name == "share") return Verb::kShare;
  if (name == "export") return Verb::kExport;
  if (name == "backup") return Verb::kBackup;
  if (name == "retention") return Verb::kRetention;
  if (name == "help") return Verb::kHelp;
  return std::nullopt;
}

// Flag values as given, last occurrence wins.
using FlagValues = std::map<std::string, std::string>;

absl::StatusOr<double> ParseSeconds(absl::string_view flag, const std::string& value,
                                    bool allow_zero) {
  std::string v = value;
  if (absl::EndsWith(v, "s")) v.pop_back();
  double d;
  if (!absl::SimpleAtod(v, &d) || !(d >= 0) || (!allow_zero && d == 0) || d > 1e7) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " wants a number of seconds",
                                                   allow_zero ? "" : " above 0", ", not '", value,
                                                   "'"));
  }
  return d;
}

absl::StatusOr<uint64_t> ParseCount(absl::string_view flag, const std::string& value) {
  uint64_t n;
  if (value.empty() || value[0] == '-' || !absl::SimpleAtoi(value, &n)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " wants a non-negative integer, not '", value, "'"));
  }
  return n;
}

absl::StatusOr<int> ParseJobs(const FlagValues& flags) {
  auto it = flags.find("jobs");
  if (it == flags.end()) return kDefaultJobs;
  uint64_t n;
  if (!absl::SimpleAtoi(it->second, &n) || n < 1 || n > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("--jobs wants an integer from 1 to 256, not '", it->second, "'"));
  }
  return static_cast<int>(n);
}

// Accepts YYYYMMDD or YYYY-MM-DD; returns YYYYMMDD.
absl::StatusOr<std::string> ParseDate(absl::string_view flag, const std::string& value) {
  std::string d = absl::StrReplaceAll(value, {{"-", ""}});
  bool ok = d.size() == 8;
  for (char c : d) ok = ok && absl::ascii_isdigit(static_cast<unsigned char>(c));
  if (ok) {
    int month = (d[4] - '0') * 10 + (d[5] - '0');
    int day = (d[6] - '0') * 10 + (d[7] - '0');
    ok = month >= 1 && month <= 12 && day >= 1 && day <= 31;
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " wants a date YYYYMMDD, not '", value, "'"));
  }
  return d;
}

std::string Get(const FlagValues& flags, const std::string& name) {
  auto it = flags.find(name);
  return it == flags.end() ? std::string() : it->second;
}

absl::Status NoPositionals(Verb verb, const std::vector<std::string>& positionals) {
  if (positionals.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(VerbName(verb), ": unexpected argument '", positionals[0], "'"));
}

absl::Status RequireNonEmpty(Verb verb, const FlagValues& flags, const std::string& name) {
  auto it = flags.find(name);
  if (it != flags.end() && it->second.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(VerbName(verb), ": --", name, " must not be empty"));
  }
  return absl::OkStatus();
}

// --tls_ca/--tls_cert/--tls_key (all or none), --insecure_plaintext, --tls_server_name.
absl::Status FillTransport(const FlagValues& flags, Verb verb, absl::string_view default_tls_dir,
                           GlobalOptions* global) {
  for (const char* name : {"tls_ca", "tls_cert", "tls_key", "tls_server_name"}) {
    auto it = flags.find(name);
    if (it != flags.end() && it->second.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " must not be empty"));
    }
  }
  global->tls = TlsFiles{Get(flags, "tls_ca"), Get(flags, "tls_cert"), Get(flags, "tls_key")};
  global->insecure_plaintext = flags.count("insecure_plaintext") > 0;
  const bool all = !global->tls.ca_file.empty() && !global->tls.cert_file.empty() &&
                   !global->tls.key_file.empty();
  if (!global->tls.empty() && !all) {
    return absl::InvalidArgumentError("give all of --tls_ca, --tls_cert and --tls_key, or none");
  }
  if (all && global->insecure_plaintext) {
    return absl::InvalidArgumentError(
        "--insecure_plaintext contradicts --tls_ca/--tls_cert/--tls_key");
  }
  if (global->insecure_plaintext && flags.count("tls_server_name")) {
    return absl::InvalidArgumentError("--insecure_plaintext contradicts --tls_server_name");
  }
  if (!all && !global->insecure_plaintext) {
    std::string dir(default_tls_dir);
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    global->tls = TlsFiles{dir + "/ca.crt", dir + "/client.crt", dir + "/client.key"};
    global->tls_from_default_dir = true;
  }
  if (flags.count("tls_server_name")) {
    global->tls_server_name = Get(flags, "tls_server_name");
  } else if (verb != Verb::kHealth) {
    global->tls_server_name = kFrontendPeer;
  }
  return absl::OkStatus();
}

absl::Status FillGet(const FlagValues& flags, const std::vector<std::string>& positionals,
                     GetArgs* get) {
  if (absl::Status s = NoPositionals(Verb::kGet, positionals); !s.ok()) return s;
  for (const char* name : {"instance", "study", "output"}) {
    if (absl::Status s = RequireNonEmpty(Verb::kGet, flags, name); !s.ok()) return s;
  }
  get->instance_uid = Get(flags, "instance");
  get->study_uid = Get(flags, "study");
  get->output = Get(flags, "output");
  if (get->instance_uid.empty() == get->study_uid.empty()) {
    return absl::InvalidArgumentError("get: give exactly one of --instance UID or --study UID");
  }
  if (get->output.empty()) {
    return absl::InvalidArgumentError(get->instance_uid.empty() ? "get: -o DIR is required"
                                                                : "get: -o FILE is required");
  }
  bool has_range = flags.count("offset") || flags.count("length");
  if (has_range && !get->study_uid.empty()) {
    return absl::InvalidArgumentError("get: --offset/--length apply to --instance only");
  }
  if (flags.count("offset")) {
    auto n = ParseCount("offset", Get(flags, "offset"));
    if (!n.ok()) return n.status();
    get->offset = *n;
  }
  if (flags.count("length")) {
    auto n = ParseCount("length", Get(flags, "length"));
    if (!n.ok()) return n.status();
    // GetArgs and the RPC read length 0 as "to the end"; a user asking for 0 bytes means
    // something else, so it is refused rather than answered with the whole instance.
    if (*n == 0) {
      return absl::InvalidArgumentError(
          "get: --length must be at least 1 (leave it out to read to the end)");
    }
    get->length = *n;
  }
  auto jobs = ParseJobs(flags);
  if (!jobs.ok()) return jobs.status();
  get->jobs = *jobs;
  get->quiet = flags.count("quiet") > 0;
  return absl::OkStatus();
}

absl::Status FillFind(const FlagValues& flags, const std::vector<std::string>& positionals,
                      FindArgs* find) {
  if (absl::Status s = NoPositionals(Verb::kFind, positionals); !s.ok()) return s;
  find->patient_id = Get(flags, "patient");
  find->modality = absl::AsciiStrToUpper(Get(flags, "modality"));
  if (flags.count("from")) {
    auto d = ParseDate("from", Get(flags, "from"));
    if (!d.ok()) return d.status();
    find->date_from = *d;
  }
  if (flags.count("to")) {
    auto d = ParseDate("to", Get(flags, "to"));
    if (!d.ok()) return d.status();
    find->date_to = *d;
  }
  if (!find->date_from.empty() && !find->date_to.empty() && find->date_from > find->date_to) {
    return absl::InvalidArgumentError("find: --from is after --to");
  }
  if (flags.count("limit")) {
    auto n = ParseCount("limit", Get(flags, "limit"));
    if (!n.ok()) return n.status();
    find->limit = *n;
  }
  find->json = flags.count("json") > 0;
  return absl::OkStatus();
}

absl::Status FillRm(const FlagValues& flags, const std::vector<std::string>& positionals,
                    RmArgs* rm) {
  if (absl::Status s = NoPositionals(Verb::kRm, positionals); !s.ok()) return s;
  for (const char* name : {"instance", "study"}) {
    if (absl::Status s = RequireNonEmpty(Verb::kRm, flags, name); !s.ok()) return s;
  }
  rm->study_uid = Get(flags, "study");
  rm->instance_uid = Get(flags, "instance");
  if (rm->study_uid.empty() == rm->instance_uid.empty()) {
    return absl::InvalidArgumentError("rm: give exactly one of --study UID or --instance UID");
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view VerbName(Verb verb) {
  switch (verb) {
    case Verb::kPut:
      return "put";
    case Verb::kGet:
      return "get";
    case Verb::kFind:
      return "find";
    case Verb::kRm:
      return "rm";
    case Verb::kHealth:
      return "health";
    case Verb::kKek:
      return "kek";
    case Verb::kAudit:
      return "audit";
    case Verb::kChunkserver:
      return "chunkserver";
    case Verb::kScrub:
      return "scrub";
    case Verb::kFsck:
      return "fsck";
    case Verb::kImport:
      return "import";
    case Verb::kAttach:
      return "attach";
    case Verb::kRaft:
      return "raft";
    case Verb::kShare:
      return "share";
    case Verb::kExport:
      return "export";
    case Verb::kBackup:
      return "backup";
    case Verb::kRetention:
      return "retention";
    case Verb::kHelp:
      break;
  }
  return "help";
}

// RFC 3339 ("2026-11-23T13:00:00Z") or seconds since the Unix epoch; returns microseconds.
absl::StatusOr<int64_t> ParseTimeFlag(absl::string_view flag, const std::string& value) {
  int64_t seconds;
  if (absl::SimpleAtoi(value, &seconds) && seconds > 0 && seconds < (int64_t{1} << 40)) {
    return seconds * 1000000;
  }
  absl::Time t;
  std::string why;
  if (absl::ParseTime(absl::RFC3339_full, value, &t, &why) && t > absl::UnixEpoch()) {
    return absl::ToUnixMicros(t);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--", flag, " wants a time like 2026-11-23T13:00:00Z or Unix seconds, not '", value, "'"));
}

absl::Status FillKek(const FlagValues& flags, const std::vector<std::string>& positionals,
                     KekArgs* out) {
  if (positionals.empty())
    return absl::InvalidArgumentError("kek: say status, rotate VERSION or retire VERSION");
  const std::string& action = positionals[0];
  if (action == "status") {
    out->action = KekArgs::Action::kStatus;
    if (positionals.size() > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("kek status: unexpected argument '", positionals[1], "'"));
    }
  } else if (action == "rotate" || action == "retire") {
    out->action = action == "rotate" ? KekArgs::Action::kRotate : KekArgs::Action::kRetire;
    uint32_t version = 0;
    if (positionals.size() != 2 || !absl::SimpleAtoi(positionals[1], &version) || version == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("kek ", action, ": give one positive KEK VERSION"));
    }
    out->version = version;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("kek: unknown action '", action, "' (status, rotate, retire)"));
  }
  if (flags.count("wait")) {
    if (out->action != KekArgs::Action::kRotate) {
      return absl::InvalidArgumentError("kek: --wait goes with rotate");
    }
    auto seconds = ParseSeconds("wait", flags.at("wait"), /*allow_zero=*/true);
    if (!seconds.ok()) return seconds.status();
    out->wait = absl::Seconds(*seconds);
  }
  return absl::OkStatus();
}

absl::Status FillAudit(const FlagValues& flags, const std::vector<std::string>& positionals,
                       AuditArgs* out) {
  if (!positionals.empty() && positionals[0] == "verify") {
    return FillAuditVerify(flags, positionals, out);
  }
  if (absl::Status s = NoPositionals(Verb::kAudit, positionals); !s.ok()) return s;
  if (flags.count("sign")) return absl::InvalidArgumentError("audit: --sign goes with verify");
  const std::string object = Get(flags, "object");
  if (!object.empty()) {
    bool hex = object.size() == 32;
    for (char c : object) hex = hex && absl::ascii_isxdigit(static_cast<unsigned char>(c));
    if (!hex) return absl::InvalidArgumentError("--object wants an object id of 32 hex digits");
    out->object_id = absl::HexStringToBytes(object);
  }
  if (flags.count("since")) {
    auto t = ParseTimeFlag("since", flags.at("since"));
    if (!t.ok()) return t.status();
    out->since_micros = *t;
  }
  if (flags.count("until")) {
    auto t = ParseTimeFlag("until", flags.at("until"));
    if (!t.ok()) return t.status();
    out->until_micros = *t;
  }
  if (out->until_micros != 0 && out->until_micros <= out->since_micros) {
    return absl::InvalidArgumentError("audit: --until must be after --since");
  }
  if (flags.count("limit")) {
    auto n = ParseCount("limit", flags.at("limit"));
    if (!n.ok()) return n.status();
    out->limit = *n;
  }
  out->json = flags.count("json") > 0;
  return absl::OkStatus();
}

absl::Status FillChunkserver(const FlagValues& flags, const std::vector<std::string>& positionals,
                             ChunkserverArgs* out) {
  const std::string action = positionals.empty() ? "" : positionals[0];
  if (action == "list") {
    if (positionals.size() > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("chunkserver list: unexpected argument '", positionals[1], "'"));
    }
    if (flags.count("undo"))
      return absl::InvalidArgumentError("chunkserver: --undo goes with drain");
    out->action = ChunkserverArgs::Action::kList;
    out->json = flags.count("json") > 0;
    return absl::OkStatus();
  }
  if (action == "drain") {
    if (positionals.size() != 2 || positionals[1].empty()) {
      return absl::InvalidArgumentError(
          "chunkserver drain: give one server ID (see `medvault chunkserver list`)");
    }
    if (flags.count("json"))
      return absl::InvalidArgumentError("chunkserver: --json goes with list");
    out->action = ChunkserverArgs::Action::kDrain;
    out->server_id = positionals[1];
    out->undo = flags.count("undo") > 0;
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError("chunkserver: say list or drain ID");
}

absl::Status FillScrub(const FlagValues& flags, const std::vector<std::string>& positionals,
                       ScrubArgs* out) {
  const std::string action = positionals.empty() ? "" : positionals[0];
  if (positionals.size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("scrub: unexpected argument '", positionals[1], "'"));
  }
  if (flags.count("server")) {
    out->server_id = flags.at("server");
    if (out->server_id.empty()) return absl::InvalidArgumentError("scrub: --server needs an ID");
  }
  out->json = flags.count("json") > 0;
  if (action == "start") {
    if (out->json) return absl::InvalidArgumentError("scrub: --json goes with status");
    out->action = ScrubArgs::Action::kStart;
    return absl::OkStatus();
  }
  if (action == "status") {
    out->action = ScrubArgs::Action::kStatus;
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError("scrub: say start or status");
}

absl::StatusOr<Command> ParseArgs(const std::vector<std::string>& args,
                                  absl::string_view default_frontend,
                                  absl::string_view default_tls_dir) {
  // Pass 1: find the verb, skipping flags and their values (the flag table says which take one).
  std::optional<size_t> verb_index;
  bool help = false;
  for (size_t i = 0; i < args.size() && !verb_index; ++i) {
    const std::string& token = args[i];
    if (token == "--") {
      if (i + 1 < args.size()) verb_index = i + 1;
      break;
    }
    if (!IsFlagToken(token)) {
      verb_index = i;
      break;
    }
    auto flag = SplitFlag(token);
    if (!flag.ok()) return flag.status();
    if (flag->name == "help") help = true;
    if (FindFlag(flag->name)->takes_value && !flag->value) {
      if (i + 1 >= args.size() || IsFlagToken(args[i + 1])) {
        return absl::InvalidArgumentError(absl::StrCat("flag --", flag->name, " needs a value"));
      }
      ++i;
    }
  }
  if (!verb_index) {
    if (help) return Command{};
    return absl::InvalidArgumentError("no verb given");
  }
  std::optional<Verb> verb = ParseVerb(args[*verb_index]);
  if (!verb) {
    return absl::InvalidArgumentError(absl::StrCat("unknown verb '", args[*verb_index], "'"));
  }

  // Pass 2: every flag, wherever it is, checked against the verb.
  Command cmd;
  cmd.verb = *verb;
  FlagValues flags;
  std::vector<std::string> positionals;
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (i == *verb_index) continue;
    const std::string& token = args[i];
    if (flags_done || !IsFlagToken(token)) {
      positionals.push_back(token);
      continue;
    }
    if (token == "--") {
      flags_done = true;
      continue;
    }
    auto flag = SplitFlag(token);
    if (!flag.ok()) return flag.status();
    const FlagSpec* spec = FindFlag(flag->name);
    if ((spec->verbs & Bit(*verb)) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("flag --", flag->name, " is not valid for '", VerbName(*verb), "'"));
    }
    if (spec->takes_value) {
      if (!flag->value) {
        // A following flag is not a value: "get --instance -o f" is missing the UID.
        if (i + 1 >= args.size() || i + 1 == *verb_index || IsFlagToken(args[i + 1])) {
          return absl::InvalidArgumentError(absl::StrCat("flag --", flag->name, " needs a value"));
        }
        flag->value = args[++i];
      }
      // share create and export take --study more than once.
      if ((cmd.verb == Verb::kShare || cmd.verb == Verb::kExport) && flag->name == "study" &&
          flags.count("study")) {
        flags["study"] += "\n" + *flag->value;
      } else {
        flags[flag->name] = *flag->value;
      }
    } else {
      if (flag->value) {
        bool b;
        if (!absl::SimpleAtob(*flag->value, &b)) {
          return absl::InvalidArgumentError(absl::StrCat("flag --", flag->name, " takes no value"));
        }
        if (!b) continue;
      }
      flags[flag->name] = "true";
    }
  }
  if (flags.count("help") || cmd.verb == Verb::kHelp) {
    cmd.verb = Verb::kHelp;
    return cmd;
  }

  // Global options.
  cmd.global.frontend = flags.count("frontend") ? flags["frontend"] : std::string(default_frontend);
  if (cmd.global.frontend.empty()) {
    return absl::InvalidArgumentError("--frontend must not be empty");
  }
  if (flags.count("timeout")) {
    auto seconds = ParseSeconds("timeout", flags["timeout"], /*allow_zero=*/false);
    if (!seconds.ok()) return seconds.status();
    cmd.global.timeout = absl::Seconds(*seconds);
  }
  if (absl::Status s = FillTransport(flags, cmd.verb, default_tls_dir, &cmd.global); !s.ok()) {
    return s;
  }

  switch (cmd.verb) {
    case Verb::kPut: {
      if (positionals.empty()) return absl::InvalidArgumentError("put: no PATH given");
      cmd.put.paths = positionals;
      auto jobs = ParseJobs(flags);
      if (!jobs.ok()) return jobs.status();
      cmd.put.jobs = *jobs;
      cmd.put.quiet = flags.count("quiet") > 0;
      break;
    }
    case Verb::kGet:
      if (absl::Status s = FillGet(flags, positionals, &cmd.get); !s.ok()) return s;
      cmd.get.document = flags.count("document") > 0;
      if (cmd.get.document &&
          (cmd.get.instance_uid.empty() || cmd.get.offset != 0 || cmd.get.length != 0)) {
        return absl::InvalidArgumentError(
            "get: --document goes with --instance UID, without --offset/--length");
      }
      break;
    case Verb::kFind:
      if (absl::Status s = FillFind(flags, positionals, &cmd.find); !s.ok()) return s;
      break;
    case Verb::kRm:
      if (absl::Status s = FillRm(flags, positionals, &cmd.rm); !s.ok()) return s;
      break;
    case Verb::kHealth: {
      if (positionals.empty()) return absl::InvalidArgumentError("health: no ADDR given");
      cmd.health.addresses = positionals;
      if (flags.count("wait")) {
        auto seconds = ParseSeconds("wait", flags["wait"], /*allow_zero=*/true);
        if (!seconds.ok()) return seconds.status();
        cmd.health.wait = absl::Seconds(*seconds);
      }
      break;
    }
    case Verb::kKek:
      if (absl::Status s = FillKek(flags, positionals, &cmd.kek); !s.ok()) return s;
      break;
    case Verb::kAudit:
      if (absl::Status s = FillAudit(flags, positionals, &cmd.audit); !s.ok()) return s;
      break;
    case Verb::kChunkserver:
      if (absl::Status s = FillChunkserver(flags, positionals, &cmd.chunkserver); !s.ok()) return s;
      break;
    case Verb::kScrub:
      if (absl::Status s = FillScrub(flags, positionals, &cmd.scrub); !s.ok()) return s;
      break;
    case Verb::kFsck:
      if (!positionals.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("fsck: unexpected argument '", positionals[0], "'"));
      }
      cmd.fsck.json = flags.count("json") > 0;
      break;
    case Verb::kImport: {
      auto jobs = ParseJobs(flags);
      if (!jobs.ok()) return jobs.status();
      if (absl::Status s = FillImport(positionals, *jobs, flags.count("quiet") > 0, &cmd.import);
          !s.ok()) {
        return s;
      }
      break;
    }
    case Verb::kAttach:
      if (absl::Status s =
              FillAttach(positionals, Get(flags, "study"), Get(flags, "type"), &cmd.attach);
          !s.ok()) {
        return s;
      }
      break;
    case Verb::kRaft:
      if (absl::Status s = FillRaft(flags.count("json"), positionals, &cmd.raft); !s.ok()) return s;
      break;
    case Verb::kShare:
      if (absl::Status s = FillShare(flags, positionals, &cmd.share); !s.ok()) return s;
      break;
    case Verb::kExport:
      if (absl::Status s = FillExport(flags, positionals, &cmd.export_); !s.ok()) return s;
      break;
    case Verb::kBackup:
      if (absl::Status s = FillBackup(flags, positionals, &cmd.backup); !s.ok()) return s;
      break;
    case Verb::kRetention:
      if (absl::Status s = FillRetention(flags, positionals, &cmd.retention); !s.ok()) return s;
      break;
    case Verb::kHelp:
      break;
  }
  return cmd;
}

std::string UsageText() {
  return R"(usage: medvault [--frontend ADDR] [--timeout SECONDS] VERB [args]

Stores, finds and fetches DICOM instances in a medvault cluster. Flags may come before or after
the verb, as "--flag value" or "--flag=value".

Global flags:
  --frontend ADDR     the ImageStore frontend (default: $MEDVAULT_FRONTEND, else 127.0.0.1:7600)
  --timeout SECONDS   deadline of each RPC (default 60)
  --tls_ca FILE --tls_cert FILE --tls_key FILE
                      mutual TLS: the cluster's CA and this client's certificate and key (PEM).
                      Default: ca.crt, client.crt and client.key in $MEDVAULT_TLS_DIR, else in
                      var/medvault/tls (the local cluster's, made by scripts/cluster up)
  --tls_server_name NAME
                      name the server's certificate must carry (default: frontend; for health,
                      only the CA signature and the dialled host are checked)
  --insecure_plaintext
                      talk plaintext gRPC to a server started with --insecure_plaintext

Verbs:
  put PATH... [--jobs N] [--quiet]
      Store files, or every regular file under folders (recursively, in sorted order).
      --jobs N files at a time (default 4). One progress line per file on stderr; exit 1 if
      any file failed.
  get --instance UID -o FILE [--offset N] [--length N]
      Fetch one instance (or N bytes of it, N >= 1, from --offset) into FILE. A regular FILE is
      replaced whole once complete; a FIFO or device (/dev/null) is written into, a symbolic
      link followed; a folder, socket or block device is refused.
  get --instance UID --document -o FILE
      Fetch the document an attached instance holds (see attach), byte for byte as attached.
  get --study UID -o DIR [--jobs N] [--quiet]
      Fetch a whole study into DIR/<series uid>/<sop instance uid>.dcm.
  find [--patient ID] [--modality M] [--from YYYYMMDD] [--to YYYYMMDD] [--limit N] [--json]
      List matching studies as a table, or as a JSON array with --json.
  rm --study UID | --instance UID
      Delete a study or one instance (its keys are destroyed; this cannot be undone).
  kek status
      Master-key (KEK) versions: which one wraps new keys, how many keys each wraps, and how many
      are left to rewrap. Needs the admin scope, as do the two below.
  kek rotate VERSION [--wait SECONDS]
      Make VERSION (a KEK file every key service replica holds) the one that wraps new keys, and
      rewrap every stored key under it in the background; --wait follows the progress.
  kek retire VERSION
      Retire a version no key uses any more; its key file can then be deleted.
  audit [--object ID] [--since TIME] [--until TIME] [--limit N] [--json]
      The key service's audit log: every key generation, release and destruction and every
      refused call, oldest first. ID is an object id (32 hex digits, as the logs print it); TIME
      is RFC 3339 (2026-11-23T13:00:00Z) or Unix seconds. Needs the admin scope.
  audit verify [--sign] [--json]
      Check the audit log's hash chain and signed heads; report the first bad record by position
      and time. --sign signs the current head first. Admin or audit scope; exit 1 if bad.
  chunkserver list [--json]
      The chunk servers the metaserver knows: id, address, failure domain, used and free space,
      whether up, and draining or drained. Needs the admin scope, as does drain.
  chunkserver drain ID [--undo]
      Decommission a chunk server: it gets no new chunks and its replicas are copied elsewhere;
      once `chunkserver list` says drained it can be switched off. --undo takes it back.
  scrub start [--server ID]
      Start a scrub pass now on one chunk server (ID as `chunkserver list` prints it) or on every
      up one: each re-reads and verifies every chunk it stores; corrupt replicas (rot, a file
      holding another chunk's bytes) are quarantined, reported and repaired from good replicas.
      Needs the admin scope, as does status.
  scrub status [--server ID] [--json]
      Each chunk server's current or last pass: running or finished, chunks checked of the total,
      bad replicas found, when it started and finished.
  fsck [--json]
      Check the index: list every stored instance whose index entry breaks the index's rules
      (a UID that is not a valid DICOM UID, a value indexed as a hex dump, a field longer than
      its VR allows), as written before those rules were enforced. Exit 1 if any is found.
      Needs the admin scope.
  import PATH [--jobs N] [--quiet]
      Store what a folder, mounted CD/DVD/USB medium, ZIP file or ISO image holds: the files its
      DICOMDIR references, or without one every DICOM file below PATH. Instances already stored
      are skipped (safe to run again). A progress bar on a terminal (--quiet: none); a summary of
      stored, already stored and refused files (with each reason); exit 1 if any was refused.
  export --study UID [--study UID...] --out PATH [--format dir|zip|iso] [--quiet]
      Write the studies as an IHE PDI medium (a DICOMDIR, DICOM/ with each instance as stored,
      README.TXT, INDEX.HTM) into a new folder, a ZIP file or an ISO 9660 image (the format
      follows PATH's .zip/.iso ending unless --format says). A progress bar on a terminal.
  attach --study UID FILE [--type pdf|cda|ccr|hl7v2|rtf|text]
      Store a report or other document with a stored study, as a DICOM Encapsulated Document
      instance carrying the study's patient and study attributes (PDF and CDA in their standard
      SOP classes). The type is guessed from the content when --type is absent; a file that is
      not what its type says, an empty file or an unknown study is refused and nothing is
      stored. Prints the new instance's SOP Instance UID.
  raft status [metaserver|keyservice] [--json]
      Each Raft group as its leader sees it: leader, term, commit and applied index, and every
      member's role, match index and lag. Needs the admin scope, as do the three below.
  raft add GROUP ID HOST:PORT
      Add member ID (a replica started empty, without --raft_bootstrap) to GROUP (metaserver or
      keyservice) as a learner; the leader promotes it to voter once it has caught up.
  raft remove GROUP ID
      Remove member ID (removing the leader hands leadership off first).
  raft transfer-leader GROUP [ID]
      Hand leadership to member ID, or to the most caught-up voter.
  share create --study UID [--study UID...] [--expires 30d] [--max-uses N] [--no-download]
               [--label TEXT] [--json]
      Share studies with a recipient: prints an access code and a PIN, once (only their hashes are
      kept). The recipient enters both on the frontend's HTTPS page. Five wrong PINs lock the
      share. --expires: 1m to 365d (default 30d). Needs the write scope, as does revoke.
  share list [--json] | share show SHARE | share revoke SHARE | share log SHARE [--json]
      SHARE is the share id `list` prints (or the access code). revoke ends the share and any
      session open on it; log lists every redemption and access (when, from where, what, result,
      and the precise reason of each refusal).
  share unlock SHARE
      Clear the wrong-PIN count of a locked share. Needs the admin scope.
  backup create --out FILE --backup_key KEYFILE
      Copy the metaserver's and the key service's state from the running cluster into FILE,
      encrypted (AES-256-GCM) with the backup key in KEYFILE (32 random bytes, mode 0600); data
      keys stay wrapped under the master keys. Needs the admin scope. Restore: docs/operations.md.
  backup verify --in FILE --backup_key KEYFILE [--json]
      Open a backup with its key and say what it holds; exit 1 if it does not authenticate.
  retention set STUDY --days N | --after-last-share
      Delete the study N days after it was stored, or once its last share has expired or been
      revoked; the metaserver deletes it as rm does (keys destroyed). Needs the delete scope, as
      does clear. A rule may name a study before it is stored.
  retention clear STUDY | retention show STUDY [--json]
  retention hold STUDY | retention release STUDY
      Place or release a legal hold: while held, nothing deletes the study (rm, retention).
      Needs the admin scope. find shows each study's rule and hold.
  health ADDR... [--wait SECONDS]
      Ask each medvault server whether it is SERVING; with --wait, keep trying until all are
      or the time runs out. Exit 0 iff all are serving.
  help
      Show this text.

Exit status: 0 success, 1 an operation failed, 2 usage error.
)";
}

}  // namespace medvault::cli

// ParseArgs: finds the verb, collects the flags (checked against the verb's table), fills the
// global options and hands the rest to the verb's own parser (cli/args_<verb>.cc, see
// cli/args_verb.h). The usage text is assembled from the verbs' own lines.
#include "cli/args.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli/args_verb.h"

namespace medvault::cli {
namespace {

// The global flags, valid with every verb.
constexpr VerbFlag kGlobalFlags[] = {
    {"frontend", true},
    {"timeout", true},
    {"tls_ca", true},
    {"tls_cert", true},
    {"tls_key", true},
    {"tls_server_name", true},
    {"insecure_plaintext", false},
    {"help", false},
};

const VerbSpec& HelpVerb() {
  static const VerbSpec spec{Verb::kHelp, "help", {}, nullptr, R"(  help
      Show this text.
)"};
  return spec;
}

const VerbSpec* VerbNamed(absl::string_view name) {
  for (const VerbSpec* verb : AllVerbs()) {
    if (name == verb->name) return verb;
  }
  return nullptr;
}

// `name` among the global flags and those of `verb`; nullptr if neither has it.
const VerbFlag* FlagOf(const VerbSpec& verb, absl::string_view name) {
  for (const VerbFlag& f : kGlobalFlags) {
    if (name == f.name) return &f;
  }
  for (const VerbFlag& f : verb.flags) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

// `name` among every flag the client knows (verbs agree on whether a flag takes a value:
// args_test checks it); nullptr for an unknown flag.
const VerbFlag* FindFlag(absl::string_view name) {
  for (const VerbSpec* verb : AllVerbs()) {
    if (const VerbFlag* f = FlagOf(*verb, name)) return f;
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

// --tls_ca/--tls_cert/--tls_key (all or none), --insecure_plaintext, --tls_server_name.
absl::Status FillTransport(const FlagValues& flags, Verb verb, absl::string_view default_tls_dir,
                           GlobalOptions* global) {
  for (const char* name : {"tls_ca", "tls_cert", "tls_key", "tls_server_name"}) {
    auto it = flags.find(name);
    if (it != flags.end() && it->second.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " must not be empty"));
    }
  }
  global->tls = TlsFiles{FlagValue(flags, "tls_ca"), FlagValue(flags, "tls_cert"),
                         FlagValue(flags, "tls_key")};
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
    global->tls_server_name = FlagValue(flags, "tls_server_name");
  } else if (verb != Verb::kHealth) {
    global->tls_server_name = kFrontendPeer;
  }
  return absl::OkStatus();
}

}  // namespace

const std::vector<const VerbSpec*>& AllVerbs() {
  // The dispatch table, in the order of the usage text: one line a verb.
  // clang-format off
  static const std::vector<const VerbSpec*> verbs = {
      &PutVerb(),
      &GetVerb(),
      &FindVerb(),
      &RmVerb(),
      &KekVerb(),
      &AuditVerb(),
      &ChunkserverVerb(),
      &ScrubVerb(),
      &FsckVerb(),
      &ImportVerb(),
      &ExportVerb(),
      &AttachVerb(),
      &RaftVerb(),
      &ShareVerb(),
      &BackupVerb(),
      &RetentionVerb(),
      &HealthVerb(),
      &HelpVerb(),
  };
  // clang-format on
  return verbs;
}

absl::string_view VerbName(Verb verb) {
  for (const VerbSpec* spec : AllVerbs()) {
    if (spec->verb == verb) return spec->name;
  }
  return "help";
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
  const VerbSpec* verb = VerbNamed(args[*verb_index]);
  if (verb == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown verb '", args[*verb_index], "'"));
  }

  // Pass 2: every flag, wherever it is, checked against the verb.
  Command cmd;
  cmd.verb = verb->verb;
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
    const VerbFlag* spec = FlagOf(*verb, flag->name);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("flag --", flag->name, " is not valid for '", verb->name, "'"));
    }
    if (spec->takes_value) {
      if (!flag->value) {
        // A following flag is not a value: "get --instance -o f" is missing the UID.
        if (i + 1 >= args.size() || i + 1 == *verb_index || IsFlagToken(args[i + 1])) {
          return absl::InvalidArgumentError(absl::StrCat("flag --", flag->name, " needs a value"));
        }
        flag->value = args[++i];
      }
      if (spec->repeated && flags.count(flag->name)) {
        flags[flag->name] += "\n" + *flag->value;
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

  if (verb->fill != nullptr) {
    if (absl::Status s = verb->fill(flags, positionals, &cmd); !s.ok()) return s;
  }
  return cmd;
}

std::string UsageText() {
  std::string text = R"(usage: medvault [--frontend ADDR] [--timeout SECONDS] VERB [args]

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
)";
  for (const VerbSpec* verb : AllVerbs()) text += verb->usage;
  return text + R"(
Exit status: 0 success, 1 an operation failed, 2 usage error.
)";
}

}  // namespace medvault::cli

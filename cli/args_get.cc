// Parsing of `medvault get --instance UID -o FILE ...` and `get --study UID -o DIR ...`.
#include "cli/args_verb.h"

namespace medvault::cli {
namespace {

absl::Status FillGetArgs(const FlagValues& flags, const std::vector<std::string>& positionals,
                         GetArgs* get) {
  if (absl::Status s = NoPositionals(Verb::kGet, positionals); !s.ok()) return s;
  for (const char* name : {"instance", "study", "output"}) {
    if (absl::Status s = RequireNonEmpty(Verb::kGet, flags, name); !s.ok()) return s;
  }
  get->instance_uid = FlagValue(flags, "instance");
  get->study_uid = FlagValue(flags, "study");
  get->output = FlagValue(flags, "output");
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
    auto n = ParseCount("offset", FlagValue(flags, "offset"));
    if (!n.ok()) return n.status();
    get->offset = *n;
  }
  if (flags.count("length")) {
    auto n = ParseCount("length", FlagValue(flags, "length"));
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

absl::Status FillGet(const FlagValues& flags, const std::vector<std::string>& positionals,
                     Command* cmd) {
  if (absl::Status s = FillGetArgs(flags, positionals, &cmd->get); !s.ok()) return s;
  cmd->get.document = flags.count("document") > 0;
  if (cmd->get.document &&
      (cmd->get.instance_uid.empty() || cmd->get.offset != 0 || cmd->get.length != 0)) {
    return absl::InvalidArgumentError(
        "get: --document goes with --instance UID, without --offset/--length");
  }
  return absl::OkStatus();
}

}  // namespace

const VerbSpec& GetVerb() {
  static const VerbSpec spec{Verb::kGet,
                             "get",
                             {{"jobs", true},
                              {"quiet", false},
                              {"instance", true},
                              {"study", true},
                              {"document", false},
                              {"output", true},
                              {"offset", true},
                              {"length", true}},
                             FillGet,
                             R"(  get --instance UID -o FILE [--offset N] [--length N]
      Fetch one instance (or N bytes of it, N >= 1, from --offset) into FILE. A regular FILE is
      replaced whole once complete; a FIFO or device (/dev/null) is written into, a symbolic
      link followed; a folder, socket or block device is refused.
  get --instance UID --document -o FILE
      Fetch the document an attached instance holds (see attach), byte for byte as attached.
  get --study UID -o DIR [--jobs N] [--quiet]
      Fetch a whole study into DIR/<series uid>/<sop instance uid>.dcm.
)"};
  return spec;
}

}  // namespace medvault::cli

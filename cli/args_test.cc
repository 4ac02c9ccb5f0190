#include "cli/args.h"

#include <gtest/gtest.h>

#include <set>

#include "cli/args_verb.h"

namespace medvault::cli {
namespace {

absl::StatusOr<Command> Parse(std::vector<std::string> args) {
  return ParseArgs(args, "default:1");
}

void ExpectUsageError(std::vector<std::string> args, const std::string& fragment) {
  absl::StatusOr<Command> cmd = Parse(args);
  ASSERT_FALSE(cmd.ok()) << "parsed: " << args.size() << " args";
  EXPECT_EQ(cmd.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(cmd.status().message().find(fragment), std::string::npos) << cmd.status().message();
}

TEST(ArgsTest, PutWithFlagsBeforeAndAfterVerb) {
  absl::StatusOr<Command> cmd =
      Parse({"--frontend", "fe:7", "put", "a.dcm", "--jobs", "8", "dir", "--quiet"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->verb, Verb::kPut);
  EXPECT_EQ(cmd->global.frontend, "fe:7");
  EXPECT_EQ(cmd->put.paths, (std::vector<std::string>{"a.dcm", "dir"}));
  EXPECT_EQ(cmd->put.jobs, 8);
  EXPECT_TRUE(cmd->put.quiet);

  cmd = Parse({"put", "--frontend=fe:8", "a", "--timeout", "5"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->global.frontend, "fe:8");
  EXPECT_EQ(cmd->global.timeout, absl::Seconds(5));
  EXPECT_EQ(cmd->put.jobs, kDefaultJobs);
  EXPECT_FALSE(cmd->put.quiet);
}

TEST(ArgsTest, Defaults) {
  absl::StatusOr<Command> cmd = Parse({"put", "x"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->global.frontend, "default:1");
  EXPECT_EQ(cmd->global.timeout, absl::Seconds(60));
}

TEST(ArgsTest, TlsDefaultsToTheLocalClustersClientCertificate) {
  absl::StatusOr<Command> cmd = ParseArgs({"find"}, "fe:1", "/data/tls/");
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_FALSE(cmd->global.insecure_plaintext);
  EXPECT_TRUE(cmd->global.tls_from_default_dir);
  EXPECT_EQ(cmd->global.tls.ca_file, "/data/tls/ca.crt");
  EXPECT_EQ(cmd->global.tls.cert_file, "/data/tls/client.crt");
  EXPECT_EQ(cmd->global.tls.key_file, "/data/tls/client.key");
  EXPECT_EQ(cmd->global.tls_server_name, "frontend");

  cmd = Parse({"find"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->global.tls.ca_file, std::string(kDefaultTlsDir) + "/ca.crt");

  // health may ask any service: only the CA and the dialled host are checked unless told.
  cmd = Parse({"health", "a:1"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->global.tls_server_name, "");
  cmd = Parse({"health", "a:1", "--tls_server_name", "keyservice"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->global.tls_server_name, "keyservice");
}

TEST(ArgsTest, TlsFlagsAndPlaintext) {
  absl::StatusOr<Command> cmd =
      Parse({"--tls_ca", "c.pem", "find", "--tls_cert=me.pem", "--tls_key", "me.key"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_FALSE(cmd->global.tls_from_default_dir);
  EXPECT_EQ(cmd->global.tls.ca_file, "c.pem");
  EXPECT_EQ(cmd->global.tls.cert_file, "me.pem");
  EXPECT_EQ(cmd->global.tls.key_file, "me.key");

  cmd = Parse({"find", "--insecure_plaintext"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_TRUE(cmd->global.insecure_plaintext);
  EXPECT_TRUE(cmd->global.tls.empty());

  ExpectUsageError({"find", "--tls_ca", "c.pem"}, "all of --tls_ca, --tls_cert and --tls_key");
  ExpectUsageError(
      {"find", "--tls_ca", "c", "--tls_cert", "m", "--tls_key", "k", "--insecure_plaintext"},
      "contradicts");
  ExpectUsageError({"find", "--tls_ca="}, "must not be empty");
}

TEST(ArgsTest, DoubleDashEndsFlags) {
  absl::StatusOr<Command> cmd = Parse({"put", "--", "--weird-name", "b"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->put.paths, (std::vector<std::string>{"--weird-name", "b"}));
}

TEST(ArgsTest, GetInstanceAndStudy) {
  absl::StatusOr<Command> cmd =
      Parse({"get", "--instance", "1.2.3", "-o", "out.dcm", "--offset=10", "--length", "20"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->verb, Verb::kGet);
  EXPECT_EQ(cmd->get.instance_uid, "1.2.3");
  EXPECT_EQ(cmd->get.output, "out.dcm");
  EXPECT_EQ(cmd->get.offset, 10u);
  EXPECT_EQ(cmd->get.length, 20u);

  cmd = Parse({"-o", "dir", "get", "--study", "1.2"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->get.study_uid, "1.2");
  EXPECT_EQ(cmd->get.output, "dir");
}

TEST(ArgsTest, GetUsageErrors) {
  ExpectUsageError({"get", "--instance", "1.2"}, "-o FILE is required");
  ExpectUsageError({"get", "-o", "f"}, "exactly one");
  ExpectUsageError({"get", "--instance", "1", "--study", "2", "-o", "f"}, "exactly one");
  ExpectUsageError({"get", "--study", "2", "-o", "d", "--offset", "3"}, "--instance only");
  ExpectUsageError({"get", "--instance", "-o", "f"}, "--instance needs a value");
  ExpectUsageError({"get", "--instance", "1", "-o"}, "--output needs a value");
  // A negative number is a bad value, not a missing one (issue 14, item 9).
  ExpectUsageError({"get", "--instance", "1", "-o", "f", "--offset", "-3"}, "non-negative");
  ExpectUsageError({"get", "--instance", "1", "-o", "f", "--offset", "-1"}, "non-negative");
  ExpectUsageError({"get", "--instance", "1", "-o", "f", "--length", "-1"}, "non-negative");
  // Length 0 would read as "to the end" and return the whole instance: refused.
  ExpectUsageError({"get", "--instance", "1", "-o", "f", "--length", "0"}, "at least 1");
  ExpectUsageError({"get", "--instance", "1", "-o", "f", "--length=0"}, "at least 1");
  ExpectUsageError({"get", "--instance", "1", "-o", "f", "--offset=-3"}, "non-negative");
  ExpectUsageError({"get", "--instance", "1", "-o", "f", "extra"}, "unexpected argument");
  ExpectUsageError({"get", "--instance=", "-o", "f"}, "must not be empty");
}

TEST(ArgsTest, Find) {
  absl::StatusOr<Command> cmd = Parse({"find", "--patient", "P1", "--modality", "mr", "--from",
                                       "2020-01-02", "--to", "20211231", "--limit", "5", "--json"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->verb, Verb::kFind);
  EXPECT_EQ(cmd->find.patient_id, "P1");
  EXPECT_EQ(cmd->find.modality, "MR");
  EXPECT_EQ(cmd->find.date_from, "20200102");
  EXPECT_EQ(cmd->find.date_to, "20211231");
  EXPECT_EQ(cmd->find.limit, 5u);
  EXPECT_TRUE(cmd->find.json);

  cmd = Parse({"find"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->find.limit, 0u);
  EXPECT_FALSE(cmd->find.json);

  ExpectUsageError({"find", "--from", "2020"}, "YYYYMMDD");
  ExpectUsageError({"find", "--from", "20201301"}, "YYYYMMDD");
  ExpectUsageError({"find", "--from", "20210101", "--to", "20200101"}, "after");
  ExpectUsageError({"find", "--limit", "x"}, "--limit");
  ExpectUsageError({"find", "--json=maybe"}, "takes no value");
}

TEST(ArgsTest, Rm) {
  absl::StatusOr<Command> cmd = Parse({"rm", "--study", "1.2"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->verb, Verb::kRm);
  EXPECT_EQ(cmd->rm.study_uid, "1.2");
  cmd = Parse({"rm", "--instance", "1.3"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->rm.instance_uid, "1.3");
  ExpectUsageError({"rm"}, "exactly one");
  ExpectUsageError({"rm", "--study", "1", "--instance", "2"}, "exactly one");
}

TEST(ArgsTest, Health) {
  absl::StatusOr<Command> cmd = Parse({"health", "a:1", "b:2", "--wait", "2.5"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->verb, Verb::kHealth);
  EXPECT_EQ(cmd->health.addresses, (std::vector<std::string>{"a:1", "b:2"}));
  EXPECT_EQ(cmd->health.wait, absl::Milliseconds(2500));
  ExpectUsageError({"health"}, "no ADDR");
  ExpectUsageError({"health", "a:1", "--wait", "-1"}, "--wait");
}

TEST(ArgsTest, Help) {
  for (auto args : std::vector<std::vector<std::string>>{
           {"help"}, {"--help"}, {"-h"}, {"put", "--help"}, {"get", "-h"}}) {
    absl::StatusOr<Command> cmd = Parse(args);
    ASSERT_TRUE(cmd.ok()) << cmd.status();
    EXPECT_EQ(cmd->verb, Verb::kHelp);
  }
  EXPECT_NE(UsageText().find("put PATH..."), std::string::npos);
}

TEST(ArgsTest, UsageErrors) {
  ExpectUsageError({}, "no verb");
  ExpectUsageError({"--frontend", "x"}, "no verb");
  ExpectUsageError({"frobnicate"}, "unknown verb");
  ExpectUsageError({"put", "a", "--bogus"}, "unknown flag");
  ExpectUsageError({"put", "a", "-x"}, "unknown flag");
  ExpectUsageError({"put"}, "no PATH");
  ExpectUsageError({"put", "a", "--jobs"}, "--jobs needs a value");
  ExpectUsageError({"put", "a", "--jobs", "0"}, "--jobs");
  ExpectUsageError({"--frontend"}, "--frontend needs a value");
  ExpectUsageError({"--frontend", "--timeout", "3", "put", "a"}, "--frontend needs a value");
  ExpectUsageError({"put", "a", "--timeout", "0"}, "--timeout");
  ExpectUsageError({"put", "a", "--json"}, "not valid for 'put'");
  ExpectUsageError({"find", "--wait", "3"}, "not valid for 'find'");
  ExpectUsageError({"put", "a", "--frontend="}, "must not be empty");
}

TEST(ArgsTest, KekActions) {
  absl::StatusOr<Command> cmd = Parse({"kek", "status"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->verb, Verb::kKek);
  EXPECT_EQ(cmd->kek.action, KekArgs::Action::kStatus);
  cmd = Parse({"kek", "rotate", "2", "--wait", "30"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->kek.action, KekArgs::Action::kRotate);
  EXPECT_EQ(cmd->kek.version, 2u);
  EXPECT_EQ(cmd->kek.wait, absl::Seconds(30));
  cmd = Parse({"kek", "retire", "1"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->kek.action, KekArgs::Action::kRetire);
  ExpectUsageError({"kek"}, "status, rotate VERSION or retire VERSION");
  ExpectUsageError({"kek", "rotate"}, "one positive KEK VERSION");
  ExpectUsageError({"kek", "rotate", "0"}, "one positive KEK VERSION");
  ExpectUsageError({"kek", "spin"}, "unknown action");
  ExpectUsageError({"kek", "retire", "1", "--wait", "5"}, "--wait goes with rotate");
}

TEST(ArgsTest, AuditFilters) {
  absl::StatusOr<Command> cmd =
      Parse({"audit", "--object", "00112233445566778899aabbccddeeff", "--since",
             "2026-11-23T13:00:00Z", "--until", "1796000000", "--limit", "5", "--json"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->verb, Verb::kAudit);
  EXPECT_EQ(cmd->audit.object_id,
            std::string("\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff", 16));
  EXPECT_EQ(cmd->audit.since_micros, 1795438800000000);  // date -d 2026-11-23T13:00:00Z +%s
  EXPECT_EQ(cmd->audit.until_micros, 1796000000000000);
  EXPECT_EQ(cmd->audit.limit, 5u);
  EXPECT_TRUE(cmd->audit.json);
  ExpectUsageError({"audit", "--object", "xyz"}, "32 hex digits");
  ExpectUsageError({"audit", "--since", "yesterday"}, "wants a time");
  ExpectUsageError({"audit", "--since", "1795000000", "--until", "1794000000"}, "after --since");
}

TEST(ArgsTest, AuditVerify) {
  absl::StatusOr<Command> cmd = Parse({"audit", "verify", "--sign", "--json"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->verb, Verb::kAudit);
  EXPECT_TRUE(cmd->audit.verify);
  EXPECT_TRUE(cmd->audit.sign);
  EXPECT_TRUE(cmd->audit.json);
  cmd = Parse({"audit", "verify"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_TRUE(cmd->audit.verify);
  EXPECT_FALSE(cmd->audit.sign);
  ExpectUsageError({"audit", "verify", "--object", "00112233445566778899aabbccddeeff"},
                   "does not apply");
  ExpectUsageError({"audit", "verify", "now"}, "unexpected argument");
  ExpectUsageError({"audit", "--sign"}, "goes with verify");
}

TEST(ArgsTest, ChunkserverActions) {
  absl::StatusOr<Command> cmd = Parse({"chunkserver", "list", "--json"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->verb, Verb::kChunkserver);
  EXPECT_EQ(cmd->chunkserver.action, ChunkserverArgs::Action::kList);
  EXPECT_TRUE(cmd->chunkserver.json);
  cmd = Parse({"chunkserver", "drain", "abc123", "--undo"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->chunkserver.action, ChunkserverArgs::Action::kDrain);
  EXPECT_EQ(cmd->chunkserver.server_id, "abc123");
  EXPECT_TRUE(cmd->chunkserver.undo);
  ExpectUsageError({"chunkserver"}, "say list or drain ID");
  ExpectUsageError({"chunkserver", "drain"}, "give one server ID");
  ExpectUsageError({"chunkserver", "list", "--undo"}, "--undo goes with drain");
  ExpectUsageError({"find", "--undo"}, "not valid for 'find'");
}

TEST(ArgsTest, ScrubActions) {
  absl::StatusOr<Command> cmd = Parse({"scrub", "start", "--server", "abc123"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->verb, Verb::kScrub);
  EXPECT_EQ(cmd->scrub.action, ScrubArgs::Action::kStart);
  EXPECT_EQ(cmd->scrub.server_id, "abc123");
  cmd = Parse({"scrub", "status", "--json"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->scrub.action, ScrubArgs::Action::kStatus);
  EXPECT_TRUE(cmd->scrub.server_id.empty());
  EXPECT_TRUE(cmd->scrub.json);
  ExpectUsageError({"scrub"}, "say start or status");
  ExpectUsageError({"scrub", "start", "--json"}, "--json goes with status");
  ExpectUsageError({"scrub", "status", "extra"}, "unexpected argument");
  ExpectUsageError({"find", "--server", "x"}, "not valid for 'find'");
}

// The dispatch table (cli/args.cc) holds each verb once, under the name VerbName gives it, and
// verbs agree on whether a flag of the same name takes a value (pass 1 skips values by it).
TEST(ArgsTest, DispatchTableHoldsEachVerbOnceWithConsistentFlags) {
  std::set<Verb> verbs;
  std::set<std::string> names;
  std::map<std::string, bool> takes_value;
  for (const VerbSpec* spec : AllVerbs()) {
    EXPECT_TRUE(verbs.insert(spec->verb).second) << spec->name;
    EXPECT_TRUE(names.insert(spec->name).second) << spec->name;
    EXPECT_EQ(VerbName(spec->verb), spec->name);
    EXPECT_NE(UsageText().find(spec->usage), std::string::npos) << spec->name;
    for (const VerbFlag& flag : spec->flags) {
      auto it = takes_value.emplace(flag.name, flag.takes_value).first;
      EXPECT_EQ(it->second, flag.takes_value) << spec->name << " --" << flag.name;
    }
  }
  EXPECT_EQ(verbs.size(), static_cast<size_t>(Verb::kRetention) + 1);
}

}  // namespace
}  // namespace medvault::cli

// The frontend binary: the public ImageStore API. Stateless; parses, encrypts, places and
// replicates chunks, commits manifests.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "common/access_policy.h"
#include "common/env.h"
#include "common/group_channels.h"
#include "common/key_hygiene.h"
#include "common/log.h"
#include "common/media/pdi.h"
#include "common/metrics.h"
#include "common/rpc.h"
#include "common/tls.h"
#include "common/tls_flags.h"
#include "frontend/core/denial_forwarder.h"
#include "frontend/core/image_store_core.h"
#include "frontend/core/share_desk.h"
#include "frontend/dimse/dimse_server.h"
#include "frontend/service/admin_service.h"
#include "frontend/service/grpc_clients.h"
#include "frontend/service/image_store_service.h"
#include "frontend/web/dicomweb.h"
#include "frontend/web/https_server.h"
#include "frontend/web/share_web.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0",
          "host:port for the ImageStore gRPC API (port 0 picks one)");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:0", "host:port for /metrics; empty disables");
ABSL_FLAG(std::string, metaserver, "",
          "host:port[,host:port...] of the metaserver group (required)");
ABSL_FLAG(std::string, keyservice, "",
          "host:port[,host:port...] of the key service group (required)");
ABSL_FLAG(uint32_t, chunk_size_bytes, 1 << 20, "plaintext bytes per chunk (64 KiB .. 16 MiB)");
ABSL_FLAG(uint32_t, replicas, 3, "replicas per chunk written before a put is acknowledged (1..5)");
ABSL_FLAG(uint32_t, dek_batch, 16, "data keys fetched from the key service per refill");
ABSL_FLAG(uint32_t, placement_lease_chunks, 0,
          "chunk placements leased ahead from the metaserver for small puts (0..1024; 0: every put "
          "asks the metaserver for its own; 64 was measured)");
ABSL_FLAG(uint32_t, placement_lease_ms, 5000,
          "how long a leased chunk placement may be used (100..60000 ms)");
ABSL_FLAG(
    int64_t, read_hedge_delay_ms, 200,
    "A chunk replica that has not answered a read within this many ms is joined by a read of the "
    "next replica; the first good answer wins. 0 disables hedging (failover on errors only)");
ABSL_FLAG(int64_t, max_write_seconds, 300,
          "a put whose first chunk write is older than this at its commit is not committed; keep "
          "below the "
          "metaserver's orphan grace");
ABSL_FLAG(uint32_t, put_window_chunks, 8,
          "chunks of one put written at once, each to every replica (1..64): more keeps more "
          "chunk-server "
          "writes and fsyncs overlapping, and holds more sealed bytes in memory per put");
ABSL_FLAG(uint32_t, read_window_chunks, 4,
          "chunks of one read fetched at once (1..64): the one being sent and those after it in "
          "the range; "
          "more overlaps more chunk-server round trips and holds more chunks in memory per read");
ABSL_FLAG(uint32_t, manifest_cache_entries, 0,
          "instance manifests the frontend caches (least recently used go first; 0: none), so a "
          "read of an instance read recently skips the metaserver lookup; a cached manifest never "
          "outlives its object's delete, whose key destruction every read still meets. Off by "
          "default: it did not pay measurably on a 2-core machine (docs/benchmarks.md)");
ABSL_FLAG(uint32_t, manifest_cache_seconds, 60,
          "how long a cached manifest is used after its lookup (1..3600): bounds how stale the "
          "replica locations it names can be");
ABSL_FLAG(uint32_t, key_grant_seconds, 0,
          "study key grants (0..300 s; 0: off): a read of an instance of a study by a client "
          "releases the keys of the whole study in one audited call and keeps them this long for "
          "that client's reads of that study; every read still looks its instance up in the "
          "metaserver, so a delete is never defeated by a grant (docs/security.md)");
ABSL_FLAG(uint32_t, transfer_memory_mib, 256,
          "sealed chunks all puts and reads may hold beyond the one each is working on, in MiB (of "
          "chunks of "
          "--chunk_size_bytes); their windows grow only within it, and go one chunk at a time when "
          "it is spent");
ABSL_FLAG(uint32_t, max_concurrent_transfers, 512,
          "PutInstance and GetInstance calls served at once; one more is refused with "
          "RESOURCE_EXHAUSTED. With "
          "--transfer_memory_mib this bounds the frontend's memory (about one chunk per transfer "
          "on top)");
ABSL_FLAG(uint64_t, max_instance_bytes, uint64_t{2} << 30,
          "largest instance accepted by PutInstance");
ABSL_FLAG(std::string, client_scopes_file, "",
          "Which clients (certificate CN) may do what: lines \"<name> read,write,delete,admin\"; "
          "required with mutual TLS");
ABSL_FLAG(
    uint32_t, max_audited_denials_per_second, 100,
    "refusals of clients recorded in the key service's audit log per second (the rest are only "
    "logged and counted)");

ABSL_FLAG(int32_t, dicom_port, -1,
          "TCP port of the DIMSE door (C-ECHO, C-STORE); 0 picks a free one, -1 disables it");
ABSL_FLAG(std::string, dicom_host, "127.0.0.1",
          "address the DIMSE door listens on (0.0.0.0 for every interface)");
ABSL_FLAG(std::string, dicom_ae_title, "MEDVAULT",
          "the DIMSE door's AE title; associations calling another are refused");
ABSL_FLAG(std::string, dicom_access_file, "",
          "calling AE titles allowed on the DIMSE door, with their scopes: lines \"<AE or *> <IP, "
          "loopback or *> read,write\" (docs/dicom-conformance.md); empty: any AE from loopback, "
          "read and write");
ABSL_FLAG(std::string, dicom_peers_file, "",
          "C-MOVE destinations of the DIMSE door: lines \"<AE title> <host> <port> [tls | "
          "tls=<CA file>]\" (docs/operations.md; tls: DICOM TLS verified with --tls_ca or the "
          "file, presenting --tls_cert); a Move Destination not listed is refused (A801). Empty: "
          "none");
ABSL_FLAG(int32_t, dicom_tls_port, -1,
          "TCP port of the DIMSE door over DICOM TLS (the same AE title, rules and peers; peers "
          "must present a certificate of --tls_ca; the door presents --tls_cert), on --dicom_host; "
          "0 picks a free one, -1 disables it");
ABSL_FLAG(uint32_t, dicom_max_associations, 32,
          "DIMSE associations served at once; more are refused (transient, local limit)");
ABSL_FLAG(uint32_t, dicom_max_pdu_bytes, 116794, "largest PDU the DIMSE door receives");
ABSL_FLAG(int32_t, dicom_acse_timeout_seconds, 30,
          "DIMSE association negotiation and release timeout");
ABSL_FLAG(int32_t, dicom_dimse_timeout_seconds, 60,
          "a DIMSE message or data set that stalls this long aborts its association");
ABSL_FLAG(int32_t, dicom_idle_timeout_seconds, 300,
          "a DIMSE association with no request for this long is aborted");
ABSL_FLAG(uint32_t, http_port, 0,
          "HTTPS port of the DICOMweb door (under /dicomweb/, client certificate required), on "
          "the host of --listen; 0 turns it off. Needs mutual TLS (--tls_*)");
ABSL_FLAG(uint32_t, http_max_header_bytes, 16 << 10,
          "largest HTTP request header accepted (larger: 431)");
ABSL_FLAG(uint64_t, http_max_body_bytes, 64 << 10,
          "largest HTTP request body accepted (larger: 413)");
ABSL_FLAG(uint64_t, http_max_stow_bytes, uint64_t{8} << 30,
          "largest STOW-RS request body accepted, streamed part by part (larger: 413; each part "
          "is also held to --max_instance_bytes)");
ABSL_FLAG(int64_t, http_idle_timeout_seconds, 60,
          "an HTTPS connection whose read or write (a request header, a piece of a body or of "
          "an answer) does not complete within this long is shut down");
ABSL_FLAG(std::string, share_page_dir, "",
          "Directory of the built share page (frontend/web/page/build); empty: share-page/ beside "
          "the bin/ directory of this executable (the build tree's)");
ABSL_FLAG(int64_t, share_session_idle_seconds, 15 * 60,
          "A recipient's browser session unused this long ends");
ABSL_FLAG(int64_t, share_session_max_seconds, 2 * 3600,
          "A recipient's browser session ends this long after it was opened");
ABSL_FLAG(uint32_t, http_max_connections, 64, "HTTPS connections served at once");
ABSL_FLAG(std::string, http_cors_origins, "",
          "Browser origins allowed to call DICOMweb cross-origin (CORS), comma-separated "
          "(https://viewer.example,https://ohif.example:8443) or *; empty: no CORS headers and "
          "no preflight answers (docs/dicomweb.md)");
ABSL_FLAG(uint32_t, http_max_pixel_object_mb, 256,
          "largest instance (MiB) that DICOMweb frames, rendered and thumbnail requests read "
          "into memory (larger: 413)");
ABSL_DECLARE_FLAG(std::string, tls_ca);
ABSL_DECLARE_FLAG(std::string, tls_cert);
ABSL_DECLARE_FLAG(std::string, tls_key);

namespace {

// --share_page_dir, or share-page/ beside the directory of this executable's directory.
std::string SharePageDir(const std::string& flag) {
  if (!flag.empty()) return flag;
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  return (exe.parent_path().parent_path() / "share-page").string();
}

// The offline viewer a share download carries (common/media/pdi.h); none, with a warning, when it
// is not installed.
std::string DiscViewerDir() {
  absl::StatusOr<std::string> dir = medvault::media::FindViewerDir();
  if (dir.ok()) return *dir;
  MV_LOG(WARNING) << "share downloads will carry no offline viewer: " << dir.status().message();
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  medvault::SetLogTag("frontend");
  // The frontend holds data keys and plaintext images in memory: keep them out of core dumps and
  // refuse ptrace attachment by other processes of the same user.
  if (absl::Status s = medvault::ProtectKeyMaterialInThisProcess(); !s.ok()) {
    std::fprintf(stderr, "frontend: %s\n", s.ToString().c_str());
    return 1;
  }
  absl::ParseCommandLine(argc, argv);
  std::string meta = absl::GetFlag(FLAGS_metaserver), keys = absl::GetFlag(FLAGS_keyservice);
  uint32_t chunk_size = absl::GetFlag(FLAGS_chunk_size_bytes),
           replicas = absl::GetFlag(FLAGS_replicas);
  if (meta.empty() || keys.empty()) {
    std::fprintf(stderr, "frontend: --metaserver and --keyservice are required\n");
    return 2;
  }
  if (chunk_size < (64u << 10) || chunk_size > (16u << 20) || replicas < 1 || replicas > 5) {
    std::fprintf(stderr,
                 "frontend: --chunk_size_bytes must be 64 KiB..16 MiB and --replicas 1..5\n");
    return 2;
  }

  absl::StatusOr<std::vector<std::string>> key_addresses = medvault::ParseAddressList(keys);
  absl::StatusOr<std::vector<std::string>> meta_addresses = medvault::ParseAddressList(meta);
  if (!key_addresses.ok() || !meta_addresses.ok()) {
    std::fprintf(stderr,
                 "frontend: --metaserver and --keyservice take comma-separated host:port lists\n");
    return 2;
  }
  absl::StatusOr<medvault::TransportSecurity> security =
      medvault::TransportSecurityFromFlags(medvault::DefaultFilesystem());
  if (!security.ok()) {
    std::fprintf(stderr, "frontend: %s\n", security.status().ToString().c_str());
    return 2;
  }

  medvault::frontend::GrpcKeyClient key_client(*key_addresses, *security);
  medvault::frontend::GrpcMetaClient meta_client(*meta_addresses, *security);
  medvault::frontend::GrpcChunkClient chunk_client(*security);
  medvault::frontend::FrontendOptions options;
  options.chunk_size = chunk_size;
  options.replicas = replicas;
  options.dek_batch = absl::GetFlag(FLAGS_dek_batch);
  options.placement_lease_chunks = absl::GetFlag(FLAGS_placement_lease_chunks);
  const uint32_t lease_ms = absl::GetFlag(FLAGS_placement_lease_ms);
  if (options.placement_lease_chunks > 1024 || lease_ms < 100 || lease_ms > 60000) {
    std::fprintf(stderr,
                 "frontend: --placement_lease_chunks must be 0..1024 and --placement_lease_ms "
                 "100..60000\n");
    return 2;
  }
  options.placement_lease_micros = int64_t{lease_ms} * 1000;
  options.max_write_seconds = absl::GetFlag(FLAGS_max_write_seconds);
  options.max_chunks_in_flight = absl::GetFlag(FLAGS_put_window_chunks);
  if (options.max_chunks_in_flight < 1 || options.max_chunks_in_flight > 64) {
    std::fprintf(stderr, "frontend: --put_window_chunks must be 1..64\n");
    return 2;
  }
  options.read_window_chunks = absl::GetFlag(FLAGS_read_window_chunks);
  if (options.read_window_chunks < 1 || options.read_window_chunks > 64) {
    std::fprintf(stderr, "frontend: --read_window_chunks must be 1..64\n");
    return 2;
  }
  const uint32_t max_transfers = absl::GetFlag(FLAGS_max_concurrent_transfers);
  if (max_transfers < 1) {
    std::fprintf(stderr, "frontend: --max_concurrent_transfers must be at least 1\n");
    return 2;
  }
  options.chunk_budget = static_cast<uint32_t>(
      (uint64_t{absl::GetFlag(FLAGS_transfer_memory_mib)} << 20) / chunk_size);
  const int64_t hedge_ms = absl::GetFlag(FLAGS_read_hedge_delay_ms);
  if (hedge_ms < 0) {
    std::fprintf(stderr, "frontend: --read_hedge_delay_ms must not be negative\n");
    return 2;
  }
  options.read_hedge_delay =
      hedge_ms == 0 ? absl::InfiniteDuration() : absl::Milliseconds(hedge_ms);
  options.manifest_cache_entries = absl::GetFlag(FLAGS_manifest_cache_entries);
  const uint32_t cache_seconds = absl::GetFlag(FLAGS_manifest_cache_seconds);
  if (cache_seconds < 1 || cache_seconds > 3600) {
    std::fprintf(stderr, "frontend: --manifest_cache_seconds must be 1..3600\n");
    return 2;
  }
  options.manifest_cache_ttl = absl::Seconds(cache_seconds);
  const uint32_t grant_seconds = absl::GetFlag(FLAGS_key_grant_seconds);
  if (grant_seconds > 300) {
    std::fprintf(stderr, "frontend: --key_grant_seconds must be 0..300\n");
    return 2;
  }
  options.key_grant_ttl = absl::Seconds(grant_seconds);
  medvault::frontend::ImageStoreCore core(&key_client, &meta_client, &chunk_client, options);

  // Clients are authorised by the scopes their certificate's name holds in the scopes file.
  medvault::ClientScopes scopes;
  const std::string scopes_file = absl::GetFlag(FLAGS_client_scopes_file);
  if (security->is_tls() && scopes_file.empty()) {
    std::fprintf(
        stderr,
        "frontend: --client_scopes_file is required with mutual TLS (see docs/security.md)\n");
    return 2;
  }
  if (!scopes_file.empty()) {
    absl::StatusOr<medvault::ClientScopes> loaded =
        medvault::ClientScopes::Load(medvault::DefaultFilesystem(), scopes_file);
    if (!loaded.ok()) {
      std::fprintf(stderr, "frontend: %s\n", loaded.status().ToString().c_str());
      return 2;
    }
    scopes = *std::move(loaded);
  }

  medvault::ServiceRunner runner({"frontend", absl::GetFlag(FLAGS_listen),
                                  absl::GetFlag(FLAGS_metrics_listen), *security,
                                  medvault::HealthListenFromFlags()});
  medvault::Authorizer authz("frontend", medvault::frontend::FrontendPolicy(scopes),
                             security->is_tls(), runner.registry());
  // Every refusal of a client also goes to the key service's audit log, beside the key operations.
  // At most --max_audited_denials_per_second, so refusals cannot flood the key service with writes.
  medvault::frontend::DenialForwarder denials(
      [&key_client](const std::string& client, absl::string_view method, const absl::Status& why) {
        return key_client.RecordDenial(client, method, why);
      },
      medvault::RealClock(), absl::GetFlag(FLAGS_max_audited_denials_per_second));
  authz.set_on_denied(
      [&denials](const medvault::PeerIdentity& who, absl::string_view method,
                 const absl::Status& why) { denials.Forward(who.ToString(), method, why); });
  medvault::frontend::ImageStoreService service(
      &core, &authz, runner.registry(), absl::GetFlag(FLAGS_max_instance_bytes), max_transfers);
  // Shares: codes and PINs are made and checked here, kept (as hashes) by the metaserver.
  // Redemptions, revocations and unlocks also go to the key service's tamper-evident audit.
  medvault::frontend::ShareDesk share_desk(
      &meta_client, &meta_client, medvault::RealClock(), medvault::frontend::ShareOptions(),
      [&key_client](const std::string& on_behalf_of, const std::string& purpose,
                    const std::string& peer, absl::StatusCode result) {
        return key_client.RecordShareEvent(on_behalf_of, purpose, peer, result);
      });
  service.set_share_desk(&share_desk);
  medvault::frontend::AdminService admin(&key_client, &meta_client, &authz);
  runner.AddService(&service);
  runner.AddService(&admin);

  // The DIMSE door: same core, same refusal audit as the gRPC API.
  std::unique_ptr<medvault::frontend::DimseServer> dimse, dimse_tls;
  if (const int dicom_port = absl::GetFlag(FLAGS_dicom_port); dicom_port >= 0) {
    medvault::frontend::DicomAccess access = medvault::frontend::DicomAccess::LoopbackDefault();
    if (const std::string file = absl::GetFlag(FLAGS_dicom_access_file); !file.empty()) {
      absl::StatusOr<medvault::frontend::DicomAccess> loaded =
          medvault::frontend::DicomAccess::Load(medvault::DefaultFilesystem(), file);
      if (!loaded.ok()) {
        std::fprintf(stderr, "frontend: %s\n", loaded.status().ToString().c_str());
        return 2;
      }
      access = *std::move(loaded);
    }
    medvault::frontend::DimseOptions dopts;
    if (const std::string file = absl::GetFlag(FLAGS_dicom_peers_file); !file.empty()) {
      absl::StatusOr<std::vector<medvault::frontend::DicomPeer>> peers =
          medvault::frontend::LoadDicomPeers(medvault::DefaultFilesystem(), file);
      if (!peers.ok()) {
        std::fprintf(stderr, "frontend: %s\n", peers.status().ToString().c_str());
        return 2;
      }
      dopts.move_destinations = *std::move(peers);
    }
    dopts.host = absl::GetFlag(FLAGS_dicom_host);
    dopts.port = dicom_port;
    dopts.ae_title = absl::GetFlag(FLAGS_dicom_ae_title);
    dopts.max_associations = absl::GetFlag(FLAGS_dicom_max_associations);
    dopts.max_pdu_bytes = absl::GetFlag(FLAGS_dicom_max_pdu_bytes);
    dopts.acse_timeout_seconds = absl::GetFlag(FLAGS_dicom_acse_timeout_seconds);
    dopts.dimse_timeout_seconds = absl::GetFlag(FLAGS_dicom_dimse_timeout_seconds);
    dopts.idle_timeout_seconds = absl::GetFlag(FLAGS_dicom_idle_timeout_seconds);
    dopts.max_instance_bytes = absl::GetFlag(FLAGS_max_instance_bytes);
    dopts.move_tls = {absl::GetFlag(FLAGS_tls_ca), absl::GetFlag(FLAGS_tls_cert),
                      absl::GetFlag(FLAGS_tls_key)};
    for (const medvault::frontend::DicomPeer& peer : dopts.move_destinations) {
      if (peer.tls && peer.tls_ca_file.empty() && dopts.move_tls.cluster_ca.empty()) {
        std::fprintf(stderr,
                     "frontend: the DICOM peer %s is marked tls but there is no --tls_ca; give "
                     "its CA as tls=CA_FILE\n",
                     peer.ae_title.c_str());
        return 2;
      }
    }
    if (dopts.ae_title.empty() || dopts.ae_title.size() > 16 || dopts.max_associations < 1 ||
        dopts.max_pdu_bytes < 4096 || dopts.acse_timeout_seconds < 1 ||
        dopts.dimse_timeout_seconds < 1 || dopts.idle_timeout_seconds < 1) {
      std::fprintf(stderr,
                   "frontend: --dicom_ae_title must be 1..16 characters, "
                   "--dicom_max_associations at least 1, --dicom_max_pdu_bytes at least 4096 and "
                   "the --dicom_*_timeout_seconds positive\n");
      return 2;
    }
    auto on_denied = [&denials](const std::string& caller, absl::string_view method,
                                const absl::Status& why) { denials.Forward(caller, method, why); };
    if (const int tls_port = absl::GetFlag(FLAGS_dicom_tls_port); tls_port >= 0) {
      medvault::frontend::DimseOptions tls_opts = dopts;
      tls_opts.port = tls_port;
      tls_opts.tls_ca = absl::GetFlag(FLAGS_tls_ca);
      tls_opts.tls_cert = absl::GetFlag(FLAGS_tls_cert);
      tls_opts.tls_key = absl::GetFlag(FLAGS_tls_key);
      if (tls_opts.tls_ca.empty() || tls_opts.tls_cert.empty() || tls_opts.tls_key.empty()) {
        std::fprintf(stderr, "frontend: --dicom_tls_port needs --tls_ca, --tls_cert, --tls_key\n");
        return 2;
      }
      dimse_tls = std::make_unique<medvault::frontend::DimseServer>(&core, access, tls_opts,
                                                                    runner.registry(), on_denied);
      if (absl::Status s = dimse_tls->Start(); !s.ok()) {
        std::fprintf(stderr, "frontend: %s\n", std::string(s.message()).c_str());
        return 1;
      }
      runner.AddEndpoint("dicom-tls", dopts.host + ":" + std::to_string(dimse_tls->port()));
    }
    dimse = std::make_unique<medvault::frontend::DimseServer>(&core, std::move(access), dopts,
                                                              runner.registry(), on_denied);
    if (absl::Status s = dimse->Start(); !s.ok()) {
      std::fprintf(stderr, "frontend: %s\n", std::string(s.message()).c_str());
      return 1;
    }
    runner.AddEndpoint("dicom", dopts.host + ":" + std::to_string(dimse->port()));
  }

  // The DICOMweb door: the same core and the same Authorizer (scopes, denial audit) as gRPC.
  // Listening before the gRPC server announces itself, so a started frontend serves both.
  medvault::frontend::web::DicomWebOptions web_options;
  {
    absl::StatusOr<medvault::frontend::web::CorsPolicy> cors =
        medvault::frontend::web::CorsPolicy::Parse(absl::GetFlag(FLAGS_http_cors_origins));
    if (!cors.ok()) {
      MV_LOG(ERROR) << cors.status();
      return 2;
    }
    web_options.cors = *std::move(cors);
    web_options.max_pixel_object_bytes = uint64_t{absl::GetFlag(FLAGS_http_max_pixel_object_mb)}
                                         << 20;
    web_options.max_instance_bytes = absl::GetFlag(FLAGS_max_instance_bytes);
  }
  medvault::frontend::web::DicomWeb dicomweb(&core, &authz, web_options);
  // Recipients' browser sessions sit in front of it (frontend/web/share_web.h).
  medvault::frontend::web::SessionOptions session_options;
  session_options.idle_seconds = absl::GetFlag(FLAGS_share_session_idle_seconds);
  session_options.absolute_seconds = absl::GetFlag(FLAGS_share_session_max_seconds);
  medvault::frontend::web::ShareSessions share_sessions(medvault::RealClock(), session_options);
  medvault::frontend::web::ShareWeb share_web(
      &share_desk, &share_sessions, &core,
      [&dicomweb](const medvault::frontend::web::HttpRequest& request,
                  medvault::frontend::web::HttpResponder& out) {
        return dicomweb.Handle(request, out);
      },
      medvault::DefaultFilesystem(), SharePageDir(absl::GetFlag(FLAGS_share_page_dir)),
      /*scratch_dir=*/"", DiscViewerDir());
  std::unique_ptr<medvault::frontend::web::HttpsServer> https;
  if (const uint32_t http_port = absl::GetFlag(FLAGS_http_port); http_port != 0) {
    if (!security->is_tls() || http_port > 65535) {
      std::fprintf(stderr, "frontend: --http_port needs mutual TLS and must be 1..65535\n");
      return 2;
    }
    medvault::frontend::web::HttpsOptions web;
    const std::string listen = absl::GetFlag(FLAGS_listen);
    web.host = listen.substr(0, listen.rfind(':'));
    web.port = static_cast<int>(http_port);
    web.tls = {absl::GetFlag(FLAGS_tls_ca), absl::GetFlag(FLAGS_tls_cert),
               absl::GetFlag(FLAGS_tls_key)};
    web.max_header_bytes = absl::GetFlag(FLAGS_http_max_header_bytes);
    web.max_body_bytes = absl::GetFlag(FLAGS_http_max_body_bytes);
    web.streams_body = &medvault::frontend::web::DicomWeb::StreamsBody;
    web.max_stream_body_bytes = absl::GetFlag(FLAGS_http_max_stow_bytes);
    web.idle_timeout = absl::Seconds(absl::GetFlag(FLAGS_http_idle_timeout_seconds));
    web.max_connections = std::max<uint32_t>(1, absl::GetFlag(FLAGS_http_max_connections));
    absl::StatusOr<std::unique_ptr<medvault::frontend::web::HttpsServer>> started =
        medvault::frontend::web::HttpsServer::Start(
            web, [&share_web](const medvault::frontend::web::HttpRequest& request,
                              medvault::frontend::web::HttpResponder& out) {
              return share_web.Handle(request, out);
            });
    if (!started.ok()) {
      std::fprintf(stderr, "frontend: %s\n", std::string(started.status().message()).c_str());
      return 1;
    }
    https = *std::move(started);
  }
  if (absl::Status s = runner.Start(); !s.ok()) {
    std::fprintf(stderr, "frontend: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  // On SIGTERM every door stops accepting at once and finishes what it serves: the gRPC server
  // (ServiceRunner::Wait: GOAWAY, in-flight calls get 10 s), and beside it, each on a thread of
  // its own (one door's wait must not keep another accepting), the DIMSE doors (running
  // associations end) and the HTTPS door (requests being served are answered).
  // tests/frontend_drain_test.cc holds a request open on each door through the stop.
  std::vector<std::thread> doors;
  runner.set_on_terminate([&] {
    if (https != nullptr) doors.emplace_back([&] { https->Stop(); });
    if (dimse != nullptr) doors.emplace_back([&] { dimse->Stop(); });
    if (dimse_tls != nullptr) doors.emplace_back([&] { dimse_tls->Stop(); });
  });
  runner.Wait();
  for (std::thread& door : doors) door.join();
  if (absl::Status s = core.Shutdown(); !s.ok()) {
    MV_LOG(WARNING) << "could not destroy unused pooled keys: " << s.code();
  }
  return 0;
}

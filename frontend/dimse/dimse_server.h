// The DIMSE door of the frontend (DCMTK's dcmnet): accepts associations from DICOM peers and
// translates their requests into ImageStoreCore calls: C-ECHO, C-STORE, C-FIND, C-GET and C-MOVE
// (to the destinations of a configured peers table, move_destination.h). A C-STORE's data set
// streams from the association into a put session as its PDVs arrive, behind a Part 10 meta header
// (the bytes exactly as received, no transcoding), and is answered only after the put commits.
// An association that ends mid-instance leaves nothing visible (the put session never commits).
//
// One thread accepts; each association runs on its own thread, at most max_associations at once
// (more are refused as a transient local limit). Peers are authorised by calling AE title and
// address (dicom_access.h); every association, refusal and operation is logged as an audit line
// ("audit op=dimse-... caller=dicom/<AE> peer=<address> ..."), and refusals also go to the hook
// the frontend forwards to the key service's audit log.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "frontend/core/image_store_core.h"
#include "frontend/dimse/dicom_access.h"
#include "frontend/dimse/move_destination.h"
#include "prometheus/registry.h"

struct T_ASC_Network;
struct T_ASC_Association;
class DcmTransportLayer;

namespace medvault::frontend {

struct DimseOptions {
  std::string host = "127.0.0.1";  // address to listen on ("0.0.0.0": every interface)
  int port = 0;                    // 0 picks a free one (port() after Start)
  std::string ae_title = "MEDVAULT";
  uint32_t max_associations = 32;
  uint32_t max_pdu_bytes = 116794;  // the largest PDU we accept (DCMTK's storescp default)
  int acse_timeout_seconds = 30;    // association negotiation and release
  int dimse_timeout_seconds = 60;   // a message or data set that stalls this long aborts
  int idle_timeout_seconds = 300;   // an association with no request this long is aborted
  uint64_t max_instance_bytes = uint64_t{2} << 30;
  // Where C-MOVE may send (AE title -> host:port); a Move Destination not listed is refused.
  std::vector<DicomPeer> move_destinations;
  // What C-MOVE trusts and presents towards destinations marked "tls" (the cluster's CA, this
  // frontend's certificate and key); independent of tls_* below, which serve the door itself.
  MoveTlsIdentity move_tls;
  // DICOM TLS (PS3.15 B.9, DCMTK's dcmtls over OpenSSL): PEM files of the CA a peer's
  // certificate must chain to and of this door's certificate and key. Empty: plain TCP. With TLS
  // every peer must present a certificate of that CA (then the calling-AE rules apply as usual).
  std::string tls_ca, tls_cert, tls_key;
};

class DimseServer {
 public:
  using DenialHook = std::function<void(const std::string& caller, absl::string_view method,
                                        const absl::Status& why)>;
  // `core` must outlive the server.
  DimseServer(ImageStoreCore* core, DicomAccess access, DimseOptions options,
              prometheus::Registry& registry, DenialHook on_denied = nullptr);
  ~DimseServer();  // Stop()

  // Binds and starts accepting. UNAVAILABLE when the address cannot be bound; INVALID_ARGUMENT
  // when a TLS file cannot be read or the key does not match the certificate.
  absl::Status Start();
  // The bound port (after Start).
  int port() const { return port_; }
  // Stops accepting and waits (up to ~2 × dimse timeout) for running associations to end.
  void Stop();

 private:
  struct Peer;
  class Association;
  absl::Status StartTls();
  void AcceptLoop();
  void Serve(T_ASC_Association* assoc);

  ImageStoreCore* const core_;
  const DicomAccess access_;
  const DimseOptions options_;
  DenialHook on_denied_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Counter& store_bytes_;

  std::unique_ptr<DcmTransportLayer> tls_;  // set with DICOM TLS; outlives net_
  T_ASC_Network* net_ = nullptr;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint32_t active_ = 0;  // associations being served
};

}  // namespace medvault::frontend

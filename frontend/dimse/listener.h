// The DIMSE door's listening socket: DCMTK binds to every interface, so the door replaces DCMTK's
// socket by one bound where it is told (Listen) and, when it stops, closes it before running
// associations end (StopListening), so new associations are refused at once instead of waiting
// in the backlog of a door that no longer accepts.
#pragma once

#include <string>

struct T_ASC_Network;
struct T_ASC_Association;

namespace medvault::frontend {

// A socket listening on host:port, or -1 (errno set).
int Listen(const std::string& host, int port);

// The port `fd` is bound to (0 if unknown).
int BoundPort(int fd);

// Installs `fd` as `net`'s listening socket (closing DCMTK's own) with its port.
void InstallListener(T_ASC_Network* net, int fd);

// Turns Nagle's algorithm off on `assoc`'s connection (TCP_NODELAY). DCMTK writes a PDU's header
// and its body in separate writes; with Nagle on, a DIMSE response's body waited for the peer's
// delayed acknowledgement of the header, 40 ms on Linux, on every C-STORE (docs/benchmarks.md).
// False when the connection has no socket or the option could not be set.
bool DisableNagle(T_ASC_Association* assoc);
// Waits (at most `timeout_ms`) until something arrives on `assoc`'s connection and acknowledges
// it at once (TCP_QUICKACK flushes the delayed ACK). A peer that leaves Nagle on (DCMTK's storescp
// and getscu do) sends a response's body only once its header is acknowledged, so a delayed ACK
// here cost every C-GET and C-MOVE sub-operation 40 ms. Plain TCP only: under DICOM TLS the
// records may already sit in OpenSSL's buffer, so nothing is waited for.
enum class Arrival { kAcknowledged, kTimedOut, kNotWaited };
Arrival AckOnArrival(T_ASC_Association* assoc, int timeout_ms);
// The TCP socket under `assoc` (plain or DICOM TLS), or -1.
int AssociationSocket(T_ASC_Association* assoc);

// Closes `net`'s listening socket: connections are refused from now on; the network itself (and
// associations running on it) stays usable. Idempotent.
void StopListening(T_ASC_Network* net);

}  // namespace medvault::frontend

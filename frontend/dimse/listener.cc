#include "frontend/dimse/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/dcmtrans.h"
#include "dcmtk/dcmnet/dul.h"
#include "dcmtk/dcmnet/dulstruc.h"

namespace medvault::frontend {

int Listen(const std::string& host, int port) {
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0) return -1;
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (fd >= 0 && (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0)) {
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

int BoundPort(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
}

namespace {
PRIVATE_NETWORKKEY* KeyOf(T_ASC_Network* net) {
  return reinterpret_cast<PRIVATE_NETWORKKEY*>(net->network);
}
}  // namespace

void InstallListener(T_ASC_Network* net, int fd) {
  PRIVATE_NETWORKKEY* key = KeyOf(net);
  close(key->networkSpecific.TCP.listenSocket);
  key->networkSpecific.TCP.listenSocket = fd;
  key->networkSpecific.TCP.port = BoundPort(fd);
}

void StopListening(T_ASC_Network* net) {
  if (net == nullptr) return;
  PRIVATE_NETWORKKEY* key = KeyOf(net);
  if (key->networkSpecific.TCP.listenSocket == DCMNET_INVALID_SOCKET) return;
  close(key->networkSpecific.TCP.listenSocket);
  // DUL_DropNetwork closes only a valid socket.
  key->networkSpecific.TCP.listenSocket = DCMNET_INVALID_SOCKET;
}

namespace {

// DcmTransportConnection keeps its socket protected; a derived class may name the member, and the
// pointer to it is then called on any connection (plain or TLS: both hold the TCP socket).
struct SocketOf : DcmTransportConnection {
  static DcmNativeSocketType Get(DcmTransportConnection* connection) {
    return (connection->*(&SocketOf::getSocket))();
  }
};

}  // namespace

int AssociationSocket(T_ASC_Association* assoc) {
  if (assoc == nullptr || assoc->DULassociation == nullptr) return -1;
  DcmTransportConnection* connection = DUL_getTransportConnection(assoc->DULassociation);
  if (connection == nullptr) return -1;
  return static_cast<int>(SocketOf::Get(connection));
}

Arrival AckOnArrival(T_ASC_Association* assoc, int timeout_ms) {
  if (assoc == nullptr || assoc->DULassociation == nullptr) return Arrival::kNotWaited;
  DcmTransportConnection* connection = DUL_getTransportConnection(assoc->DULassociation);
  if (connection == nullptr || dynamic_cast<DcmTCPConnection*>(connection) == nullptr) {
    return Arrival::kNotWaited;
  }
  const int fd = static_cast<int>(SocketOf::Get(connection));
  pollfd p{fd, POLLIN, 0};
  int ready;
  do {
    ready = poll(&p, 1, timeout_ms);
  } while (ready < 0 && errno == EINTR);
  if (ready == 0) return Arrival::kTimedOut;
  if (ready < 0) return Arrival::kNotWaited;  // the receive that follows reports the error
  const int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof(on));
  return Arrival::kAcknowledged;
}

bool DisableNagle(T_ASC_Association* assoc) {
  const int fd = AssociationSocket(assoc);
  const int on = 1;
  return fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == 0;
}

}  // namespace medvault::frontend

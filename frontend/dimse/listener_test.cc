// The DIMSE door's socket handling with real DCMTK associations over loopback: an acceptor on a
// socket of Listen's, a requestor on another thread.
#include "frontend/dimse/listener.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/dimse.h"
#include "gtest/gtest.h"

namespace medvault::frontend {
namespace {

int NoDelay(int fd) {
  int value = -1;
  socklen_t size = sizeof(value);
  if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, &size) != 0) return -1;
  return value;
}

TEST(DisableNagleTest, TurnsNaglesAlgorithmOffOnAnAcceptedAssociation) {
  T_ASC_Network* acceptor = nullptr;
  ASSERT_TRUE(ASC_initializeNetwork(NET_ACCEPTOR, 0, 10, &acceptor).good());
  const int listening = Listen("127.0.0.1", 0);
  ASSERT_GE(listening, 0);
  const int port = BoundPort(listening);
  InstallListener(acceptor, listening);

  bool requested = false;
  absl::Notification may_release;
  std::thread requestor([&] {
    T_ASC_Network* net = nullptr;
    if (ASC_initializeNetwork(NET_REQUESTOR, 0, 10, &net).bad()) return;
    T_ASC_Parameters* params = nullptr;
    ASC_createAssociationParameters(&params, ASC_DEFAULTMAXPDU);
    ASC_setAPTitles(params, "TESTSCU", "MEDVAULT", nullptr);
    ASC_setPresentationAddresses(params, "localhost",
                                 ("127.0.0.1:" + std::to_string(port)).c_str());
    const char* syntaxes[] = {UID_LittleEndianImplicitTransferSyntax};
    ASC_addPresentationContext(params, 1, UID_VerificationSOPClass, syntaxes, 1);
    T_ASC_Association* assoc = nullptr;
    requested = ASC_requestAssociation(net, params, &assoc).good();
    may_release.WaitForNotification();
    if (assoc != nullptr) {
      ASC_releaseAssociation(assoc);
      ASC_destroyAssociation(&assoc);
    } else {
      ASC_destroyAssociationParameters(&params);
    }
    ASC_dropNetwork(&net);
  });

  T_ASC_Association* assoc = nullptr;
  ASSERT_TRUE(ASC_receiveAssociation(acceptor, &assoc, ASC_DEFAULTMAXPDU).good());
  const char* syntaxes[] = {UID_LittleEndianImplicitTransferSyntax};
  const char* classes[] = {UID_VerificationSOPClass};
  ASC_acceptContextsWithPreferredTransferSyntaxes(assoc->params, classes, 1, syntaxes, 1);
  const int fd = AssociationSocket(assoc);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(NoDelay(fd), 0) << "DCMTK now turns Nagle off itself; DisableNagle can go";
  EXPECT_TRUE(DisableNagle(assoc));
  EXPECT_EQ(NoDelay(fd), 1) << "a DIMSE response would wait 40 ms for the peer's delayed ACK";
  ASSERT_TRUE(ASC_acknowledgeAssociation(assoc).good());
  // Nothing is sent until the requestor may release; then its release request arrives.
  EXPECT_EQ(AckOnArrival(assoc, 20), Arrival::kTimedOut);
  may_release.Notify();
  EXPECT_EQ(AckOnArrival(assoc, 10'000), Arrival::kAcknowledged);
  T_ASC_PresentationContextID context = 0;
  T_DIMSE_Message request;
  // The requestor releases at once: the release request is what arrives.
  OFCondition received =
      DIMSE_receiveCommand(assoc, DIMSE_BLOCKING, 0, &context, &request, nullptr);
  EXPECT_EQ(received, DUL_PEERREQUESTEDRELEASE) << received.text();
  ASC_acknowledgeRelease(assoc);
  requestor.join();
  EXPECT_TRUE(requested);
  ASC_dropSCPAssociation(assoc);
  ASC_destroyAssociation(&assoc);
  ASC_dropNetwork(&acceptor);
}

TEST(DisableNagleTest, FalseWithoutAnAssociation) {
  EXPECT_FALSE(DisableNagle(nullptr));
  EXPECT_EQ(AssociationSocket(nullptr), -1);
  EXPECT_EQ(AckOnArrival(nullptr, 10), Arrival::kNotWaited);
}

}  // namespace
}  // namespace medvault::frontend

#include "frontend/dimse/dimse_server.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log.h"
#include "common/metrics.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/dimse.h"
#include "dcmtk/dcmnet/dul.h"
#include "dcmtk/dcmnet/dulstruc.h"
#include "dcmtk/dcmtls/tlslayer.h"
#include "frontend/core/put_session.h"
#include "frontend/dimse/find_query.h"
#include "frontend/dimse/listener.h"
#include "frontend/dimse/move_operation.h"
#include "frontend/dimse/retrieve.h"
#include "frontend/dimse/store_stream.h"
#include "frontend/dimse/sub_operations.h"

namespace medvault::frontend {
namespace {

// Transfer syntaxes accepted for storage, in the order preferred when a presentation context
// proposes several: encapsulated ones first (the sender keeps its encoding), then the
// uncompressed and deflated ones. JPIP (pixel data by reference) is not accepted.
std::vector<const char*> StorageTransferSyntaxes() {
  std::vector<const char*> out;
  for (int x = EXS_JPEGProcess1; x <= EXS_HEVCMain10ProfileLevel5_1; ++x) {
    if (x == EXS_RLELossless + 1) continue;  // deflated: below, after explicit little endian
    if (x == EXS_JPIPReferenced || x == EXS_JPIPReferencedDeflate) continue;
    DcmXfer xfer(static_cast<E_TransferSyntax>(x));
    if (xfer.getXfer() != EXS_Unknown) out.push_back(xfer.getXferID());
  }
  for (E_TransferSyntax x : {EXS_LittleEndianExplicit, EXS_DeflatedLittleEndianExplicit,
                             EXS_BigEndianExplicit, EXS_LittleEndianImplicit}) {
    out.push_back(DcmXfer(x).getXferID());
  }
  return out;
}

const char* kUncompressed[] = {UID_LittleEndianExplicitTransferSyntax,
                               UID_BigEndianExplicitTransferSyntax,
                               UID_LittleEndianImplicitTransferSyntax};

std::string Hex(uint16_t status) { return absl::StrFormat("0x%04X", status); }

// A C-GET's SCU proposes storage contexts with itself as SCP (SCP/SCU role selection, PS3.7
// D.3.3.4) to receive the instances on. Each is accepted in the first transfer syntax the SCU
// proposes that medvault stores (the SCU's preference: a retrieve sends stored bytes unchanged,
// so an instance goes only over a context in its own syntax). The accepted role is SCP only, so a
// peer without write scope still cannot C-STORE on it; SCU and SCP when the peer may also write.
OFCondition AcceptStorageScpRoles(T_ASC_Parameters* params, bool may_write) {
  const std::vector<const char*> supported = StorageTransferSyntaxes();
  const int n = ASC_countPresentationContexts(params);
  for (int i = 0; i < n; ++i) {
    T_ASC_PresentationContext pc;
    OFCondition c = ASC_getPresentationContext(params, i, &pc);
    if (c.bad()) return c;
    if (pc.proposedRole != ASC_SC_ROLE_SCP && pc.proposedRole != ASC_SC_ROLE_SCUSCP) continue;
    if (!dcmIsaStorageSOPClassUID(pc.abstractSyntax, ESSC_All)) continue;
    for (int t = 0; t < pc.transferSyntaxCount; ++t) {
      const std::string ts = pc.proposedTransferSyntaxes[t];
      if (std::none_of(supported.begin(), supported.end(),
                       [&](const char* s) { return ts == s; })) {
        continue;
      }
      const T_ASC_SC_ROLE role =
          pc.proposedRole == ASC_SC_ROLE_SCUSCP && may_write ? ASC_SC_ROLE_SCUSCP : ASC_SC_ROLE_SCP;
      c = ASC_acceptPresentationContext(params, pc.presentationContextID, ts.c_str(), role);
      if (c.bad()) return c;
      break;
    }
  }
  return EC_Normal;
}

}  // namespace

// Who is on the other end of one association.
struct DimseServer::Peer {
  std::string ae;    // calling AE title, printable
  std::string host;  // peer address
  std::set<Scope> scopes;
  std::string Caller() const { return "dicom/" + ae; }
  // What the key service's audit records for a key released to this peer.
  std::string AuditName() const { return "dicom/" + ae + "@" + host; }
};

DimseServer::DimseServer(ImageStoreCore* core, DicomAccess access, DimseOptions options,
                         prometheus::Registry& registry, DenialHook on_denied)
    : core_(core),
      access_(std::move(access)),
      options_(std::move(options)),
      on_denied_(std::move(on_denied)),
      requests_(prometheus::BuildCounter()
                    .Name("medvault_frontend_dimse_requests_total")
                    .Help("DIMSE operations and associations by command and DIMSE status")
                    .Register(registry)),
      store_bytes_(NewCounter(registry, "medvault_frontend_dimse_store_bytes_total",
                              "Instance bytes stored by C-STORE (meta header included)")) {}

DimseServer::~DimseServer() { Stop(); }

absl::Status DimseServer::Start() {
  // Peers are identified by address, never by a reverse lookup's name.
  dcmDisableGethostbyaddr.set(OFTrue);
  // A C-MOVE destination that does not answer fails its sub-operations after the ACSE timeout
  // rather than blocking the association on connect() (DCMTK's default: no limit).
  if (dcmConnectionTimeout.get() < 0) dcmConnectionTimeout.set(options_.acse_timeout_seconds);
  // DCMTK binds its listening socket to every interface; it is replaced at once by one bound to
  // options_.host (before anything is accepted), so the door listens where it is told.
  OFCondition c = ASC_initializeNetwork(NET_ACCEPTOR, 0, options_.acse_timeout_seconds, &net_);
  if (c.bad()) return absl::UnavailableError("DIMSE: cannot initialise DCMTK's network");
  if (!options_.tls_ca.empty()) {
    absl::Status tls = StartTls();
    if (!tls.ok()) {
      ASC_dropNetwork(&net_);
      return tls;
    }
  }
  const int fd = Listen(options_.host, options_.port);
  if (fd < 0) {
    ASC_dropNetwork(&net_);
    return absl::UnavailableError(
        absl::StrCat("DIMSE: cannot listen on ", options_.host, ":", options_.port));
  }
  InstallListener(net_, fd);
  port_ = BoundPort(fd);
  acceptor_ = std::thread([this] { AcceptLoop(); });
  MV_LOG(INFO) << "DIMSE serving AE title " << options_.ae_title << " on " << options_.host << ":"
               << port_ << (tls_ != nullptr ? " with DICOM TLS" : "");
  return absl::OkStatus();
}

absl::Status DimseServer::StartTls() {
  auto tls = std::make_unique<DcmTLSTransportLayer>(NET_ACCEPTOR, nullptr, OFTrue);
  // The non-downgrading BCP 195 profile (DCMTK's tools' default): TLS 1.2 or newer.
  OFCondition c = tls->setTLSProfile(TSP_Profile_BCP195_ND);
  if (c.good()) c = tls->activateCipherSuites();
  if (c.bad()) return absl::InvalidArgumentError("DICOM TLS: cannot set the BCP 195 profile");
  if (tls->setPrivateKeyFile(options_.tls_key.c_str(), DCF_Filetype_PEM).bad() ||
      tls->setCertificateFile(options_.tls_cert.c_str(), DCF_Filetype_PEM).bad() ||
      !tls->checkPrivateKeyMatchesCertificate()) {
    return absl::InvalidArgumentError(
        absl::StrCat("DICOM TLS: cannot use the certificate ", options_.tls_cert, " with its key"));
  }
  if (tls->addTrustedCertificateFile(options_.tls_ca.c_str(), DCF_Filetype_PEM).bad()) {
    return absl::InvalidArgumentError(
        absl::StrCat("DICOM TLS: cannot read the CA certificate ", options_.tls_ca));
  }
  tls->setCertificateVerification(DCV_requireCertificate);
  if (ASC_setTransportLayer(net_, tls.get(), 0).bad()) {
    return absl::InvalidArgumentError("DICOM TLS: cannot install the transport layer");
  }
  tls_ = std::move(tls);
  return absl::OkStatus();
}

void DimseServer::Stop() {
  if (stopping_.exchange(true)) return;
  if (acceptor_.joinable()) acceptor_.join();
  StopListening(net_);  // new associations are refused while running ones end
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(2 * options_.dimse_timeout_seconds + 5),
                 [this] { return active_ == 0; });
    if (active_ > 0) {
      MV_LOG(WARNING) << "DIMSE: " << active_ << " associations still running at shutdown";
      return;  // their threads still use the network: leave it
    }
  }
  if (net_ != nullptr) ASC_dropNetwork(&net_);
}

void DimseServer::AcceptLoop() {
  while (!stopping_.load()) {
    if (!ASC_associationWaiting(net_, 1)) continue;
    T_ASC_Association* assoc = nullptr;
    OFCondition c =
        ASC_receiveAssociation(net_, &assoc, options_.max_pdu_bytes, nullptr, nullptr,
                               tls_ != nullptr, DUL_NOBLOCK, options_.acse_timeout_seconds);
    if (c.bad()) {
      MV_LOG(INFO) << "DIMSE: an association request could not be read: " << c.text();
      if (assoc != nullptr) {
        ASC_dropAssociation(assoc);
        ASC_destroyAssociation(&assoc);
      }
      continue;
    }
    if (!DisableNagle(assoc)) {
      MV_LOG(WARNING) << "DIMSE: could not turn Nagle's algorithm off on an association";
    }
    bool admitted;
    {
      std::lock_guard<std::mutex> lock(mu_);
      admitted = active_ < options_.max_associations;
      if (admitted) ++active_;
    }
    if (!admitted) {
      T_ASC_RejectParameters reject = {ASC_RESULT_REJECTEDTRANSIENT,
                                       ASC_SOURCE_SERVICEPROVIDER_PRESENTATION_RELATED,
                                       ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED};
      ASC_rejectAssociation(assoc, &reject);
      ASC_dropAssociation(assoc);
      ASC_destroyAssociation(&assoc);
      requests_.Add({{"command", "A-ASSOCIATE"}, {"status", "busy"}}).Increment();
      MV_LOG(WARNING) << "DIMSE: association refused, " << options_.max_associations
                      << " already running";
      continue;
    }
    std::thread([this, assoc] {
      Serve(assoc);
      std::lock_guard<std::mutex> lock(mu_);
      --active_;
      cv_.notify_all();
    }).detach();
  }
}

// One accepted association's requests, on its thread.
class DimseServer::Association {
 public:
  Association(DimseServer* server, T_ASC_Association* assoc, Peer peer)
      : s_(server), assoc_(assoc), peer_(std::move(peer)) {}

  // Serves requests until the peer releases or aborts, or a timeout or error ends it.
  void Run() {
    while (true) {
      T_ASC_PresentationContextID pres_id = 0;
      T_DIMSE_Message msg{};
      OFCondition c = DIMSE_receiveCommand(
          assoc_, DIMSE_NONBLOCKING, s_->options_.idle_timeout_seconds, &pres_id, &msg, nullptr);
      if (c == DUL_PEERREQUESTEDRELEASE) {
        ASC_acknowledgeRelease(assoc_);
        return;
      }
      if (c == DUL_PEERABORTEDASSOCIATION) return;
      if (c.bad()) {
        MV_LOG(INFO) << "DIMSE: association with " << peer_.Caller() << " ended: " << c.text();
        ASC_abortAssociation(assoc_);
        return;
      }
      switch (msg.CommandField) {
        case DIMSE_C_ECHO_RQ:
          c = DIMSE_sendEchoResponse(assoc_, pres_id, &msg.msg.CEchoRQ, STATUS_Success, nullptr);
          Count("C-ECHO", STATUS_Success);
          break;
        case DIMSE_C_STORE_RQ:
          c = Store(pres_id, msg.msg.CStoreRQ);
          break;
        case DIMSE_C_FIND_RQ:
          c = Find(pres_id, msg.msg.CFindRQ);
          break;
        case DIMSE_C_GET_RQ:
          c = Get(pres_id, msg.msg.CGetRQ);
          break;
        case DIMSE_C_MOVE_RQ:
          c = Move(pres_id, msg.msg.CMoveRQ);
          break;
        default:
          MV_LOG(INFO) << "DIMSE: unsupported command 0x" << std::hex << msg.CommandField
                       << " from " << peer_.Caller() << "; aborting the association";
          c = DIMSE_BADCOMMANDTYPE;
          break;
      }
      if (c.bad()) {
        ASC_abortAssociation(assoc_);
        return;
      }
    }
  }

 private:
  void Count(const char* command, uint16_t status) {
    s_->requests_.Add({{"command", command}, {"status", Hex(status)}}).Increment();
  }
  void Audit(const char* op, uint16_t status) {
    MV_LOG(INFO) << "audit op=" << op << " service=frontend caller=" << peer_.Caller()
                 << " peer=" << peer_.host << " status=" << Hex(status);
  }

  // Receives the data set of a C-STORE into a put session and answers with the put's outcome. An
  // error return ends the association (the data set could not be read off it).
  OFCondition Store(T_ASC_PresentationContextID pres_id, const T_DIMSE_C_StoreRQ& req) {
    T_ASC_PresentationContext pc;
    OFCondition c = ASC_findAcceptedPresentationContext(assoc_->params, pres_id, &pc);
    if (c.bad()) return c;
    // (A request whose SOP class is not its context's is stored as sent, as DCMTK's storescp
    // does: the bytes are the sender's, unchanged.)
    absl::Status refused;
    if (peer_.scopes.count(Scope::kWrite) == 0) {
      refused = absl::PermissionDeniedError("write scope required");
    }
    absl::StatusOr<std::string> header =
        refused.ok() ? Part10Header(req.AffectedSOPClassUID, req.AffectedSOPInstanceUID,
                                    pc.acceptedTransferSyntax, peer_.ae)
                     : absl::StatusOr<std::string>(refused);
    std::unique_ptr<PutSession> session;
    absl::Status status = header.status();
    if (status.ok()) {
      session = s_->core_->StartPut();
      session->ExpectSopInstanceUid(req.AffectedSOPInstanceUID);
      status = session->Append(*header);
    }
    SinkOutputStream sink(
        [&](absl::string_view piece) { return status.ok() ? session->Append(piece) : status; },
        s_->options_.max_instance_bytes);
    T_ASC_PresentationContextID data_pres_id = 0;
    c = DIMSE_receiveDataSetInFile(assoc_, DIMSE_NONBLOCKING, s_->options_.dimse_timeout_seconds,
                                   &data_pres_id, sink.stream(), nullptr, nullptr);
    if (c.bad()) {
      // The data set did not arrive whole: the session is dropped uncommitted.
      Count("C-STORE", 0xFFFF);
      Audit("dimse-store-aborted", 0xFFFF);
      return c;
    }
    if (status.ok()) status = sink.error();
    if (status.ok() && data_pres_id != pres_id) {
      status = absl::InvalidArgumentError("data set sent on another presentation context");
    }
    bool already_stored = false;
    if (status.ok()) {
      absl::StatusOr<v1::PutInstanceResponse> put = session->Finish();
      status = put.status();
      if (put.ok()) {
        already_stored = put->already_stored();
      }
    }
    session.reset();
    if (status.code() == absl::StatusCode::kPermissionDenied && s_->on_denied_) {
      s_->on_denied_(peer_.Caller(), "C-STORE", status);
    }
    const DimseStatus answer = StoreStatusFor(status);
    if (status.ok() && !already_stored) s_->store_bytes_.Increment(sink.bytes() + header->size());
    if (!status.ok()) {
      MV_LOG(INFO) << "DIMSE: C-STORE from " << peer_.Caller() << " failed: " << status.code()
                   << " " << status.message();
    }
    Count("C-STORE", answer.code);
    Audit("dimse-store", answer.code);

    T_DIMSE_C_StoreRSP rsp{};
    rsp.MessageIDBeingRespondedTo = req.MessageID;
    rsp.DimseStatus = answer.code;
    rsp.DataSetType = DIMSE_DATASET_NULL;
    OFStandard::strlcpy(rsp.AffectedSOPClassUID, req.AffectedSOPClassUID,
                        sizeof(rsp.AffectedSOPClassUID));
    OFStandard::strlcpy(rsp.AffectedSOPInstanceUID, req.AffectedSOPInstanceUID,
                        sizeof(rsp.AffectedSOPInstanceUID));
    rsp.opts = O_STORE_AFFECTEDSOPCLASSUID | O_STORE_AFFECTEDSOPINSTANCEUID;
    return DIMSE_sendStoreResponse(assoc_, pres_id, &req, &rsp, Detail(answer).get());
  }

  // Reads a C-FIND or C-GET request's identifier, and which model its context is (Patient Root
  // when its abstract syntax is `patient_root`).
  OFCondition ReceiveIdentifier(T_ASC_PresentationContextID pres_id, const char* patient_root,
                                std::unique_ptr<DcmDataset>* identifier, QueryModel* model) {
    DcmDataset* raw = nullptr;
    T_ASC_PresentationContextID data_pres_id = 0;
    OFCondition c =
        DIMSE_receiveDataSetInMemory(assoc_, DIMSE_NONBLOCKING, s_->options_.dimse_timeout_seconds,
                                     &data_pres_id, &raw, nullptr, nullptr);
    if (c.bad()) return c;
    identifier->reset(raw);
    T_ASC_PresentationContext pc;
    c = ASC_findAcceptedPresentationContext(assoc_->params, pres_id, &pc);
    if (c.bad()) return c;
    *model = std::string(pc.abstractSyntax) == patient_root ? QueryModel::kPatientRoot
                                                            : QueryModel::kStudyRoot;
    return c;
  }

  // Answers a C-FIND from the index: one pending response per match, then the final status.
  OFCondition Find(T_ASC_PresentationContextID pres_id, const T_DIMSE_C_FindRQ& req) {
    std::unique_ptr<DcmDataset> identifier;
    QueryModel model;
    OFCondition c = ReceiveIdentifier(pres_id, UID_FINDPatientRootQueryRetrieveInformationModel,
                                      &identifier, &model);
    if (c.bad()) return c;
    ImageStoreCore* core = s_->core_;
    IndexSource source{
        [core](const v1::FindStudiesRequest& r) { return core->FindStudies(r); },
        [core](const v1::FindSeriesRequest& r) { return core->FindSeries(r); },
        [core](const v1::FindInstancesRequest& r) { return core->FindInstances(r); }};
    absl::StatusOr<std::vector<std::unique_ptr<DcmDataset>>> answers =
        peer_.scopes.count(Scope::kRead) == 0
            ? absl::PermissionDeniedError("read scope required")
            : AnswerFind(source, model, *identifier, s_->options_.ae_title);

    T_DIMSE_C_FindRSP rsp{};
    rsp.MessageIDBeingRespondedTo = req.MessageID;
    OFStandard::strlcpy(rsp.AffectedSOPClassUID, req.AffectedSOPClassUID,
                        sizeof(rsp.AffectedSOPClassUID));
    rsp.opts = O_FIND_AFFECTEDSOPCLASSUID;
    DimseStatus final_status{STATUS_FIND_Success, ""};
    size_t sent = 0;
    if (answers.ok()) {
      for (const std::unique_ptr<DcmDataset>& answer : *answers) {
        if (DIMSE_checkForCancelRQ(assoc_, pres_id, req.MessageID).good()) {
          final_status = {STATUS_FIND_Cancel, ""};
          break;
        }
        rsp.DimseStatus = STATUS_FIND_Pending_MatchesAreContinuing;
        rsp.DataSetType = DIMSE_DATASET_PRESENT;
        c = DIMSE_sendFindResponse(assoc_, pres_id, &req, &rsp, answer.get(), nullptr);
        if (c.bad()) return c;
        ++sent;
      }
    } else if (answers.status().code() == absl::StatusCode::kInvalidArgument) {
      final_status = {STATUS_FIND_Error_DataSetDoesNotMatchSOPClass,
                      "QueryRetrieveLevel missing or not valid for the model"};
    } else if (answers.status().code() == absl::StatusCode::kPermissionDenied) {
      final_status = {0x0124, "calling AE title not allowed to query here"};
    } else if (answers.status().code() == absl::StatusCode::kResourceExhausted) {
      final_status = {STATUS_FIND_Refused_OutOfResources, "too many candidates: narrow the query"};
    } else {
      final_status = {STATUS_FIND_Refused_OutOfResources, "index temporarily unavailable"};
    }
    if (!answers.ok()) {
      MV_LOG(INFO) << "DIMSE: C-FIND from " << peer_.Caller()
                   << " failed: " << answers.status().code();
    }
    Count("C-FIND", final_status.code);
    MV_LOG(INFO) << "audit op=dimse-find service=frontend caller=" << peer_.Caller()
                 << " peer=" << peer_.host << " status=" << Hex(final_status.code)
                 << " matches=" << sent;
    rsp.DimseStatus = final_status.code;
    rsp.DataSetType = DIMSE_DATASET_NULL;
    return DIMSE_sendFindResponse(assoc_, pres_id, &req, &rsp, nullptr, Detail(final_status).get());
  }

  // Answers a C-GET: every instance the identifier names is sent back on this association as a
  // C-STORE sub-operation (retrieve.h), with a pending response after each, then the final status
  // with the sub-operation counts (PS3.4 C.4.3).
  OFCondition Get(T_ASC_PresentationContextID pres_id, const T_DIMSE_C_GetRQ& req) {
    std::unique_ptr<DcmDataset> identifier;
    QueryModel model;
    OFCondition c = ReceiveIdentifier(pres_id, UID_GETPatientRootQueryRetrieveInformationModel,
                                      &identifier, &model);
    if (c.bad()) return c;
    T_DIMSE_C_GetRSP rsp{};
    rsp.MessageIDBeingRespondedTo = req.MessageID;
    OFStandard::strlcpy(rsp.AffectedSOPClassUID, req.AffectedSOPClassUID,
                        sizeof(rsp.AffectedSOPClassUID));
    RetrieveCounts counts;
    DimseStatus final_status = Retrieve(
        model, *identifier, &counts, "C-GET", nullptr,
        [&](const RetrieveItem& item) { return AcceptedContextFor(assoc_, true, item) != 0; },
        [&](const RetrieveItem& item) {
          return std::make_unique<StoredInstanceSender>(assoc_, /*as_scp_role=*/true, item,
                                                        assoc_->nextMsgID++, "", 0,
                                                        s_->options_.dimse_timeout_seconds);
        },
        [&](const RetrieveCounts& now) {
          if (DIMSE_checkForCancelRQ(assoc_, pres_id, req.MessageID).good()) return false;
          FillCounts(now, true, &rsp);
          rsp.DimseStatus = STATUS_GET_Pending_SubOperationsAreContinuing;
          rsp.DataSetType = DIMSE_DATASET_NULL;
          return DIMSE_sendGetResponse(assoc_, pres_id, &req, &rsp, nullptr, nullptr).good();
        });
    if (counts.association_lost) return DIMSE_SENDFAILED;
    Count("C-GET", final_status.code);
    AuditRetrieve("dimse-get", final_status.code, counts, "");
    FillCounts(counts,
               final_status.code == STATUS_GET_Cancel_SubOperationsTerminatedDueToCancelIndication,
               &rsp);
    rsp.DimseStatus = final_status.code;
    std::unique_ptr<DcmDataset> failed = FailedList(counts);
    rsp.DataSetType = failed ? DIMSE_DATASET_PRESENT : DIMSE_DATASET_NULL;
    std::unique_ptr<DcmDataset> detail = Detail(final_status);
    return DIMSE_sendGetResponse(assoc_, pres_id, &req, &rsp, failed.get(), detail.get());
  }

  // Answers a C-MOVE like a C-GET, but the instances go to the Move Destination over an
  // association of their own (move_destination.h), opened once the instances are known. A
  // destination not in the peers table is refused (A801); one that cannot be reached fails every
  // sub-operation (A702, all counted failed).
  OFCondition Move(T_ASC_PresentationContextID pres_id, const T_DIMSE_C_MoveRQ& req) {
    std::unique_ptr<DcmDataset> identifier;
    QueryModel model;
    OFCondition c = ReceiveIdentifier(pres_id, UID_MOVEPatientRootQueryRetrieveInformationModel,
                                      &identifier, &model);
    if (c.bad()) return c;
    T_DIMSE_C_MoveRSP rsp{};
    rsp.MessageIDBeingRespondedTo = req.MessageID;
    OFStandard::strlcpy(rsp.AffectedSOPClassUID, req.AffectedSOPClassUID,
                        sizeof(rsp.AffectedSOPClassUID));
    const std::string destination = PrintableAeTitle(req.MoveDestination);
    MoveOperation move(s_->options_.move_destinations, destination,
                       MoveSettings{s_->options_.ae_title, s_->options_.max_pdu_bytes,
                                    s_->options_.acse_timeout_seconds, s_->options_.move_tls});
    RetrieveCounts counts;
    DimseStatus final_status = MoveOperation::Unknown();
    if (move.known()) {
      final_status = Retrieve(
          model, *identifier, &counts, "C-MOVE",
          [&](const std::vector<RetrieveItem>& items) { move.Open(items); },
          [&](const RetrieveItem& item) { return move.CanSend(item); },
          [&](const RetrieveItem& item) { return move.Start(item, peer_.ae, req.MessageID); },
          [&](const RetrieveCounts& now) {
            if (DIMSE_checkForCancelRQ(assoc_, pres_id, req.MessageID).good()) return false;
            FillCounts(now, true, &rsp);
            rsp.DimseStatus = STATUS_MOVE_Pending_SubOperationsAreContinuing;
            rsp.DataSetType = DIMSE_DATASET_NULL;
            return DIMSE_sendMoveResponse(assoc_, pres_id, &req, &rsp, nullptr, nullptr).good();
          });
      move.Finish(&final_status);
    }
    Count("C-MOVE", final_status.code);
    AuditRetrieve("dimse-move", final_status.code, counts, destination);
    FillCounts(counts, final_status.code == STATUS_MOVE_Cancel, &rsp);
    rsp.DimseStatus = final_status.code;
    std::unique_ptr<DcmDataset> failed = FailedList(counts);
    rsp.DataSetType = failed ? DIMSE_DATASET_PRESENT : DIMSE_DATASET_NULL;
    std::unique_ptr<DcmDataset> detail = Detail(final_status);
    return DIMSE_sendMoveResponse(assoc_, pres_id, &req, &rsp, failed.get(), detail.get());
  }

  static std::unique_ptr<DcmDataset> Detail(const DimseStatus& status) {
    if (status.comment.empty()) return nullptr;
    auto ds = std::make_unique<DcmDataset>();
    ds->putAndInsertString(DCM_ErrorComment, status.comment.c_str());
    return ds;
  }
  void AuditRetrieve(const char* op, uint16_t status, const RetrieveCounts& n,
                     const std::string& destination) {
    MV_LOG(INFO) << "audit op=" << op << " service=frontend caller=" << peer_.Caller()
                 << " peer=" << peer_.host << (destination.empty() ? "" : " destination=")
                 << destination << " status=" << Hex(status) << " completed=" << n.completed
                 << " failed=" << n.failed << " warning=" << n.warning;
  }

  // The sub-operations of a C-GET or C-MOVE: lists the identifier's instances from the index and
  // runs them (sub_operations.h), those `can_send` allows read as one set (one key release,
  // audited with `purpose`); A900 when the identifier lacks a level or key, A701 when the index
  // is unavailable.
  DimseStatus Retrieve(QueryModel model, DcmDataset& identifier, RetrieveCounts* n,
                       const char* purpose,
                       const std::function<void(const std::vector<RetrieveItem>&)>& prepare,
                       const CanSend& can_send, const StartSend& start,
                       const std::function<bool(const RetrieveCounts&)>& pending) {
    ImageStoreCore* core = s_->core_;
    FindSource source{[core](const v1::FindStudiesRequest& r) { return core->FindStudies(r); },
                      [core](const v1::GetStudyRequest& r) { return core->GetStudy(r); }};
    absl::StatusOr<std::vector<RetrieveItem>> items =
        peer_.scopes.count(Scope::kRead) == 0 ? absl::PermissionDeniedError("read scope required")
                                              : ListRetrieve(source, model, identifier);
    if (!items.ok()) {
      MV_LOG(INFO) << "DIMSE: retrieve from " << peer_.Caller()
                   << " failed: " << items.status().code() << " " << items.status().message();
      switch (items.status().code()) {
        case absl::StatusCode::kInvalidArgument:
          return {STATUS_GET_Error_DataSetDoesNotMatchSOPClass,
                  std::string(items.status().message())};
        case absl::StatusCode::kPermissionDenied:
          return {0x0124, "calling AE title not allowed to retrieve here"};
        default:
          return {STATUS_GET_Refused_OutOfResourcesNumberOfMatches,
                  "index temporarily unavailable"};
      }
    }
    return RunSubOperations(*items, n, prepare, can_send,
                            SetReader(core, peer_.AuditName(), purpose, peer_.host), start, pending,
                            peer_.Caller());
  }

  DimseServer* const s_;
  T_ASC_Association* const assoc_;
  const Peer peer_;
};

void DimseServer::Serve(T_ASC_Association* assoc) {
  const DUL_ASSOCIATESERVICEPARAMETERS& dul = assoc->params->DULparams;
  Peer peer;
  peer.ae = PrintableAeTitle(dul.callingAPTitle);
  peer.host = dul.callingPresentationAddress;
  peer.scopes = access_.ScopesOf(dul.callingAPTitle, peer.host);
  const std::string called = PrintableAeTitle(dul.calledAPTitle);

  auto reject = [&](T_ASC_RejectParametersReason reason, const char* why) {
    T_ASC_RejectParameters params = {ASC_RESULT_REJECTEDPERMANENT, ASC_SOURCE_SERVICEUSER, reason};
    ASC_rejectAssociation(assoc, &params);
    requests_.Add({{"command", "A-ASSOCIATE"}, {"status", "rejected"}}).Increment();
    const absl::Status status = absl::PermissionDeniedError(why);
    MV_LOG(WARNING) << "audit op=deny service=frontend method=A-ASSOCIATE caller=" << peer.Caller()
                    << " peer=" << peer.host << " code=PERMISSION_DENIED: " << why;
    if (on_denied_) on_denied_(peer.Caller() + "@" + peer.host, "A-ASSOCIATE", status);
  };
  if (called != options_.ae_title) {
    reject(ASC_REASON_SU_CALLEDAETITLENOTRECOGNIZED, "called AE title is not this archive's");
  } else if (peer.scopes.empty()) {
    reject(ASC_REASON_SU_CALLINGAETITLENOTRECOGNIZED,
           "calling AE title and address are not allowed");
  } else {
    const char* verification[] = {UID_VerificationSOPClass};
    OFCondition c = ASC_acceptContextsWithPreferredTransferSyntaxes(assoc->params, verification, 1,
                                                                    kUncompressed, 3);
    if (c.good() && peer.scopes.count(Scope::kRead) > 0) {
      const char* query[] = {UID_FINDPatientRootQueryRetrieveInformationModel,
                             UID_FINDStudyRootQueryRetrieveInformationModel,
                             UID_GETPatientRootQueryRetrieveInformationModel,
                             UID_GETStudyRootQueryRetrieveInformationModel,
                             UID_MOVEPatientRootQueryRetrieveInformationModel,
                             UID_MOVEStudyRootQueryRetrieveInformationModel};
      c = ASC_acceptContextsWithPreferredTransferSyntaxes(assoc->params, query, 6, kUncompressed,
                                                          3);
    }
    if (c.good() && peer.scopes.count(Scope::kWrite) > 0) {
      std::vector<const char*> storage = StorageTransferSyntaxes();
      c = ASC_acceptContextsWithPreferredTransferSyntaxes(
          assoc->params, dcmAllStorageSOPClassUIDs, numberOfDcmAllStorageSOPClassUIDs,
          storage.data(), static_cast<int>(storage.size()));
    }
    if (c.good() && peer.scopes.count(Scope::kRead) > 0) {
      c = AcceptStorageScpRoles(assoc->params, peer.scopes.count(Scope::kWrite) > 0);
    }
    if (c.good()) c = ASC_acknowledgeAssociation(assoc);
    if (c.good()) {
      requests_.Add({{"command", "A-ASSOCIATE"}, {"status", "accepted"}}).Increment();
      MV_LOG(INFO) << "audit op=dimse-associate service=frontend caller=" << peer.Caller()
                   << " peer=" << peer.host;
      Association(this, assoc, peer).Run();
    } else {
      MV_LOG(INFO) << "DIMSE: negotiation with " << peer.Caller() << " failed: " << c.text();
    }
  }
  ASC_dropSCPAssociation(assoc);
  ASC_destroyAssociation(&assoc);
}

}  // namespace medvault::frontend

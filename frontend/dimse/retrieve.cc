#include "frontend/dimse/retrieve.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcelem.h"
#include "dcmtk/dcmdata/dcostrmb.h"
#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/dimse.h"
#include "dcmtk/dcmnet/dul.h"
#include "frontend/dimse/listener.h"

namespace medvault::frontend {
namespace {

// The values of a (possibly multi-valued) string attribute, empty when absent or empty.
std::vector<std::string> Values(DcmDataset& ds, const DcmTagKey& tag) {
  OFString v;
  if (ds.findAndGetOFStringArray(tag, v).bad() || v.empty()) return {};
  std::vector<std::string> out;
  for (absl::string_view s : absl::StrSplit(absl::string_view(v.c_str()), '\\')) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.remove_suffix(1);
    if (!s.empty()) out.emplace_back(s);
  }
  return out;
}

bool Contains(const std::vector<std::string>& list, const std::string& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

absl::Status AddStudy(const FindSource& source, const std::string& study_uid,
                      const std::vector<std::string>& series, const std::vector<std::string>& sops,
                      std::vector<RetrieveItem>* out) {
  v1::GetStudyRequest request;
  request.set_study_uid(study_uid);
  absl::StatusOr<v1::GetStudyResponse> study = source.get(request);
  if (absl::IsNotFound(study.status())) return absl::OkStatus();
  if (!study.ok()) return study.status();
  for (const v1::SeriesInfo& s : study->series()) {
    if (!series.empty() && !Contains(series, s.series_uid())) continue;
    for (const v1::InstanceInfo& i : s.instances()) {
      if (!sops.empty() && !Contains(sops, i.tags().sop_instance_uid())) continue;
      out->push_back(RetrieveItem{i.tags().sop_instance_uid(), i.tags().sop_class_uid(),
                                  i.tags().transfer_syntax_uid()});
    }
  }
  return absl::OkStatus();
}

// Explicit VR little endian elements with a 4-byte length (PS3.5 7.1.2).
bool LongLengthVr(const char* vr) {
  static const char* kLong[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ",
                                "SV", "UC", "UN", "UR", "UT", "UV"};
  for (const char* l : kLong) {
    if (std::memcmp(vr, l, 2) == 0) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::vector<RetrieveItem>> ListRetrieve(const FindSource& source, QueryModel model,
                                                       DcmDataset& identifier) {
  std::vector<std::string> level = Values(identifier, DCM_QueryRetrieveLevel);
  if (level.size() != 1) return absl::InvalidArgumentError("QueryRetrieveLevel missing");
  std::vector<std::string> studies = Values(identifier, DCM_StudyInstanceUID);
  std::vector<std::string> series, sops;
  std::vector<RetrieveItem> out;
  if (level[0] == "PATIENT") {
    if (model != QueryModel::kPatientRoot) {
      return absl::InvalidArgumentError("PATIENT level needs the Patient Root model");
    }
    std::vector<std::string> patients = Values(identifier, DCM_PatientID);
    if (patients.size() != 1) return absl::InvalidArgumentError("PatientID missing");
    v1::FindStudiesRequest request;
    request.mutable_query()->set_patient_id(patients[0]);
    request.mutable_query()->set_page_size(1000);
    do {
      absl::StatusOr<v1::FindStudiesResponse> page = source.find(request);
      if (!page.ok()) return page.status();
      for (const v1::StudySummary& s : page->page().studies()) studies.push_back(s.study_uid());
      request.mutable_query()->set_page_token(page->page().next_page_token());
    } while (!request.query().page_token().empty());
    if (studies.empty()) return out;
  } else if (level[0] == "STUDY") {
    if (studies.empty()) return absl::InvalidArgumentError("StudyInstanceUID missing");
  } else if (level[0] == "SERIES" || level[0] == "IMAGE") {
    series = Values(identifier, DCM_SeriesInstanceUID);
    if (studies.size() != 1) return absl::InvalidArgumentError("StudyInstanceUID missing");
    if (series.empty()) return absl::InvalidArgumentError("SeriesInstanceUID missing");
    if (level[0] == "IMAGE") {
      if (series.size() != 1) return absl::InvalidArgumentError("SeriesInstanceUID not single");
      sops = Values(identifier, DCM_SOPInstanceUID);
      if (sops.empty()) return absl::InvalidArgumentError("SOPInstanceUID missing");
    }
  } else {
    return absl::InvalidArgumentError("QueryRetrieveLevel not valid");
  }
  for (const std::string& study : studies) {
    absl::Status s = AddStudy(source, study, series, sops, &out);
    if (!s.ok()) return s;
  }
  return out;
}

absl::StatusOr<std::optional<size_t>> DataSetOffset(absl::string_view head) {
  if (head.size() < 132) return std::optional<size_t>();
  if (head.substr(128, 4) != "DICM") return std::optional<size_t>(0);
  size_t pos = 132;
  while (true) {
    if (head.size() < pos + 2) return std::optional<size_t>();
    const auto byte = [&](size_t i) { return static_cast<uint8_t>(head[pos + i]); };
    const uint16_t group = byte(0) | (byte(1) << 8);
    if (group != 0x0002) return std::optional<size_t>(pos);
    if (head.size() < pos + 8) return std::optional<size_t>();
    uint64_t header = 8, length = byte(6) | (byte(7) << 8);
    if (LongLengthVr(head.data() + pos + 4)) {
      if (head.size() < pos + 12) return std::optional<size_t>();
      header = 12;
      length = uint64_t{byte(8)} | (uint64_t{byte(9)} << 8) | (uint64_t{byte(10)} << 16) |
               (uint64_t{byte(11)} << 24);
      if (length == 0xFFFFFFFFu)
        return absl::DataLossError("file meta element of undefined length");
    }
    if (length > (1u << 20)) return absl::DataLossError("file meta element longer than 1 MiB");
    pos += header + length;
  }
}

absl::StatusOr<std::string> StoreCommandSet(const RetrieveItem& item, uint16_t message_id,
                                            const std::string& move_originator_ae,
                                            uint16_t move_originator_id) {
  DcmDataset cmd;
  OFCondition c = cmd.putAndInsertString(DCM_AffectedSOPClassUID, item.sop_class_uid.c_str());
  if (c.good()) c = cmd.putAndInsertUint16(DCM_CommandField, DIMSE_C_STORE_RQ);
  if (c.good()) c = cmd.putAndInsertUint16(DCM_MessageID, message_id);
  if (c.good()) c = cmd.putAndInsertUint16(DCM_Priority, 0x0000);       // MEDIUM
  if (c.good()) c = cmd.putAndInsertUint16(DCM_CommandDataSetType, 0);  // a data set follows
  if (c.good())
    c = cmd.putAndInsertString(DCM_AffectedSOPInstanceUID, item.sop_instance_uid.c_str());
  if (c.good() && !move_originator_ae.empty()) {
    c = cmd.putAndInsertString(DCM_MoveOriginatorApplicationEntityTitle,
                               move_originator_ae.c_str());
    if (c.good()) c = cmd.putAndInsertUint16(DCM_MoveOriginatorMessageID, move_originator_id);
  }
  if (c.bad()) return absl::InvalidArgumentError("cannot encode the C-STORE command");
  Uint32 length = 0;
  for (unsigned long i = 0; i < cmd.card(); ++i) {
    length += cmd.getElement(i)->calcElementLength(EXS_LittleEndianImplicit, EET_ExplicitLength);
  }
  cmd.putAndInsertUint32(DCM_CommandGroupLength, length);
  std::vector<char> buffer(length + 64);
  DcmOutputBufferStream out(buffer.data(), buffer.size());
  cmd.transferInit();
  c = cmd.write(out, EXS_LittleEndianImplicit, EET_ExplicitLength, nullptr, EGL_noChange);
  cmd.transferEnd();
  if (c.bad()) return absl::InvalidArgumentError("cannot encode the C-STORE command");
  void* written = nullptr;
  offile_off_t written_length = 0;
  out.flushBuffer(written, written_length);
  return std::string(static_cast<const char*>(written), written_length);
}

uint8_t AcceptedContextFor(T_ASC_Association* assoc, bool as_scp_role, const RetrieveItem& item) {
  const int contexts = ASC_countPresentationContexts(assoc->params);
  for (int i = 0; i < contexts; ++i) {
    T_ASC_PresentationContext pc;
    if (ASC_getPresentationContext(assoc->params, i, &pc).bad()) continue;
    if (pc.resultReason != ASC_P_ACCEPTANCE || item.sop_class_uid != pc.abstractSyntax ||
        item.transfer_syntax_uid != pc.acceptedTransferSyntax) {
      continue;
    }
    if (as_scp_role && pc.acceptedRole != ASC_SC_ROLE_SCP &&
        pc.acceptedRole != ASC_SC_ROLE_SCUSCP) {
      continue;
    }
    return pc.presentationContextID;
  }
  return 0;
}

StoredInstanceSender::StoredInstanceSender(T_ASC_Association* assoc, bool as_scp_role,
                                           const RetrieveItem& item, uint16_t message_id,
                                           const std::string& move_originator_ae,
                                           uint16_t move_originator_id, int timeout_seconds)
    : assoc_(assoc), message_id_(message_id), timeout_seconds_(timeout_seconds) {
  pres_id_ = AcceptedContextFor(assoc, as_scp_role, item);
  if (pres_id_ == 0) {
    why_ = "no presentation context accepted for the SOP class in the stored transfer syntax";
    return;
  }
  absl::StatusOr<std::string> command =
      StoreCommandSet(item, message_id, move_originator_ae, move_originator_id);
  if (!command.ok()) {
    why_ = std::string(command.status().message());
    return;
  }
  command_ = *std::move(command);
  // PDV fragments of at most the peer's PDU size (less the PDV item's header), even-sized.
  max_fragment_ = std::max<size_t>(2, assoc->sendPDVLength & ~1ul);
}

bool StoredInstanceSender::WritePdv(int type, const char* data, size_t length, bool last) {
  DUL_PDV pdv{};
  pdv.fragmentLength = length;
  pdv.presentationContextID = pres_id_;
  pdv.pdvType = static_cast<DUL_DATAPDV>(type);
  pdv.lastPDV = last ? OFTrue : OFFalse;
  pdv.data = const_cast<char*>(data);
  DUL_PDVLIST list{};
  list.count = 1;
  list.pdv = &pdv;
  return DUL_WritePDVs(&assoc_->DULassociation, &list).good();
}

void StoredInstanceSender::Start(size_t offset) {
  started_ = true;
  pending_ = head_.substr(std::min(offset, head_.size()));
  head_.clear();
  if (!WritePdv(DUL_COMMANDPDV, command_.data(), command_.size(), true)) {
    network_ = absl::UnavailableError("sending the C-STORE command failed");
  }
}

void StoredInstanceSender::FlushFull() {
  size_t sent = 0;
  while (network_.ok() && pending_.size() - sent > max_fragment_) {
    if (!WritePdv(DUL_DATASETPDV, pending_.data() + sent, max_fragment_, false)) {
      network_ = absl::UnavailableError("sending the data set failed");
    }
    sent += max_fragment_;
  }
  pending_.erase(0, sent);
}

absl::Status StoredInstanceSender::Data(absl::string_view data) {
  if (!why_.empty()) return absl::OkStatus();  // nothing is sent: Finish says why
  if (!started_) {
    head_.append(data.data(), data.size());
    absl::StatusOr<std::optional<size_t>> offset = DataSetOffset(head_);
    if (!offset.ok()) return offset.status();
    if (!offset->has_value()) return absl::OkStatus();
    Start(**offset);
  } else {
    pending_.append(data.data(), data.size());
  }
  FlushFull();
  return network_;
}

SubOperation StoredInstanceSender::Finish(const absl::Status& given) {
  SubOperation out;
  if (!why_.empty()) {
    out.why = why_;
    return out;
  }
  absl::Status read = given;
  if (read.ok() && !started_) {
    // The whole object is shorter than its meta header would need: no meta header, or broken.
    absl::StatusOr<std::optional<size_t>> offset = DataSetOffset(head_);
    if (offset.ok() && !offset->has_value() && head_.size() < 132) {
      offset = std::optional<size_t>(0);
    }
    if (!offset.ok() || !offset->has_value()) {
      read = absl::DataLossError("the stored object's meta header is truncated");
    } else {
      Start(**offset);
    }
  }
  if (!network_.ok() || (!read.ok() && started_)) {
    // Part of the message is on the wire: only an abort ends it.
    out.association_ok = false;
    out.why = std::string((network_.ok() ? read : network_).message());
    return out;
  }
  if (!read.ok()) {
    out.why = absl::StrCat("reading the instance failed: ", absl::StatusCodeToString(read.code()));
    return out;
  }
  if (!WritePdv(DUL_DATASETPDV, pending_.data(), pending_.size(), true)) {
    out.association_ok = false;
    out.why = "sending the data set failed";
    return out;
  }
  // The response (a C-CANCEL-RQ may come first). What arrives first (its header) is acknowledged
  // at once, so a peer with Nagle on sends the body without waiting for our delayed ACK.
  while (true) {
    if (AckOnArrival(assoc_, 1000 * std::max(1, timeout_seconds_)) == Arrival::kTimedOut) {
      out.association_ok = false;
      out.why = "no C-STORE response";
      return out;
    }
    T_ASC_PresentationContextID rsp_pres = 0;
    T_DIMSE_Message rsp{};
    DcmDataset* detail = nullptr;
    OFCondition c =
        DIMSE_receiveCommand(assoc_, DIMSE_NONBLOCKING, timeout_seconds_, &rsp_pres, &rsp, &detail);
    delete detail;
    if (c.bad()) {
      out.association_ok = false;
      out.why = "no C-STORE response";
      return out;
    }
    if (rsp.CommandField == DIMSE_C_CANCEL_RQ) {
      out.cancelled = true;
      continue;
    }
    if (rsp.CommandField != DIMSE_C_STORE_RSP ||
        rsp.msg.CStoreRSP.MessageIDBeingRespondedTo != message_id_) {
      out.association_ok = false;
      out.why = "an unexpected message instead of the C-STORE response";
      return out;
    }
    out.sent = true;
    out.status = rsp.msg.CStoreRSP.DimseStatus;
    return out;
  }
}

}  // namespace medvault::frontend

#include "frontend/dimse/sub_operations.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmnet/dimse.h"

namespace medvault::frontend {

namespace {

// Counts one sub-operation's outcome.
void Account(const RetrieveItem& item, const SubOperation& r, RetrieveCounts* n,
             const std::string& caller) {
  --n->remaining;
  if (r.sent && r.status == STATUS_Success) {
    ++n->completed;
  } else if (r.sent && (r.status & 0xF000) == 0xB000) {
    ++n->warning;
  } else {
    ++n->failed;
    n->failed_uids.push_back(item.sop_instance_uid);
    MV_LOG(INFO) << "DIMSE: retrieve sub-operation for " << caller
                 << " failed: " << (r.sent ? absl::StrFormat("status 0x%04X", r.status) : r.why);
  }
}

}  // namespace

ReadItems SetReader(ImageStoreCore* core, const std::string& caller, const std::string& purpose,
                    const std::string& peer) {
  return
      [=](const std::vector<RetrieveItem>& items, size_t from, const ImageStoreCore::Sink& sink) {
        std::vector<v1::InstanceInfo> set;
        for (size_t i = from; i < items.size(); ++i) {
          set.emplace_back().mutable_tags()->set_sop_instance_uid(items[i].sop_instance_uid);
        }
        return core->RetrieveSet(set, sink, caller, purpose, peer);
      };
}

DimseStatus RunSubOperations(const std::vector<RetrieveItem>& listed, RetrieveCounts* n,
                             const std::function<void(const std::vector<RetrieveItem>&)>& prepare,
                             const CanSend& can_send, const ReadItems& read, const StartSend& start,
                             const std::function<bool(const RetrieveCounts&)>& pending,
                             const std::string& caller) {
  n->remaining = static_cast<uint16_t>(std::min<size_t>(listed.size(), 0xFFFF));
  if (prepare && !listed.empty()) prepare(listed);
  // Only what can be sent is read (and has its key released); the rest fails here.
  std::vector<RetrieveItem> items;
  for (const RetrieveItem& item : listed) {
    if (!can_send || can_send(item)) {
      items.push_back(item);
      continue;
    }
    Account(item,
            SubOperation{true, false, 0, false,
                         "no presentation context accepted for the SOP class in the stored "
                         "transfer syntax"},
            n, caller);
  }
  bool cancelled = false;
  size_t next = 0;  // the next item whose sub-operation starts
  // The sub-operation whose bytes are being read, how many it got and how many it has.
  std::unique_ptr<SubOperationSend> open;
  size_t open_index = 0;
  uint64_t open_got = 0, open_size = 0;
  // Ends the open sub-operation; false when the retrieve cannot go on (the originator's
  // association is lost, or a C-CANCEL came with the response).
  auto finish_open = [&](const absl::Status& status) {
    SubOperation r = open->Finish(status);
    open.reset();
    if (!r.association_ok) {
      MV_LOG(INFO) << "DIMSE: retrieve sub-operation for " << caller
                   << " ended the association: " << r.why;
      n->association_lost = true;
      return false;
    }
    Account(items[open_index], r, n, caller);
    if (r.cancelled) {
      cancelled = open_index + 1 < items.size();
      return false;
    }
    return true;
  };
  while (next < items.size() && !cancelled && !n->association_lost) {
    bool stopped = false;      // the sink stopped the read (cancelled, or the association lost)
    bool data_failed = false;  // the open sub-operation refused its bytes
    const ImageStoreCore::Sink sink = [&](const v1::InstanceInfo* info, uint64_t,
                                          absl::string_view data) -> absl::Status {
      if (info != nullptr) {
        if ((open && !finish_open(absl::OkStatus())) || (next > 0 && !pending(*n))) {
          cancelled |= !n->association_lost;
          stopped = true;
          return absl::CancelledError("the retrieve ended");
        }
        open = start(items[next]);
        open_index = next++;
        open_got = 0;
        open_size = info->size();
      }
      if (data.empty()) return absl::OkStatus();
      open_got += data.size();
      absl::Status sent = open->Data(data);
      data_failed = !sent.ok();
      return sent;
    };
    absl::Status done = read(items, next, sink);
    if (stopped) break;
    // The open sub-operation ends with the read, unless it had all its bytes and a later
    // instance failed before its first byte.
    const bool had_open = open != nullptr;
    const bool open_whole = had_open && !data_failed && open_size > 0 && open_got >= open_size;
    if (had_open && !finish_open(open_whole ? absl::OkStatus() : done)) break;
    if ((done.ok() || open_whole || !had_open) && next < items.size()) {
      // The instance after the last one started could not be read: it fails alone.
      Account(items[next++],
              SubOperation{true, false, 0, false,
                           absl::StrCat("reading the instance failed: ",
                                        absl::StatusCodeToString(done.code()))},
              n, caller);
    }
  }
  if (n->association_lost) return {0xFFFF, ""};
  if (cancelled) return {STATUS_GET_Cancel_SubOperationsTerminatedDueToCancelIndication, ""};
  if (n->failed == 0 && n->warning == 0) return {STATUS_Success, ""};
  if (n->completed == 0 && n->warning == 0) {
    return {STATUS_GET_Refused_OutOfResourcesSubOperations, "no instance could be sent"};
  }
  return {STATUS_GET_Warning_SubOperationsCompleteOneOrMoreFailures,
          "some instances could not be sent"};
}

std::unique_ptr<DcmDataset> FailedList(const RetrieveCounts& n) {
  if (n.failed_uids.empty()) return nullptr;
  auto ds = std::make_unique<DcmDataset>();
  ds->putAndInsertString(DCM_FailedSOPInstanceUIDList, absl::StrJoin(n.failed_uids, "\\").c_str());
  return ds;
}

}  // namespace medvault::frontend

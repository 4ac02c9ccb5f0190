#include "frontend/dimse/sub_operations.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace medvault::frontend {
namespace {

// A sub-operation that takes every byte and is answered with success.
class AcceptingSend : public SubOperationSend {
 public:
  absl::Status Data(absl::string_view) override { return absl::OkStatus(); }
  SubOperation Finish(const absl::Status& read) override {
    SubOperation out;
    out.sent = read.ok();
    out.status = STATUS_Success;
    return out;
  }
};

std::vector<RetrieveItem> Items() {
  return {{"I1", "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.1.2.1"},
          {"I2", "1.2.840.10008.5.1.4.1.1.4", "1.2.840.10008.1.2.1"},
          {"I3", "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.1.2.4.50"}};
}

// A read that records which instances it was asked for (their keys would be released) and gives
// each a few bytes.
ReadItems RecordingRead(std::vector<std::string>* asked) {
  return [asked](const std::vector<RetrieveItem>& items, size_t from,
                 const ImageStoreCore::Sink& sink) -> absl::Status {
    for (size_t i = from; i < items.size(); ++i) asked->push_back(items[i].sop_instance_uid);
    for (size_t i = from; i < items.size(); ++i) {
      v1::InstanceInfo info;
      info.set_size(4);
      if (absl::Status s = sink(&info, 0, absl::string_view()); !s.ok()) return s;
      if (absl::Status s = sink(nullptr, 0, "DICM"); !s.ok()) return s;
    }
    return absl::OkStatus();
  };
}

StartSend Accepting() {
  return [](const RetrieveItem&) { return std::make_unique<AcceptingSend>(); };
}

// An instance with no accepted presentation context is a failed sub-operation before anything is
// read: the read (and so the key release) names only the instances that can be sent.
TEST(SubOperationsTest, InstancesWithoutAContextFailAndAreNeverRead) {
  std::vector<std::string> asked;
  RetrieveCounts n;
  std::vector<uint16_t> remaining_at_pending;
  DimseStatus status = RunSubOperations(
      Items(), &n, nullptr, [](const RetrieveItem& i) { return i.sop_instance_uid != "I2"; },
      RecordingRead(&asked), Accepting(),
      [&](const RetrieveCounts& now) {
        remaining_at_pending.push_back(now.remaining);
        return true;
      },
      "test");
  EXPECT_EQ(asked, (std::vector<std::string>{"I1", "I3"}));
  EXPECT_EQ(status.code, STATUS_GET_Warning_SubOperationsCompleteOneOrMoreFailures);
  EXPECT_EQ(n.completed, 2);
  EXPECT_EQ(n.failed, 1);
  EXPECT_EQ(n.remaining, 0);
  EXPECT_EQ(n.failed_uids, (std::vector<std::string>{"I2"}));
  // The pending response before the second send counts the refused one as done.
  EXPECT_EQ(remaining_at_pending, (std::vector<uint16_t>{1}));
}

// None can be sent: nothing is read, every sub-operation failed, A702; `prepare` (a C-MOVE opening
// its destination) still runs first, since what can be sent depends on it.
TEST(SubOperationsTest, NothingSendableReadsNothing) {
  std::vector<std::string> asked;
  bool prepared = false;
  RetrieveCounts n;
  DimseStatus status = RunSubOperations(
      Items(), &n, [&](const std::vector<RetrieveItem>&) { prepared = true; },
      [&](const RetrieveItem&) {
        EXPECT_TRUE(prepared);
        return false;
      },
      RecordingRead(&asked), Accepting(), [](const RetrieveCounts&) { return true; }, "test");
  EXPECT_TRUE(prepared);
  EXPECT_TRUE(asked.empty());
  EXPECT_EQ(status.code, STATUS_GET_Refused_OutOfResourcesSubOperations);
  EXPECT_EQ(n.failed, 3);
  EXPECT_EQ(n.completed, 0);
}

// Without a check every instance is read, in one set.
TEST(SubOperationsTest, EveryInstanceIsReadWithoutACheck) {
  std::vector<std::string> asked;
  RetrieveCounts n;
  DimseStatus status = RunSubOperations(
      Items(), &n, nullptr, nullptr, RecordingRead(&asked), Accepting(),
      [](const RetrieveCounts&) { return true; }, "test");
  EXPECT_EQ(asked, (std::vector<std::string>{"I1", "I2", "I3"}));
  EXPECT_EQ(status.code, STATUS_Success);
  EXPECT_EQ(n.completed, 3);
}

}  // namespace
}  // namespace medvault::frontend

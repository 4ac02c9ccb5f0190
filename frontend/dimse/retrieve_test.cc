#include "frontend/dimse/retrieve.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcistrmb.h"
#include "frontend/dimse/store_stream.h"
#include "gtest/gtest.h"

namespace medvault::frontend {
namespace {

// One study S1: series SE1 (I1, I2) and SE2 (I3); patient P1.
FindSource OneStudy(int* finds) {
  v1::GetStudyResponse study;
  study.mutable_study()->set_study_uid("S1");
  study.mutable_study()->set_patient_id("P1");
  auto add = [&](const std::string& series, std::vector<std::string> sops) {
    v1::SeriesInfo* s = study.add_series();
    s->set_series_uid(series);
    for (const std::string& sop : sops) {
      v1::InstanceTags* t = s->add_instances()->mutable_tags();
      t->set_sop_instance_uid(sop);
      t->set_sop_class_uid("1.2.840.10008.5.1.4.1.1.2");
      t->set_transfer_syntax_uid("1.2.840.10008.1.2.1");
    }
  };
  add("SE1", {"I1", "I2"});
  add("SE2", {"I3"});
  FindSource source;
  source.get = [study](const v1::GetStudyRequest& r) -> absl::StatusOr<v1::GetStudyResponse> {
    if (r.study_uid() != "S1") return absl::NotFoundError("no such study");
    return study;
  };
  source.find = [study, finds](const v1::FindStudiesRequest& r) {
    ++*finds;
    v1::FindStudiesResponse out;
    if (r.query().patient_id() == "P1") *out.mutable_page()->add_studies() = study.study();
    return absl::StatusOr<v1::FindStudiesResponse>(out);
  };
  return source;
}

std::vector<std::string> Uids(const absl::StatusOr<std::vector<RetrieveItem>>& items) {
  std::vector<std::string> out;
  if (!items.ok()) return {items.status().ToString()};
  for (const RetrieveItem& i : *items) out.push_back(i.sop_instance_uid);
  return out;
}

absl::StatusOr<std::vector<RetrieveItem>> List(
    const FindSource& source, QueryModel model,
    std::vector<std::pair<DcmTagKey, std::string>> keys) {
  DcmDataset id;
  for (const auto& [tag, value] : keys) id.putAndInsertString(tag, value.c_str());
  return ListRetrieve(source, model, id);
}

TEST(RetrieveTest, ListsTheInstancesOfEachLevel) {
  int finds = 0;
  FindSource s = OneStudy(&finds);
  using V = std::vector<std::string>;
  const QueryModel study_root = QueryModel::kStudyRoot;
  EXPECT_EQ(Uids(List(s, study_root,
                      {{DCM_QueryRetrieveLevel, "STUDY"}, {DCM_StudyInstanceUID, "S1\\S9"}})),
            (V{"I1", "I2", "I3"}));
  EXPECT_EQ(Uids(List(s, study_root,
                      {{DCM_QueryRetrieveLevel, "SERIES"},
                       {DCM_StudyInstanceUID, "S1"},
                       {DCM_SeriesInstanceUID, "SE2"}})),
            (V{"I3"}));
  EXPECT_EQ(Uids(List(s, study_root,
                      {{DCM_QueryRetrieveLevel, "IMAGE"},
                       {DCM_StudyInstanceUID, "S1"},
                       {DCM_SeriesInstanceUID, "SE1"},
                       {DCM_SOPInstanceUID, "I2\\I3"}})),
            (V{"I2"}));  // I3 is in another series
  EXPECT_EQ(Uids(List(s, QueryModel::kPatientRoot,
                      {{DCM_QueryRetrieveLevel, "PATIENT"}, {DCM_PatientID, "P1"}})),
            (V{"I1", "I2", "I3"}));
  EXPECT_EQ(finds, 1);
  EXPECT_TRUE(List(s, study_root, {{DCM_QueryRetrieveLevel, "STUDY"}, {DCM_StudyInstanceUID, "S9"}})
                  ->empty());
}

TEST(RetrieveTest, RefusesMissingLevelsAndKeys) {
  int finds = 0;
  FindSource s = OneStudy(&finds);
  for (const auto& keys : std::vector<std::vector<std::pair<DcmTagKey, std::string>>>{
           {{DCM_StudyInstanceUID, "S1"}},
           {{DCM_QueryRetrieveLevel, "STUDY"}},
           {{DCM_QueryRetrieveLevel, "SERIES"}, {DCM_StudyInstanceUID, "S1"}},
           {{DCM_QueryRetrieveLevel, "IMAGE"},
            {DCM_StudyInstanceUID, "S1"},
            {DCM_SeriesInstanceUID, "SE1"}},
           {{DCM_QueryRetrieveLevel, "PATIENT"}, {DCM_PatientID, "P1"}},  // Study Root
           {{DCM_QueryRetrieveLevel, "FRAME"}, {DCM_StudyInstanceUID, "S1"}}}) {
    EXPECT_EQ(List(s, QueryModel::kStudyRoot, keys).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(RetrieveTest, FindsWhereTheDataSetStarts) {
  absl::StatusOr<std::string> header =
      Part10Header("1.2.840.10008.5.1.4.1.1.2", "1.2.3", "1.2.840.10008.1.2.1", "AE");
  ASSERT_TRUE(header.ok());
  const std::string file = *header + std::string("\x08\x00\x16\x00", 4) + "UI";
  for (size_t n = 0; n < header->size(); ++n) {  // every prefix short of the data set
    absl::StatusOr<std::optional<size_t>> at = DataSetOffset(file.substr(0, n));
    ASSERT_TRUE(at.ok());
    EXPECT_FALSE(at->has_value()) << n;
  }
  absl::StatusOr<std::optional<size_t>> at = DataSetOffset(file);
  ASSERT_TRUE(at.ok() && at->has_value());
  EXPECT_EQ(**at, header->size());
  // No "DICM": no meta header.
  EXPECT_EQ(**DataSetOffset(std::string(200, 'x')), 0u);
  // A meta element of undefined length is malformed.
  std::string bad = file.substr(0, 132) + std::string("\x02\x00\x01\x00OB\0\0\xff\xff\xff\xff", 12);
  EXPECT_EQ(DataSetOffset(bad).status().code(), absl::StatusCode::kDataLoss);
}

TEST(RetrieveTest, StoreCommandSetIsAValidCStoreRequest) {
  RetrieveItem item{"1.2.3.4", "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.1.2.1"};
  absl::StatusOr<std::string> cmd = StoreCommandSet(item, 7, "MOVER", 3);
  ASSERT_TRUE(cmd.ok());
  DcmInputBufferStream in;
  in.setBuffer(cmd->data(), cmd->size());
  in.setEos();
  DcmDataset ds;
  ds.transferInit();
  ASSERT_TRUE(ds.read(in, EXS_LittleEndianImplicit).good());
  ds.transferEnd();
  Uint16 v = 0;
  Uint32 group_length = 0;
  OFString s;
  EXPECT_TRUE(ds.findAndGetUint32(DCM_CommandGroupLength, group_length).good());
  EXPECT_EQ(group_length, cmd->size() - 12);  // everything after the group length element
  EXPECT_TRUE(ds.findAndGetUint16(DCM_CommandField, v).good() && v == 0x0001);
  EXPECT_TRUE(ds.findAndGetUint16(DCM_MessageID, v).good() && v == 7);
  EXPECT_TRUE(ds.findAndGetUint16(DCM_CommandDataSetType, v).good() && v != 0x0101);
  EXPECT_TRUE(ds.findAndGetOFString(DCM_AffectedSOPInstanceUID, s).good() && s == "1.2.3.4");
  EXPECT_TRUE(ds.findAndGetOFString(DCM_AffectedSOPClassUID, s).good() &&
              s == "1.2.840.10008.5.1.4.1.1.2");
  EXPECT_TRUE(ds.findAndGetOFString(DCM_MoveOriginatorApplicationEntityTitle, s).good() &&
              s == "MOVER");
  EXPECT_TRUE(ds.findAndGetUint16(DCM_MoveOriginatorMessageID, v).good() && v == 3);
  // A C-GET's sub-operation names no move originator.
  cmd = StoreCommandSet(item, 8, "", 0);
  ASSERT_TRUE(cmd.ok());
  EXPECT_EQ(cmd->find("MOVER"), std::string::npos);
}

}  // namespace
}  // namespace medvault::frontend

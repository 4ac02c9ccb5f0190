#include "common/media/pdi.h"

#include <archive.h>
#include <archive_entry.h>

#include <filesystem>
#include <map>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "common/testing/file_scan.h"
#include "common/testing/temp_dir.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcdicdir.h"
#include "dcmtk/dcmdata/dcuid.h"

namespace medvault::media {
namespace {

const std::string kPydicom = MEDVAULT_PYDICOM_TEST_FILES;

using ::medvault::testing::ReadWholeFile;

TEST(ChooseProfileTest, NarrowestProfileAcceptingEverySyntax) {
  EXPECT_EQ(ChooseProfile({UID_LittleEndianExplicitTransferSyntax}), PdiProfile::kGeneralPurposeCd);
  EXPECT_EQ(ChooseProfile({UID_LittleEndianExplicitTransferSyntax, UID_JPEGProcess1TransferSyntax}),
            PdiProfile::kDvdJpeg);
  EXPECT_EQ(ChooseProfile({UID_JPEG2000TransferSyntax}), PdiProfile::kDvdJpeg2000);
  EXPECT_EQ(ChooseProfile({UID_JPEG2000TransferSyntax, UID_JPEGProcess14SV1TransferSyntax}),
            PdiProfile::kMime);
  EXPECT_EQ(ChooseProfile({UID_LittleEndianImplicitTransferSyntax}), PdiProfile::kMime);
  EXPECT_EQ(ChooseProfile({UID_RLELosslessTransferSyntax}), PdiProfile::kMime);
  EXPECT_EQ(ChooseProfile({""}), PdiProfile::kMime);
  EXPECT_EQ(ProfileName(PdiProfile::kGeneralPurposeCd), "STD-GEN-CD");
}

TEST(PdiFileIdTest, IsoLevelOneNames) {
  EXPECT_EQ(PdiFileId(1, 2, 345), "DICOM/ST000001/SE000002/IM000345");
}

// pydicom's files as one study: two series, the second with two instances given out of order.
struct Fixture {
  std::vector<PdiInstance> instances;
  std::vector<std::string> files;  // by instance index

  void Add(const std::string& name, const std::string& series, int series_number, int number,
           const std::string& syntax) {
    PdiInstance i;
    i.study_uid = "1.2.3";
    i.series_uid = series;
    i.series_number = series_number;
    i.instance_number = number;
    i.sop_instance_uid = name;
    i.transfer_syntax_uid = syntax;
    i.patient_name = "Doe^Jane<script>";
    i.modality = "CT";
    files.push_back(kPydicom + "/" + name);
    i.size = std::filesystem::file_size(files.back());
    instances.push_back(i);
  }
  InstanceSource Source() const {
    return [this](size_t index, const WriteFn& write) {
      const std::string bytes = ReadWholeFile(files[index]);
      // In uneven pieces, as a network would give them.
      for (size_t at = 0; at < bytes.size(); at += 1000) {
        if (absl::Status s = write(absl::string_view(bytes).substr(at, 1000)); !s.ok()) return s;
      }
      return absl::OkStatus();
    };
  }
};

Fixture ThreeFiles() {
  Fixture f;
  f.Add("MR_small.dcm", "1.2.3.2", 2, 2, UID_LittleEndianExplicitTransferSyntax);
  f.Add("CT_small.dcm", "1.2.3.1", 1, 1, UID_LittleEndianExplicitTransferSyntax);
  f.Add("JPEG2000.dcm", "1.2.3.2", 2, 1, UID_JPEG2000TransferSyntax);
  return f;
}

TEST(WritePdiTest, FolderHoldsTheInstancesByteForByteAndADicomDirReferencingThem) {
  testing::TempDir dir;
  const std::string root = dir.path() + "/disc";
  absl::StatusOr<std::unique_ptr<MediaSink>> sink = NewDirectorySink(root);
  ASSERT_TRUE(sink.ok()) << sink.status();
  Fixture f = ThreeFiles();
  uint64_t reported = 0;
  PdiOptions options;
  options.scratch_dir = dir.path();
  options.on_instance = [&](uint64_t bytes) { reported += bytes; };
  absl::StatusOr<PdiSummary> summary = WritePdi(f.instances, f.Source(), **sink, options);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->profile, PdiProfile::kDvdJpeg2000);
  EXPECT_EQ(summary->instances, 3u);
  EXPECT_EQ(reported, summary->bytes);
  // Sorted by series number, then instance number.
  EXPECT_EQ(ReadWholeFile(root + "/DICOM/ST000001/SE000001/IM000001"), ReadWholeFile(f.files[1]));
  EXPECT_EQ(ReadWholeFile(root + "/DICOM/ST000001/SE000002/IM000001"), ReadWholeFile(f.files[2]));
  EXPECT_EQ(ReadWholeFile(root + "/DICOM/ST000001/SE000002/IM000002"), ReadWholeFile(f.files[0]));
  // The scratch folder is gone.
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename(), "disc");
  }

  DcmDicomDir dicomdir((root + "/DICOMDIR").c_str());
  ASSERT_TRUE(dicomdir.error().good());
  std::vector<std::string> ids;
  DcmDirectoryRecord* r = nullptr;
  DcmDirectoryRecord& rootRecord = dicomdir.getRootRecord();
  while ((r = rootRecord.nextSub(r)) != nullptr) {  // patients
    DcmDirectoryRecord* study = nullptr;
    while ((study = r->nextSub(study)) != nullptr) {
      DcmDirectoryRecord* series = nullptr;
      while ((series = study->nextSub(series)) != nullptr) {
        DcmDirectoryRecord* image = nullptr;
        while ((image = series->nextSub(image)) != nullptr) {
          OFString id;
          image->findAndGetOFStringArray(DCM_ReferencedFileID, id);
          ids.push_back(id.c_str());
        }
      }
    }
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"DICOM\\ST000001\\SE000001\\IM000001",
                                           "DICOM\\ST000001\\SE000002\\IM000001",
                                           "DICOM\\ST000001\\SE000002\\IM000002"}));

  // A rendering of each series: the first (CT) from its only instance; the second from its
  // second instance, as DCMTK cannot decode the JPEG 2000 first one.
  for (const char* jpeg : {"/IHE_PDI/ST000001/SE000001.JPG", "/IHE_PDI/ST000001/SE000002.JPG"}) {
    EXPECT_EQ(ReadWholeFile(root + jpeg).substr(0, 2), "\xff\xd8") << jpeg;
  }
  const std::string readme = ReadWholeFile(root + "/README.TXT");
  EXPECT_TRUE(absl::StrContains(readme, "STD-GEN-DVD-J2K")) << readme;
  EXPECT_FALSE(absl::StrContains(readme, "Doe")) << readme;
  const std::string index = ReadWholeFile(root + "/INDEX.HTM");
  EXPECT_TRUE(absl::StrContains(index, "Doe Jane&lt;script&gt;")) << index;
  EXPECT_FALSE(absl::StrContains(index, "<script")) << index;
  EXPECT_TRUE(absl::StrContains(index, "href=\"DICOM/ST000001/SE000002/IM000001\"")) << index;
  EXPECT_TRUE(absl::StrContains(index, "<img src=\"IHE_PDI/ST000001/SE000002.JPG\"")) << index;
}

TEST(WritePdiTest, StreamedZipHoldsTheSameFiles) {
  testing::TempDir dir;
  std::string zip;
  size_t writes = 0;
  absl::StatusOr<std::unique_ptr<MediaSink>> sink = NewZipStreamSink([&](absl::string_view bytes) {
    zip.append(bytes.data(), bytes.size());
    ++writes;
    return absl::OkStatus();
  });
  ASSERT_TRUE(sink.ok()) << sink.status();
  Fixture f = ThreeFiles();
  PdiOptions options;
  options.scratch_dir = dir.path();
  ASSERT_TRUE(WritePdi(f.instances, f.Source(), **sink, options).ok());
  EXPECT_GT(writes, 3u);  // streamed, not handed over once at the end

  std::map<std::string, std::string> entries;
  struct archive* a = archive_read_new();
  archive_read_support_format_zip(a);
  ASSERT_EQ(archive_read_open_memory(a, zip.data(), zip.size()), ARCHIVE_OK);
  struct archive_entry* e = nullptr;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string data(static_cast<size_t>(archive_entry_size(e)), '\0');
    ASSERT_EQ(archive_read_data(a, data.data(), data.size()), static_cast<la_ssize_t>(data.size()));
    entries[archive_entry_pathname(e)] = data;
  }
  archive_read_free(a);
  // 3 instances, 2 renderings, DICOMDIR, README.TXT, INDEX.HTM, the study's IHE_PDI page.
  EXPECT_EQ(entries.size(), 9u);
  EXPECT_EQ(entries.count("IHE_PDI/ST000001.HTM"), 1u);
  EXPECT_EQ(entries["DICOM/ST000001/SE000001/IM000001"], ReadWholeFile(f.files[1]));
  EXPECT_EQ(entries["DICOM/ST000001/SE000002/IM000002"], ReadWholeFile(f.files[0]));
  EXPECT_EQ(entries.count("DICOMDIR"), 1u);
  EXPECT_EQ(entries.count("README.TXT"), 1u);
  EXPECT_EQ(entries.count("INDEX.HTM"), 1u);
}

TEST(WritePdiTest, AFailedStreamIsLeftTruncated) {
  testing::TempDir dir;
  std::string zip;
  absl::StatusOr<std::unique_ptr<MediaSink>> sink = NewZipStreamSink([&](absl::string_view bytes) {
    zip.append(bytes.data(), bytes.size());
    return absl::OkStatus();
  });
  ASSERT_TRUE(sink.ok());
  Fixture f = ThreeFiles();
  InstanceSource fine = f.Source();
  PdiOptions options;
  options.scratch_dir = dir.path();
  absl::StatusOr<PdiSummary> written = WritePdi(
      f.instances,
      [&](size_t index, const WriteFn& write) {
        if (index == 2) return absl::UnavailableError("the replicas went away");
        return fine(index, write);
      },
      **sink, options);
  EXPECT_EQ(written.status().code(), absl::StatusCode::kUnavailable);
  sink->reset();  // as the caller does after an error
  EXPECT_FALSE(zip.empty());
  // No end of central directory: unzip tools see a damaged, not a complete, archive.
  EXPECT_EQ(zip.find(std::string("PK\x05\x06", 4)), std::string::npos);
}

TEST(WritePdiTest, RefusesShortInstancesNonDicomAndNothing) {
  testing::TempDir dir;
  PdiOptions options;
  options.scratch_dir = dir.path();
  Fixture f = ThreeFiles();
  f.instances[0].size += 1;
  absl::StatusOr<std::unique_ptr<MediaSink>> sink = NewDirectorySink(dir.path() + "/a");
  ASSERT_TRUE(sink.ok());
  absl::StatusOr<PdiSummary> short_one = WritePdi(f.instances, f.Source(), **sink, options);
  EXPECT_EQ(short_one.status().code(), absl::StatusCode::kDataLoss) << short_one.status();

  Fixture bad;
  bad.Add("no_meta.dcm", "1.2.3.1", 1, 1, "");
  sink = NewDirectorySink(dir.path() + "/b");
  ASSERT_TRUE(sink.ok());
  absl::StatusOr<PdiSummary> refused = WritePdi(bad.instances, bad.Source(), **sink, options);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "DICOM/ST000001/SE000001/IM000001"));

  sink = NewDirectorySink(dir.path() + "/c");
  ASSERT_TRUE(sink.ok());
  EXPECT_EQ(WritePdi({}, bad.Source(), **sink, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A folder that holds something is not written into.
  EXPECT_EQ(NewDirectorySink(dir.path() + "/a").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace medvault::media

#include "common/media/pdi.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <numeric>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/document_content.h"
#include "dcmtk/dcmdata/dcddirif.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/oflog/oflog.h"

namespace medvault::media {
namespace {

constexpr size_t kPieceBytes = 256 << 10;

bool OneOf(const std::string& uid, std::initializer_list<const char*> uids) {
  for (const char* u : uids) {
    if (uid == u) return true;
  }
  return false;
}

DicomDirInterface::E_ApplicationProfile DcmtkProfile(PdiProfile profile) {
  switch (profile) {
    case PdiProfile::kGeneralPurposeCd:
      return DicomDirInterface::AP_GeneralPurpose;
    case PdiProfile::kDvdJpeg:
      return DicomDirInterface::AP_GeneralPurposeDVDJPEG;
    case PdiProfile::kDvdJpeg2000:
      return DicomDirInterface::AP_GeneralPurposeDVDJPEG2000;
    case PdiProfile::kMime:
      break;
  }
  return DicomDirInterface::AP_GeneralPurposeMIME;
}

absl::Status Errno(int err, absl::string_view what) {
  const std::string message = absl::StrCat(what, ": ", std::strerror(err));
  if (err == ENOSPC || err == EDQUOT) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

// A private folder, removed with everything in it when this goes away.
class Scratch {
 public:
  absl::Status Make(const std::string& parent) {
    std::string name = parent + "/medvault-pdi-XXXXXX";
    if (::mkdtemp(name.data()) == nullptr) return Errno(errno, "creating the scratch folder");
    path_ = name;
    return absl::OkStatus();
  }
  ~Scratch() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Copies the file at `path` into the sink as `name`.
absl::Status CopyToSink(const std::string& path, const std::string& name, MediaSink& sink) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno(errno, absl::StrCat("reopening the scratch copy of ", name));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  const off_t size = ::lseek(fd, 0, SEEK_END);
  if (size < 0 || ::lseek(fd, 0, SEEK_SET) != 0) return Errno(errno, "sizing a scratch copy");
  if (absl::Status s = sink.BeginFile(name, static_cast<uint64_t>(size)); !s.ok()) return s;
  std::string buffer(kPieceBytes, '\0');
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno(errno, "reading a scratch copy");
    if (n == 0) break;
    if (absl::Status s = sink.Write(absl::string_view(buffer.data(), static_cast<size_t>(n)));
        !s.ok()) {
      return s;
    }
  }
  return sink.EndFile();
}

absl::Status AddText(const std::string& name, const std::string& text, MediaSink& sink) {
  if (absl::Status s = sink.BeginFile(name, text.size()); !s.ok()) return s;
  if (absl::Status s = sink.Write(text); !s.ok()) return s;
  return sink.EndFile();
}

// Receives instances[index] into a new scratch file; returns its size.
absl::StatusOr<uint64_t> Receive(const InstanceSource& source, size_t index,
                                 const std::string& path, const std::string& name) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return Errno(ec.value(), "creating a scratch folder");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Errno(errno, absl::StrCat("creating the scratch copy of ", name));
  uint64_t received = 0;
  absl::Status status = source(index, [&](absl::string_view piece) -> absl::Status {
    while (!piece.empty()) {
      const ssize_t n = ::write(fd, piece.data(), piece.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno(errno, "writing a scratch copy");
      piece.remove_prefix(static_cast<size_t>(n));
      received += static_cast<uint64_t>(n);
    }
    return absl::OkStatus();
  });
  if (::close(fd) != 0 && status.ok()) status = Errno(errno, "closing a scratch copy");
  if (!status.ok()) return status;
  return received;
}

// Series folder -> the viewer's link, for the series whose instances are all images.
std::map<std::string, std::string> ViewableSeries(const std::vector<PdiInstance>& sorted,
                                                  const std::vector<std::string>& file_ids) {
  std::map<std::string, int> count;
  std::map<std::string, bool> all_images;
  for (size_t k = 0; k < sorted.size(); ++k) {
    const std::string folder = file_ids[k].substr(0, file_ids[k].rfind('/'));
    count[folder]++;
    auto [it, fresh] = all_images.emplace(folder, true);
    it->second = it->second && sorted[k].image &&
                 sorted[k].sop_class_uid != kPrivateEncapsulatedDocumentClass;
  }
  std::map<std::string, std::string> out;
  for (const auto& [folder, images] : all_images) {
    // "DICOM/" + "STnnnnnn/SEnnnnnn"
    if (images)
      out[folder] = absl::StrCat("VIEWER/VIEWER.HTM#", folder.substr(6), "/", count[folder]);
  }
  return out;
}

// A document DICOM has no class for, from its scratch copy, as DOCUMENT/STnnnnnn/SEnnnnnn/
// IMnnnnnn.EXT and its stored instance as IMnnnnnn.DCM.
absl::StatusOr<PdiDocument> AddDocument(const std::string& copy, const std::string& id,
                                        MediaSink& sink) {
  std::ifstream in(copy, std::ios::binary);
  const std::string part10((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) return absl::InternalError("reading a scratch copy");
  absl::StatusOr<EncapsulatedDocument> document = ReadEncapsulatedDocument(part10);
  if (!document.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(id, " is not a readable document: ", document.status().message()));
  }
  PdiDocument out;
  out.path = absl::StrCat("DOCUMENT/", id.substr(6), ".", DocumentExtension(document->media_type));
  out.media_type = document->media_type;
  out.bytes = document->bytes.size();
  out.study_folder = id.substr(6, 8);
  if (absl::Status s = AddText(out.path, document->bytes, sink); !s.ok()) return s;
  // The stored instance beside it, byte for byte, so `medvault import` of the medium gives the
  // document back with its UIDs and type (the DICOMDIR cannot reference the private class).
  out.dicom_path = absl::StrCat("DOCUMENT/", id.substr(6), ".DCM");
  if (absl::Status s = CopyToSink(copy, out.dicom_path, sink); !s.ok()) return s;
  return out;
}

// "STnnnnnn" of each study, in order.
std::vector<std::string> StudyFolders(const std::vector<std::string>& file_ids) {
  std::vector<std::string> out;
  for (const std::string& id : file_ids) {
    if (out.empty() || out.back() != id.substr(6, 8)) out.push_back(id.substr(6, 8));
  }
  return out;
}

}  // namespace

PdiProfile ChooseProfile(const std::vector<std::string>& transfer_syntaxes) {
  bool jpeg = false, jpeg2000 = false;
  for (const std::string& ts : transfer_syntaxes) {
    if (ts == UID_LittleEndianExplicitTransferSyntax) continue;
    if (OneOf(ts, {UID_JPEGProcess1TransferSyntax, UID_JPEGProcess2_4TransferSyntax,
                   UID_JPEGProcess14SV1TransferSyntax})) {
      jpeg = true;
    } else if (OneOf(ts, {UID_JPEG2000LosslessOnlyTransferSyntax, UID_JPEG2000TransferSyntax})) {
      jpeg2000 = true;
    } else {
      return PdiProfile::kMime;
    }
  }
  if (jpeg && jpeg2000) return PdiProfile::kMime;
  if (jpeg) return PdiProfile::kDvdJpeg;
  if (jpeg2000) return PdiProfile::kDvdJpeg2000;
  return PdiProfile::kGeneralPurposeCd;
}

absl::string_view ProfileName(PdiProfile profile) {
  switch (profile) {
    case PdiProfile::kGeneralPurposeCd:
      return "STD-GEN-CD";
    case PdiProfile::kDvdJpeg:
      return "STD-GEN-DVD-JPEG";
    case PdiProfile::kDvdJpeg2000:
      return "STD-GEN-DVD-J2K";
    case PdiProfile::kMime:
      break;
  }
  return "STD-GEN-MIME";
}

std::string PdiFileId(int study, int series, int instance) {
  return absl::StrFormat("DICOM/ST%06d/SE%06d/IM%06d", study, series, instance);
}

std::string RenderingPath(const std::string& file_id) {
  // "DICOM/" + "STnnnnnn/SEnnnnnn" + "/IMnnnnnn"
  return absl::StrCat("IHE_PDI/", file_id.substr(6, 17), ".JPG");
}

absl::StatusOr<PdiSummary> WritePdi(std::vector<PdiInstance> instances,
                                    const InstanceSource& source, MediaSink& sink,
                                    const PdiOptions& options) {
  if (instances.empty()) return absl::InvalidArgumentError("no instance to export");
  std::vector<size_t> order(instances.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const PdiInstance& x = instances[a];
    const PdiInstance& y = instances[b];
    return std::tie(x.study_uid, x.series_number, x.series_uid, x.instance_number,
                    x.sop_instance_uid) < std::tie(y.study_uid, y.series_number, y.series_uid,
                                                   y.instance_number, y.sop_instance_uid);
  });
  std::vector<PdiInstance> sorted;
  std::vector<std::string> file_ids;
  std::vector<std::string> syntaxes;
  int study = 0, series = 0, instance = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    const PdiInstance& i = instances[order[k]];
    if (k == 0 || i.study_uid != sorted.back().study_uid) {
      ++study;
      series = 0;
    }
    if (series == 0 || i.series_uid != sorted.back().series_uid) {
      ++series;
      instance = 0;
    }
    ++instance;
    if (study > 999999 || series > 999999 || instance > 999999) {
      return absl::InvalidArgumentError("too many studies, series or instances for one medium");
    }
    file_ids.push_back(PdiFileId(study, series, instance));
    syntaxes.push_back(i.transfer_syntax_uid);
    sorted.push_back(i);
  }
  PdiSummary summary;
  summary.profile = ChooseProfile(syntaxes);

  // DicomDirInterface names values it finds inconsistent (patient names, say) in its warnings:
  // at most its errors, which name files, reach the log (a process that allows less keeps that).
  OFLogger dcmdata_log = OFLog::getLogger("dcmtk.dcmdata");
  if (dcmdata_log.getChainedLogLevel() < OFLogger::ERROR_LOG_LEVEL) {
    dcmdata_log.setLogLevel(OFLogger::ERROR_LOG_LEVEL);
  }
  Scratch scratch;
  if (absl::Status s = scratch.Make(options.scratch_dir); !s.ok()) return s;
  const std::string dicomdir = scratch.path() + "/DICOMDIR";
  DicomDirInterface ddir;
  ddir.enableInventMode(OFTrue);  // type 1 record keys missing from an instance are invented
  ddir.disableBackupMode(OFTrue);
  OFCondition made = ddir.createNewDicomDir(DcmtkProfile(summary.profile), dicomdir.c_str(),
                                            options.fileset_id.c_str());
  if (made.bad()) return absl::InternalError(absl::StrCat("creating the DICOMDIR: ", made.text()));

  PdiLinks links;
  if (!options.viewer_dir.empty()) {
    if (absl::Status s = AddViewer(options.viewer_dir, sink); !s.ok()) return s;
    links.viewer = ViewableSeries(sorted, file_ids);
  }
  std::map<std::string, int> render_tries;
  std::vector<PdiInstance> dicom;  // the instances under DICOM/, for the pages
  std::vector<std::string> dicom_ids;
  for (size_t k = 0; k < sorted.size(); ++k) {
    const std::string& id = file_ids[k];
    const std::string copy = scratch.path() + "/" + id;
    absl::StatusOr<uint64_t> received = Receive(source, order[k], copy, id);
    if (!received.ok()) return received.status();
    if (*received != sorted[k].size) {
      return absl::DataLossError(
          absl::StrCat("received ", *received, " bytes for ", id, ", expected ", sorted[k].size));
    }
    if (sorted[k].sop_class_uid == kPrivateEncapsulatedDocumentClass) {
      absl::StatusOr<PdiDocument> document = AddDocument(copy, id, sink);
      if (!document.ok()) return document.status();
      links.documents.push_back(*std::move(document));
      ::unlink(copy.c_str());
      summary.documents++;
      if (options.on_instance) options.on_instance(*received);
      continue;
    }
    OFCondition added = ddir.addDicomFile(id.c_str(), scratch.path().c_str());
    if (added.bad()) {
      return absl::InvalidArgumentError(absl::StrCat("DCMTK refuses ", id, " for a ",
                                                     ProfileName(summary.profile), " DICOMDIR (",
                                                     added.text(), ")"));
    }
    // A rendering of the series from its first instance DCMTK can render (a few tries at most).
    const std::string series_folder = id.substr(0, id.rfind('/'));
    if (options.renderings && links.renderings.count(series_folder) == 0 &&
        render_tries[series_folder]++ < 3) {
      const std::string jpeg = scratch.path() + "/render.jpg";
      if (RenderJpeg(copy, jpeg).ok()) {
        const std::string name = RenderingPath(id);
        if (absl::Status s = CopyToSink(jpeg, name, sink); !s.ok()) return s;
        links.renderings[series_folder] = name;
      }
      ::unlink(jpeg.c_str());
    }
    if (absl::Status s = CopyToSink(copy, id, sink); !s.ok()) return s;
    if (links.viewer.count(series_folder) > 0) {
      if (absl::Status s = AddViewerScript(copy, id, sink); !s.ok()) return s;
    }
    ::unlink(copy.c_str());
    dicom.push_back(sorted[k]);
    dicom_ids.push_back(id);
    summary.instances++;
    summary.bytes += *received;
    if (options.on_instance) options.on_instance(*received);
  }
  OFCondition written = ddir.writeDicomDir();
  if (written.bad()) {
    return absl::InternalError(absl::StrCat("writing the DICOMDIR: ", written.text()));
  }
  if (absl::Status s = CopyToSink(dicomdir, "DICOMDIR", sink); !s.ok()) return s;
  if (absl::Status s = AddText("README.TXT",
                               PdiReadme(dicom, dicom_ids, summary.profile, links.documents), sink);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = AddText("INDEX.HTM", PdiIndexHtml(dicom, dicom_ids, links), sink); !s.ok()) {
    return s;
  }
  const std::vector<std::string> study_folders = StudyFolders(dicom_ids);
  for (size_t study = 0; study < study_folders.size(); ++study) {
    if (absl::Status s = AddText(absl::StrCat("IHE_PDI/", study_folders[study], ".HTM"),
                                 PdiStudyPage(dicom, dicom_ids, links, study + 1), sink);
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = sink.Close(); !s.ok()) return s;
  return summary;
}

}  // namespace medvault::media

#include "cli/dicomdir.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcdicdir.h"
#include "dcmtk/dcmdata/dcdirrec.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/oflog/oflog.h"

namespace medvault::cli {
namespace {

std::string GetString(DcmItem& item, const DcmTagKey& tag) {
  OFString value;
  if (item.findAndGetOFStringArray(tag, value).bad()) return "";
  return std::string(value.c_str());
}

void Walk(DcmDirectoryRecord& record, const std::string& study_uid,
          std::vector<DicomDirRef>* refs) {
  std::string study = study_uid;
  if (record.getRecordType() == ERT_Study) study = GetString(record, DCM_StudyInstanceUID);
  std::string file_id = GetString(record, DCM_ReferencedFileID);
  if (!file_id.empty()) {
    std::vector<std::string> parts = absl::StrSplit(file_id, '\\', absl::SkipEmpty());
    for (std::string& p : parts) absl::StripAsciiWhitespace(&p);
    refs->push_back(DicomDirRef{absl::StrJoin(parts, "/"),
                                GetString(record, DCM_ReferencedSOPInstanceUIDInFile), study});
  }
  for (unsigned long i = 0; i < record.cardSub(); ++i) {
    DcmDirectoryRecord* sub = record.getSub(i);
    if (sub != nullptr) Walk(*sub, study, refs);
  }
}

std::string Folder(absl::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? "" : std::string(path.substr(0, slash + 1));
}

}  // namespace

absl::StatusOr<std::vector<DicomDirRef>> ReadDicomDir(const std::string& path) {
  // DCMTK's log lines would land on the user's terminal; the Status says what went wrong.
  static std::once_flag quiet;
  std::call_once(quiet, [] { OFLog::configure(OFLogger::FATAL_LOG_LEVEL); });
  // DcmDicomDir makes an empty directory of a file it cannot read, so the file is checked first:
  // a readable DICOM file of the Media Storage Directory class.
  {
    DcmFileFormat file;
    OFCondition loaded = file.loadFile(path.c_str());
    if (loaded.bad()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the DICOMDIR cannot be read: ", loaded.text()));
    }
    OFString sop_class;
    file.getMetaInfo()->findAndGetOFString(DCM_MediaStorageSOPClassUID, sop_class);
    if (sop_class != UID_MediaStorageDirectoryStorage) {
      return absl::InvalidArgumentError("the DICOMDIR is not a Media Storage Directory");
    }
  }
  // DcmDicomDir reads the file whole; a DICOMDIR holds only the directory, not the images.
  DcmDicomDir dir(path.c_str());
  if (dir.error().bad()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the DICOMDIR cannot be read: ", dir.error().text()));
  }
  std::vector<DicomDirRef> refs;
  Walk(dir.getRootRecord(), "", &refs);
  return refs;
}

std::string MediumKey(absl::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (absl::string_view part : absl::StrSplit(path, absl::ByAnyChar("/\\"), absl::SkipEmpty())) {
    if (part == ".") continue;
    const size_t version = part.rfind(';');
    if (version != absl::string_view::npos) part = part.substr(0, version);
    while (!part.empty() && part.back() == '.') part.remove_suffix(1);
    if (!out.empty()) out += '/';
    out += absl::AsciiStrToUpper(part);
  }
  return out;
}

std::optional<size_t> FindDicomDir(const std::vector<MediumFile>& files) {
  std::optional<size_t> best;
  size_t best_depth = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string key = MediumKey(files[i].path);
    const size_t slash = key.rfind('/');
    const absl::string_view base = slash == std::string::npos
                                       ? absl::string_view(key)
                                       : absl::string_view(key).substr(slash + 1);
    if (base != "DICOMDIR") continue;
    const size_t depth = std::count(key.begin(), key.end(), '/');
    if (!best || depth < best_depth || (depth == best_depth && files[i].path < files[*best].path)) {
      best = i;
      best_depth = depth;
    }
  }
  return best;
}

ImportPlan PlanFromDicomDir(const std::vector<MediumFile>& files, size_t dicomdir,
                            const std::vector<DicomDirRef>& refs) {
  ImportPlan plan;
  plan.from_dicomdir = true;
  const std::string base = MediumKey(Folder(files[dicomdir].path));
  std::map<std::string, const DicomDirRef*> wanted;  // key -> its (first) reference
  for (const DicomDirRef& ref : refs) {
    const std::string key = MediumKey(base.empty() ? ref.file_id : base + "/" + ref.file_id);
    wanted.emplace(key, &ref);
  }
  std::set<std::string> found;
  const std::string documents = base.empty() ? "DOCUMENT/" : base + "/DOCUMENT/";
  for (const MediumFile& file : files) {
    const std::string key = MediumKey(file.path);
    auto it = wanted.find(key);
    if (it == wanted.end() && absl::StartsWith(key, documents) && absl::EndsWith(key, ".DCM")) {
      // A document's stored instance, which the DICOMDIR cannot reference (medvault's export).
      ImportItem item{file.path, file.size, "", ""};
      item.unlisted = true;
      plan.items.push_back(std::move(item));
      continue;
    }
    if (it == wanted.end() || !found.insert(key).second) {
      ++plan.ignored;
      continue;
    }
    plan.items.push_back(
        ImportItem{file.path, file.size, it->second->sop_instance_uid, it->second->study_uid});
  }
  for (const DicomDirRef& ref : refs) {
    const std::string key = MediumKey(base.empty() ? ref.file_id : base + "/" + ref.file_id);
    if (found.insert(key).second) plan.missing.push_back(ref.file_id);
  }
  return plan;
}

ImportPlan PlanScan(const std::vector<MediumFile>& files) {
  ImportPlan plan;
  for (const MediumFile& file : files) {
    const std::string key = MediumKey(file.path);
    if (key == "DICOMDIR" || absl::EndsWith(key, "/DICOMDIR")) {
      ++plan.ignored;
      continue;
    }
    plan.items.push_back(ImportItem{file.path, file.size, "", ""});
  }
  return plan;
}

bool LooksLikeDicom(absl::string_view head) {
  return head.size() >= 132 && head.substr(128, 4) == "DICM";
}

}  // namespace medvault::cli

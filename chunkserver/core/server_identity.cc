#include "chunkserver/core/server_identity.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace medvault::chunkserver {
namespace {

bool IsValidId(absl::string_view id) {
  if (id.size() != 2 * kServerIdBytes) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> LoadOrCreateServerId(Filesystem* fs, const std::string& data_dir) {
  const std::string path = absl::StrCat(data_dir, "/", kServerIdFileName);
  absl::StatusOr<std::string> existing = fs->ReadFile(path);
  if (existing.ok()) {
    std::string id(absl::StripAsciiWhitespace(*existing));
    if (!IsValidId(id)) {
      return absl::DataLossError(absl::StrCat(path, " does not hold a valid server id"));
    }
    return id;
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();

  ASSIGN_OR_RETURN(std::string random, RandomBytes(kServerIdBytes));
  const std::string id = ToHex(random);
  const std::string tmp = path + ".tmp";
  ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, fs->NewWritableFile(tmp));
  absl::Status s = file->Append(id + "\n");
  if (s.ok()) s = file->Sync();
  if (s.ok()) s = file->Close();
  file.reset();
  if (s.ok()) s = fs->Rename(tmp, path);
  if (s.ok()) s = fs->SyncDir(data_dir);
  if (!s.ok()) {
    (void)fs->DeleteFile(tmp);
    return Annotate(s, "creating the server id");
  }
  MV_LOG(INFO) << "created server id " << id;
  return id;
}

}  // namespace medvault::chunkserver

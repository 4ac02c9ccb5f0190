#include "common/backup_file.h"

#include "absl/strings/str_cat.h"
#include "common/env.h"
#include "common/key_file.h"

namespace medvault {
namespace {

constexpr absl::string_view kMagic = "MVBACKUP";
constexpr uint32_t kFormat = 1;
constexpr size_t kHeaderBytes = 12;  // magic and format: the associated data

std::string Header() {
  std::string h(kMagic);
  for (int shift = 24; shift >= 0; shift -= 8) h.push_back(static_cast<char>(kFormat >> shift));
  return h;
}

}  // namespace

absl::StatusOr<std::string> SealBackup(const v1::BackupContents& contents, const SecretBytes& key) {
  if (key.size() != kAesKeyBytes) return absl::InvalidArgumentError("backup key must be 32 bytes");
  absl::StatusOr<std::string> nonce = RandomBytes(kGcmNonceBytes);
  if (!nonce.ok()) return nonce.status();
  std::string plaintext = contents.SerializeAsString();
  const std::string header = Header();
  absl::StatusOr<std::string> sealed = AesGcmSeal(key.view(), *nonce, header, plaintext);
  WipeString(&plaintext);
  if (!sealed.ok()) return sealed.status();
  return absl::StrCat(header, *nonce, *sealed);
}

absl::StatusOr<v1::BackupContents> OpenBackup(absl::string_view file, const SecretBytes& key) {
  if (file.size() < kHeaderBytes || file.substr(0, kMagic.size()) != kMagic) {
    return absl::InvalidArgumentError("not a medvault backup file");
  }
  if (file.substr(0, kHeaderBytes) != Header()) {
    return absl::InvalidArgumentError(
        "backup file of a format this medvault does not know (a newer version made it?)");
  }
  if (file.size() < kHeaderBytes + kGcmNonceBytes + kGcmTagBytes) {
    return absl::DataLossError("backup file is cut short");
  }
  absl::StatusOr<std::string> plaintext =
      AesGcmOpen(key.view(), file.substr(kHeaderBytes, kGcmNonceBytes),
                 file.substr(0, kHeaderBytes), file.substr(kHeaderBytes + kGcmNonceBytes));
  if (!plaintext.ok()) {
    return absl::DataLossError(
        "backup does not authenticate: wrong backup key, or the file was changed or cut short");
  }
  v1::BackupContents contents;
  const bool parsed = contents.ParseFromString(*plaintext);
  WipeString(&*plaintext);
  if (!parsed) return absl::DataLossError("backup contents do not parse");
  return contents;
}

absl::StatusOr<v1::BackupContents> ReadBackupFile(const std::string& path,
                                                  const std::string& key_path) {
  absl::StatusOr<SecretBytes> key = LoadKeyFile(key_path, "backup key file");
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> file = DefaultFilesystem()->ReadFile(path);
  if (!file.ok()) {
    return absl::Status(file.status().code(),
                        absl::StrCat("reading backup ", path, ": ", file.status().message()));
  }
  absl::StatusOr<v1::BackupContents> contents = OpenBackup(*file, *key);
  if (!contents.ok()) {
    return absl::Status(contents.status().code(),
                        absl::StrCat("backup ", path, ": ", contents.status().message()));
  }
  return contents;
}

absl::StatusOr<v1::RaftSnapshot> BackupSnapshotOf(const v1::BackupContents& contents,
                                                  v1::RaftGroup group) {
  for (const v1::BackupGroup& g : contents.groups()) {
    if (g.group() == group) return g.snapshot();
  }
  return absl::NotFoundError(
      absl::StrCat("the backup holds no state of the ", v1::RaftGroup_Name(group), " group"));
}

}  // namespace medvault

// The backup file of the metaserver and key service state (`medvault backup create`, restored by
// the services' --restore_backup flag): a BackupContents message sealed with AES-256-GCM under a
// 256-bit backup key the operator keeps. Layout: "MVBACKUP" (8 bytes), format version 1 (4 bytes,
// big-endian), a random 12-byte nonce, then ciphertext || tag; the associated data is the first
// 12 bytes, so neither the header nor a byte of the body can change unnoticed.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto.h"
#include "medvault/v1/admin.pb.h"

namespace medvault {

// Seals `contents` under `key` (kAesKeyBytes) with a fresh random nonce.
absl::StatusOr<std::string> SealBackup(const v1::BackupContents& contents, const SecretBytes& key);

// Opens a sealed backup. INVALID_ARGUMENT when `file` is not a medvault backup (or of a format this
// build does not know); DATA_LOSS when it does not authenticate under `key` (a wrong backup key,
// or a file changed or cut short); never any byte of the contents in a message.
absl::StatusOr<v1::BackupContents> OpenBackup(absl::string_view file, const SecretBytes& key);

// Reads and opens the backup at `path` with the key in `key_path` (LoadKeyFile's rules; "backup
// key file" in its errors).
absl::StatusOr<v1::BackupContents> ReadBackupFile(const std::string& path,
                                                  const std::string& key_path);

// The snapshot of `group` in `contents`. NOT_FOUND when the backup holds none.
absl::StatusOr<v1::RaftSnapshot> BackupSnapshotOf(const v1::BackupContents& contents,
                                                  v1::RaftGroup group);

}  // namespace medvault

// Column families and key layouts of the metaserver's RocksDB database. Every key is built and
// parsed here, so the layout can be read in one place.
//
//   servers     server_id                        -> StoredChunkServer
//   studies     study_uid                        -> StoredStudy
//   series      series_uid                       -> StoredSeries
//   instances   sop_instance_uid                 -> StoredInstance
//   manifests   object_id                        -> ObjectManifest
//   chunks      chunk_id                         -> ChunkRef
//   tombstones  object_id                        -> Tombstone
//   shares      code_hash (32 bytes)             -> StoredShare (share_book.h)
//   share_log   code_hash be64(sequence)         -> ShareLogEntry
//   retention   study_uid                        -> StoredRetention (catalog_retention.cc)
//   index       'p' patient_id \0 study_date \0 study_uid   studies by patient
//               'd' study_date \0 study_uid                 studies by date
//               'm' modality \0 study_date \0 study_uid     studies by modality (one per modality)
//               'a' accession \0 study_date \0 study_uid    studies by accession number (when set)
//               't' study_uid \0 series_uid                 a study's series
//               's' series_uid \0 sop_instance_uid          a series' instances
//               'x' study_uid \0 object_id                  tombstones of a study, key not
//               destroyed 'y' sop_instance_uid \0 object_id           tombstones of an instance,
//               key not destroyed
//   (index values are empty). UIDs, patient ids, dates and modalities never contain NUL (the
//   catalog rejects them), so \0 separates components unambiguously; object ids are raw bytes and
//   are always the last component.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace medvault::metaserver {

inline constexpr char kServersCf[] = "servers";
inline constexpr char kStudiesCf[] = "studies";
inline constexpr char kSeriesCf[] = "series";
inline constexpr char kInstancesCf[] = "instances";
inline constexpr char kIndexCf[] = "index";
inline constexpr char kManifestsCf[] = "manifests";
inline constexpr char kChunksCf[] = "chunks";
inline constexpr char kTombstonesCf[] = "tombstones";
inline constexpr char kSharesCf[] = "shares";
inline constexpr char kShareLogCf[] = "share_log";
inline constexpr char kRetentionCf[] = "retention";

// Every column family the metaserver opens (pass to KvStore::Open).
std::vector<std::string> MetaserverColumnFamilies();
// The column families that hold PHI or DICOM UIDs (in keys or values): their deleted entries are
// purged from disk (common/kv_shredder.h).
std::vector<std::string> PurgedColumnFamilies();

namespace keys {

inline constexpr char kPatientTag = 'p';
inline constexpr char kDateTag = 'd';
inline constexpr char kModalityTag = 'm';
inline constexpr char kAccessionTag = 'a';

std::string PatientIndex(absl::string_view patient_id, absl::string_view study_date,
                         absl::string_view study_uid);
std::string DateIndex(absl::string_view study_date, absl::string_view study_uid);
std::string ModalityIndex(absl::string_view modality, absl::string_view study_date,
                          absl::string_view study_uid);
std::string AccessionIndex(absl::string_view accession_number, absl::string_view study_date,
                           absl::string_view study_uid);

// Prefixes of the study index ranges: all entries of one patient / of all dates / of one modality.
// A study-date key component follows directly.
std::string PatientPrefix(absl::string_view patient_id);
std::string DatePrefix();
std::string ModalityPrefix(absl::string_view modality);
std::string AccessionPrefix(absl::string_view accession_number);

std::string StudySeries(absl::string_view study_uid, absl::string_view series_uid);
std::string StudySeriesPrefix(absl::string_view study_uid);
std::string SeriesInstance(absl::string_view series_uid, absl::string_view sop_instance_uid);
std::string SeriesInstancePrefix(absl::string_view series_uid);
std::string StudyTombstone(absl::string_view study_uid, absl::string_view object_id);
std::string StudyTombstonePrefix(absl::string_view study_uid);
std::string InstanceTombstone(absl::string_view sop_instance_uid, absl::string_view object_id);
std::string InstanceTombstonePrefix(absl::string_view sop_instance_uid);

// The study UID of a patient/date/modality/accession index key (its last component).
absl::string_view StudyUidOf(absl::string_view study_index_key);

// The smallest key greater than every key starting with `prefix`; empty when there is none (the
// prefix is all 0xff bytes).
std::string PrefixSuccessor(absl::string_view prefix);

}  // namespace keys
}  // namespace medvault::metaserver

#include "bench/scale_data.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"

namespace medvault::bench::scale {
namespace {

// Hash domains, so study draws and query draws never coincide.
constexpr uint64_t kPatientDomain = uint64_t{1} << 40;
constexpr uint64_t kQueryDomain = uint64_t{1} << 50;
constexpr uint64_t kDigestDomain = uint64_t{1} << 60;

const char* SopClassOf(const std::string& modality) {
  if (modality == "CT") return "1.2.840.10008.5.1.4.1.1.2";
  if (modality == "MR") return "1.2.840.10008.5.1.4.1.1.4";
  if (modality == "CR") return "1.2.840.10008.5.1.4.1.1.1";
  return "1.2.840.10008.5.1.4.1.1.1.2";  // MG, digital mammography for presentation
}

const char* DescriptionOf(const std::string& modality) {
  if (modality == "CT") return "CT CHEST ABDOMEN";
  if (modality == "MR") return "MR BRAIN";
  if (modality == "CR") return "CR CHEST";
  return "MG SCREENING";
}

// One integer under the 2.25 root: <seed><kind><study, 12 digits><suffix digits>, never with a
// leading zero (seed >= 1).
std::string Uid(uint64_t seed, int kind, uint64_t study, const std::string& suffix = "") {
  return absl::StrFormat("2.25.%d%d%012d%s", seed, kind, study, suffix);
}

}  // namespace

uint64_t SplitMix64(uint64_t x) {
  uint64_t z = x + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t Hash(uint64_t seed, uint64_t a, uint64_t b) {
  return SplitMix64(SplitMix64(SplitMix64(seed) ^ a) ^ b);
}

std::string DateAfter2000(uint64_t days) {
  const absl::CivilDay day = absl::CivilDay(2000, 1, 1) + static_cast<absl::civil_diff_t>(days);
  return absl::StrFormat("%04d%02d%02d", day.year(), day.month(), day.day());
}

StudyShape ShapeOfStudy(uint64_t seed, uint64_t study) {
  StudyShape s;
  s.index = study;
  s.patient = study / 2;
  s.instances = 200 + static_cast<uint32_t>(Hash(seed, study, 0) % 301);
  s.series = 2 + static_cast<uint32_t>(Hash(seed, study, 1) % 3);
  s.modality = kModalities[Hash(seed, study, 2) % 4];
  s.date = DateAfter2000(Hash(seed, study, 3) % kDateSpanDays);
  return s;
}

void Dataset::Reserve(uint64_t instances) {
  while (reserved_ < instances) {
    shapes_.push_back(ShapeOfStudy(seed_, shapes_.size()));
    first_.push_back(reserved_);
    reserved_ += shapes_.back().instances;
  }
}

size_t Dataset::StudyOf(uint64_t n) const {
  return static_cast<size_t>(std::upper_bound(first_.begin(), first_.end(), n) - first_.begin()) -
         1;
}

uint64_t Dataset::StudiesCovering(uint64_t instances) const {
  return instances == 0 ? 0 : StudyOf(instances - 1) + 1;
}

v1::InstanceTags Dataset::Tags(uint64_t n) const {
  const StudyShape& study = shapes_[StudyOf(n)];
  const uint64_t i = n - first_[study.index];  // instance within the study
  const uint32_t series = static_cast<uint32_t>(i * study.series / study.instances);
  v1::InstanceTags t;
  t.set_patient_id(absl::StrFormat("SCALE%08d", study.patient));
  t.set_patient_name(absl::StrFormat("Scale^Patient%08d", study.patient));
  t.set_patient_birth_date(
      absl::StrFormat("19%02d0101", 30 + Hash(seed_, kPatientDomain + study.patient, 0) % 70));
  t.set_patient_sex(study.patient % 2 == 0 ? "F" : "M");
  t.set_study_uid(Uid(seed_, 1, study.index));
  t.set_study_date(study.date);
  t.set_study_time("120000");
  t.set_study_description(DescriptionOf(study.modality));
  t.set_accession_number(absl::StrFormat("A%010d", study.index));
  t.set_series_uid(Uid(seed_, 2, study.index, absl::StrFormat("%02d", series)));
  t.set_modality(study.modality);
  t.set_series_description(absl::StrFormat("SERIES %d", series + 1));
  t.set_series_number(static_cast<int32_t>(series + 1));
  t.set_sop_instance_uid(Uid(seed_, 3, study.index, absl::StrFormat("%04d", i)));
  t.set_sop_class_uid(SopClassOf(study.modality));
  t.set_instance_number(static_cast<int32_t>(i + 1));
  t.set_transfer_syntax_uid("1.2.840.10008.1.2.1");
  return t;
}

std::string Dataset::Digest(uint64_t n) const {
  std::string out;
  for (uint64_t k = 0; k < 4; ++k) {
    const uint64_t h = Hash(seed_, kDigestDomain + n, k);
    for (int b = 0; b < 8; ++b) out.push_back(static_cast<char>(h >> (8 * b)));
  }
  return out;
}

v1::StudyQuery MakeQuery(uint64_t seed, int shape, uint64_t instances, uint64_t studies, uint64_t j,
                         uint32_t page_size) {
  v1::StudyQuery q;
  q.set_page_size(page_size);
  const uint64_t h = Hash(seed, kQueryDomain + instances, 4 * j + static_cast<uint64_t>(shape));
  switch (shape) {
    case 0:
      q.set_patient_id(absl::StrFormat("SCALE%08d", (h % std::max<uint64_t>(studies, 1)) / 2));
      break;
    case 1: {
      const uint64_t from = h % (kDateSpanDays - 365);
      q.set_study_date_from(DateAfter2000(from));
      q.set_study_date_to(DateAfter2000(from + 364));
      break;
    }
    case 2:
      q.set_modality(kModalities[h % 4]);
      break;
    default:
      break;
  }
  return q;
}

}  // namespace medvault::bench::scale

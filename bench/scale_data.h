// The synthetic index of the scale benchmark (bench/scale): which patient, study, series and
// instance the n-th ingested instance is, and which FindStudies queries are asked at a checkpoint.
// Everything derives from a seed through SplitMix64, and bench/scale_data.py computes exactly the
// same sequence, so medvault and Orthanc hold the same studies and answer the same queries.
// All names and UIDs are synthetic (no PHI).
//
// Shape: studies of 200..500 instances in 2..4 series of one modality (CT, MR, CR or MG), study
// dates spread over 2000-01-01..2024-12-31, two studies per patient, ingested study after study.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "medvault/v1/common.pb.h"

namespace medvault::bench::scale {

// One step of SplitMix64 (Steele, Lea, Flood 2014): the mixing function every value is drawn from.
uint64_t SplitMix64(uint64_t x);
// A 64-bit value determined by (seed, a, b); the Python twin computes the same.
uint64_t Hash(uint64_t seed, uint64_t a, uint64_t b);

inline constexpr const char* kModalities[] = {"CT", "MR", "CR", "MG"};
// Days from 2000-01-01 over which study dates are spread (to 2024-12-31).
inline constexpr uint64_t kDateSpanDays = 9131;

// "YYYYMMDD" of 2000-01-01 plus `days`.
std::string DateAfter2000(uint64_t days);

struct StudyShape {
  uint64_t index = 0;
  uint64_t patient = 0;
  uint32_t instances = 0;  // 200..500
  uint32_t series = 0;     // 2..4
  std::string modality;
  std::string date;  // YYYYMMDD
};
StudyShape ShapeOfStudy(uint64_t seed, uint64_t study);

// The instance sequence. Not thread-safe: build the table once (Reserve) before sharing it.
class Dataset {
 public:
  explicit Dataset(uint64_t seed) : seed_(seed) {}

  // Makes the first `instances` instances addressable by Tags and StudiesCovering.
  void Reserve(uint64_t instances);

  // The index tags of instance n (0-based). REQUIRES: n < the reserved count.
  v1::InstanceTags Tags(uint64_t n) const;
  // Studies with at least one of the first `instances` instances. REQUIRES: reserved.
  uint64_t StudiesCovering(uint64_t instances) const;
  // A stand-in for the instance's SHA-256: 32 bytes determined by (seed, n), so a second run of
  // the same seed against the same cluster finds identical instances (already stored).
  std::string Digest(uint64_t n) const;

  uint64_t seed() const { return seed_; }

 private:
  // Index into shapes_ of the study holding instance n.
  size_t StudyOf(uint64_t n) const;

  const uint64_t seed_;
  std::vector<StudyShape> shapes_;
  std::vector<uint64_t> first_;  // first_[s]: global index of study s's first instance
  uint64_t reserved_ = 0;
};

// The query shapes FindStudies supports (catalog_query.cc): exact patient id, a study-date range,
// a modality, and none (every study, date order); each asks for one page of `page_size`.
inline constexpr const char* kQueryShapes[] = {"patient", "date", "modality", "all"};

// The j-th query of `shape` (an index into kQueryShapes) at the checkpoint of `instances`
// instances, over the `studies` studies stored by then: a random stored patient, a random
// 365-day window, a random modality.
v1::StudyQuery MakeQuery(uint64_t seed, int shape, uint64_t instances, uint64_t studies, uint64_t j,
                         uint32_t page_size);

}  // namespace medvault::bench::scale

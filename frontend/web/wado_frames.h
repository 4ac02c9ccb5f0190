// WADO-RS frames (PS3.18 8.3.5.1.3 and 8.7.3): which frames a request names, which media type
// answers them, and their bytes, taken by DCMTK from a DICOM object held in memory. No transcoding:
// native pixel data answers each frame's exact bytes as application/octet-stream; encapsulated
// pixel data answers each frame's compressed bitstream (all its fragments, located with the Basic
// Offset Table by DCMTK's DcmCodec::determineStartFragment) as the stored transfer syntax's image
// media type. Nothing here knows HTTP beyond the Accept value.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

class DcmFileFormat;

namespace medvault::frontend::web {

inline constexpr char kExplicitVrLittleEndian[] = "1.2.840.10008.1.2.1";

// A whole DICOM object (Part 10, or a bare data set) parsed by DCMTK from memory, every value
// loaded. INVALID_ARGUMENT when DCMTK cannot read it.
absl::StatusOr<std::unique_ptr<DcmFileFormat>> ParseDicomInMemory(absl::string_view bytes);

// "1,3,5" -> {1,3,5}: 1-based frame numbers, comma-separated, in the order given (repeats kept).
// INVALID_ARGUMENT when empty, not a number, 0, or more than 10,000 numbers.
absl::StatusOr<std::vector<uint32_t>> ParseFrameList(absl::string_view list);

// The image media type of an encapsulated transfer syntax's frames (PS3.18 table 8.7.3-5):
// image/jpeg, image/jls, image/jp2, image/jpx, image/dicom-rle; "" for the others (native ones,
// video, deflate).
std::string FrameMediaTypeOf(const std::string& transfer_syntax);

struct FrameMedia {
  std::string media_type;       // of each part: application/octet-stream, image/jpeg...
  std::string transfer_syntax;  // the part's transfer-syntax parameter
};

// The part media type for an Accept value (q-values respected; parameters quoted or not) when the
// frames are stored in `stored_ts` (`encapsulated` says whether that is a compressed one).
// FAILED_PRECONDITION when no accepted range can be answered without transcoding.
absl::StatusOr<FrameMedia> ChooseFrameMedia(absl::string_view accept, const std::string& stored_ts,
                                            bool encapsulated);

struct Frames {
  std::string transfer_syntax;  // the object's
  bool encapsulated = false;
  uint32_t number_of_frames = 1;
  std::vector<std::string> bytes;  // one per requested number, in order
};

// The requested frames (1-based) of `file`. NOT_FOUND when it has no Pixel Data or a number is
// beyond NumberOfFrames; UNIMPLEMENTED when DCMTK cannot locate the fragments of a frame (several
// fragments per frame and no usable Basic Offset Table) or the pixel data has a layout DCMTK does
// not frame (BitsAllocated 1 with several frames); DATA_LOSS when the pixel data is shorter than
// the frames it declares.
absl::StatusOr<Frames> ExtractFrames(DcmFileFormat& file, const std::vector<uint32_t>& numbers);

}  // namespace medvault::frontend::web

#include "frontend/web/wado_frames.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dccodec.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <algorithm>
#include <limits>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "frontend/web/media_type.h"

namespace medvault::frontend::web {
namespace {

constexpr size_t kMaxFramesPerRequest = 10000;

struct Family {
  const char* media_type;
  const char* default_ts;  // what the media type means without a transfer-syntax parameter
  std::vector<std::string> syntaxes;
};

const std::vector<Family>& Families() {
  static const auto* families = new std::vector<Family>{
      {"image/jpeg",
       "1.2.840.10008.1.2.4.50",
       {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57",
        "1.2.840.10008.1.2.4.70"}},
      {"image/jls", "1.2.840.10008.1.2.4.80", {"1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"}},
      {"image/jp2", "1.2.840.10008.1.2.4.90", {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"}},
      {"image/jpx", "1.2.840.10008.1.2.4.92", {"1.2.840.10008.1.2.4.92", "1.2.840.10008.1.2.4.93"}},
      {"image/dicom-rle", "1.2.840.10008.1.2.5", {"1.2.840.10008.1.2.5"}},
  };
  return *families;
}

const Family* FamilyOf(const std::string& ts) {
  for (const Family& f : Families()) {
    if (std::find(f.syntaxes.begin(), f.syntaxes.end(), ts) != f.syntaxes.end()) return &f;
  }
  return nullptr;
}

bool IsWildcard(const std::string& type) { return type.empty() || type == "*/*" || type == "*"; }

// The answer one accepted part type (`type` = the multipart's type parameter, "" when absent;
// `ts` its transfer-syntax parameter) allows, or null.
std::optional<FrameMedia> Answer(const std::string& type, const std::string& ts,
                                 const std::string& stored_ts, bool encapsulated) {
  if (!encapsulated) {
    const bool type_ok =
        IsWildcard(type) || type == "application/*" || type == "application/octet-stream";
    const bool ts_ok = ts.empty() || ts == "*" || ts == kExplicitVrLittleEndian;
    if (type_ok && ts_ok) return FrameMedia{"application/octet-stream", kExplicitVrLittleEndian};
    return std::nullopt;
  }
  const Family* family = FamilyOf(stored_ts);
  if (family == nullptr) return std::nullopt;  // video, or no frame format we know
  const bool ts_any = ts == "*" || ts == stored_ts;
  // OHIF and dicomweb-client ask for application/octet-stream with transfer-syntax=*: the
  // compressed bitstream, labelled with its transfer syntax.
  if (type == "application/octet-stream") {
    if (ts_any) return FrameMedia{"application/octet-stream", stored_ts};
    return std::nullopt;
  }
  const bool named = type == family->media_type ||
                     (type == "image/x-dicom-rle" && stored_ts == "1.2.840.10008.1.2.5");
  if (named) {
    if (ts_any || (ts.empty() && stored_ts == family->default_ts)) {
      return FrameMedia{type, stored_ts};
    }
    return std::nullopt;
  }
  if (IsWildcard(type) || type == "image/*") {
    if (ts.empty() || ts_any) return FrameMedia{family->media_type, stored_ts};
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DcmFileFormat>> ParseDicomInMemory(absl::string_view bytes) {
  auto file = std::make_unique<DcmFileFormat>();
  DcmInputBufferStream stream;
  stream.setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
  stream.setEos();
  file->transferInit();
  OFCondition cond =
      file->read(stream, EXS_Unknown, EGL_noChange, std::numeric_limits<Uint32>::max());
  file->transferEnd();
  stream.releaseBuffer();
  if (cond.bad()) {
    // DCMTK condition texts are generic: no PHI.
    return absl::InvalidArgumentError(
        absl::StrCat("not a readable DICOM instance (DCMTK: ", cond.text(), ")"));
  }
  return file;
}

absl::StatusOr<std::vector<uint32_t>> ParseFrameList(absl::string_view list) {
  std::vector<uint32_t> out;
  for (absl::string_view item : absl::StrSplit(list, ',')) {
    uint32_t n = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(item), &n) || n == 0) {
      return absl::InvalidArgumentError("frame list: 1-based frame numbers, comma-separated");
    }
    if (out.size() == kMaxFramesPerRequest) {
      return absl::InvalidArgumentError("frame list: at most 10000 frames a request");
    }
    out.push_back(n);
  }
  return out;
}

std::string FrameMediaTypeOf(const std::string& transfer_syntax) {
  const Family* f = FamilyOf(transfer_syntax);
  return f == nullptr ? std::string() : f->media_type;
}

absl::StatusOr<FrameMedia> ChooseFrameMedia(absl::string_view accept, const std::string& stored_ts,
                                            bool encapsulated) {
  if (absl::StripAsciiWhitespace(accept).empty()) accept = "*/*";
  for (const MediaType& m : ParseAcceptByPreference(accept)) {
    std::optional<FrameMedia> answer;
    if (m.type == "*/*" || m.type == "multipart/*") {
      answer = Answer("", m.Param("transfer-syntax"), stored_ts, encapsulated);
    } else if (m.type == "multipart/related") {
      answer = Answer(absl::AsciiStrToLower(m.Param("type")), m.Param("transfer-syntax"), stored_ts,
                      encapsulated);
    }
    if (answer.has_value()) return *answer;
  }
  return absl::FailedPreconditionError(
      encapsulated ? "frames are served in their stored transfer syntax only (no transcoding)"
                   : "frames are served as multipart/related; type=\"application/octet-stream\" "
                     "only");
}

absl::StatusOr<Frames> ExtractFrames(DcmFileFormat& file, const std::vector<uint32_t>& numbers) {
  DcmDataset* dataset = file.getDataset();
  DcmElement* element = nullptr;
  if (dataset->findAndGetElement(DCM_PixelData, element).bad() || element == nullptr ||
      element->ident() != EVR_PixelData) {
    return absl::NotFoundError("the instance has no Pixel Data");
  }
  DcmPixelData* pixel = static_cast<DcmPixelData*>(element);
  Frames out;
  const E_TransferSyntax xfer = dataset->getOriginalXfer();
  const DcmXfer info(xfer);
  out.transfer_syntax = info.getXferID();
  out.encapsulated = info.isEncapsulated();
  Sint32 frames = 1;
  if (dataset->findAndGetSint32(DCM_NumberOfFrames, frames).bad() || frames < 1) frames = 1;
  out.number_of_frames = static_cast<uint32_t>(frames);
  for (uint32_t n : numbers) {
    if (n == 0 || n > out.number_of_frames) {
      return absl::NotFoundError("frame number beyond NumberOfFrames");
    }
  }
  if (!out.encapsulated) {
    Uint32 frame_size = 0;
    if (pixel->getUncompressedFrameSize(dataset, frame_size).bad() || frame_size == 0) {
      return absl::NotFoundError("the image attributes do not describe a frame");
    }
    Uint16 bits_allocated = 0;
    dataset->findAndGetUint16(DCM_BitsAllocated, bits_allocated);
    if (bits_allocated == 1 && out.number_of_frames > 1) {
      return absl::UnimplementedError("frames of 1-bit multi-frame images are not served");
    }
    const uint64_t needed = static_cast<uint64_t>(frame_size) * out.number_of_frames;
    if (pixel->getLength() < needed) {
      return absl::DataLossError("Pixel Data is shorter than its frames");
    }
    for (uint32_t n : numbers) {
      std::string frame(frame_size + (frame_size & 1), '\0');
      Uint32 fragment = 0;
      OFString color_model;
      OFCondition cond = pixel->getUncompressedFrame(
          dataset, n - 1, fragment, frame.data(), static_cast<Uint32>(frame.size()), color_model);
      if (cond.bad()) return absl::DataLossError("DCMTK could not read a frame");
      frame.resize(frame_size);
      out.bytes.push_back(std::move(frame));
    }
    return out;
  }
  E_TransferSyntax rep = EXS_Unknown;
  const DcmRepresentationParameter* param = nullptr;
  pixel->getOriginalRepresentationKey(rep, param);
  DcmPixelSequence* sequence = nullptr;
  if (pixel->getEncapsulatedRepresentation(rep, param, sequence).bad() || sequence == nullptr) {
    return absl::NotFoundError("the instance has no encapsulated Pixel Data");
  }
  const Uint32 items = static_cast<Uint32>(sequence->card());  // item 0: Basic Offset Table
  for (uint32_t n : numbers) {
    Uint32 start = 1, end = items;
    if (out.number_of_frames > 1) {
      if (DcmCodec::determineStartFragment(n - 1, frames, sequence, start).bad() ||
          (n < out.number_of_frames &&
           DcmCodec::determineStartFragment(n, frames, sequence, end).bad())) {
        return absl::UnimplementedError(
            "the frame's fragments cannot be located (no usable Basic Offset Table)");
      }
    }
    if (start < 1 || start >= end || end > items) {
      return absl::DataLossError("the encapsulated Pixel Data has too few fragments");
    }
    std::string frame;
    for (Uint32 i = start; i < end; ++i) {
      DcmPixelItem* item = nullptr;
      Uint8* data = nullptr;
      if (sequence->getItem(item, i).bad() || item == nullptr) {
        return absl::DataLossError("a Pixel Data fragment cannot be read");
      }
      if (item->getLength() == 0) continue;
      if (item->getUint8Array(data).bad() || data == nullptr) {
        return absl::DataLossError("a Pixel Data fragment cannot be read");
      }
      frame.append(reinterpret_cast<const char*>(data), item->getLength());
    }
    out.bytes.push_back(std::move(frame));
  }
  return out;
}

}  // namespace medvault::frontend::web

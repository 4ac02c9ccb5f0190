#include "frontend/core/dicom_header.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcjson.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <set>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "frontend/core/dicom_parser.h"

namespace medvault::frontend {
namespace {

constexpr E_TransferSyntax kHeaderXfer = EXS_LittleEndianExplicit;

std::string TagHex(const DcmTagKey& tag) {
  return absl::StrFormat("%04X%04X", tag.getGroup(), tag.getElement());
}

bool IsPixelData(const DcmTagKey& tag) {
  return tag == DCM_PixelData || tag == DCM_FloatPixelData || tag == DCM_DoubleFloatPixelData;
}

// An element whose value is left out of the header and given as a BulkDataURI.
bool IsBulk(DcmElement* e) {
  if (e->isEmpty()) return false;
  if (IsPixelData(e->getTag())) return true;
  switch (e->getTag().getEVR()) {
    case EVR_OB:
    case EVR_OW:
    case EVR_OF:
    case EVR_OD:
    case EVR_OL:
    case EVR_UN:
    case EVR_ox:
    case EVR_px:
      return e->getLength() > kBulkThresholdBytes;
    default:
      return false;
  }
}

// An element of `tag`'s VR holding eight zero bytes: non-empty, so DCMTK's JSON writer asks
// whether it is bulk data, and small.
absl::StatusOr<DcmElement*> Placeholder(DcmElement* original) {
  DcmEVR vr = original->getTag().getEVR();
  if (vr == EVR_ox || vr == EVR_px || vr == EVR_UN) vr = EVR_OB;
  DcmTag tag(original->getTag());
  tag.setVR(DcmVR(vr));
  DcmElement* e = nullptr;
  if (DcmItem::newDicomElement(e, tag).bad() || e == nullptr) {
    return absl::InternalError("cannot make a bulk placeholder");
  }
  const Uint8 zeros[8] = {};
  OFCondition put;
  switch (vr) {
    case EVR_OW:
      put = e->putUint16Array(reinterpret_cast<const Uint16*>(zeros), 4);
      break;
    case EVR_OL:
      put = e->putUint32Array(reinterpret_cast<const Uint32*>(zeros), 2);
      break;
    case EVR_OF:
      put = e->putFloat32Array(reinterpret_cast<const Float32*>(zeros), 2);
      break;
    case EVR_OD:
      put = e->putFloat64Array(reinterpret_cast<const Float64*>(zeros), 1);
      break;
    default:
      put = e->putUint8Array(zeros, 8);
  }
  // Some classes (an OB-or-OW attribute read as OW) take only one of the two.
  if (put.bad()) put = e->putUint8Array(zeros, 8);
  if (put.bad()) put = e->putUint16Array(reinterpret_cast<const Uint16*>(zeros), 4);
  // ... and may relabel the element (OW filled as bytes reads OB): keep the original's VR.
  if (put.good() && e->getTag().getEVR() != vr) e->setVR(vr);
  if (put.bad()) {
    delete e;
    return absl::InternalError(
        absl::StrCat("cannot fill a bulk placeholder of VR ", DcmVR(vr).getVRName()));
  }
  return e;
}

// Copies `src` into `dst` without its bulk values (placeholders instead), naming them in `header`.
absl::Status CopyWithoutBulk(DcmItem* src, DcmItem* dst, const std::string& prefix,
                             v1::InstanceHeader* header) {
  for (unsigned long i = 0; i < src->card(); ++i) {
    DcmElement* e = src->getElement(i);
    const std::string path = absl::StrCat(prefix, TagHex(e->getTag()));
    DcmElement* copy = nullptr;
    if (e->ident() == EVR_SQ) {
      auto* sq = static_cast<DcmSequenceOfItems*>(e);
      auto* out = new DcmSequenceOfItems(sq->getTag());
      for (unsigned long j = 0; j < sq->card(); ++j) {
        auto* item = new DcmItem();
        out->append(item);
        absl::Status s =
            CopyWithoutBulk(sq->getItem(j), item, absl::StrCat(path, "/", j, "/"), header);
        if (!s.ok()) {
          delete out;
          return s;
        }
      }
      copy = out;
    } else if (IsBulk(e)) {
      absl::StatusOr<DcmElement*> placeholder = Placeholder(e);
      if (!placeholder.ok()) return placeholder.status();
      header->add_bulk_paths(path);
      copy = *placeholder;
    } else if (!e->valueLoaded()) {
      // Skipped by the put's parser as too long (dicom_parser.cc): the header cannot hold it.
      return absl::OutOfRangeError("an attribute is too long for the header");
    } else {
      copy = static_cast<DcmElement*>(e->clone());
    }
    if (dst->insert(copy, /*replaceOld=*/true).bad()) {
      delete copy;
      return absl::InternalError("cannot copy an attribute into the header");
    }
  }
  return absl::OkStatus();
}

absl::Status Encode(DcmDataset* ds, std::string* out) {
  const Uint32 length = ds->calcElementLength(kHeaderXfer, EET_UndefinedLength);
  out->assign(length + 64, '\0');
  DcmOutputBufferStream stream(out->data(), static_cast<offile_off_t>(out->size()));
  ds->transferInit();
  OFCondition written = ds->write(stream, kHeaderXfer, EET_UndefinedLength, nullptr);
  ds->transferEnd();
  if (written.bad()) return absl::InternalError("cannot encode the header");
  void* buffer = nullptr;
  offile_off_t used = 0;
  stream.flushBuffer(buffer, used);
  out->resize(static_cast<size_t>(used));
  return absl::OkStatus();
}

absl::Status Decode(absl::string_view bytes, E_TransferSyntax xfer, DcmDataset* ds) {
  DcmInputBufferStream stream;
  stream.setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
  stream.setEos();
  ds->transferInit();
  OFCondition read = ds->read(stream, xfer);
  ds->transferEnd();
  stream.releaseBuffer();
  if (read.bad()) return absl::DataLossError("the stored header does not parse");
  return absl::OkStatus();
}

absl::Status ReadFile(absl::string_view bytes, DcmFileFormat* file) {
  ConfigureDcmtk();
  DcmInputBufferStream stream;
  stream.setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
  stream.setEos();
  file->transferInit();
  OFCondition read = file->read(stream, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
  file->transferEnd();
  stream.releaseBuffer();
  if (read.bad()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a readable DICOM instance (DCMTK: ", read.text(), ")"));
  }
  return absl::OkStatus();
}

// One element of a data set in document order, as DCMTK's JSON writer visits them.
struct Visited {
  DcmTagKey tag;
  std::string bulk_path;  // empty when the value is inline
};

void ListElements(DcmItem* item, const std::string& prefix, const std::set<std::string>& bulk,
                  std::vector<Visited>* out) {
  for (unsigned long i = 0; i < item->card(); ++i) {
    DcmElement* e = item->getElement(i);
    const std::string path = absl::StrCat(prefix, TagHex(e->getTag()));
    if (e->ident() == EVR_SQ) {
      auto* sq = static_cast<DcmSequenceOfItems*>(e);
      for (unsigned long j = 0; j < sq->card(); ++j) {
        ListElements(sq->getItem(j), absl::StrCat(path, "/", j, "/"), bulk, out);
      }
    } else if (!e->isEmpty()) {
      out->push_back({e->getTag(), bulk.count(path) > 0 ? path : std::string()});
    }
  }
}

// DCMTK's compact JSON writer, answering its bulk-data question from the element list: the writer
// names only the tag, so each question is matched to the next listed element with that tag (the
// writer visits elements in document order, asking only for non-empty ones).
class BulkUriFormat : public DcmJsonFormatCompact {
 public:
  BulkUriFormat(const std::vector<Visited>* elements, std::string base)
      : DcmJsonFormatCompact(OFFalse), elements_(elements), base_(std::move(base)) {}

  OFBool asBulkDataURI(const DcmTagKey& tag, OFString& uri) override {
    while (next_ < elements_->size() && (*elements_)[next_].tag != tag) ++next_;
    if (next_ == elements_->size()) return OFFalse;
    const std::string& path = (*elements_)[next_++].bulk_path;
    if (path.empty()) return OFFalse;
    uri = OFString(absl::StrCat(base_, "/", path).c_str());
    ++emitted_;
    return OFTrue;
  }

  size_t emitted() const { return emitted_; }

 private:
  const std::vector<Visited>* elements_;
  std::string base_;
  size_t next_ = 0;
  size_t emitted_ = 0;
};

}  // namespace

absl::StatusOr<std::optional<v1::InstanceHeader>> CaptureHeader(DcmItem* dataset) {
  v1::InstanceHeader header;
  DcmDataset copy;
  if (absl::Status s = CopyWithoutBulk(dataset, &copy, "", &header); !s.ok()) {
    if (absl::IsOutOfRange(s)) return std::nullopt;
    return s;
  }
  if (copy.calcElementLength(kHeaderXfer, EET_UndefinedLength) > kMaxHeaderDatasetBytes) {
    return std::nullopt;
  }
  if (absl::Status s = Encode(&copy, header.mutable_dataset()); !s.ok()) return s;
  if (header.dataset().size() > kMaxHeaderDatasetBytes) return std::nullopt;
  return header;
}

absl::StatusOr<v1::InstanceHeader> CaptureHeaderFromFile(absl::string_view file) {
  DcmFileFormat parsed;
  if (absl::Status s = ReadFile(file, &parsed); !s.ok()) return s;
  v1::InstanceHeader header;
  DcmDataset copy;
  if (absl::Status s = CopyWithoutBulk(parsed.getDataset(), &copy, "", &header); !s.ok()) return s;
  if (absl::Status s = Encode(&copy, header.mutable_dataset()); !s.ok()) return s;
  return header;
}

absl::StatusOr<std::string> HeaderToDicomJson(const v1::InstanceHeader& header,
                                              absl::string_view bulk_base) {
  DcmDataset ds;
  if (absl::Status s = Decode(header.dataset(), kHeaderXfer, &ds); !s.ok()) return s;
  // PS3.18 F.2 and dcm2json: strings in UTF-8 (Specific Character Set then says ISO_IR 192). A
  // data set whose character set DCMTK cannot convert keeps its bytes.
  if (ds.tagExistsWithValue(DCM_SpecificCharacterSet)) (void)ds.convertToUTF8();
  const std::set<std::string> bulk(header.bulk_paths().begin(), header.bulk_paths().end());
  std::vector<Visited> elements;
  ListElements(&ds, "", bulk, &elements);
  BulkUriFormat format(&elements, std::string(bulk_base));
  // DcmDataset::writeJson writes the members; the braces are the object's.
  std::ostringstream out;
  out << "{";
  if (ds.writeJson(out, format).bad()) return absl::InternalError("DCMTK's JSON writer failed");
  if (format.emitted() != static_cast<size_t>(header.bulk_paths_size())) {
    return absl::InternalError("DCMTK's JSON writer did not place every bulk reference");
  }
  out << "}";
  return out.str();
}

absl::StatusOr<std::string> BulkValue(absl::string_view file, absl::string_view tag_path) {
  std::vector<std::string> steps = absl::StrSplit(tag_path, '/');
  if (steps.size() % 2 == 0) return absl::InvalidArgumentError("malformed bulk data path");
  DcmFileFormat parsed;
  if (absl::Status s = ReadFile(file, &parsed); !s.ok()) return s;
  DcmItem* item = parsed.getDataset();
  DcmElement* element = nullptr;
  for (size_t k = 0; k < steps.size(); k += 2) {
    uint32_t tag = 0;
    if (steps[k].size() != 8 || !absl::SimpleHexAtoi(steps[k], &tag)) {
      return absl::InvalidArgumentError("malformed bulk data path");
    }
    const DcmTagKey key(static_cast<Uint16>(tag >> 16), static_cast<Uint16>(tag & 0xFFFF));
    if (item->findAndGetElement(key, element, /*searchIntoSub=*/OFFalse).bad()) {
      return absl::NotFoundError("no such bulk data");
    }
    if (k + 1 == steps.size()) break;
    uint32_t index = 0;
    if (element->ident() != EVR_SQ || !absl::SimpleAtoi(steps[k + 1], &index)) {
      return absl::NotFoundError("no such bulk data");
    }
    item = static_cast<DcmSequenceOfItems*>(element)->getItem(index);
    if (item == nullptr) return absl::NotFoundError("no such bulk data");
  }
  // Only what a header gives as a BulkDataURI is bulk data.
  if (element->ident() == EVR_SQ || !IsBulk(element))
    return absl::NotFoundError("no such bulk data");
  const E_TransferSyntax xfer = parsed.getDataset()->getOriginalXfer();
  if (element->ident() == EVR_PixelData && DcmXfer(xfer).isEncapsulated()) {
    DcmPixelSequence* fragments = nullptr;
    if (static_cast<DcmPixelData*>(element)
            ->getEncapsulatedRepresentation(xfer, nullptr, fragments)
            .bad() ||
        fragments == nullptr) {
      return absl::NotFoundError("no such bulk data");
    }
    std::string out;
    for (unsigned long i = 1; i < fragments->card(); ++i) {  // item 0: the Basic Offset Table
      DcmPixelItem* fragment = nullptr;
      Uint8* bytes = nullptr;
      if (fragments->getItem(fragment, i).bad() || fragment->getUint8Array(bytes).bad()) {
        return absl::DataLossError("an encapsulated fragment does not read");
      }
      if (bytes != nullptr) out.append(reinterpret_cast<const char*>(bytes), fragment->getLength());
    }
    return out;
  }
  std::string out(element->getLength(), '\0');
  if (element
          ->getPartialValue(out.data(), 0, static_cast<Uint32>(out.size()), nullptr,
                            EBO_LittleEndian)
          .bad()) {
    return absl::DataLossError("the bulk value does not read");
  }
  return out;
}

}  // namespace medvault::frontend

#include "frontend/core/dicom_skipping_stream.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>

#include <algorithm>
#include <utility>

namespace medvault::frontend {
namespace {

// Reads back the captured first bytes of a skipped value (DcmElement::getPartialValue); the
// stream ends where the capture does.
class CapturedHeadStream : public DcmInputStream {
 public:
  explicit CapturedHeadStream(std::shared_ptr<const std::string> head)
      : DcmInputStream(&producer_), head_(std::move(head)) {
    producer_.setBuffer(head_->data(), static_cast<offile_off_t>(head_->size()));
    producer_.setEos();
  }
  DcmInputStreamFactory* newFactory() const override { return nullptr; }

 private:
  DcmBufferProducer producer_;
  std::shared_ptr<const std::string> head_;
};

// Stands for a value DCMTK skipped. Without a captured head it cannot be loaded again (create()
// gives no stream, so DCMTK's loadValue fails), which CaptureHeader sees as a value too large to
// keep; with one, only its first bytes can be read (getPartialValue).
class UnloadableValueFactory : public DcmInputStreamFactory {
 public:
  explicit UnloadableValueFactory(std::shared_ptr<const std::string> head)
      : head_(std::move(head)) {}
  DcmInputStream* create() const override {
    return head_ ? new CapturedHeadStream(head_) : nullptr;
  }
  DcmInputStreamFactory* clone() const override { return new UnloadableValueFactory(head_); }
  DcmInputStreamFactoryType ident() const override { return DFT_DcmInputFileStreamFactory; }

 private:
  std::shared_ptr<const std::string> head_;
};

}  // namespace

offile_off_t SkippingProducer::skip(offile_off_t skiplen) {
  if (capture_) capture_left_ = std::min(capture_left_, skiplen);
  const offile_off_t rest = skiplen - Capture(skiplen);
  owed_ += rest - buffer_.skip(rest);
  if (owed_ == 0) capture_.reset();
  return skiplen;
}

void SkippingProducer::SetBuffer(absl::string_view data) {
  buffer_.setBuffer(data.data(), static_cast<offile_off_t>(data.size()));
  if (owed_ > 0) owed_ -= Capture(owed_);
  owed_ -= buffer_.skip(owed_);
  if (owed_ == 0) capture_.reset();
}

void SkippingProducer::CaptureNextSkip(std::shared_ptr<std::string> head, size_t limit) {
  capture_ = limit > 0 ? std::move(head) : nullptr;
  capture_left_ = capture_ ? static_cast<offile_off_t>(limit) : 0;
}

offile_off_t SkippingProducer::Capture(offile_off_t most) {
  if (!capture_) return 0;
  const offile_off_t n = std::min({most, capture_left_, buffer_.avail()});
  if (n <= 0) return 0;
  const size_t at = capture_->size();
  capture_->resize(at + static_cast<size_t>(n));
  const offile_off_t got = buffer_.read(capture_->data() + at, n);
  capture_->resize(at + static_cast<size_t>(got));
  capture_left_ -= got;
  if (capture_left_ == 0) capture_.reset();
  return got;
}

offile_off_t SkippingStream::skip(offile_off_t skiplen) {
  const offile_off_t done = DcmInputStream::skip(skiplen);
  if (!compressed_) return done;  // the producer's skip always succeeds (it owes the rest)
  deferred_ += skiplen - done;
  return skiplen;
}

bool SkippingStream::PayDeferredSkip() {
  if (deferred_ > 0) deferred_ -= DcmInputStream::skip(deferred_);
  return deferred_ == 0;
}

DcmInputStreamFactory* SkippingStream::newFactory() const {
  // The capture copies from the producer's skip, which a deflated data set does not use: there
  // a document is loaded for its check.
  if (compressed_ && capture_budget_ > 0) return nullptr;
  std::shared_ptr<std::string> head;
  if (capture_budget_ > 0) {
    const size_t limit = std::min(capture_budget_, kCapturedHeadBytes);
    capture_budget_ -= limit;
    head = std::make_shared<std::string>();
    producer_.CaptureNextSkip(head, limit);
  } else {
    producer_.CaptureNextSkip(nullptr, 0);
  }
  return new UnloadableValueFactory(std::move(head));
}

OFCondition WatchingDataset::insert(DcmElement* elem, OFBool replace_old,
                                    OFBool check_insert_order) {
  const bool pixel_data = elem != nullptr && elem->getTag() == DCM_PixelData;
  OFCondition cond = DcmDataset::insert(elem, replace_old, check_insert_order);
  if (cond.good() && pixel_data) pixel_data_ = elem;
  return cond;
}

void DropReadFragments(DcmElement* element) {
  auto* pixel_data = dynamic_cast<DcmPixelData*>(element);
  if (pixel_data == nullptr) return;
  E_TransferSyntax xfer = EXS_Unknown;
  const DcmRepresentationParameter* param = nullptr;
  pixel_data->getCurrentRepresentationKey(xfer, param);
  DcmPixelSequence* fragments = nullptr;
  if (pixel_data->getEncapsulatedRepresentation(xfer, param, fragments).bad() ||
      fragments == nullptr) {
    return;  // native Pixel Data: one value, skipped when long
  }
  // DCMTK appends each item it reads and resumes on the last one (DcmSequenceOfItems::read seeks
  // to it first), so removing the ones before it is invisible to the read.
  while (fragments->card() > 2) {
    DcmPixelItem* done = nullptr;
    if (fragments->remove(done, 1).bad() || done == nullptr) return;
    delete done;
  }
}

}  // namespace medvault::frontend

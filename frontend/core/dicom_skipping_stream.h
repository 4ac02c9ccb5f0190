// The DCMTK input stream and data set DicomStreamParser reads through, so that its memory does not
// grow with the file: long values are skipped (their bytes owed and discarded as they arrive),
// the first bytes of a skipped value can be kept for a check that needs only its start, and the
// encapsulated Pixel Data fragments DCMTK has finished reading are dropped. Internal to the parser
// (it exposes DCMTK's types); tested through it (dicom_parser_large_test.cc).
#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcistrma.h>
#include <dcmtk/dcmdata/dcistrmb.h>

#include <memory>
#include <string>

#include "absl/strings/string_view.h"

namespace medvault::frontend {

// DCMTK's buffer producer, except that a skip always succeeds: the bytes not yet fed are owed and
// discarded from the next buffers as they arrive. DCMTK skips a value only when its stream offers
// a factory to load it later (DcmElement::read); the buffer stream offers none, so DCMTK would
// load every value, Pixel Data included, however long. While a capture is armed, the first bytes
// of the value skipped next are copied out before they are discarded.
class SkippingProducer : public DcmProducer {
 public:
  OFBool good() const override { return buffer_.good(); }
  OFCondition status() const override { return buffer_.status(); }
  OFBool eos() override { return buffer_.eos(); }
  offile_off_t avail() override { return buffer_.avail(); }
  offile_off_t read(void* buf, offile_off_t buflen) override { return buffer_.read(buf, buflen); }
  offile_off_t skip(offile_off_t skiplen) override;
  void putback(offile_off_t num) override { buffer_.putback(num); }

  void SetBuffer(absl::string_view data);
  void ReleaseBuffer() { buffer_.releaseBuffer(); }
  void SetEos() { buffer_.setEos(); }
  // Bytes of skipped values not fed yet: non-zero at the end means the file was cut short.
  offile_off_t owed() const { return owed_; }

  // The next skip copies up to `limit` bytes of the value it skips into `*head` (nullptr, or a
  // limit of 0: it copies nothing). A later call replaces an unused one.
  void CaptureNextSkip(std::shared_ptr<std::string> head, size_t limit);

 private:
  // Moves up to `most` of the buffer's bytes into the capture; returns how many.
  offile_off_t Capture(offile_off_t most);

  DcmBufferProducer buffer_;
  offile_off_t owed_ = 0;
  std::shared_ptr<std::string> capture_;
  offile_off_t capture_left_ = 0;
};

// The stream the parser feeds DCMTK through: values longer than the read's maxReadLength are
// skipped. In a deflated data set DCMTK's inflater reads the producer, so what a skip cannot
// inflate yet is deferred here instead (the stream's position counts it as skipped) and skipped
// before DCMTK reads on (PayDeferredSkip). With CaptureHeads(budget), the first
// kCapturedHeadBytes of each skipped value are kept (until `budget` bytes in all were kept), and
// DcmElement::getPartialValue reads them back; a deflated data set's values are then loaded.
class SkippingStream : public DcmInputStream {
 public:
  static constexpr size_t kCapturedHeadBytes = 64 << 10;

  SkippingStream() : DcmInputStream(&producer_) {}
  DcmInputStreamFactory* newFactory() const override;
  OFCondition installCompressionFilter(E_StreamCompression filter) override {
    compressed_ = true;
    return DcmInputStream::installCompressionFilter(filter);
  }
  offile_off_t skip(offile_off_t skiplen) override;
  offile_off_t tell() const override { return DcmInputStream::tell() + deferred_; }
  SkippingProducer& producer() { return producer_; }
  void CaptureHeads(size_t budget) { capture_budget_ = budget; }
  // Skips what earlier skips deferred, as far as the bytes fed allow; true once none is left.
  // DCMTK must not read while some is: its next bytes would be the rest of a skipped value.
  bool PayDeferredSkip();
  // Bytes of skipped deflated values not inflated yet: non-zero at the end means a cut file.
  offile_off_t deferred() const { return deferred_; }

 private:
  mutable SkippingProducer producer_;  // newFactory() arms its capture
  mutable size_t capture_budget_ = 0;
  bool compressed_ = false;
  offile_off_t deferred_ = 0;
};

// The data set DCMTK reads into: it notes its Pixel Data element when DCMTK inserts it (DcmItem
// inserts every element it reads), so the parser can find the element without a search, which
// would move the list cursor DCMTK's next read resumes from.
class WatchingDataset : public DcmDataset {
 public:
  OFCondition insert(DcmElement* elem, OFBool replace_old = OFFalse,
                     OFBool check_insert_order = OFFalse) override;
  DcmElement* pixel_data() const { return pixel_data_; }

 private:
  DcmElement* pixel_data_ = nullptr;
};

// Deletes the fragments of encapsulated Pixel Data that DCMTK has finished reading. A fragment no
// longer than the read's maxReadLength is loaded, so a file of many small fragments (a whole-slide
// image's tiles, a long cine) would otherwise be held whole. The Basic Offset Table (the first
// item) and the last item (perhaps still arriving) stay. Nothing reads the fragments afterwards:
// Pixel Data is bulk in the kept header. No-op for native Pixel Data or nullptr.
void DropReadFragments(DcmElement* pixel_data);

}  // namespace medvault::frontend

// Test helper: a DCMTK file format object as the bytes of a Part 10 file.
#pragma once

#include <gtest/gtest.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcostrmb.h>

#include <string>
#include <vector>

namespace medvault::frontend {

// Writes `file` (explicit VR little endian, or `xfer`) into memory; `capacity` must exceed its
// size.
inline std::string DicomBytes(DcmFileFormat& file, size_t capacity,
                              E_TransferSyntax xfer = EXS_LittleEndianExplicit) {
  std::vector<char> buffer(capacity);
  DcmOutputBufferStream out(buffer.data(), static_cast<offile_off_t>(buffer.size()));
  file.transferInit();
  EXPECT_TRUE(file.write(out, xfer, EET_ExplicitLength, nullptr).good());
  file.transferEnd();
  out.flush();  // a deflated data set's last bytes are still in the compression filter
  void* written = nullptr;
  offile_off_t length = 0;
  out.flushBuffer(written, length);
  return std::string(static_cast<char*>(written), static_cast<size_t>(length));
}

}  // namespace medvault::frontend

#include "tests/testing/part10.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcistrmb.h"
#include "dcmtk/dcmdata/dcmetinf.h"

namespace medvault::testing {

std::string ReadFileBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::pair<std::string, std::string> SplitPart10(const std::string& file) {
  if (file.size() < 144 || file.compare(128, 4, "DICM") != 0) return {};
  uint32_t group_length = 0;
  std::memcpy(&group_length, file.data() + 140, 4);  // (0002,0000) UL, little endian
  const size_t end = 144 + size_t{group_length};
  if (end > file.size()) return {};
  return {file.substr(0, end), file.substr(end)};
}

std::string MetaString(const std::string& header, const DcmTagKey& tag) {
  DcmInputBufferStream in;
  in.setBuffer(header.data(), header.size());
  in.setEos();
  DcmMetaInfo meta;
  meta.transferInit();
  meta.read(in, EXS_Unknown);
  meta.transferEnd();
  OFString value;
  meta.findAndGetOFString(tag, value);
  return value.c_str();
}

std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::map<std::string, std::string> DataSetsBySopInstanceUid(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const std::string& f : FilesIn(dir)) {
    auto [header, dataset] = SplitPart10(ReadFileBytes(f));
    if (header.empty()) continue;
    out[MetaString(header, DCM_MediaStorageSOPInstanceUID)] = dataset;
  }
  return out;
}

}  // namespace medvault::testing

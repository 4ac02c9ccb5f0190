#include "common/testing/file_scan.h"

#include <filesystem>
#include <fstream>
#include <iterator>

namespace medvault::testing {

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::pair<std::string, std::string>> ReadFilesUnder(const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> files;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;  // files may vanish under a running service
    files.emplace_back(it->path().string(), ReadWholeFile(it->path().string()));
  }
  return files;
}

std::vector<std::string> FilesContaining(const std::string& dir, const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& [path, content] : ReadFilesUnder(dir)) {
    if (content.find(needle) != std::string::npos) out.push_back(path);
  }
  return out;
}

bool AnyFileContains(const std::vector<std::pair<std::string, std::string>>& files,
                     const std::string& needle) {
  for (const auto& [path, content] : files) {
    if (content.find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace medvault::testing

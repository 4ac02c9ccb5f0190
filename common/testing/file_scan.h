// Reading whole directory trees in tests that prove what is (not) on disk: no key bytes after
// shredding, no plaintext on a chunk server. Test-only.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace medvault::testing {

// The whole content of `path`; empty when it cannot be read.
std::string ReadWholeFile(const std::string& path);

// Every regular file under `dir` (recursively) as (path, content).
std::vector<std::pair<std::string, std::string>> ReadFilesUnder(const std::string& dir);

// Paths of the files under `dir` whose content contains `needle`.
std::vector<std::string> FilesContaining(const std::string& dir, const std::string& needle);

bool AnyFileContains(const std::vector<std::pair<std::string, std::string>>& files,
                     const std::string& needle);

}  // namespace medvault::testing

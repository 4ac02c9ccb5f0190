// A temporary directory removed (recursively) when the object dies. Test-only.
#pragma once

#include <string>

namespace medvault::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace medvault::testing

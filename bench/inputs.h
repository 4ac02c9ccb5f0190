// Input files of the benchmark programs (load_gen, fsync_bound): a comma-separated list of files
// and directories, each directory's regular files in name order (not recursive).
#pragma once

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"

namespace medvault::bench {

// Paths named by `spec`; a path that does not exist is skipped (the caller reports "no inputs").
inline std::vector<std::string> ListInputs(const std::string& spec) {
  std::vector<std::string> files;
  for (absl::string_view part : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    const std::string path(part);
    struct stat st;
    if (stat(path.c_str(), &st) != 0) continue;
    if (!S_ISDIR(st.st_mode)) {
      files.push_back(path);
      continue;
    }
    std::vector<std::string> in_dir;
    if (DIR* dir = opendir(path.c_str())) {
      while (dirent* e = readdir(dir)) {
        const std::string full = path + "/" + e->d_name;
        if (e->d_name[0] != '.' && stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode))
          in_dir.push_back(full);
      }
      closedir(dir);
    }
    std::sort(in_dir.begin(), in_dir.end());
    files.insert(files.end(), in_dir.begin(), in_dir.end());
  }
  return files;
}

inline std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace medvault::bench

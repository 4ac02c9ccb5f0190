// Reading DICOM Part 10 files in integration tests that compare what a DICOM peer received with
// what medvault stored: DCMTK's receivers (storescp, getscu, movescu) write their own meta header,
// so tests compare data sets.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctagkey.h"

namespace medvault::testing {

// A file's bytes ("" when it cannot be read).
std::string ReadFileBytes(const std::string& path);

// A Part 10 file split into its meta header (preamble to the end of group 0002, by the group
// length) and its data set. Empty strings when it is not one.
std::pair<std::string, std::string> SplitPart10(const std::string& file);

// A string value of the meta header `header` (as SplitPart10 returns it), "" when absent.
std::string MetaString(const std::string& header, const DcmTagKey& tag);

// The regular files in `dir`, sorted.
std::vector<std::string> FilesIn(const std::string& dir);

// The Part 10 files in `dir` by the SOP Instance UID in their meta header -> data set bytes.
std::map<std::string, std::string> DataSetsBySopInstanceUid(const std::string& dir);

}  // namespace medvault::testing

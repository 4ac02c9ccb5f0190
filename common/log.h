// Minimal leveled logging to stderr: `MV_LOG(INFO) << "chunk " << ToHex(id) << " written";`.
// Log lines must never carry PHI (names, UIDs, patient ids) or key material: log random object
// and chunk ids, sizes, counts and status codes only.
#pragma once

#include <sstream>
#include <string>

namespace medvault {

enum class LogLevel { kInfo, kWarning, kError };

// Sets the program name printed on every line (e.g. "chunkserver").
void SetLogTag(std::string tag);

class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

}  // namespace medvault

#define MV_LOG_LEVEL_INFO ::medvault::LogLevel::kInfo
#define MV_LOG_LEVEL_WARNING ::medvault::LogLevel::kWarning
#define MV_LOG_LEVEL_ERROR ::medvault::LogLevel::kError
#define MV_LOG(level) ::medvault::LogMessage(MV_LOG_LEVEL_##level, __FILE__, __LINE__).stream()

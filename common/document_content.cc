#include "common/document_content.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace medvault {

bool LooksLikePdf(absl::string_view s) {
  // The header may follow a few bytes of garbage (PDF 1.7, annex H): within the first 1024.
  return s.substr(0, 1024).find("%PDF-") != absl::string_view::npos;
}

std::string XmlRootElement(absl::string_view s) {
  if (absl::StartsWith(s, "\xEF\xBB\xBF")) s.remove_prefix(3);
  for (;;) {
    size_t i = 0;
    while (i < s.size() && absl::ascii_isspace(static_cast<unsigned char>(s[i]))) ++i;
    s.remove_prefix(i);
    if (s.empty() || s[0] != '<') return "";
    if (absl::StartsWith(s, "<?")) {
      size_t end = s.find("?>");
      if (end == absl::string_view::npos) return "";
      s.remove_prefix(end + 2);
    } else if (absl::StartsWith(s, "<!--")) {
      size_t end = s.find("-->");
      if (end == absl::string_view::npos) return "";
      s.remove_prefix(end + 3);
    } else if (absl::StartsWith(s, "<!")) {
      size_t end = s.find('>');
      if (end == absl::string_view::npos) return "";
      s.remove_prefix(end + 1);
    } else {
      size_t end = 1;
      while (end < s.size() && !absl::ascii_isspace(static_cast<unsigned char>(s[end])) &&
             s[end] != '>' && s[end] != '/') {
        ++end;
      }
      absl::string_view name = s.substr(1, end - 1);
      const size_t colon = name.find(':');
      if (colon != absl::string_view::npos) name.remove_prefix(colon + 1);
      // A root element must be closed somewhere: a cut file is not a document.
      if (s.rfind('>') == absl::string_view::npos) return "";
      return std::string(name);
    }
  }
}

}  // namespace medvault

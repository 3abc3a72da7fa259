#include "cppblog/text/redact.hpp"

namespace cppblog::text {

std::string MaskUrlCredentials(std::string_view text) {
  constexpr std::string_view kSeparator = "://";
  std::string out;
  out.reserve(text.size());
  std::size_t scheme_end = text.find(kSeparator);
  if (scheme_end == std::string_view::npos) return std::string(text);
  out.append(text.substr(0, scheme_end));
  while (scheme_end != std::string_view::npos) {
    const std::size_t start = scheme_end + kSeparator.size();
    const std::size_t next = text.find(kSeparator, start);
    // This URL's part of the text, up to the next URL's scheme separator.
    const std::string_view segment =
        text.substr(start, next == std::string_view::npos ? std::string_view::npos : next - start);
    out.append(kSeparator);
    const std::size_t at = segment.rfind('@');
    const std::size_t colon = at == std::string_view::npos ? at : segment.substr(0, at).find(':');
    if (colon == std::string_view::npos) {
      out.append(segment);
    } else {
      out.append(segment.substr(0, colon + 1));
      out.append("***");
      out.append(segment.substr(at));
    }
    scheme_end = next;
  }
  return out;
}

}  // namespace cppblog::text

#include "cppblog/text/one_line.hpp"

#include <algorithm>

#include "cppblog/text/escape.hpp"

namespace cppblog::text {

std::string OneLine(std::string_view text, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 16);
  std::string piece;
  std::size_t at = 0;
  while (at < text.size()) {
    // One character (or one byte that is not valid UTF-8) at a time, so a cut never splits one.
    std::size_t length = 1;
    piece.clear();
    if (text[at] == '\\') {
      piece = "\\\\";  // unlike a log line, the original can be read back
    } else {
      if (static_cast<unsigned char>(text[at]) >= 0x80) {
        length = std::max<std::size_t>(1, Utf8SequenceLength(text, at));
      }
      AppendLogEscaped(piece, text.substr(at, length));
    }
    if (out.size() + piece.size() > max_bytes) {
      out += "... (" + std::to_string(text.size()) + " bytes)";
      return out;
    }
    out += piece;
    at += length;
  }
  return out;
}

}  // namespace cppblog::text

#include "cppblog/text/escape.hpp"

#include <array>

namespace cppblog::text {
namespace {

constexpr std::array<char, 16> kHex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                       '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
constexpr std::string_view kReplacementCharacter = "\xef\xbf\xbd";  // U+FFFD

unsigned char ByteAt(std::string_view text, std::size_t at) {
  return static_cast<unsigned char>(text[at]);
}

bool InRange(unsigned char byte, unsigned char low, unsigned char high) {
  return byte >= low && byte <= high;
}

// The length of the run of bytes from `at` that `keep` accepts as they are.
template <typename Keep>
std::size_t RunLength(std::string_view text, std::size_t at, Keep keep) {
  std::size_t end = at;
  while (end < text.size() && keep(ByteAt(text, end))) ++end;
  return end - at;
}

void AppendHexByte(std::string& out, std::string_view prefix, unsigned char byte) {
  out.append(prefix);
  out.push_back(kHex[byte >> 4U]);
  out.push_back(kHex[byte & 0xFU]);
}

// The code point of a well-formed sequence of `length` bytes at `at`.
char32_t DecodeAt(std::string_view text, std::size_t at, std::size_t length) {
  static constexpr std::array<unsigned char, 5> kLeadMask = {0, 0x7F, 0x1F, 0x0F, 0x07};
  char32_t code_point = ByteAt(text, at) & kLeadMask[length];
  for (std::size_t k = 1; k < length; ++k) {
    code_point = (code_point << 6U) | (ByteAt(text, at + k) & 0x3FU);
  }
  return code_point;
}

}  // namespace

std::size_t Utf8SequenceLength(std::string_view text, std::size_t at) {
  const unsigned char lead = ByteAt(text, at);
  if (lead < 0x80) return 1;
  // The second byte's range depends on the lead byte; the others are plain continuations.
  std::size_t length = 0;
  unsigned char second_low = 0x80;
  unsigned char second_high = 0xBF;
  if (InRange(lead, 0xC2, 0xDF)) {
    length = 2;
  } else if (lead == 0xE0) {
    length = 3;
    second_low = 0xA0;  // no overlongs
  } else if (InRange(lead, 0xE1, 0xEC) || InRange(lead, 0xEE, 0xEF)) {
    length = 3;
  } else if (lead == 0xED) {
    length = 3;
    second_high = 0x9F;  // no surrogates
  } else if (lead == 0xF0) {
    length = 4;
    second_low = 0x90;  // no overlongs
  } else if (InRange(lead, 0xF1, 0xF3)) {
    length = 4;
  } else if (lead == 0xF4) {
    length = 4;
    second_high = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;  // a continuation byte, C0, C1 or F5–FF
  }
  if (text.size() - at < length) return 0;
  if (!InRange(ByteAt(text, at + 1), second_low, second_high)) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    if (!InRange(ByteAt(text, at + k), 0x80, 0xBF)) return 0;
  }
  return length;
}

std::string ToValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t ascii = RunLength(text, at, [](unsigned char byte) { return byte < 0x80; });
    out.append(text.substr(at, ascii));
    at += ascii;
    if (at == text.size()) break;
    if (const std::size_t length = Utf8SequenceLength(text, at); length != 0) {
      out.append(text.substr(at, length));
      at += length;
    } else {
      out.append(kReplacementCharacter);
      ++at;
    }
  }
  return out;
}

void AppendJsonEscaped(std::string& out, std::string_view text) {
  std::size_t at = 0;
  while (at < text.size()) {
    // Ids, names and addresses rarely need escaping: copy plain ASCII a run at a time.
    const std::size_t plain = RunLength(text, at, [](unsigned char byte) {
      return byte >= 0x20 && byte < 0x80 && byte != '"' && byte != '\\';
    });
    out.append(text.substr(at, plain));
    at += plain;
    if (at == text.size()) break;
    const unsigned char byte = ByteAt(text, at);
    if (byte >= 0x80) {
      if (const std::size_t length = Utf8SequenceLength(text, at); length != 0) {
        out.append(text.substr(at, length));
        at += length;
      } else {
        out.append("\\ufffd");
        ++at;
      }
      continue;
    }
    switch (byte) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default:
        AppendHexByte(out, "\\u00", byte);
    }
    ++at;
  }
}

void AppendJsonString(std::string& out, std::string_view text) {
  out.push_back('"');
  AppendJsonEscaped(out, text);
  out.push_back('"');
}

std::string JsonString(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  AppendJsonString(out, text);
  return out;
}

void AppendLogEscaped(std::string& out, std::string_view text) {
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t plain =
        RunLength(text, at, [](unsigned char byte) { return byte >= 0x20 && byte < 0x7F; });
    out.append(text.substr(at, plain));
    at += plain;
    if (at == text.size()) break;
    const unsigned char byte = ByteAt(text, at);
    if (byte >= 0x80) {
      const std::size_t length = Utf8SequenceLength(text, at);
      if (length == 0) {
        AppendHexByte(out, "\\x", byte);
        ++at;
        continue;
      }
      const char32_t code_point = DecodeAt(text, at, length);
      if (code_point <= 0x9F) {
        AppendHexByte(out, "\\u00", static_cast<unsigned char>(code_point));
      } else if (code_point == 0x2028 || code_point == 0x2029) {
        out.append(code_point == 0x2028 ? "\\u2028" : "\\u2029");
      } else {
        out.append(text.substr(at, length));
      }
      at += length;
      continue;
    }
    switch (byte) {
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        AppendHexByte(out, "\\x", byte);
    }
    ++at;
  }
}

std::string EscapeForLog(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  AppendLogEscaped(out, text);
  return out;
}

}  // namespace cppblog::text

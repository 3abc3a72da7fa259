#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cppblog::text {

/// `text` made safe to carry as one line of at most about `max_bytes` bytes: a header value, a
/// reason in a log line. Characters are escaped as in a text log line (EscapeForLog in
/// escape.hpp: `\n`, `\r`, `\t`, `\xHH` for other controls, DEL and bytes that are not valid
/// UTF-8, `\uNNNN` for C1 controls and U+2028/9), and a backslash also becomes `\\`, so the
/// result is valid UTF-8 with no line break in it and the original can be read back. When the
/// escaped text is longer than `max_bytes`, it is cut at a character boundary and
/// "... (N bytes)" (N: the length of `text`) is appended. Never throws but std::bad_alloc.
[[nodiscard]] std::string OneLine(std::string_view text, std::size_t max_bytes);

}  // namespace cppblog::text

#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cppblog::text {

/// The length of the well-formed UTF-8 sequence that starts at `text[at]` (1 to 4), or 0 when
/// the bytes there are not one: a stray continuation byte, a truncated sequence, an overlong
/// form, a surrogate (U+D800–U+DFFF) or a code point above U+10FFFF (Unicode's Table 3-7).
/// `at` must be below text.size().
[[nodiscard]] std::size_t Utf8SequenceLength(std::string_view text, std::size_t at);

/// `text` with every byte that is not part of well-formed UTF-8 replaced by U+FFFD, one
/// replacement per such byte; valid text is returned unchanged. Never throws but bad_alloc.
[[nodiscard]] std::string ToValidUtf8(std::string_view text);

/// Appends `text` as the inside of a JSON string (no quotes): `"` and `\` escaped, control
/// characters as \n, \r, \t, \b, \f or \u00XX, and every byte that is not well-formed UTF-8 as
/// \ufffd, so the result is always valid JSON whatever `text` holds. The one JSON string
/// escaper of the tree: code that writes JSON by hand uses it (or AppendJsonString), and
/// strings handed to Boost.JSON's serializer, which copies bytes as they are, go through
/// ToValidUtf8 first.
void AppendJsonEscaped(std::string& out, std::string_view text);

/// Appends `text` as a JSON string literal, quotes included (see AppendJsonEscaped).
void AppendJsonString(std::string& out, std::string_view text);

/// `text` as a JSON string literal, quotes included (see AppendJsonEscaped).
[[nodiscard]] std::string JsonString(std::string_view text);

/// Appends `text` made safe for one line of a text log: a message can never start a line of
/// its own, nor reach a terminal as a control sequence. Line feed, carriage return and tab
/// become \n, \r and \t; other ASCII control characters, DEL and bytes that are not
/// well-formed UTF-8 become \xNN (the byte's value); the C1 controls (U+0080–U+009F) and the
/// line and paragraph separators U+2028 and U+2029 become \uNNNN. Everything else, a
/// backslash included, is kept as it is (so a literal "\n" in the text reads the same as an
/// escaped line feed: the line cannot be forged, only be ambiguous).
void AppendLogEscaped(std::string& out, std::string_view text);

/// `text` escaped as AppendLogEscaped does.
[[nodiscard]] std::string EscapeForLog(std::string_view text);

}  // namespace cppblog::text

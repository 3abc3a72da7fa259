#include "cppblog/text/one_line.hpp"

#include <string>

#include <gtest/gtest.h>

namespace cppblog::text {
namespace {

TEST(OneLine, PlainTextIsKept) {
  EXPECT_EQ(OneLine("No space left on device", 100), "No space left on device");
  EXPECT_EQ(OneLine("grüße €", 100), "grüße €");
}

TEST(OneLine, LineBreaksAndControlCharactersAreEscaped) {
  EXPECT_EQ(OneLine("a\nCRIT forged\r\tb", 100), "a\\nCRIT forged\\r\\tb");
  EXPECT_EQ(OneLine(std::string("nul\0bell\x07", 9), 100), "nul\\x00bell\\x07");
  EXPECT_EQ(OneLine("back\\slash", 100), "back\\\\slash");
}

TEST(OneLine, InvalidUtf8BytesAreEscaped) {
  EXPECT_EQ(OneLine("\xff\xfe", 100), "\\xff\\xfe");
  EXPECT_EQ(OneLine("\xc3", 100), "\\xc3");                    // a lead byte alone
  EXPECT_EQ(OneLine("\xc0\xaf", 100), "\\xc0\\xaf");           // overlong '/'
  EXPECT_EQ(OneLine("\xed\xa0\x80", 100), "\\xed\\xa0\\x80");  // a surrogate
}

TEST(OneLine, LongTextIsCutAtACharacterBoundaryWithItsLength) {
  const std::string long_text(1000, 'x');
  const std::string cut = OneLine(long_text, 10);
  EXPECT_EQ(cut, "xxxxxxxxxx... (1000 bytes)");
  // "€" is three bytes: never split.
  EXPECT_EQ(OneLine("ab€€", 4), "ab... (8 bytes)");
  EXPECT_EQ(OneLine("ab\ncd", 3), "ab... (5 bytes)");
}

}  // namespace
}  // namespace cppblog::text

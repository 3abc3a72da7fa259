#include "cppblog/text/escape.hpp"

#include <string>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

namespace cppblog::text {
namespace {

using namespace std::string_literals;

TEST(Utf8SequenceLength, AcceptsWellFormedSequences) {
  EXPECT_EQ(Utf8SequenceLength("a", 0), 1U);
  EXPECT_EQ(Utf8SequenceLength("\xc3\xa9", 0), 2U);          // é
  EXPECT_EQ(Utf8SequenceLength("\xe2\x82\xac", 0), 3U);      // €
  EXPECT_EQ(Utf8SequenceLength("\xf0\x9f\x98\x80", 0), 4U);  // 😀
  EXPECT_EQ(Utf8SequenceLength("\xf4\x8f\xbf\xbf", 0), 4U);  // U+10FFFF
}

TEST(Utf8SequenceLength, RejectsMalformedSequences) {
  EXPECT_EQ(Utf8SequenceLength("\xff", 0), 0U);
  EXPECT_EQ(Utf8SequenceLength("\x80", 0), 0U);              // a stray continuation
  EXPECT_EQ(Utf8SequenceLength("\xc3", 0), 0U);              // truncated
  EXPECT_EQ(Utf8SequenceLength("\xc0\xaf", 0), 0U);          // overlong '/'
  EXPECT_EQ(Utf8SequenceLength("\xe0\x80\xaf", 0), 0U);      // overlong '/'
  EXPECT_EQ(Utf8SequenceLength("\xed\xa0\x80", 0), 0U);      // surrogate U+D800
  EXPECT_EQ(Utf8SequenceLength("\xf4\x90\x80\x80", 0), 0U);  // above U+10FFFF
  EXPECT_EQ(Utf8SequenceLength("\xe2\x82"
                               "a",
                               0),
            0U);  // continuation missing
}

TEST(ToValidUtf8, ReplacesEachInvalidByteAndKeepsValidText) {
  EXPECT_EQ(ToValidUtf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(ToValidUtf8("a\xff"
                        "b"),
            "a\xef\xbf\xbd"
            "b");
  EXPECT_EQ(ToValidUtf8("\xc3"), "\xef\xbf\xbd");
  EXPECT_EQ(ToValidUtf8("nul\0kept"s), "nul\0kept"s);
  EXPECT_EQ(ToValidUtf8(""), "");
}

TEST(JsonString, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonString("plain"), "\"plain\"");
  EXPECT_EQ(JsonString("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(JsonString("\n\r\t\b\f"), R"("\n\r\t\b\f")");
  EXPECT_EQ(JsonString("\x01\x1f"), R"("\u0001\u001f")");
  EXPECT_EQ(JsonString("nul\0end"s), R"("nul\u0000end")");
  EXPECT_EQ(JsonString("caf\xc3\xa9 \xe2\x82\xac"), "\"caf\xc3\xa9 \xe2\x82\xac\"");
}

TEST(JsonString, ReplacesInvalidUtf8SoTheResultParses) {
  const std::string input =
      "bad \xff\xfe, truncated \xc3, overlong \xc0\xaf, surrogate \xed\xa0\x80";

  const std::string json = JsonString(input);

  boost::system::error_code ec;
  const boost::json::value parsed = boost::json::parse(json, ec);
  ASSERT_FALSE(ec) << ec.message() << ": " << json;
  EXPECT_EQ(parsed.as_string(),
            "bad \xef\xbf\xbd\xef\xbf\xbd, truncated \xef\xbf\xbd, overlong "
            "\xef\xbf\xbd\xef\xbf\xbd, surrogate \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(AppendJsonString, AppendsToWhatIsThere) {
  std::string out = "{\"id\":";

  AppendJsonString(out, "10000");
  out += '}';

  EXPECT_EQ(out, R"({"id":"10000"})");
}

TEST(EscapeForLog, ANewlineCannotStartALine) {
  const std::string forged = "x\n2026-12-06T23:00:00.000Z CRIT  accountservice: forged";

  const std::string escaped = EscapeForLog(forged);

  EXPECT_EQ(escaped.find('\n'), std::string::npos);
  EXPECT_EQ(escaped, "x\\n2026-12-06T23:00:00.000Z CRIT  accountservice: forged");
}

TEST(EscapeForLog, EscapesControlCharactersAndInvalidUtf8) {
  EXPECT_EQ(EscapeForLog("a\rb\tc"), "a\\rb\\tc");
  EXPECT_EQ(EscapeForLog("nul\0end"s), "nul\\x00end");
  EXPECT_EQ(EscapeForLog("\x1b[31mred"), "\\x1b[31mred");  // no terminal control sequences
  EXPECT_EQ(EscapeForLog("del\x7f"), "del\\x7f");
  EXPECT_EQ(EscapeForLog("bad\xff\xc3"), "bad\\xff\\xc3");
  EXPECT_EQ(EscapeForLog("c1 \xc2\x9b"
                         "31m"),
            "c1 \\u009b31m");
  EXPECT_EQ(EscapeForLog("ls \xe2\x80\xa8 ps \xe2\x80\xa9"), "ls \\u2028 ps \\u2029");
}

TEST(EscapeForLog, KeepsPrintableTextAndValidUtf8) {
  EXPECT_EQ(EscapeForLog("queue=vip_queue path=C:\\dir caf\xc3\xa9 \xe2\x82\xac"),
            "queue=vip_queue path=C:\\dir caf\xc3\xa9 \xe2\x82\xac");
  EXPECT_EQ(EscapeForLog(""), "");
}

}  // namespace
}  // namespace cppblog::text

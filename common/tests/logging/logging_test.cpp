#include "cppblog/logging/logging.hpp"

#include <array>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

namespace cppblog::logging {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

// Runs `write` with file descriptor 2 pointed at a pipe and returns what it wrote.
// The output must fit the pipe's buffer (64 KiB), which a few lines do.
std::string CaptureStderr(const std::function<void()>& write) {
  std::array<int, 2> pipe_fds{};
  if (::pipe(pipe_fds.data()) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::fflush(stderr);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(pipe_fds[1], STDERR_FILENO);
  ::close(pipe_fds[1]);
  write();
  std::fflush(stderr);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::string captured;
  std::array<char, 4096> buffer{};
  ssize_t n = 0;
  while ((n = ::read(pipe_fds[0], buffer.data(), buffer.size())) > 0) {
    captured.append(buffer.data(), static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  return captured;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    start = end == std::string::npos ? text.size() : end + 1;
  }
  return lines;
}

TEST(Logging, TextLinesCarryUtcTimeLevelAndService) {
  const std::string output = CaptureStderr([] {
    Init("accountservice");
    spdlog::info("listening on port {}", 6767);
    spdlog::warn("broker down");
  });
  const auto lines = Lines(output);
  ASSERT_EQ(lines.size(), 2U) << output;
  EXPECT_THAT(lines[0], MatchesRegex(R"(20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:)"
                                     R"([0-6][0-9]\.[0-9][0-9][0-9]Z INFO  accountservice: )"
                                     R"(listening on port 6767)"));
  EXPECT_THAT(lines[1], HasSubstr("Z WARN  accountservice: broker down"));
}

TEST(Logging, JsonLinesAreValidJsonWithEscapedMessages) {
  const std::string message =
      "quote \" backslash \\ newline \n tab \t bell \x07 utf8 \xc3\xa9 "
      "bad \xff end";
  const std::string output = CaptureStderr([&] {
    Init("account\"service", LogFormat::kJson);
    spdlog::error("{}", message);
  });
  const auto lines = Lines(output);
  ASSERT_EQ(lines.size(), 1U) << output;
  const boost::json::object line = boost::json::parse(lines[0]).as_object();
  EXPECT_EQ(line.size(), 4U);
  EXPECT_EQ(line.at("level").as_string(), "error");
  EXPECT_EQ(line.at("service").as_string(), "account\"service");
  EXPECT_EQ(line.at("msg").as_string(),
            "quote \" backslash \\ newline \n tab \t bell \x07 utf8 \xc3\xa9 bad \xef\xbf\xbd end");
  EXPECT_THAT(std::string(line.at("ts").as_string()),
              MatchesRegex(R"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z)"));
}

TEST(Logging, ForgedLineInALoggedValueStaysOneEscapedLine) {
  // A busrefresh destination, a /monitor path or an AMQP body carrying a line of its own.
  const std::string destination =
      "x\n2026-12-06T23:00:00.000Z CRIT  configserver: disk wiped\r\nagain";
  const std::string output = CaptureStderr([&] {
    Init("configserver");
    spdlog::info("refresh for: {} (POST /actuator/busrefresh)", destination);
  });
  const auto lines = Lines(output);
  ASSERT_EQ(lines.size(), 1U) << output;
  EXPECT_THAT(lines[0], HasSubstr("Z INFO  configserver: refresh for: x\\n2026-12-06T23:00:00.000Z "
                                  "CRIT  configserver: disk wiped\\r\\nagain (POST "));
}

TEST(Logging, TextLinesEscapeNulControlCharactersAndInvalidUtf8) {
  const std::string output = CaptureStderr([] {
    Init("accountservice");
    static constexpr char kBody[] = "nul\0 esc\x1b[2J bad\xff\xfe utf8 \xc3\xa9";
    spdlog::warn("body={}", std::string_view(kBody, sizeof kBody - 1));
  });
  const auto lines = Lines(output);
  ASSERT_EQ(lines.size(), 1U) << output;
  EXPECT_THAT(lines[0],
              HasSubstr("accountservice: body=nul\\x00 esc\\x1b[2J bad\\xff\\xfe utf8 \xc3\xa9"));
  EXPECT_EQ(lines[0].find('\0'), std::string::npos);
  EXPECT_EQ(lines[0].find('\xff'), std::string::npos);
}

TEST(Logging, JsonLevelNames) {
  const std::string output = CaptureStderr([] {
    Init("vipservice", LogFormat::kJson);
    SetLevel("trace");
    spdlog::trace("t");
    spdlog::debug("d");
    spdlog::warn("w");
    spdlog::critical("c");
  });
  std::vector<std::string> levels;
  for (const auto& line : Lines(output)) {
    levels.emplace_back(boost::json::parse(line).at("level").as_string());
  }
  EXPECT_THAT(levels, ElementsAre("trace", "debug", "warn", "critical"));
}

TEST(Logging, SetLevelFiltersLowerLevels) {
  const std::string output = CaptureStderr([] {
    Init("accountservice");
    SetLevel("WARN");
    spdlog::info("hidden");
    spdlog::warn("shown");
    SetLevel("off");
    spdlog::critical("hidden too");
  });
  EXPECT_THAT(output, Not(HasSubstr("hidden")));
  EXPECT_THAT(output, HasSubstr("shown"));
}

TEST(Logging, SetLevelRejectsUnknownLevels) {
  Init("accountservice");
  SetLevel("info");
  try {
    SetLevel("verbose");
    FAIL() << "no std::invalid_argument thrown";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("'verbose' is not a log level"));
    EXPECT_THAT(e.what(), HasSubstr("trace, debug, info, warn, error, critical, off"));
  }
  EXPECT_EQ(spdlog::get_level(), spdlog::level::info);
}

TEST(Logging, TextLinesEndWithTheScopesFieldsInOrder) {
  const std::string output = CaptureStderr([] {
    Init("vipservice");
    {
      const ScopedFields fields({.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
                                 .span_id = "00f067aa0ba902b7",
                                 .message_id = "1c3e",
                                 .queue = "vip_queue",
                                 .account_id = "10000"});
      spdlog::info("Got a message: {}", "{}");
    }
    spdlog::info("after");
  });
  const auto lines = Lines(output);
  ASSERT_EQ(lines.size(), 2U) << output;
  EXPECT_THAT(lines[0], MatchesRegex(R"(.*Z INFO  vipservice: Got a message: \{\} )"
                                     R"(trace_id=4bf92f3577b34da6a3ce929d0e0e4736 )"
                                     R"(span_id=00f067aa0ba902b7 message_id=1c3e queue=vip_queue )"
                                     R"(account_id=10000)"));
  EXPECT_THAT(lines[1], MatchesRegex(R"(.*Z INFO  vipservice: after)"));
}

TEST(Logging, JsonLinesCarryFieldsAsSeparateKeys) {
  const std::string output = CaptureStderr([] {
    Init("accountservice", LogFormat::kJson);
    spdlog::info("before");
    {
      const ScopedFields fields({.trace_id = "0af7651916cd43dd8448eb211c80319c",
                                 .span_id = "b7ad6b7169203331",
                                 .account_id = "10000"});
      spdlog::warn("VIP read");
    }
  });
  const auto lines = Lines(output);
  ASSERT_EQ(lines.size(), 2U) << output;
  EXPECT_EQ(boost::json::parse(lines[0]).as_object().size(), 4U) << lines[0];
  const boost::json::object line = boost::json::parse(lines[1]).as_object();
  EXPECT_EQ(line.size(), 7U) << lines[1];
  EXPECT_EQ(line.at("msg").as_string(), "VIP read");
  EXPECT_EQ(line.at("level").as_string(), "warn");
  EXPECT_EQ(line.at("trace_id").as_string(), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(line.at("span_id").as_string(), "b7ad6b7169203331");
  EXPECT_EQ(line.at("account_id").as_string(), "10000");
  EXPECT_FALSE(line.contains("message_id"));
  EXPECT_FALSE(line.contains("queue"));
}

TEST(Logging, NestedScopesAddAndReplaceFieldsAndRestoreTheOuterOnes) {
  const std::string output = CaptureStderr([] {
    Init("vipservice", LogFormat::kJson);
    {
      const ScopedFields outer({.trace_id = "t1", .span_id = "s1", .queue = "q"});
      {
        // An empty value leaves the outer one in place.
        const ScopedFields inner({.trace_id = "", .span_id = "s2", .message_id = "m"});
        EXPECT_EQ(CurrentFields().span_id, "s2");
        spdlog::info("inner");
      }
      EXPECT_EQ(CurrentFields().span_id, "s1");
      EXPECT_TRUE(CurrentFields().message_id.empty());
      spdlog::info("outer");
    }
    EXPECT_TRUE(CurrentFields().trace_id.empty());
    EXPECT_TRUE(CurrentFields().queue.empty());
    spdlog::info("none");
  });
  const auto lines = Lines(output);
  ASSERT_EQ(lines.size(), 3U) << output;
  const boost::json::object inner = boost::json::parse(lines[0]).as_object();
  EXPECT_EQ(inner.at("trace_id").as_string(), "t1");
  EXPECT_EQ(inner.at("span_id").as_string(), "s2");
  EXPECT_EQ(inner.at("message_id").as_string(), "m");
  EXPECT_EQ(inner.at("queue").as_string(), "q");
  const boost::json::object outer = boost::json::parse(lines[1]).as_object();
  EXPECT_EQ(outer.at("trace_id").as_string(), "t1");
  EXPECT_EQ(outer.at("span_id").as_string(), "s1");
  EXPECT_FALSE(outer.contains("message_id"));
  EXPECT_EQ(outer.at("queue").as_string(), "q");
  EXPECT_EQ(boost::json::parse(lines[2]).as_object().size(), 4U) << lines[2];
}

TEST(Logging, TextFieldValuesWithSpacesOrQuotesAreQuotedAndEscaped) {
  // A message id is whatever the publisher sent: it must neither forge a line nor a field.
  const std::string forged = "a b \"c\" \\d=e\n2026-12-06T23:00:00.000Z CRIT  x: y \xff";
  const std::string output = CaptureStderr([&] {
    Init("vipservice");
    const ScopedFields fields({.message_id = forged, .queue = "plain", .account_id = "x=1"});
    spdlog::info("Got a message");
  });
  const auto lines = Lines(output);
  ASSERT_EQ(lines.size(), 1U) << output;
  EXPECT_THAT(lines[0], HasSubstr(R"(vipservice: Got a message message_id="a b \"c\" \\d=e\n)"
                                  R"(2026-12-06T23:00:00.000Z CRIT  x: y \xff" queue=plain )"
                                  R"(account_id="x=1")"));
}

TEST(Logging, JsonFieldValuesAreEscapedAndParseBack) {
  const std::string value = "a \"b\" \\ \n \x01 \xc3\xa9 \xff";
  const std::string output = CaptureStderr([&] {
    Init("vipservice", LogFormat::kJson);
    const ScopedFields fields({.message_id = value});
    spdlog::info("m");
  });
  const auto lines = Lines(output);
  ASSERT_EQ(lines.size(), 1U) << output;
  EXPECT_EQ(boost::json::parse(lines[0]).at("message_id").as_string(),
            "a \"b\" \\ \n \x01 \xc3\xa9 \xef\xbf\xbd");
}

TEST(Logging, ScopedFieldsCopyTheValuesShortOrLong) {
  const std::string long_queue(300, 'q');  // past the inline buffer: the copy is on the heap
  const std::string output = CaptureStderr([&] {
    Init("vipservice", LogFormat::kJson);
    auto account = std::make_unique<std::string>("12345678901234567890");
    auto queue = std::make_unique<std::string>(long_queue);
    const ScopedFields fields({.queue = *queue, .account_id = *account});
    account.reset();
    queue.reset();
    (void)std::string(400, 'x');  // whatever reuses the freed memory
    spdlog::info("m");
  });
  const auto lines = Lines(output);
  ASSERT_EQ(lines.size(), 1U) << output;
  EXPECT_EQ(boost::json::parse(lines[0]).at("account_id").as_string(), "12345678901234567890");
  EXPECT_EQ(boost::json::parse(lines[0]).at("queue").as_string(), long_queue);
}

TEST(Logging, FieldsBelongToTheThreadThatSetThem) {
  const std::string output = CaptureStderr([] {
    Init("vipservice", LogFormat::kJson);
    const ScopedFields fields({.account_id = "10000"});
    std::thread([] { spdlog::info("other thread"); }).join();
    spdlog::info("this thread");
  });
  const auto lines = Lines(output);
  ASSERT_EQ(lines.size(), 2U) << output;
  EXPECT_FALSE(boost::json::parse(lines[0]).as_object().contains("account_id")) << lines[0];
  EXPECT_EQ(boost::json::parse(lines[1]).at("account_id").as_string(), "10000");
}

TEST(Logging, ParseLogFormatTakesTextAndJson) {
  EXPECT_EQ(ParseLogFormat("text"), LogFormat::kText);
  EXPECT_EQ(ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(ParseLogFormat("JSON"), std::nullopt);
  EXPECT_EQ(ParseLogFormat(""), std::nullopt);
}

TEST(Logging, ConcurrentLoggingAndSetLevelKeepLinesWhole) {
  constexpr int kThreads = 4;
  constexpr int kLinesPerThread = 50;
  Init("accountservice", LogFormat::kJson);
  SetLevel("info");
  const std::string output = CaptureStderr([] {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([t] {
        for (int i = 0; i < kLinesPerThread; ++i) {
          spdlog::warn("thread {} line {}", t, i);
          SetLevel(i % 2 == 0 ? "info" : "warn");
        }
      });
    }
    for (auto& thread : threads) {
      thread.join();
    }
  });
  const auto lines = Lines(output);
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kThreads * kLinesPerThread));
  for (const auto& line : lines) {
    EXPECT_NO_THROW((void)boost::json::parse(line)) << line;
  }
}

}  // namespace
}  // namespace cppblog::logging

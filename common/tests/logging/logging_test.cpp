#include "cppblog/logging/logging.hpp"

#include <array>
#include <cstdio>
#include <functional>
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

#include "cppblog/config/config_error.hpp"
#include "cppblog/config/properties.hpp"

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
    Init("account\"service", config::LogFormat::kJson);
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
    Init("vipservice", config::LogFormat::kJson);
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
    FAIL() << "no ConfigError thrown";
  } catch (const config::ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("'verbose' is not a log level"));
    EXPECT_THAT(e.what(), HasSubstr("trace, debug, info, warn, error, critical, off"));
  }
  EXPECT_EQ(spdlog::get_level(), spdlog::level::info);
}

TEST(Logging, SetLevelFromPropertiesNamesKeyAndSource) {
  config::Properties properties;
  properties.Set("log_level", "loud", "environment LOG_LEVEL");
  try {
    SetLevel(properties);
    FAIL() << "no ConfigError thrown";
  } catch (const config::ConfigError& e) {
    EXPECT_THAT(e.what(),
                HasSubstr("log_level: 'loud' (from environment LOG_LEVEL) is not a log level"));
  }
  properties.Set("log_level", "Debug", "flag --set");
  SetLevel(properties);
  EXPECT_EQ(spdlog::get_level(), spdlog::level::debug);
}

TEST(Logging, ConcurrentLoggingAndSetLevelKeepLinesWhole) {
  constexpr int kThreads = 4;
  constexpr int kLinesPerThread = 50;
  Init("accountservice", config::LogFormat::kJson);
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

#include "cppblog/logging/logging.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "cppblog/config/config_error.hpp"

namespace cppblog::logging {
namespace {

constexpr std::string_view kLevelNames = "trace, debug, info, warn, error, critical, off";

// Appends `text` as the inside of a JSON string: quotes, backslashes and control
// characters escaped, bytes that are not UTF-8 replaced by U+FFFD so the line stays valid.
void AppendJsonEscaped(std::string_view text, spdlog::memory_buf_t& dest) {
  constexpr std::string_view kReplacement = "\\ufffd";
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      switch (byte) {
        case '"':
          dest.append(std::string_view{"\\\""});
          break;
        case '\\':
          dest.append(std::string_view{"\\\\"});
          break;
        case '\n':
          dest.append(std::string_view{"\\n"});
          break;
        case '\r':
          dest.append(std::string_view{"\\r"});
          break;
        case '\t':
          dest.append(std::string_view{"\\t"});
          break;
        default:
          if (byte < 0x20) {
            fmt::format_to(std::back_inserter(dest), "\\u{:04x}", byte);
          } else {
            dest.push_back(static_cast<char>(byte));
          }
      }
      ++i;
      continue;
    }
    // Length of the sequence and the smallest code point it may encode (no overlongs).
    std::size_t length = 0;
    char32_t code_point = 0;
    char32_t minimum = 0;
    if ((byte & 0xE0U) == 0xC0U) {
      length = 2;
      code_point = byte & 0x1FU;
      minimum = 0x80;
    } else if ((byte & 0xF0U) == 0xE0U) {
      length = 3;
      code_point = byte & 0x0FU;
      minimum = 0x800;
    } else if ((byte & 0xF8U) == 0xF0U) {
      length = 4;
      code_point = byte & 0x07U;
      minimum = 0x10000;
    }
    bool valid = length != 0 && i + length <= text.size();
    for (std::size_t k = 1; valid && k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      valid = (next & 0xC0U) == 0x80U;
      code_point = (code_point << 6U) | (next & 0x3FU);
    }
    valid = valid && code_point >= minimum && code_point <= 0x10FFFF &&
            !(code_point >= 0xD800 && code_point <= 0xDFFF);
    if (valid) {
      dest.append(text.substr(i, length));
      i += length;
    } else {
      dest.append(kReplacement);
      ++i;
    }
  }
}

// The message, JSON-escaped.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*time*/,
              spdlog::memory_buf_t& dest) override {
    AppendJsonEscaped(std::string_view(msg.payload.data(), msg.payload.size()), dest);
  }
  [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

// The level as JSON wants it: "info", "warn", … (spdlog itself says "warning").
class JsonLevelFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*time*/,
              spdlog::memory_buf_t& dest) override {
    static constexpr std::array<std::string_view, 7> kNames{"trace", "debug",    "info", "warn",
                                                            "error", "critical", "off"};
    dest.append(kNames.at(static_cast<std::size_t>(msg.level)));
  }
  [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonLevelFlag>();
  }
};

// The level for people: upper case, padded to five characters.
class TextLevelFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*time*/,
              spdlog::memory_buf_t& dest) override {
    static constexpr std::array<std::string_view, 7> kNames{"TRACE", "DEBUG", "INFO ", "WARN ",
                                                            "ERROR", "CRIT ", "OFF  "};
    dest.append(kNames.at(static_cast<std::size_t>(msg.level)));
  }
  [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<TextLevelFlag>();
  }
};

// Fixed text appended as is (the service name, already escaped where needed).
class LiteralFlag final : public spdlog::custom_flag_formatter {
 public:
  explicit LiteralFlag(std::string text) : text_(std::move(text)) {}
  void format(const spdlog::details::log_msg& /*msg*/, const std::tm& /*time*/,
              spdlog::memory_buf_t& dest) override {
    dest.append(std::string_view{text_});
  }
  [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<LiteralFlag>(text_);
  }

 private:
  std::string text_;
};

constexpr char kMessageFlag = '*';
constexpr char kJsonLevelFlag = '@';
constexpr char kTextLevelFlag = '~';
constexpr char kServiceFlag = '&';

std::unique_ptr<spdlog::formatter> MakeFormatter(std::string_view service,
                                                 config::LogFormat format) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>("", spdlog::pattern_time_type::utc,
                                                               std::string("\n"));
  if (format == config::LogFormat::kJson) {
    spdlog::memory_buf_t escaped;
    AppendJsonEscaped(service, escaped);
    formatter->add_flag<JsonMessageFlag>(kMessageFlag)
        .add_flag<JsonLevelFlag>(kJsonLevelFlag)
        .add_flag<LiteralFlag>(kServiceFlag, fmt::to_string(escaped));
    formatter->set_pattern(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%@","service":"%&","msg":"%*"})");
  } else {
    formatter->add_flag<TextLevelFlag>(kTextLevelFlag)
        .add_flag<LiteralFlag>(kServiceFlag, std::string(service));
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %~ %&: %v");
  }
  return formatter;
}

std::optional<spdlog::level::level_enum> ParseLevel(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  using spdlog::level::level_enum;
  static constexpr std::array<std::pair<std::string_view, level_enum>, 8> kLevels{{
      {"trace", level_enum::trace},
      {"debug", level_enum::debug},
      {"info", level_enum::info},
      {"warn", level_enum::warn},
      {"warning", level_enum::warn},
      {"error", level_enum::err},
      {"critical", level_enum::critical},
      {"off", level_enum::off},
  }};
  for (const auto& [name, level] : kLevels) {
    if (lower == name) {
      return level;
    }
  }
  return std::nullopt;
}

std::mutex& InitMutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace

void Init(std::string_view service_name, config::LogFormat format) {
  const std::lock_guard lock(InitMutex());
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink->set_formatter(MakeFormatter(service_name, format));
  auto logger = std::make_shared<spdlog::logger>(std::string(service_name), std::move(sink));
  logger->set_level(spdlog::level::info);
  logger->flush_on(spdlog::level::err);
  spdlog::set_default_logger(std::move(logger));
}

void SetLevel(std::string_view level) {
  const auto parsed = ParseLevel(level);
  if (!parsed) {
    throw config::ConfigError(
        fmt::format("'{}' is not a log level (one of {})", level, kLevelNames));
  }
  spdlog::set_level(*parsed);
}

void SetLevel(const config::Properties& properties, std::string_view key) {
  const std::string text = properties.GetString(key);
  const auto parsed = ParseLevel(text);
  if (!parsed) {
    const auto* value = properties.Find(key);
    throw config::ConfigError(fmt::format("{}: '{}' (from {}) is not a log level (one of {})", key,
                                          text, value->source, kLevelNames));
  }
  spdlog::set_level(*parsed);
}

}  // namespace cppblog::logging

#include "cppblog/logging/logging.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "cppblog/text/escape.hpp"

namespace cppblog::logging {
namespace {

// The fields of this thread's innermost ScopedFields (views into the ScopedFields that set
// them); read by the formatter, which runs on the logging thread (the sinks are synchronous).
thread_local std::array<std::string_view, ScopedFields::kFieldCount> current_fields{};

constexpr std::array<std::string_view, ScopedFields::kFieldCount> kFieldKeys{
    "trace_id", "span_id", "message_id", "queue", "account_id"};

// Appends `text` escaped by `escape` (a cppblog::text function), through a buffer reused per
// thread: a line allocates nothing once its thread has logged one as long, and a rare huge
// line does not keep its buffer.
template <typename Escape>
void AppendEscaped(std::string_view text, Escape escape, spdlog::memory_buf_t& dest) {
  constexpr std::size_t kKeptCapacity = 64 * 1024;
  thread_local std::string escaped;
  escaped.clear();
  escape(escaped, text);
  dest.append(std::string_view{escaped});
  if (escaped.capacity() > kKeptCapacity) std::string().swap(escaped);
}

// The message, JSON-escaped.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*time*/,
              spdlog::memory_buf_t& dest) override {
    AppendEscaped(std::string_view(msg.payload.data(), msg.payload.size()), text::AppendJsonEscaped,
                  dest);
  }
  [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

// The message on one line, whatever it holds: line breaks, control characters and bytes that
// are not UTF-8 escaped (text::AppendLogEscaped), so a value logged from a request or a
// message cannot forge a line or reach a terminal as a control sequence.
class TextMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*time*/,
              spdlog::memory_buf_t& dest) override {
    AppendEscaped(std::string_view(msg.payload.data(), msg.payload.size()), text::AppendLogEscaped,
                  dest);
  }
  [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<TextMessageFlag>();
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

// True when a text field's value can be written without quotes: printable ASCII and none of
// space, `"`, `=`, `\`, so that ` key=value` reads back unambiguously.
bool IsBareValue(std::string_view value) {
  return std::all_of(value.begin(), value.end(), [](char c) {
    return c > ' ' && c < 0x7F && c != '"' && c != '=' && c != '\\';
  });
}

// Appends `value` in double quotes, `"` and `\` written \" and \\, the rest escaped as a
// message is (text::AppendLogEscaped).
void AppendQuoted(std::string& out, std::string_view value) {
  out.push_back('"');
  std::size_t at = 0;
  while (at < value.size()) {
    const std::size_t special = value.find_first_of("\"\\", at);
    text::AppendLogEscaped(out, value.substr(at, special - at));
    if (special == std::string_view::npos) break;
    out.push_back('\\');
    out.push_back(value[special]);
    at = special + 1;
  }
  out.push_back('"');
}

// The thread's fields: `,"key":"value"` each in JSON, ` key=value` each in text.
class FieldsFlag final : public spdlog::custom_flag_formatter {
 public:
  explicit FieldsFlag(LogFormat format) : format_(format) {}
  void format(const spdlog::details::log_msg& /*msg*/, const std::tm& /*time*/,
              spdlog::memory_buf_t& dest) override {
    for (std::size_t i = 0; i < kFieldKeys.size(); ++i) {
      const std::string_view value = current_fields[i];
      if (value.empty()) continue;
      if (format_ == LogFormat::kJson) {
        dest.push_back(',');
        dest.push_back('"');
        dest.append(kFieldKeys[i]);
        dest.append(std::string_view{"\":\""});
        AppendEscaped(value, text::AppendJsonEscaped, dest);
        dest.push_back('"');
      } else {
        dest.push_back(' ');
        dest.append(kFieldKeys[i]);
        dest.push_back('=');
        if (IsBareValue(value)) {
          dest.append(value);
        } else {
          AppendEscaped(value, AppendQuoted, dest);
        }
      }
    }
  }
  [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<FieldsFlag>(format_);
  }

 private:
  LogFormat format_;
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
constexpr char kFieldsFlag = '|';

}  // namespace

std::unique_ptr<spdlog::formatter> MakeFormatter(std::string_view service, LogFormat format) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>("", spdlog::pattern_time_type::utc,
                                                               std::string("\n"));
  if (format == LogFormat::kJson) {
    std::string escaped;
    text::AppendJsonEscaped(escaped, service);
    formatter->add_flag<JsonMessageFlag>(kMessageFlag)
        .add_flag<JsonLevelFlag>(kJsonLevelFlag)
        .add_flag<LiteralFlag>(kServiceFlag, std::move(escaped))
        .add_flag<FieldsFlag>(kFieldsFlag, format);
    formatter->set_pattern(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%@","service":"%&","msg":"%*"%|})");
  } else {
    formatter->add_flag<TextMessageFlag>(kMessageFlag)
        .add_flag<TextLevelFlag>(kTextLevelFlag)
        .add_flag<LiteralFlag>(kServiceFlag, text::EscapeForLog(service))
        .add_flag<FieldsFlag>(kFieldsFlag, format);
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %~ %&: %*%|");
  }
  return formatter;
}

namespace {

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

// Writes each line to stderr in one fwrite, as spdlog's stderr sink does, but formats it into a
// buffer kept between lines (under the sink's mutex): spdlog's formats into a 250-byte local
// buffer, so a longer line — a delivery's with its five fields — allocated every time.
class StderrSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    constexpr std::size_t kKeptCapacity = 64 * 1024;
    buffer_.clear();
    formatter_->format(msg, buffer_);
    std::fwrite(buffer_.data(), 1, buffer_.size(), stderr);
    std::fflush(stderr);
    if (buffer_.capacity() > kKeptCapacity) buffer_ = spdlog::memory_buf_t();
  }
  void flush_() override { std::fflush(stderr); }

 private:
  spdlog::memory_buf_t buffer_;
};

std::mutex& InitMutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace

std::optional<LogFormat> ParseLogFormat(std::string_view text) {
  if (text == "text") return LogFormat::kText;
  if (text == "json") return LogFormat::kJson;
  return std::nullopt;
}

bool IsLevel(std::string_view level) { return ParseLevel(level).has_value(); }

void Init(std::string_view service_name, LogFormat format) {
  const std::lock_guard lock(InitMutex());
  auto sink = std::make_shared<StderrSink>();
  sink->set_formatter(MakeFormatter(service_name, format));
  auto logger = std::make_shared<spdlog::logger>(std::string(service_name), std::move(sink));
  logger->set_level(spdlog::level::info);
  logger->flush_on(spdlog::level::err);
  spdlog::set_default_logger(std::move(logger));
}

void SetLevel(std::string_view level) {
  const auto parsed = ParseLevel(level);
  if (!parsed) {
    throw std::invalid_argument(
        fmt::format("'{}' is not a log level (one of {})", level, kLevelNames));
  }
  spdlog::set_level(*parsed);
}

ScopedFields::ScopedFields(const Fields& fields) : outer_(current_fields) {
  const std::array<std::string_view, kFieldCount> values{
      fields.trace_id, fields.span_id, fields.message_id, fields.queue, fields.account_id};
  std::size_t total = 0;
  for (const std::string_view value : values) total += value.size();
  char* copy = inline_.data();
  if (total > inline_.size()) {
    heap_ = std::make_unique<char[]>(total);
    copy = heap_.get();
  }
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    if (values[i].empty()) continue;
    std::copy(values[i].begin(), values[i].end(), copy);
    current_fields[i] = std::string_view(copy, values[i].size());
    copy += values[i].size();
  }
}

ScopedFields::~ScopedFields() { current_fields = outer_; }

Fields CurrentFields() {
  return Fields{.trace_id = current_fields[0],
                .span_id = current_fields[1],
                .message_id = current_fields[2],
                .queue = current_fields[3],
                .account_id = current_fields[4]};
}

}  // namespace cppblog::logging

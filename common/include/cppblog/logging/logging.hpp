#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

namespace spdlog {
class formatter;  // <spdlog/formatter.h>, for MakeFormatter's callers
}  // namespace spdlog

namespace cppblog::logging {

/// How lines are written: for people (text) or for a log pipeline (json, one object a line).
enum class LogFormat { kText, kJson };

/// "text" or "json" (exactly, as --log-format takes it), else nullopt.
[[nodiscard]] std::optional<LogFormat> ParseLogFormat(std::string_view text);

/// The log levels SetLevel takes, for error messages: the one list of the tree.
inline constexpr std::string_view kLevelNames = "trace, debug, info, warn, error, critical, off";

/// True when SetLevel takes `level`: one of kLevelNames or "warning", in any case.
[[nodiscard]] bool IsLevel(std::string_view level);

/// Makes a logger writing to stderr the process-wide spdlog default, at level info;
/// code then logs through spdlog directly (spdlog::info(…)). Lines carry the time in
/// UTC with milliseconds, the level, the service name, the message and then the fields
/// of the thread's ScopedFields (below), each only when set, in this order:
/// trace_id, span_id, message_id, queue, account_id.
///   text: 2026-11-27T07:30:00.123Z INFO  vipservice: Got a message trace_id=4bf9… span_id=00f0…
///         message_id=1c3e… queue=vip_queue account_id=10000
///   json: {"ts":"2026-11-27T07:30:00.123Z","level":"info","service":"vipservice",
///          "msg":"Got a message","trace_id":"4bf9…","span_id":"00f0…","message_id":"1c3e…",
///          "queue":"vip_queue","account_id":"10000"}
/// (one line each; the JSON shown wrapped here). JSON: one object per line, every value a
/// string, JSON-escaped, invalid UTF-8 replaced by U+FFFD.
/// Text: every line is one line whatever the message holds: line breaks, control characters
/// and bytes that are not UTF-8 are escaped (\n, \xNN; text::AppendLogEscaped), so values
/// logged from requests or messages cannot forge lines. A field is ` key=value`, the value
/// bare when it is printable ASCII without space, `"`, `=` or `\`; otherwise in double quotes
/// with `"` and `\` written \" and \\ and the rest escaped as the message is — so
/// `key="a b \"c\""` reads back as one value (the logfmt convention).
/// Call it in main before other threads log: calls to Init are serialised, but spdlog's
/// default logger must not be replaced while another thread logs through it.
void Init(std::string_view service_name, LogFormat format = LogFormat::kText);

/// The formatter Init gives its sink (the lines described above), for a sink of one's own: a
/// file, or a test that captures lines.
[[nodiscard]] std::unique_ptr<spdlog::formatter> MakeFormatter(std::string_view service_name,
                                                               LogFormat format);

/// "trace", "debug", "info", "warn" (or "warning"), "error", "critical", "off",
/// case-insensitive, for every logger. Throws std::invalid_argument for anything else
/// ("'verbose' is not a log level (one of trace, …)"); config::LogLevelSetting checks a
/// setting and names its key and source. Thread-safe; may be called at any time (live
/// refresh of log_level).
void SetLevel(std::string_view level);

/// The structured fields a log line may carry. Ids and names only, never a secret: they are
/// written as they are (escaped, not masked).
struct Fields {
  std::string_view trace_id{};    // W3C trace id (32 hex digits) of the current span
  std::string_view span_id{};     // its span id (16 hex digits)
  std::string_view message_id{};  // the AMQP message being published or handled
  std::string_view queue{};       // the queue it goes to or comes from
  std::string_view account_id{};  // the account the request or message is about
};

/// While it lives, every line this thread logs carries `fields` (the ones not empty), and
/// the fields of the enclosing ScopedFields that these do not replace: scopes nest, and the
/// end of one restores what the enclosing one set. The values are copied (into the object
/// itself when they total at most 128 bytes, as ids do: no allocation), so the caller's
/// strings may go at once. Lines logged on other threads (a callback run elsewhere) do not
/// carry them: set a scope there too. With no scope set, a line costs five empty checks more.
/// Create and destroy it on one thread, innermost first (as a local variable is).
class ScopedFields {
 public:
  explicit ScopedFields(const Fields& fields);
  ~ScopedFields();
  ScopedFields(const ScopedFields&) = delete;
  ScopedFields& operator=(const ScopedFields&) = delete;
  ScopedFields(ScopedFields&&) = delete;
  ScopedFields& operator=(ScopedFields&&) = delete;

  static constexpr std::size_t kFieldCount = 5;

 private:
  static constexpr std::size_t kInlineBytes = 128;
  std::array<std::string_view, kFieldCount> outer_;  // what the enclosing scope had set
  std::array<char, kInlineBytes> inline_{};          // copies of the values set here…
  std::unique_ptr<char[]> heap_;                     // …or here, when they are longer
};

/// The fields this thread's lines carry now (empty ones are not written).
[[nodiscard]] Fields CurrentFields();

}  // namespace cppblog::logging

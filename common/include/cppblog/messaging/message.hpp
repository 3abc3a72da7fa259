#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace cppblog::messaging {

struct HeaderValue;

/// AMQP headers or arguments: a field table. Also the type of a nested table value (the
/// entries of `x-death`, for example).
using Headers = std::map<std::string, HeaderValue, std::less<>>;
/// An AMQP field array (`x-death` itself is an array of tables).
using HeaderArray = std::vector<HeaderValue>;

/// An AMQP timestamp field value: seconds since the Unix epoch (`time` in an `x-death` entry).
struct HeaderTimestamp {
  std::int64_t seconds = 0;
  friend auto operator<=>(const HeaderTimestamp&, const HeaderTimestamp&) = default;
};

/// An AMQP header or argument value: a string, an integer, a bool, a floating-point number, a
/// timestamp, a nested table or an array. A delivered message's headers keep tables, arrays
/// and timestamps as such, so republishing a message (a retry, a handler that forwards it)
/// sends them on unchanged; smaller integer widths arrive as std::int64_t, 32-bit floats as
/// double, byte arrays as std::string (all sent back as 64-bit integer, double and string),
/// and decimal and void values are dropped. A std::variant: std::get, std::get_if,
/// std::holds_alternative and std::visit work on it.
struct HeaderValue
    : std::variant<std::string, std::int64_t, bool, double, Headers, HeaderArray, HeaderTimestamp> {
  using variant::variant;
  using variant::operator=;
  /// A C string is text (not bool).
  // NOLINTNEXTLINE(google-explicit-constructor): a header value is written as its value
  HeaderValue(const char* text) : variant(std::string(text)) {}
  HeaderValue() = default;

  friend bool operator==(const HeaderValue& a, const HeaderValue& b) {
    return static_cast<const variant&>(a) == static_cast<const variant&>(b);
  }
};

/// A message as published or delivered. Transport-neutral: no rabbitmq-c type.
struct Message {
  std::string body{};
  std::string content_type = "application/json";
  std::string message_id{};
  std::string correlation_id{};
  std::string reply_to{};
  std::string type{};
  Headers headers{};
  /// delivery_mode 2 (survives a broker restart in a durable queue).
  bool persistent = true;
  /// Publishing: a message that matches no queue fails its future (basic.return).
  bool mandatory = true;
  /// Per-message time to live (the `expiration` property): the broker drops, or dead-letters,
  /// the message once it has waited this long in a queue. Unset: none. On delivery: what the
  /// publisher set (the broker removes it when it dead-letters an expired message).
  std::optional<std::chrono::milliseconds> expiration{};
  /// 0 (lowest) to 255; used by a queue declared with `x-max-priority` (RabbitMQ caps it at
  /// that value). Unset: none (a priority queue treats it as 0).
  std::optional<std::uint8_t> priority{};
  /// When the message was made (the `timestamp` property, whole seconds). Unset: none.
  std::optional<std::chrono::sys_seconds> timestamp{};
  /// The application that published it (the `app_id` property). Empty: none.
  std::string app_id{};

  // Set on delivered messages only.
  std::string exchange{};     // the exchange it was first published to (kept across retries)
  std::string routing_key{};  // its routing key (kept across retries)
  bool redelivered = false;
  std::uint32_t retry_count = 0;  // failed handler attempts before this one
};

/// What a handler decided; the client acks, retries, requeues or dead-letters accordingly.
enum class Outcome {
  kAck,         // done: ack
  kRetry,       // transient failure: retry later (bounded, with backoff), then dead-letter
  kDeadLetter,  // never processable (poison): straight to `<queue>.dlq`
  /// Not now, and not the message's fault (the handler's store is down, or it is shutting
  /// down): back to the end of its queue at once, with no retry counted, so it is never
  /// dead-lettered for this. The handler bounds how often it answers so (it waits for its
  /// store with backoff first): a message requeued at once comes straight back.
  kRequeue,
};

/// Thrown by a handler for a message that can never be processed (e.g. an unparseable
/// body): the message is dead-lettered at once with what() as the reason. Any other
/// exception means kRetry with what() as the reason: a handler that wants its error text
/// in `x-last-error` and, once it gives up, `x-death-reason` throws it rather than returning
/// kRetry. Reasons are carried as one line of at most 512 bytes (control characters and
/// invalid UTF-8 escaped, longer text cut).
class PoisonMessage : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace cppblog::messaging

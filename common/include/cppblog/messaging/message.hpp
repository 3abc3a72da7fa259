#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <variant>

namespace cppblog::messaging {

/// An AMQP header or argument value (the scalar subset of AMQP field values).
using HeaderValue = std::variant<std::string, std::int64_t, bool, double>;
using Headers = std::map<std::string, HeaderValue, std::less<>>;

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

#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "cppblog/messaging/message_publisher.hpp"
#include "cppblog/messaging/messaging_error.hpp"
#include "cppblog/messaging/topology.hpp"
#include "cppblog/outbox/outbox.hpp"  // Outbox, for code that includes only this header
#include "cppblog/outbox/outbox_store.hpp"

namespace cppblog::outbox {

/// Publishing to an exchange (declared once per connection as specified) with a routing key.
struct ExchangeDestination {
  messaging::ExchangeSpec exchange;
  std::string routing_key{};
};

/// Where the relay publishes every entry: a queue (declared once per connection, through the
/// default exchange) or an exchange with a routing key.
using Destination = std::variant<messaging::QueueSpec, ExchangeDestination>;

/// The name of the queue or exchange a destination names (for logs and errors).
[[nodiscard]] const std::string& NameOf(const Destination& destination);

struct RelayOptions {
  Destination destination;
  /// The content type of every message published.
  std::string content_type = "application/json";
  /// Publishes awaiting their confirm at most.
  std::size_t window = 1000;
  /// After a failed publish: wait this long before relaying again, doubling up to max.
  std::chrono::milliseconds retry_min{100};
  std::chrono::milliseconds retry_max{5'000};
  /// On destruction: how long to wait for confirms still outstanding.
  std::chrono::milliseconds stop_wait{2'000};
  /// When the broker refuses the destination's declaration (PRECONDITION_FAILED: it holds it
  /// declared otherwise), what to tell the operator besides the broker's text, e.g. the setting
  /// that would match; called on the relay's thread, must not throw. Null: nothing more.
  std::function<std::string(const messaging::MessagingError& refusal)> refusal_hint{};
};

/// Publishes an outbox's entries (an OutboxStore: the LMDB Outbox, or PgOutboxStore on
/// PostgreSQL), in order, each as a persistent message with its message id
/// (and, when the entry kept a trace, a traceparent header naming a span of its own in that
/// trace), and deletes each entry once the broker confirmed it. A failed publish (nack, timeout,
/// closed) leaves the entry in the outbox; the relay backs off and relays everything left again,
/// from the oldest. On start it relays whatever an earlier run left, so each entry is delivered
/// at least once, across crashes; consumers drop duplicates by message id.
///
/// One thread, which sleeps until a confirm (or failure) arrives or the outbox commits new
/// entries: it publishes with MessagePublisher's callback form and never polls. The outbox and
/// the publisher must outlive the relay; a publish's callback may come after the relay is gone
/// (it then touches only state the callback shares). One relay per outbox. Not copyable or
/// movable.
class Relay {
 public:
  Relay(OutboxStore& outbox, messaging::MessagePublisher& publisher, RelayOptions options);
  /// Stops: waits up to stop_wait for outstanding confirms; entries not confirmed stay.
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  /// Entries confirmed so far; their deletion is queued (OutboxStore::RemoveLater) by then, and
  /// OutboxStore::FlushRemovals waits for it.
  [[nodiscard]] std::uint64_t Confirmed() const noexcept { return confirmed_.load(); }
  /// Publishes that failed so far.
  [[nodiscard]] std::uint64_t Failed() const noexcept { return failed_.load(); }
  /// While the broker refuses the destination's declaration (PRECONDITION_FAILED), "the broker
  /// refuses the declaration of <name>: <its text> (<refusal_hint>)", for a health check;
  /// std::nullopt otherwise. Cleared by the next confirmed publish.
  [[nodiscard]] std::optional<std::string> Refusal() const;

 private:
  struct Shared;  // what the relay thread, the publish callbacks and the outbox listener share

  void Run();
  // Reads up to `room` entries after `cursor` and publishes them; advances `cursor`. True when
  // the read filled `room` (more may wait). Throws what the outbox throws.
  bool PublishNext(std::uint64_t& cursor, std::size_t room, bool& round_failed);
  // Queues the deletion of confirmed entries and counts them.
  void Delete(std::vector<std::uint64_t>& sequences);
  // Records a PRECONDITION_FAILED refusal; returns its hint (empty for none).
  std::string NoteRefusal(const messaging::MessagingError& error);
  void ClearRefusal();

  OutboxStore& outbox_;
  messaging::MessagePublisher& publisher_;
  RelayOptions options_;
  std::atomic<std::uint64_t> confirmed_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::shared_ptr<Shared> shared_;
  mutable std::mutex refusal_mutex_;
  std::optional<std::string> refusal_;
  std::thread thread_;
};

}  // namespace cppblog::outbox

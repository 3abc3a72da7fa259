#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>

#include "cppblog/health/health_registry.hpp"
#include "cppblog/messaging/message.hpp"
#include "cppblog/messaging/message_subscriber.hpp"
#include "cppblog/metrics/registry.hpp"
#include "cppblog/trace/trace_context.hpp"

#include "offer_store.hpp"
#include "settings.hpp"

namespace cppblog::vipservice {

/// The id a message is deduplicated by: its message_id when it has one of at most
/// OfferStore::kMaxMessageIdBytes bytes; otherwise (the Go original sends none) "body-" and
/// a 128-bit hash of the body, which holds readAt to the nanosecond and so tells distinct
/// notifications apart while a redelivery maps to the same id.
[[nodiscard]] std::string DeduplicationId(const messaging::Message& message);

/// The span a handler of `message` runs as (W3C Trace Context): a child of the publisher's span
/// that messaging::TraceContextOf reads from the message's headers, carrying its tracestate on.
/// nullopt when the message has no valid traceparent: it is then handled outside any trace, and
/// its offer records no trace id.
[[nodiscard]] std::optional<trace::TraceContext> HandlerTraceContext(
    const messaging::Message& message);

/// How the consumer waits for an offer store that cannot write (a full disk, a database
/// restarting).
struct StoreRetryOptions {
  /// Delay before the first retry of the store; it doubles after each failed retry.
  std::chrono::milliseconds first_backoff{100};
  std::chrono::milliseconds max_backoff{5'000};
  /// How long one delivery waits for the store before it goes back to its queue (kRequeue, no
  /// retry counted): well below the broker's consumer_timeout (30 min), and short enough that
  /// another instance whose store works gets the message.
  std::chrono::milliseconds max_hold{10'000};
};

/// Whether the offer store takes writes, as the consumer last saw it.
struct StoreWriteStatus {
  bool writable = true;
  std::string error;  // the StoreError's text (names the store) while not writable
  std::chrono::steady_clock::duration failing_for{};
  int waiting_deliveries = 0;  // deliveries held for the store right now
};

/// Turns VIP notifications into offers. Handle is the messaging::Handler of the vip_queue
/// subscription: thread-safe (it runs on several handler threads at once), and the
/// OfferStore must outlive it.
///
/// A store that fails (StoreError) is never the message's fault, so it never dead-letters a
/// message: the delivery is held, unacked, while the store is retried with backoff (the
/// prefetch count bounds how many the broker hands out meanwhile), and goes back to its queue
/// without a retry counted after StoreRetryOptions::max_hold or on Stop. StoreStatus (and so
/// /health) says the store cannot write until a write succeeds again; consuming then resumes
/// by itself. Works with any OfferStore: only StoreError means "transient store failure".
class VipConsumer {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  VipConsumer(
      OfferStore& offers, std::chrono::milliseconds offer_cooldown,
      Clock clock = [] { return std::chrono::system_clock::now(); },
      StoreRetryOptions store_retry = {});
  /// The same, counting each processed notification in cppblog_offers_total{result=
  /// "offered|cooldown|duplicate"} of `metrics` (which must outlive the consumer).
  VipConsumer(OfferStore& offers, std::chrono::milliseconds offer_cooldown,
              metrics::Registry& metrics);

  /// Logs "Got a message: <body>" at info, parses the body and applies the offer rule; an offer
  /// records the trace id of HandlerTraceContext.
  /// kAck when processed (offer, cooldown or duplicate); kRequeue when the store failed for
  /// max_hold or Stop was called while it fails (see the class comment). Throws
  /// messaging::PoisonMessage (the client dead-letters it) for a body that is no VIP
  /// notification, or that the store refuses as invalid (std::invalid_argument).
  messaging::Outcome Handle(const messaging::Message& message);

  /// Handle bound to this object, for MessageSubscriber::SubscribeToQueue.
  [[nodiscard]] messaging::Handler AsHandler();

  /// Changes the cooldown for notifications handled from now on (live refresh). Thread-safe.
  void SetOfferCooldown(std::chrono::milliseconds offer_cooldown) noexcept;

  /// For shutdown, before closing the broker client: deliveries waiting for a failing store go
  /// back to the queue at once (no retry counted), so the drain does not wait for the store.
  /// With a working store, handlers go on processing. Thread-safe.
  void Stop() noexcept;

  /// The store's write health. Thread-safe.
  [[nodiscard]] StoreWriteStatus StoreStatus() const;

 private:
  using SteadyClock = std::chrono::steady_clock;

  // Waits until this delivery may try the store: true to try, false to requeue it.
  bool WaitForStoreTurn(SteadyClock::time_point held_until);
  void StoreFailed(const std::string& error);
  void StoreSucceeded();

  OfferStore& offers_;
  std::array<metrics::Counter*, 3> results_{};  // by ProcessResult; null: not counted
  std::atomic<std::int64_t> offer_cooldown_ms_;
  Clock clock_;
  StoreRetryOptions store_retry_;

  mutable std::mutex store_mutex_;
  std::condition_variable store_changed_;
  bool failing_ = false;
  bool stopping_ = false;
  std::string store_error_;
  SteadyClock::time_point failing_since_{};
  SteadyClock::time_point last_failure_{};
  SteadyClock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_{};
  int waiting_ = 0;
};

/// Registers the check "offer_store_writes": unhealthy (503), with the store's error, while
/// the consumer finds that the store cannot write. `consumer` must outlive `health`'s use.
void AddStoreWriteCheck(health::HealthRegistry& health, const VipConsumer& consumer);

/// Subscribes `consumer` to the queue the settings name (VipQueue(compat_goblog_p9,
/// vip_queue)) with consumer tag "vipservice" and the settings' prefetch. Returns the
/// subscriber's future: it completes once the broker registered the consumer, and fails
/// when the broker refuses the declaration (PRECONDITION_FAILED: a peer declared the queue
/// otherwise). `consumer` must outlive the subscription.
[[nodiscard]] std::future<void> SubscribeVipQueue(messaging::MessageSubscriber& subscriber,
                                                  VipConsumer& consumer, const Settings& settings);

}  // namespace cppblog::vipservice

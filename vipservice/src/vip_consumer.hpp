#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <string>

#include "cppblog/messaging/message.hpp"
#include "cppblog/messaging/message_subscriber.hpp"

#include "offer_store.hpp"
#include "settings.hpp"

namespace cppblog::vip {

/// The id a message is deduplicated by: its message_id when it has one of at most
/// OfferStore::kMaxMessageIdBytes bytes; otherwise (the Go original sends none) "body-" and
/// a 128-bit hash of the body, which holds readAt to the nanosecond and so tells distinct
/// notifications apart while a redelivery maps to the same id.
[[nodiscard]] std::string DeduplicationId(const messaging::Message& message);

/// Turns VIP notifications into offers. Handle is the messaging::Handler of the vip_queue
/// subscription: thread-safe (it runs on several handler threads at once), and the
/// OfferStore must outlive it.
class VipConsumer {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  VipConsumer(
      OfferStore& offers, std::chrono::milliseconds offer_cooldown,
      Clock clock = [] { return std::chrono::system_clock::now(); });

  /// Logs "Got a message: <body>" at info, parses the body and applies the offer rule.
  /// kAck when processed (offer, cooldown or duplicate); kRetry when the store failed.
  /// Throws messaging::PoisonMessage (the client dead-letters it) for a body that is no
  /// VIP notification.
  messaging::Outcome Handle(const messaging::Message& message);

  /// Handle bound to this object, for MessageSubscriber::SubscribeToQueue.
  [[nodiscard]] messaging::Handler AsHandler();

  /// Changes the cooldown for notifications handled from now on (live refresh). Thread-safe.
  void SetOfferCooldown(std::chrono::milliseconds offer_cooldown) noexcept;

 private:
  OfferStore& offers_;
  std::atomic<std::int64_t> offer_cooldown_ms_;
  Clock clock_;
};

/// Subscribes `consumer` to the queue the settings name (VipQueue(compat_goblog_p9,
/// vip_queue)) with consumer tag "vipservice" and the settings' prefetch. Returns the
/// subscriber's future: it completes once the broker registered the consumer, and fails
/// when the broker refuses the declaration (PRECONDITION_FAILED: a peer declared the queue
/// otherwise). `consumer` must outlive the subscription.
[[nodiscard]] std::future<void> SubscribeVipQueue(messaging::MessageSubscriber& subscriber,
                                                  VipConsumer& consumer, const Settings& settings);

}  // namespace cppblog::vip

#include "vip_consumer.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string_view>
#include <utility>

#include <spdlog/spdlog.h>

#include "cppblog/vip/vip_notification.hpp"

namespace cppblog::vip {
namespace {

constexpr std::size_t kMaxLoggedBody = 1024;

std::uint64_t Fnv1a64(std::string_view bytes, std::uint64_t basis) {
  constexpr std::uint64_t kPrime = 0x100000001b3ULL;
  std::uint64_t hash = basis;
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= kPrime;
  }
  return hash;
}

std::string_view Truncated(std::string_view body) { return body.substr(0, kMaxLoggedBody); }

}  // namespace

std::string DeduplicationId(const messaging::Message& message) {
  if (!message.message_id.empty() && message.message_id.size() <= OfferStore::kMaxMessageIdBytes) {
    return message.message_id;
  }
  // Two FNV-1a passes with different offset bases: 128 bits, no crypto needed (not adversarial).
  std::array<char, 40> text{};
  std::snprintf(text.data(), text.size(), "%016llx%016llx",
                static_cast<unsigned long long>(Fnv1a64(message.body, 0xcbf29ce484222325ULL)),
                static_cast<unsigned long long>(Fnv1a64(message.body, 0x84222325cbf29ce4ULL)));
  return "body-" + std::string(text.data(), 32);
}

VipConsumer::VipConsumer(OfferStore& offers, std::chrono::milliseconds offer_cooldown, Clock clock)
    : offers_(offers), offer_cooldown_ms_(offer_cooldown.count()), clock_(std::move(clock)) {}

void VipConsumer::SetOfferCooldown(std::chrono::milliseconds offer_cooldown) noexcept {
  offer_cooldown_ms_.store(offer_cooldown.count(), std::memory_order_relaxed);
}

messaging::Outcome VipConsumer::Handle(const messaging::Message& message) {
  if (message.body.size() > kMaxLoggedBody) {
    spdlog::info("Got a message: {}… ({} bytes)", Truncated(message.body), message.body.size());
  } else {
    spdlog::info("Got a message: {}", message.body);
  }
  // A PoisonMessage leaves here: the client dead-letters the message with its reason.
  const VipNotification notification = ParseVipNotification(message.body);
  const std::string id = DeduplicationId(message);
  try {
    const std::chrono::milliseconds cooldown{offer_cooldown_ms_.load(std::memory_order_relaxed)};
    const auto offered_at = clock_();
    const ProcessResult result = offers_.Process(id, notification, offered_at, cooldown);
    if (spdlog::should_log(spdlog::level::debug)) {
      // From readAt (stamped by the accountservice before its outbox append) and from the call
      // to the store to this commit being synced: bench/vip_end_to_end.sh reads them (same
      // machine, same clock).
      const auto committed_at = clock_();
      const auto micros = [](auto duration) {
        return std::chrono::duration_cast<std::chrono::microseconds>(duration).count();
      };
      spdlog::debug(
          "VIP notification processed: account_id={} message_id={} result={} "
          "read_to_committed_us={} commit_us={}",
          notification.account_id, id, ToString(result),
          micros(committed_at - notification.read_at), micros(committed_at - offered_at));
    }
    return messaging::Outcome::kAck;
  } catch (const StoreError& e) {
    spdlog::warn("VIP notification not processed, will retry: message_id={} error={}", id,
                 e.what());
    return messaging::Outcome::kRetry;
  }
}

messaging::Handler VipConsumer::AsHandler() {
  return [this](const messaging::Message& message) { return Handle(message); };
}

std::future<void> SubscribeVipQueue(messaging::MessageSubscriber& subscriber, VipConsumer& consumer,
                                    const Settings& settings) {
  return subscriber.SubscribeToQueue(
      VipQueue(settings.compat_goblog_p9, settings.vip_queue, settings.vip_queue_type),
      consumer.AsHandler(), {.consumer_tag = kServiceName, .prefetch = settings.prefetch});
}

}  // namespace cppblog::vip

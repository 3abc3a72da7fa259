#include "vip_consumer.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string_view>
#include <utility>

#include <spdlog/spdlog.h>

#include "cppblog/logging/logging.hpp"
#include "cppblog/messaging/message_trace.hpp"
#include "cppblog/trace/trace_context.hpp"
#include "cppblog/vip/vip_notification.hpp"

namespace cppblog::vipservice {
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

std::optional<trace::TraceContext> HandlerTraceContext(const messaging::Message& message) {
  const auto parent = messaging::TraceContextOf(message);
  if (!parent) return std::nullopt;
  return trace::ChildOf(*parent);
}

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

VipConsumer::VipConsumer(OfferStore& offers, std::chrono::milliseconds offer_cooldown, Clock clock,
                         StoreRetryOptions store_retry)
    : offers_(offers),
      offer_cooldown_ms_(offer_cooldown.count()),
      clock_(std::move(clock)),
      store_retry_(store_retry) {}

VipConsumer::VipConsumer(OfferStore& offers, std::chrono::milliseconds offer_cooldown,
                         metrics::Registry& metrics)
    : VipConsumer(offers, offer_cooldown) {
  for (const ProcessResult result :
       {ProcessResult::kOffered, ProcessResult::kCooldown, ProcessResult::kDuplicate}) {
    results_[static_cast<std::size_t>(result)] = &metrics.AddCounter(
        "cppblog_offers_total", "VIP notifications processed, by what became of them.",
        {{"result", ToString(result)}});
  }
}

void VipConsumer::SetOfferCooldown(std::chrono::milliseconds offer_cooldown) noexcept {
  offer_cooldown_ms_.store(offer_cooldown.count(), std::memory_order_relaxed);
}

messaging::Outcome VipConsumer::Handle(const messaging::Message& message) {
  // A message that carries a W3C traceparent is handled as a span of that trace: the lines
  // logged for it carry its ids as the fields trace_id and span_id (the messaging client has
  // set message_id and queue around this call).
  // One span for both: the log fields and the trace id the offer records.
  const std::optional<trace::TraceContext> span = HandlerTraceContext(message);
  const std::string trace_id = span ? trace::TraceIdHex(*span) : std::string{};
  const std::string span_id = span ? trace::SpanIdHex(*span) : std::string{};
  const logging::ScopedFields trace_fields({.trace_id = trace_id, .span_id = span_id});
  if (message.body.size() > kMaxLoggedBody) {
    spdlog::info("Got a message: {}… ({} bytes)", Truncated(message.body), message.body.size());
  } else {
    spdlog::info("Got a message: {}", message.body);
  }
  // A PoisonMessage leaves here: the client dead-letters the message with its reason.
  const vip::VipNotification notification = vip::ParseVipNotification(message.body);
  const std::string id = DeduplicationId(message);
  // From here on message_id is the id the store deduplicates by: the AMQP message id, or
  // body-<hash> when it has none (or one too long).
  const logging::ScopedFields notification_fields(
      {.message_id = id, .account_id = notification.account_id});
  const auto held_until = SteadyClock::now() + store_retry_.max_hold;
  while (WaitForStoreTurn(held_until)) {
    try {
      const std::chrono::milliseconds cooldown{offer_cooldown_ms_.load(std::memory_order_relaxed)};
      const auto offered_at = clock_();
      const ProcessResult result =
          offers_.Process(id, notification, offered_at, cooldown, trace_id);
      StoreSucceeded();
      if (metrics::Counter* counter = results_[static_cast<std::size_t>(result)]) {
        counter->Increment();
      }
      if (spdlog::should_log(spdlog::level::debug)) {
        // A latency line (docs/operations.md, "Latency lines"): from readAt (stamped by the
        // accountservice before its outbox append) and from the call to the store to this
        // commit being synced.
        const auto committed_at = clock_();
        const auto micros = [](auto duration) {
          return std::chrono::duration_cast<std::chrono::microseconds>(duration).count();
        };
        spdlog::debug("VIP notification processed: result={} read_to_committed_us={} commit_us={}",
                      ToString(result), micros(committed_at - notification.read_at),
                      micros(committed_at - offered_at));
      }
      return messaging::Outcome::kAck;
    } catch (const StoreError& e) {
      StoreFailed(e.what());
    } catch (const std::invalid_argument& e) {
      // The store will never take it: as unprocessable as an unparseable body.
      throw messaging::PoisonMessage(e.what());
    }
  }
  spdlog::debug("VIP notification back to the queue while the store cannot write");
  return messaging::Outcome::kRequeue;
}

bool VipConsumer::WaitForStoreTurn(SteadyClock::time_point held_until) {
  std::unique_lock lock{store_mutex_};
  ++waiting_;
  bool go = false;
  for (;;) {
    const auto now = SteadyClock::now();
    if (!failing_ || now >= next_attempt_) {
      // Stopping with a working store: process, the drain waits for it.
      go = !(failing_ && stopping_);
      break;
    }
    if (stopping_ || now >= held_until) break;
    store_changed_.wait_until(lock, std::min(next_attempt_, held_until));
  }
  --waiting_;
  return go;
}

void VipConsumer::StoreFailed(const std::string& error) {
  const auto now = SteadyClock::now();
  const std::lock_guard lock{store_mutex_};
  last_failure_ = now;
  if (!failing_) {
    failing_ = true;
    failing_since_ = now;
    backoff_ = store_retry_.first_backoff;
    next_attempt_ = now + backoff_;
    store_error_ = error;
    spdlog::error(
        "the offer store cannot write: {}; holding deliveries and retrying it (every {} ms at "
        "most), none is dead-lettered for this; /health answers 503 until it writes again",
        error, store_retry_.max_backoff.count());
    return;
  }
  // Concurrent deliveries that tried in one round back off once.
  if (now >= next_attempt_) {
    backoff_ = std::min(backoff_ * 2, store_retry_.max_backoff);
    next_attempt_ = now + backoff_;
  }
  if (error != store_error_) {
    store_error_ = error;
    spdlog::error("the offer store still cannot write: {}", error);
  }
}

void VipConsumer::StoreSucceeded() {
  {
    const std::lock_guard lock{store_mutex_};
    if (!failing_) return;
    failing_ = false;
    spdlog::info(
        "the offer store writes again, after {} s; consuming goes on",
        std::chrono::duration_cast<std::chrono::seconds>(SteadyClock::now() - failing_since_)
            .count());
  }
  store_changed_.notify_all();
}

void VipConsumer::Stop() noexcept {
  {
    const std::lock_guard lock{store_mutex_};
    stopping_ = true;
  }
  store_changed_.notify_all();
}

StoreWriteStatus VipConsumer::StoreStatus() const {
  const std::lock_guard lock{store_mutex_};
  const auto now = SteadyClock::now();
  // No delivery has tried the store for longer than a hold (another instance took them all):
  // its state is unknown again, and the next delivery tries it at once.
  const bool stale = waiting_ == 0 && now - last_failure_ > store_retry_.max_hold;
  if (!failing_ || stale) return {};
  return {.writable = false,
          .error = store_error_,
          .failing_for = now - failing_since_,
          .waiting_deliveries = waiting_};
}

void AddStoreWriteCheck(health::HealthRegistry& health, const VipConsumer& consumer) {
  health.Add(
      "offer_store_writes", health::HealthRegistry::Check{[&consumer] {
        const StoreWriteStatus status = consumer.StoreStatus();
        if (status.writable) return health::CheckResult{};
        return health::CheckResult{
            .healthy = false,
            .detail =
                status.error + " (for " +
                std::to_string(
                    std::chrono::duration_cast<std::chrono::seconds>(status.failing_for).count()) +
                " s; " + std::to_string(status.waiting_deliveries) +
                " deliveries held and retried, none dead-lettered)"};
      }});
}

messaging::Handler VipConsumer::AsHandler() {
  return [this](const messaging::Message& message) { return Handle(message); };
}

std::future<void> SubscribeVipQueue(messaging::MessageSubscriber& subscriber, VipConsumer& consumer,
                                    const Settings& settings) {
  return subscriber.SubscribeToQueue(
      vip::VipQueue(settings.compat_goblog_p9, settings.vip_queue, settings.vip_queue_type),
      consumer.AsHandler(), {.consumer_tag = kServiceName, .prefetch = settings.prefetch});
}

}  // namespace cppblog::vipservice

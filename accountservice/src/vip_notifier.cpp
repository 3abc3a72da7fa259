#include "vip_notifier.hpp"

#include <cstdint>
#include <exception>
#include <random>
#include <utility>

#include <spdlog/spdlog.h>

#include "cppblog/logging/logging.hpp"
#include "cppblog/trace/trace_context.hpp"
#include "cppblog/vip/vip_notification.hpp"

namespace cppblog::account {

std::string NewMessageId() {
  // One generator per thread, seeded from the OS: no lock on the VIP read path.
  thread_local std::mt19937_64 generator{[] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), device(), device()};
    return std::mt19937_64{seed};
  }()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    std::uint64_t bits = generator();
    for (int i = 0; i < 16; ++i) {
      id[static_cast<std::size_t>(half * 16 + i)] = kHex[bits & 0xF];
      bits >>= 4;
    }
  }
  return id;
}

VipNotifier::VipNotifier(outbox::Outbox& outbox, const std::vector<std::string>& vip_accounts,
                         Clock clock)
    : outbox_(outbox),
      vip_accounts_(std::make_shared<const AccountSet>(vip_accounts.begin(), vip_accounts.end())),
      clock_(std::move(clock)) {}

bool VipNotifier::IsVip(std::string_view account_id) const {
  const auto accounts = vip_accounts_.load(std::memory_order_acquire);
  if (accounts->empty()) return false;
  return accounts->contains(std::string(account_id));
}

void VipNotifier::SetVipAccounts(const std::vector<std::string>& vip_accounts) {
  vip_accounts_.store(std::make_shared<const AccountSet>(vip_accounts.begin(), vip_accounts.end()),
                      std::memory_order_release);
}

bool VipNotifier::OnAccountReadAsync(std::string_view account_id, Recorded recorded) {
  return OnAccountReadAsync(account_id, std::string{}, std::move(recorded));
}

bool VipNotifier::OnAccountReadAsync(std::string_view account_id, std::string traceparent,
                                     Recorded recorded) {
  return OnAccountReadAsync(account_id, std::move(traceparent), std::string{}, std::move(recorded));
}

bool VipNotifier::OnAccountReadAsync(std::string_view account_id, std::string traceparent,
                                     std::string tracestate, Recorded recorded) {
  if (!IsVip(account_id)) return false;
  const auto read_at = clock_();
  std::string message_id = NewMessageId();
  std::string body = NotificationFor(account_id, read_at);
  // At debug, a copy of the clock goes with the callback, which may run after this notifier
  // is gone (the outbox completes what is queued when it closes).
  Clock answered_clock = spdlog::should_log(spdlog::level::debug) ? clock_ : Clock{};
  std::string logged_traceparent = traceparent;
  outbox_.AppendAsync(
      {.message_id = message_id,
       .body = std::move(body),
       .traceparent = std::move(traceparent),
       .tracestate = std::move(tracestate)},
      [recorded = std::move(recorded), answered_clock = std::move(answered_clock), message_id,
       read_at, account_id = std::string(account_id),
       traceparent = std::move(logged_traceparent)](std::exception_ptr error, std::uint64_t) {
        // On the outbox's thread: what is logged for this read (here and by `recorded`) names
        // its span, its notification and its account.
        const trace::TraceparentIds ids = trace::IdsOf(traceparent);
        const logging::ScopedFields log_fields({.trace_id = ids.trace_id,
                                                .span_id = ids.span_id,
                                                .message_id = message_id,
                                                .account_id = account_id});
        const bool stored = error == nullptr;
        recorded(std::move(error));
        // A latency line (docs/operations.md, "Latency lines"): from readAt to the answer,
        // joined by message id with the vipservice's read_to_committed_us (same clock) it
        // gives "request answered -> offer stored" per notification.
        if (stored && answered_clock) {
          spdlog::debug(
              "VIP read answered: read_to_answered_us={}",
              std::chrono::duration_cast<std::chrono::microseconds>(answered_clock() - read_at)
                  .count());
        }
      });
  return true;
}

std::string VipNotifier::NotificationFor(std::string_view account_id,
                                         std::chrono::system_clock::time_point read_at) {
  return vip::ToJson(
      vip::VipNotification{.account_id = std::string(account_id), .read_at = read_at});
}

outbox::RelayOptions VipRelayOptions(messaging::QueueSpec vip_queue) {
  return {.destination = std::move(vip_queue),
          .content_type = "application/json",
          .refusal_hint = [](const messaging::MessagingError& refusal) {
            return vip::VipQueueMismatchHint(refusal.what());
          }};
}

std::optional<std::chrono::system_clock::time_point> VipReadAt(const outbox::OutboxEntry& entry) {
  try {
    return vip::ParseVipNotification(entry.body).read_at;
  } catch (const std::exception&) {  // not ours: no age to show
    return std::nullopt;
  }
}

}  // namespace cppblog::account

#pragma once

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "cppblog/messaging/topology.hpp"
#include "cppblog/outbox/outbox.hpp"
#include "cppblog/outbox/relay.hpp"

namespace cppblog::account {

/// Decides whether a read account is a VIP (the `vip_accounts` setting) and, when it is,
/// records the contract's VIP notification in the outbox, durably, before the read is
/// answered. Thread-safe. The outbox must outlive the notifier.
class VipNotifier {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  VipNotifier(
      outbox::Outbox& outbox, const std::vector<std::string>& vip_accounts,
      Clock clock = [] { return std::chrono::system_clock::now(); });

  [[nodiscard]] bool IsVip(std::string_view account_id) const;

  /// Replaces the VIP accounts (live refresh of `vip_accounts`). Reads already deciding keep
  /// the old list; every later read sees the new one. Thread-safe.
  void SetVipAccounts(const std::vector<std::string>& vip_accounts);

  /// Called once a VIP read's notification is durable (`error` null) or could not be stored
  /// (`error` holds a StoreError). Runs on the outbox's writer thread; must not throw or block.
  using Recorded = std::function<void(std::exception_ptr error)>;

  /// When the account is a VIP: queues {"accountId":…,"readAt":<now>} with a fresh message id
  /// in the outbox and returns true; `recorded` is called later, once, when the entry is
  /// durable or could not be stored. Otherwise does nothing, returns false and never calls it.
  /// At log level debug, logs each stored one after `recorded` returned: the latency line
  /// `VIP read answered: read_to_answered_us=…` (docs/operations.md, "Latency lines").
  bool OnAccountReadAsync(std::string_view account_id, Recorded recorded);
  /// The same, the outbox entry keeping `traceparent` (the read's span) for the relay.
  bool OnAccountReadAsync(std::string_view account_id, std::string traceparent, Recorded recorded);
  /// The same, the entry keeping the read's `tracestate` too (outbox::OutboxMessage says which
  /// it keeps).
  bool OnAccountReadAsync(std::string_view account_id, std::string traceparent,
                          std::string tracestate, Recorded recorded);

 private:
  // The contract's body for a read at `read_at`.
  [[nodiscard]] static std::string NotificationFor(std::string_view account_id,
                                                   std::chrono::system_clock::time_point read_at);

  outbox::Outbox& outbox_;
  using AccountSet = std::unordered_set<std::string>;
  std::atomic<std::shared_ptr<const AccountSet>> vip_accounts_;
  Clock clock_;
};

/// 128 random bits as 32 lowercase hex digits: a message id no other notification has.
[[nodiscard]] std::string NewMessageId();

/// How the relay publishes VIP notifications: to `vip_queue` (vip::VipQueue), and while the
/// broker refuses its declaration (PRECONDITION_FAILED) with the setting that would match
/// (vip::VipQueueMismatchHint: compat_goblog_p9, vip_queue_type, …) in Relay::Refusal, which
/// /health shows.
[[nodiscard]] outbox::RelayOptions VipRelayOptions(messaging::QueueSpec vip_queue);

/// The readAt of the notification an outbox entry holds (for the outbox's age gauge); nullopt
/// when its body is no VIP notification.
[[nodiscard]] std::optional<std::chrono::system_clock::time_point> VipReadAt(
    const outbox::OutboxEntry& entry);

}  // namespace cppblog::account

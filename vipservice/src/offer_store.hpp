#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cppblog/storage/store_error.hpp"
#include "cppblog/vip/vip_notification.hpp"

namespace cppblog::vipservice {

struct Settings;

/// The store failed (open, read or write), or cannot be reached now: the tree's one store
/// error. Transient: the same call may succeed later (the store reconnects by itself).
using storage::StoreError;

/// An offer made to a VIP account holder, in answer to one notification.
struct Offer {
  std::string account_id;
  std::string message_id;  // of the notification that yielded it
  std::chrono::system_clock::time_point read_at;
  std::chrono::system_clock::time_point offered_at;
  /// The W3C trace id of the notification's message (its traceparent header), 32 lower-case hex
  /// digits; empty when the message carried none (and for offers stored before trace ids were).
  std::string trace_id{};

  friend bool operator==(const Offer&, const Offer&) = default;
};

/// What Process did with a notification.
enum class ProcessResult {
  kOffered,    // a new offer was stored
  kCooldown,   // recorded as processed, no offer: the account got one within the cooldown
  kDuplicate,  // the message id was processed before: nothing changed
};

[[nodiscard]] const char* ToString(ProcessResult result) noexcept;

/// Where the vipservice keeps its offers and the ids of the messages it processed: the role.
/// LmdbOfferStore (one host, embedded) and PgOfferStore (any number of hosts) implement it.
///
/// Thread-safe: any number of threads may call any member at once. Not copyable or movable.
class OfferStore {
 public:
  /// Message ids are 1..kMaxMessageIdBytes bytes (LMDB keys are limited to 511 bytes).
  static constexpr std::size_t kMaxMessageIdBytes = 255;
  /// Account ids are 1..kMaxAccountIdBytes bytes.
  static constexpr std::size_t kMaxAccountIdBytes = vip::kMaxAccountIdBytes;

  OfferStore() = default;
  virtual ~OfferStore() = default;
  OfferStore(const OfferStore&) = delete;
  OfferStore& operator=(const OfferStore&) = delete;

  /// Applies the offer rule to one notification in ONE transaction: when `message_id` was
  /// processed before, nothing changes (kDuplicate); otherwise the id is recorded (processed
  /// at `offered_at`) and, unless the account has an offer whose readAt lies within `cooldown`
  /// of this one's (either side), an offer stamped `offered_at` and recording `trace_id` is
  /// stored (kOffered; else kCooldown). A zero cooldown makes every distinct message an offer.
  /// `trace_id` is the message's W3C trace id as IsTraceId describes it, or empty for none.
  /// Correct when several processes call it on one store at once. Blocks until the transaction
  /// (maybe shared with concurrent calls, each applied in turn) is durable. Throws StoreError
  /// (transient: retry later), and std::invalid_argument for an empty or too long message or
  /// account id, or a trace id that IsTraceId refuses.
  ProcessResult Process(std::string_view message_id, const vip::VipNotification& notification,
                        std::chrono::system_clock::time_point offered_at,
                        std::chrono::milliseconds cooldown, std::string_view trace_id = {}) {
    return ProcessTraced(message_id, notification, offered_at, cooldown, trace_id);
  }

  /// The account's offers, oldest readAt first; empty when it has none. Throws StoreError.
  [[nodiscard]] virtual std::vector<Offer> OffersFor(std::string_view account_id) const = 0;

  /// Throws StoreError when the store cannot be used now; cheap enough for every /health.
  virtual void Ping() const = 0;

  /// Deletes the processed message ids recorded before `cutoff` (retention), in transactions
  /// short enough not to hold up Process for long: its inbox's DeleteProcessedBefore. Returns how
  /// many it deleted. Throws StoreError.
  virtual std::size_t DeleteProcessedBefore(std::chrono::system_clock::time_point cutoff) = 0;

  /// What the store is, for logs and health: "LMDB <path>" or "PostgreSQL <masked URL>".
  [[nodiscard]] virtual std::string Describe() const = 0;

 private:
  // Process, as each store implements it (Process only supplies the default trace id).
  virtual ProcessResult ProcessTraced(std::string_view message_id,
                                      const vip::VipNotification& notification,
                                      std::chrono::system_clock::time_point offered_at,
                                      std::chrono::milliseconds cooldown,
                                      std::string_view trace_id) = 0;
};

/// Whether `text` is a trace id as offers keep it: 32 lower-case hex digits, not all zero (the
/// W3C form; trace::TraceIdHex of a parsed traceparent always is one).
[[nodiscard]] bool IsTraceId(std::string_view text) noexcept;

/// A trace id (IsTraceId) as its 16 bytes, as the stores write it.
[[nodiscard]] std::string TraceIdBytes(std::string_view trace_id);

/// The trace id of 16 stored bytes (lower-case hex); empty for anything else (none stored).
[[nodiscard]] std::string TraceIdFromBytes(std::string_view bytes);

/// The store the settings choose: PostgreSQL when `offer_store_url` is set (its password from
/// `offer_store_password_file` when that is set), else LMDB under `data_dir`. Opens it (connects,
/// creates or migrates the schema). Throws StoreError naming the setting, the place and what to
/// do.
[[nodiscard]] std::unique_ptr<OfferStore> MakeOfferStore(const Settings& settings);

}  // namespace cppblog::vipservice

#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cppblog/storage/lmdb_file_reserve.hpp"
#include "cppblog/vip/vip_notification.hpp"

// LMDB's handles, declared here so that lmdb.h stays out of this header.
struct MDB_env;
struct MDB_txn;

namespace cppblog::vip {

/// The store failed (open, read or write). The message names the store's path, the
/// operation and LMDB's error.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An offer made to a VIP account holder, in answer to one notification.
struct Offer {
  std::string account_id;
  std::string message_id;  // of the notification that yielded it
  std::chrono::system_clock::time_point read_at;
  std::chrono::system_clock::time_point offered_at;

  friend bool operator==(const Offer&, const Offer&) = default;
};

/// What Process did with a notification.
enum class ProcessResult {
  kOffered,    // a new offer was stored
  kCooldown,   // recorded as processed, no offer: the account got one within the cooldown
  kDuplicate,  // the message id was processed before: nothing changed
};

[[nodiscard]] const char* ToString(ProcessResult result) noexcept;

/// The vipservice's own store: an LMDB environment under `data_dir` (created when missing)
/// with two named databases, "offers" (by account, then readAt) and "processed" (message ids).
/// Every commit is synced to disk before Process returns, so a message acked after Process
/// is never processed again, even after a crash. Concurrent Process calls share one
/// transaction and one sync (group commit): a sync costs milliseconds, and the handler
/// threads would otherwise queue behind each other's.
///
/// Thread-safe: any number of threads may call any member at once (LMDB serialises writers;
/// readers never block). Not copyable or movable.
class OfferStore {
 public:
  /// Message ids are 1..kMaxMessageIdBytes bytes (LMDB keys are limited to 511 bytes).
  static constexpr std::size_t kMaxMessageIdBytes = 255;

  /// Opens (or creates) the store. Throws StoreError.
  explicit OfferStore(std::filesystem::path data_dir);
  ~OfferStore();
  OfferStore(const OfferStore&) = delete;
  OfferStore& operator=(const OfferStore&) = delete;

  /// Applies the offer rule to one notification in ONE write transaction: when `message_id`
  /// was processed before, nothing changes (kDuplicate); otherwise the id is recorded and,
  /// unless the account has an offer whose readAt lies within `cooldown` of this one's
  /// (either side), an offer stamped `offered_at` is stored (kOffered; else kCooldown).
  /// A zero cooldown makes every distinct message an offer. Blocks until the transaction
  /// (maybe shared with concurrent calls, each applied in turn) is synced. Throws StoreError, and
  /// std::invalid_argument for an empty or too long message id.
  ProcessResult Process(std::string_view message_id, const VipNotification& notification,
                        std::chrono::system_clock::time_point offered_at,
                        std::chrono::milliseconds cooldown);

  /// The account's offers, oldest readAt first; empty when it has none. Throws StoreError.
  [[nodiscard]] std::vector<Offer> OffersFor(std::string_view account_id) const;

  /// Counts, for health and tests. Throw StoreError.
  [[nodiscard]] std::size_t CountOffers() const;
  [[nodiscard]] std::size_t CountProcessed() const;

  [[nodiscard]] const std::filesystem::path& Path() const noexcept { return path_; }

 private:
  struct Pending;

  [[noreturn]] void Fail(std::string_view operation, int rc) const;
  // The leader's commit: takes the writer lock, then every request queued by then, and
  // commits them in one transaction; returns them (each with its result or error).
  std::vector<Pending*> CommitQueued() noexcept;
  [[nodiscard]] ProcessResult Apply(MDB_txn* txn, const Pending& request) const;
  [[nodiscard]] std::size_t Count(unsigned dbi, std::string_view name) const;

  std::filesystem::path path_;
  storage::LmdbFileReserve reserve_;  // used inside write transactions, which LMDB serialises
  MDB_env* env_ = nullptr;
  unsigned offers_dbi_ = 0;
  unsigned processed_dbi_ = 0;

  // Group commit: callers queue here; one of them (the leader) commits all that are queued.
  std::mutex commit_mutex_;
  std::condition_variable commit_done_;
  std::vector<Pending*> queued_;
  bool committing_ = false;
};

}  // namespace cppblog::vip

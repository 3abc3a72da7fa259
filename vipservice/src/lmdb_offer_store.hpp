#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "cppblog/inbox/lmdb_inbox.hpp"
#include "cppblog/storage/lmdb.hpp"
#include "cppblog/storage/lmdb_file_reserve.hpp"

#include "group_commit.hpp"
#include "offer_store.hpp"

namespace cppblog::vipservice {

/// The vipservice's offer store on one host: an LMDB environment under `data_dir` (created when
/// missing) with two named databases, "offers" (by account, then readAt) and "processed", the
/// inbox (inbox::LmdbInbox: message ids, each with the time it was processed at, then 'o' for an
/// offer made or 'c' for none in the cooldown). An offer's value is its offered_at (8 bytes);
/// from version 2 on, followed by the version byte 2 and the trace id's 16 bytes when it has
/// one. Values of version 1 (offered_at alone) read as offers without a trace id; a version
/// after 2 keeps offered_at first, so a reader of this version still reads that. Every commit
/// is synced to disk before Process returns, so a message acked after Process is never
/// processed again, even after a crash.
/// Concurrent Process calls share one transaction and one sync (group commit): a sync costs
/// milliseconds, and the handler threads would otherwise queue behind each other's.
///
/// Thread-safe: any number of threads may call any member at once (LMDB serialises writers;
/// readers never block). Not copyable or movable.
class LmdbOfferStore final : public OfferStore {
 public:
  /// Opens (or creates) the store. Throws StoreError.
  explicit LmdbOfferStore(std::filesystem::path data_dir);
  ~LmdbOfferStore() override = default;
  LmdbOfferStore(const LmdbOfferStore&) = delete;
  LmdbOfferStore& operator=(const LmdbOfferStore&) = delete;

  /// The account's offers, oldest readAt first; empty when it has none. Throws StoreError.
  [[nodiscard]] std::vector<Offer> OffersFor(std::string_view account_id) const override;

  /// Opens a read transaction. Throws StoreError.
  void Ping() const override;

  /// The inbox's (LmdbInbox::DeleteProcessedBefore): a chunk per write transaction.
  std::size_t DeleteProcessedBefore(std::chrono::system_clock::time_point cutoff) override;

  [[nodiscard]] std::string Describe() const override { return "LMDB " + Path().string(); }

  [[nodiscard]] const std::filesystem::path& Path() const noexcept { return env_.Path(); }

  /// The environment, its "offers" database and the inbox, for reading the store directly (tools,
  /// tests): not for writing, which Process alone does.
  [[nodiscard]] const storage::LmdbEnvironment& Environment() const noexcept { return env_; }
  [[nodiscard]] const storage::LmdbDatabase& OffersDatabase() const noexcept { return offers_; }
  [[nodiscard]] const inbox::LmdbInbox& Inbox() const noexcept { return inbox_; }

 private:
  // Process (OfferStore): the group commit, with CommitQueued.
  ProcessResult ProcessTraced(std::string_view message_id, const vip::VipNotification& notification,
                              std::chrono::system_clock::time_point offered_at,
                              std::chrono::milliseconds cooldown,
                              std::string_view trace_id) override;
  // The leader's commit: takes the writer lock, then every request queued by then, and
  // commits them in one transaction; returns them (each with its result or error).
  std::vector<OfferRequest*> CommitQueued() noexcept;
  [[nodiscard]] ProcessResult Apply(storage::LmdbTransaction& txn,
                                    const OfferRequest& request) const;

  storage::LmdbEnvironment env_;
  storage::LmdbFileReserve reserve_;  // used inside write transactions, which LMDB serialises
  storage::LmdbDatabase offers_;
  inbox::LmdbInbox inbox_;

  GroupCommit group_commit_;
};

}  // namespace cppblog::vipservice

#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "cppblog/storage/lmdb_file_reserve.hpp"

#include "group_commit.hpp"
#include "offer_store.hpp"

// LMDB's handles, declared here so that lmdb.h stays out of this header.
struct MDB_env;
struct MDB_txn;

namespace cppblog::vip {

/// The vipservice's offer store on one host: an LMDB environment under `data_dir` (created when
/// missing) with two named databases, "offers" (by account, then readAt) and "processed" (message
/// ids, each with the time it was processed at). An offer's value is its offered_at (8 bytes);
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
  ~LmdbOfferStore() override;
  LmdbOfferStore(const LmdbOfferStore&) = delete;
  LmdbOfferStore& operator=(const LmdbOfferStore&) = delete;

  /// The account's offers, oldest readAt first; empty when it has none. Throws StoreError.
  [[nodiscard]] std::vector<Offer> OffersFor(std::string_view account_id) const override;

  /// Counts, for health and tests. Throw StoreError.
  [[nodiscard]] std::size_t CountOffers() const override;
  [[nodiscard]] std::size_t CountProcessed() const override;

  /// Opens a read transaction. Throws StoreError.
  void Ping() const override;

  /// Scans the processed ids a chunk per write transaction. An id stored without its time (none
  /// are written so) is kept.
  std::size_t DeleteProcessedBefore(std::chrono::system_clock::time_point cutoff) override;

  [[nodiscard]] std::string Describe() const override { return "LMDB " + path_.string(); }

  [[nodiscard]] const std::filesystem::path& Path() const noexcept { return path_; }

 private:
  [[noreturn]] void Fail(std::string_view operation, int rc) const;
  // Process (OfferStore): the group commit, with CommitQueued.
  ProcessResult ProcessTraced(std::string_view message_id, const VipNotification& notification,
                              std::chrono::system_clock::time_point offered_at,
                              std::chrono::milliseconds cooldown,
                              std::string_view trace_id) override;
  // The leader's commit: takes the writer lock, then every request queued by then, and
  // commits them in one transaction; returns them (each with its result or error).
  std::vector<OfferRequest*> CommitQueued() noexcept;
  [[nodiscard]] ProcessResult Apply(MDB_txn* txn, const OfferRequest& request) const;
  [[nodiscard]] std::size_t Count(unsigned dbi, std::string_view name) const;

  std::filesystem::path path_;
  storage::LmdbFileReserve reserve_;  // used inside write transactions, which LMDB serialises
  MDB_env* env_ = nullptr;
  unsigned offers_dbi_ = 0;
  unsigned processed_dbi_ = 0;

  GroupCommit group_commit_;
};

}  // namespace cppblog::vip

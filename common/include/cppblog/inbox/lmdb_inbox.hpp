#pragma once

#include <chrono>
#include <cstddef>
#include <string_view>

#include "cppblog/storage/lmdb.hpp"

namespace cppblog::inbox {

/// The inbox of an idempotent consumer on LMDB: the ids of the messages it processed, recorded in
/// the same transaction as the handler's effect, so that a message redelivered (after a crash
/// before its ack, a requeue, a second delivery of a publisher's retry) changes nothing. One
/// named database of the caller's environment; each id's value is the time it was processed (8
/// bytes, nanoseconds since the epoch, big-endian with the sign bit flipped), then whatever detail
/// the caller gave (never read by the inbox).
///
/// How to use it, per message:
///
///     auto txn = storage::LmdbTransaction::Write(env);
///     if (inbox.Record(txn, message.message_id, now)) {
///       ... write the effect in txn ...
///     }                       // false: seen before; the effect is skipped
///     txn.Commit();           // the id and the effect, or neither
///
/// Ids recorded longer ago than a retention are deleted by DeleteProcessedBefore (see
/// ProcessedIdRetention); a message redelivered after its id was deleted is processed again.
///
/// Thread-safe: any number of threads may call any member at once (LMDB serialises writers). The
/// environment must outlive the inbox. Not copyable or movable.
class LmdbInbox {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  /// Message ids are 1 to this many bytes (LMDB's key limit).
  static constexpr std::size_t kMaxMessageIdBytes = storage::kMaxLmdbKeyBytes;

  /// Opens (creating it when missing) the database `database` of `env`, in a write transaction of
  /// its own. Throws StoreError.
  explicit LmdbInbox(storage::LmdbEnvironment& env, std::string_view database = "processed");
  LmdbInbox(const LmdbInbox&) = delete;
  LmdbInbox& operator=(const LmdbInbox&) = delete;

  /// Records `message_id` as processed at `at` in `txn` (a write transaction of the inbox's
  /// environment), with `detail` stored after the time. Returns true when the id is new: it is
  /// recorded in `txn`, and the caller writes its effect in `txn` and commits both (an abort
  /// records nothing). Returns false when the id was recorded before (committed, or earlier in
  /// `txn`): nothing is written, and the caller skips its effect. Throws StoreError, and
  /// std::invalid_argument for an empty id or one over kMaxMessageIdBytes.
  [[nodiscard]] bool Record(storage::LmdbTransaction& txn, std::string_view message_id,
                            TimePoint at, std::string_view detail = {}) const;

  /// Deletes the ids recorded before `cutoff` (retention), scanning 4,096 ids per write
  /// transaction so that Record's callers never wait long for LMDB's writer lock. An id stored
  /// without a time (none is written so) is kept. Returns how many it deleted. Throws StoreError.
  std::size_t DeleteProcessedBefore(TimePoint cutoff);

  /// How many ids are recorded (a read transaction of its own). Throws StoreError.
  [[nodiscard]] std::size_t Count() const;

  [[nodiscard]] const storage::LmdbDatabase& Database() const noexcept { return db_; }

 private:
  storage::LmdbEnvironment& env_;
  storage::LmdbDatabase db_;
};

}  // namespace cppblog::inbox

#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "cppblog/metrics/registry.hpp"
#include "cppblog/outbox/outbox_store.hpp"
#include "cppblog/storage/lmdb.hpp"
#include "cppblog/storage/lmdb_file_reserve.hpp"
#include "cppblog/storage/store_error.hpp"

namespace cppblog::outbox {

struct OutboxOptions {
  /// The named LMDB database of the environment that holds the entries (created when missing).
  std::string database = "outbox";
  /// How long deletions wait for an append's commit to ride in (RemoveLater).
  std::chrono::milliseconds removal_delay{50};
  /// With a registry, each group commit is timed in cppblog_outbox_commit_duration_seconds and
  /// its appended entries counted in cppblog_outbox_commit_entries (histograms); the registry
  /// must outlive the outbox.
  metrics::Registry* metrics = nullptr;
};

/// A transactional outbox: messages to publish, kept in a named database of an LMDB environment
/// the application already has (its own state beside it), until a Relay has published them and
/// the broker confirmed each. Two ways in:
///
///  * Append(txn, message): inside the application's own write transaction, so that its state
///    change and the message are committed together or not at all. The relay hears of the entry
///    only once that transaction commits (LmdbTransaction::AfterCommit).
///  * AppendAsync(message, done): for code with no transaction of its own. Appends are
///    group-committed: one writer thread writes every queued entry in one transaction and one
///    sync, then completes them all; `done` runs once the entry is durable.
///
/// Sequences: each entry's key is its sequence, a big-endian 64-bit number. Inside every write
/// transaction that appends (the writer's or a caller's; LMDB runs one at a time) the next is one
/// more than the greater of the database's last key and the highest sequence this outbox handed
/// out, so sequences increase in commit order across both ways in, stay unique, and never go
/// back after the relay emptied the database (its read position would skip them). An aborted
/// transaction leaves a gap, nothing else. One Outbox object per database and process.
///
/// The value has one of three forms (US is 0x1f): message id NUL body; message id US traceparent
/// NUL body; message id US traceparent US tracestate NUL body. The shortest that holds the entry
/// is written, and every form is read.
///
/// The embedded OutboxStore: a Relay publishes from it. Thread-safe. The environment must outlive
/// the outbox. Not copyable or movable.
class Outbox final : public OutboxStore {
 public:
  /// How an append ends: `error` null and the entry's `sequence`, once it is committed and
  /// synced; or `error` (a storage::StoreError) and sequence 0. Must not throw.
  using AppendCallback = std::function<void(std::exception_ptr error, std::uint64_t sequence)>;

  static constexpr std::chrono::milliseconds kDefaultRemovalDelay{50};
  static constexpr std::chrono::milliseconds kMaxProbeBackoff{5'000};

  /// Opens (or creates) the database and starts the writer thread. Throws storage::StoreError.
  explicit Outbox(storage::LmdbEnvironment& env, OutboxOptions options = {});
  /// Writes what is still queued (completing it), then stops the writer.
  ~Outbox() override;
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  /// Writes `message` in `txn`, a write transaction of the outbox's environment that the caller
  /// commits: the entry is durable exactly when the caller's other writes are. Returns its
  /// sequence (meaningful once committed). After the commit (from LmdbTransaction::AfterCommit,
  /// on the committing thread) LastSequence moves and the append listener, the relay, is woken;
  /// an aborted transaction leaves nothing. The outbox must outlive `txn`. Must not be called while
  /// the caller waits for an AppendAsync (the writer would wait for this transaction). Throws
  /// storage::StoreError (the caller should then abort), std::invalid_argument for a transaction of
  /// another environment or a read one.
  std::uint64_t Append(storage::LmdbTransaction& txn, OutboxMessage message);

  /// Queues an entry and returns at once; `done` is called exactly once, on the writer thread
  /// after the commit that made the entry durable (outside the outbox's lock), or with a
  /// StoreError when the write fails. On a closed outbox `done` gets the error at once, on
  /// the calling thread.
  void AppendAsync(OutboxMessage message, AppendCallback done);

  /// Up to `max` entries with a sequence greater than `after`, in order. Throws StoreError.
  [[nodiscard]] std::vector<OutboxEntry> Read(std::uint64_t after, std::size_t max) const override;

  /// Queues the deletion of the entries (missing ones are ignored) and returns at once. The
  /// writer's next commit of appends takes them, in the same synced transaction; with no append
  /// within the removal delay, or on FlushRemovals, they are committed alone, their pages synced
  /// but not the meta page (LmdbTransaction::Sync::kNoMetaSync), which the next commit or closing
  /// the outbox syncs. A crash may then undo the deletion but cannot leave the store
  /// half-written. A deletion undone, or whose commit fails (logged), leaves its entries: they
  /// are relayed once more, and consumers drop what they have seen. Throws StoreError when the
  /// outbox is closed.
  void RemoveLater(std::span<const std::uint64_t> sequences) override;

  /// Commits every deletion queued so far without waiting for an append, and returns once they
  /// are committed (or failed: logged, the entries stay). Throws the StoreError of a failed
  /// commit among those it waited for.
  void FlushRemovals() override;

  /// Number of entries stored. Throws StoreError.
  [[nodiscard]] std::size_t Size() const override;

  /// The highest sequence committed by this outbox, either way in (at open: the last stored).
  [[nodiscard]] std::uint64_t LastSequence() const override;

  /// Waits until an entry with a sequence greater than `after` is committed, at most `timeout`.
  bool WaitForEntriesAfter(std::uint64_t after, std::chrono::milliseconds timeout) const;

  /// `listener` is called after every commit that appended entries (on the writer thread, or on
  /// the thread that committed a caller's transaction), outside the outbox's lock and once they
  /// are readable, with the last sequence committed; it replaces the listener set before, and
  /// null removes it. Returns only after a call of the previous listener in progress has
  /// returned. The listener must not throw, block or call SetAppendListener.
  void SetAppendListener(std::function<void(std::uint64_t last_sequence)> listener) override;

  /// Whether the writer can commit, as its last commit found.
  struct WriteStatus {
    bool writable = true;
    std::string error;  // the StoreError's text while not writable (names the outbox's path)
    std::chrono::steady_clock::duration failing_for{};
  };

  /// Not writable from a failed commit of the writer (a full disk) until one succeeds again.
  /// While it is not, the writer tries a small commit of its own (an entry written and deleted
  /// at once) with backoff up to kMaxProbeBackoff whenever nothing else is queued, so the outbox
  /// finds that it recovered without waiting for traffic. Thread-safe.
  [[nodiscard]] WriteStatus Status() const;

  /// "<database> in <path>", as the outbox's errors begin.
  [[nodiscard]] std::string Describe() const override;

 private:
  struct Pending {
    OutboxMessage message;
    AppendCallback done;
    std::uint64_t sequence = 0;
  };

  void WriterLoop();
  // Returns the error that failed the whole batch, or null.
  std::exception_ptr WriteBatch(std::deque<Pending>& batch,
                                std::span<const std::uint64_t> removals);
  std::exception_ptr Probe();
  // Inside a write transaction: the first of `count` sequences for new entries (see the class
  // comment). Throws StoreError.
  std::uint64_t NextSequence(storage::LmdbTransaction& txn, std::size_t count);
  void Put(storage::LmdbTransaction& txn, std::uint64_t sequence, const OutboxMessage& message);
  // After a commit that appended up to `last`: LastSequence, waiters and the listener.
  void Committed(std::uint64_t last);
  void RecordCommit(const std::exception_ptr& error);
  void LogRemovalFailure(const std::exception_ptr& error, std::size_t count) const;
  [[nodiscard]] storage::StoreError Closed() const;
  // A StoreError of the wrapper, retold as the outbox's ("<database> in <path>: ...").
  [[nodiscard]] storage::StoreError Retold(const storage::StoreError& error) const;

  storage::LmdbEnvironment& env_;
  OutboxOptions options_;
  storage::LmdbDatabase db_;
  storage::LmdbFileReserve reserve_;               // used inside write transactions only
  metrics::Histogram* commit_duration_ = nullptr;  // null: not measured
  metrics::Histogram* commit_entries_ = nullptr;

  std::mutex sequence_mutex_;     // taken inside write transactions only
  std::uint64_t handed_out_ = 0;  // the highest sequence given to an entry (guarded by it)

  mutable std::mutex mutex_;
  std::condition_variable queued_;             // the writer waits for appends and removals
  mutable std::condition_variable committed_;  // appenders and WaitForEntriesAfter wait here
  std::deque<Pending> queue_;
  std::vector<std::uint64_t> removals_;
  std::uint64_t removal_rounds_started_ = 0;
  std::uint64_t removal_rounds_done_ = 0;
  std::uint64_t failed_removal_round_ = 0;
  std::exception_ptr removal_error_;
  std::uint64_t last_sequence_ = 0;  // committed (guarded by mutex_)
  std::uint64_t commits_ = 0;
  std::uint64_t appended_ = 0;
  std::chrono::steady_clock::duration commit_time_{};
  bool flush_removals_ = false;
  bool unsynced_meta_ = false;  // the last writer commit deleted only; writer only
  bool stopping_ = false;
  std::string write_error_;
  bool write_failing_ = false;
  std::chrono::steady_clock::time_point failing_since_{};
  std::chrono::milliseconds probe_backoff_{0};
  std::mutex listener_mutex_;  // held while the listener runs; never together with mutex_
  std::function<void(std::uint64_t)> append_listener_;
  std::thread writer_;
};

/// When an entry was made, as its body tells (for the age gauge); nullopt when it does not say.
using EntryTime =
    std::function<std::optional<std::chrono::system_clock::time_point>(const OutboxEntry&)>;

/// The outbox's backlog as gauges read at each scrape: cppblog_outbox_entries (entries stored,
/// not yet deleted after their confirm) and, given `entry_time`,
/// cppblog_outbox_oldest_entry_age_seconds (now minus the time of the oldest entry; 0 when empty
/// or when it has none). Registered while it lives; the outbox (LMDB or PostgreSQL) must outlive
/// it.
class OutboxGauges {
 public:
  OutboxGauges(const OutboxStore& outbox, metrics::Registry& metrics,
               EntryTime entry_time = nullptr);

 private:
  metrics::CallbackRegistration entries_;
  metrics::CallbackRegistration oldest_age_;  // empty without an EntryTime
};

}  // namespace cppblog::outbox

#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "cppblog/metrics/registry.hpp"
#include "cppblog/storage/lmdb_file_reserve.hpp"

#include "account_store.hpp"

namespace cppblog::account {

/// One message waiting in the outbox to be published.
struct OutboxEntry {
  std::uint64_t sequence = 0;  // position in the outbox; increases with every append
  std::string message_id;
  std::string body;
  /// The W3C traceparent of the span that appended it (the HTTP request); empty for none.
  std::string traceparent{};
  /// The W3C tracestate that came with it (vendor entries, passed on unchanged); empty for
  /// none, and always when there is no traceparent.
  std::string tracestate{};

  friend bool operator==(const OutboxEntry&, const OutboxEntry&) = default;
};

/// The VIP outbox: the named LMDB database "outbox" in the AccountStore's environment,
/// key = big-endian 64-bit sequence, value in one of three forms (US is 0x1f):
///   1. message id, NUL, body: an entry without a trace (the only form of the first version);
///   2. message id, US, traceparent, NUL, body: with a trace (the second version's);
///   3. message id, US, traceparent, US, tracestate, NUL, body: with a trace and a tracestate.
/// Each version writes the shortest form that holds the entry and reads every earlier form.
/// (A version-2 reader would take form 3's "traceparent US tracestate" for a malformed
/// traceparent, which the relay drops: a downgrade loses the trace, never the entry.)
///
/// Appends are group-committed: they are queued, and one writer thread writes every queued
/// entry in one transaction and one sync, then completes them all. An append completes only
/// once durable: a crash after it completed never loses the entry.
///
/// Thread-safe. The AccountStore must outlive the outbox. Not copyable or movable.
class Outbox {
 public:
  /// How an append ends: `error` null and the entry's `sequence`, once it is committed and
  /// synced; or `error` (a StoreError) and sequence 0. Must not throw.
  using AppendCallback = std::function<void(std::exception_ptr error, std::uint64_t sequence)>;

  /// How long deletions wait for an append to commit them with, by default.
  static constexpr std::chrono::milliseconds kDefaultRemovalDelay{50};

  /// Opens (or creates) the database and starts the writer thread. Deletions wait up to
  /// `removal_delay` for an append's commit (RemoveLater). Throws StoreError.
  /// With `metrics`, each commit is timed in cppblog_outbox_commit_duration_seconds and its
  /// appended entries counted in cppblog_outbox_commit_entries (histograms); the registry must
  /// outlive the outbox.
  explicit Outbox(AccountStore& store,
                  std::chrono::milliseconds removal_delay = kDefaultRemovalDelay,
                  metrics::Registry* metrics = nullptr);
  Outbox(AccountStore& store, metrics::Registry& metrics)
      : Outbox(store, kDefaultRemovalDelay, &metrics) {}
  /// Writes what is still queued (completing it), then stops the writer.
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  /// Queues an entry and returns at once; `done` is called exactly once, on the writer thread
  /// after the commit that made the entry durable (outside the outbox's lock), or with a
  /// StoreError when the write fails. On a closed outbox `done` gets the error at once, on
  /// the calling thread.
  void AppendAsync(std::string message_id, std::string body, AppendCallback done);
  /// The same, keeping `traceparent` (W3C form, without US or NUL) with the entry.
  void AppendAsync(std::string message_id, std::string body, std::string traceparent,
                   AppendCallback done);
  /// The same, keeping `tracestate` too. A tracestate without a traceparent, longer than
  /// trace::kMaxTraceStateBytes, or holding US or NUL (no valid one does) is not kept.
  void AppendAsync(std::string message_id, std::string body, std::string traceparent,
                   std::string tracestate, AppendCallback done);

  /// Up to `max` entries with a sequence greater than `after`, in order. Throws StoreError.
  [[nodiscard]] std::vector<OutboxEntry> Read(std::uint64_t after, std::size_t max) const;

  /// Queues the deletion of the entries (missing ones are ignored) and returns at once: the
  /// relay goes on publishing meanwhile. The writer's next commit of appends takes them, in the
  /// same synced transaction; with no append within the removal delay (50 ms unless the
  /// constructor was given another), or on FlushRemovals, they are
  /// committed alone, their pages synced but not the meta page (MDB_NOMETASYNC), which the
  /// next commit or closing the outbox syncs. A crash may then undo the deletion but cannot
  /// leave the store half-written. A deletion undone, or whose commit fails (logged), leaves
  /// its entries: they are relayed once more, and consumers drop what they have seen. Throws
  /// StoreError when the outbox is closed.
  void RemoveLater(std::span<const std::uint64_t> sequences);

  /// Commits every deletion queued so far without waiting for an append, and returns once they
  /// are committed (or failed: logged, the entries stay). Throws the StoreError of a failed
  /// commit among those it waited for.
  void FlushRemovals();

  /// Number of entries stored. Throws StoreError.
  [[nodiscard]] std::size_t Size() const;

  /// The sequence of the last committed append (0 when none since the outbox was created).
  [[nodiscard]] std::uint64_t LastSequence() const;

  /// Waits until an entry with a sequence greater than `after` is committed, at most
  /// `timeout`. True when there is one.
  bool WaitForEntriesAfter(std::uint64_t after, std::chrono::milliseconds timeout) const;

  /// `listener` is called on the writer thread after every commit that appended entries
  /// (outside the outbox's lock, once they are readable), with the last sequence committed; it
  /// replaces the listener set before, and null removes it. Returns only after a call of the
  /// previous listener in progress has returned, so its owner may then go. The listener must
  /// not throw, block or call SetAppendListener.
  void SetAppendListener(std::function<void(std::uint64_t last_sequence)> listener);

  /// Whether the outbox can commit, as its last commit found.
  struct WriteStatus {
    bool writable = true;
    std::string error;  // the StoreError's text while not writable (names the outbox's path)
    std::chrono::steady_clock::duration failing_for{};
  };

  /// Not writable from a failed commit (a full disk) until one succeeds again. While it is not,
  /// the writer tries a small commit of its own (a probe: an entry written and deleted at once)
  /// with backoff up to `kMaxProbeBackoff` whenever nothing else is queued, so the outbox finds
  /// that it recovered without waiting for traffic. Thread-safe.
  [[nodiscard]] WriteStatus Status() const;

  static constexpr std::chrono::milliseconds kMaxProbeBackoff{5'000};

 private:
  struct Pending {
    std::string message_id;
    std::string body;
    std::string traceparent;
    std::string tracestate;
    AppendCallback done;
    std::uint64_t sequence = 0;
  };

  void WriterLoop();
  // Returns the error that failed the whole batch, or null.
  std::exception_ptr WriteBatch(std::deque<Pending>& batch, std::span<const std::uint64_t> removals,
                                std::uint64_t last_sequence);
  // A commit that writes: an entry put and deleted in one transaction.
  std::exception_ptr Probe();
  // With mutex_ held: records how the last commit went.
  void RecordCommit(const std::exception_ptr& error);
  static void LogRemovalFailure(const std::exception_ptr& error, std::size_t count);
  [[nodiscard]] StoreError Closed() const;
  [[noreturn]] void Fail(std::string_view operation, int rc) const;

  AccountStore& store_;
  MDB_env* env_;
  unsigned dbi_ = 0;
  storage::LmdbFileReserve reserve_;  // used by the writer only
  std::chrono::milliseconds removal_delay_;
  metrics::Histogram* commit_duration_ = nullptr;  // null: not measured
  metrics::Histogram* commit_entries_ = nullptr;

  mutable std::mutex mutex_;
  std::condition_variable queued_;             // the writer waits for appends and removals
  mutable std::condition_variable committed_;  // appenders and WaitForEntriesAfter wait here
  std::deque<Pending> queue_;
  // Removals wait for the writer like appends; a round is one commit that deleted something.
  std::vector<std::uint64_t> removals_;
  std::uint64_t removal_rounds_started_ = 0;
  std::uint64_t removal_rounds_done_ = 0;
  std::uint64_t failed_removal_round_ = 0;
  std::exception_ptr removal_error_;
  std::uint64_t last_sequence_ = 0;  // guarded by mutex_; written only by the writer
  std::uint64_t commits_ = 0;
  std::uint64_t appended_ = 0;
  std::chrono::steady_clock::duration commit_time_{};  // in successful commits, for the log
  bool flush_removals_ = false;  // FlushRemovals waits: commit deletions without an append
  bool unsynced_meta_ = false;   // the last commit deleted only (MDB_NOMETASYNC); writer only
  bool stopping_ = false;
  // The last commit failed with write_error_ (guarded by mutex_).
  std::string write_error_;
  bool write_failing_ = false;
  std::chrono::steady_clock::time_point failing_since_{};
  std::chrono::milliseconds probe_backoff_{0};
  std::mutex listener_mutex_;  // held while the listener runs; never together with mutex_
  std::function<void(std::uint64_t)> append_listener_;
  std::thread writer_;
};

/// The outbox's backlog as gauges read at each scrape: cppblog_outbox_entries (entries stored,
/// not yet deleted after their confirm) and cppblog_outbox_oldest_entry_age_seconds (now minus
/// the readAt of the oldest entry; 0 when empty). Registered while it lives; the outbox must
/// outlive it.
class OutboxGauges {
 public:
  OutboxGauges(const Outbox& outbox, metrics::Registry& metrics);

 private:
  metrics::CallbackRegistration entries_;
  metrics::CallbackRegistration oldest_age_;
};

}  // namespace cppblog::account

#include "cppblog/outbox/outbox.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <utility>

#include <spdlog/spdlog.h>

#include "cppblog/trace/trace_context.hpp"

#include "trace_fields.hpp"

namespace cppblog::outbox {
namespace {

using storage::LmdbTransaction;
using storage::StoreError;
using Key = std::array<char, 8>;

// The longest the writer waits for the appenders of its last commit to come back.
constexpr std::chrono::microseconds kMaxMergeWait{1000};

// Between an entry's message id, its traceparent and its tracestate (ASCII unit separator).
constexpr char kTraceSeparator = '\x1f';

constexpr double kCommitEntriesBuckets[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

Key EncodeKey(std::uint64_t sequence) {
  Key key{};
  for (std::size_t i = 0; i < key.size(); ++i) {
    key[key.size() - 1 - i] = static_cast<char>(static_cast<unsigned char>(sequence >> (8 * i)));
  }
  return key;
}

std::string_view KeyView(const Key& key) { return {key.data(), key.size()}; }

std::uint64_t DecodeKey(std::string_view key) {
  std::uint64_t sequence = 0;
  for (const char byte : key) sequence = (sequence << 8) | static_cast<unsigned char>(byte);
  return sequence;
}

std::string TextOf(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
  }
  return "unknown error";
}

}  // namespace

Outbox::Outbox(storage::LmdbEnvironment& env, OutboxOptions options)
    : env_(env),
      options_(std::move(options)),
      reserve_(options_.database + " in " + env.Path().string()),
      commit_duration_(options_.metrics == nullptr
                           ? nullptr
                           : &options_.metrics->AddHistogram(
                                 "cppblog_outbox_commit_duration_seconds",
                                 "Outbox commits (write and sync), successful ones.")),
      commit_entries_(options_.metrics == nullptr
                          ? nullptr
                          : &options_.metrics->AddHistogram(
                                "cppblog_outbox_commit_entries",
                                "Entries appended per outbox commit (group commit), for commits "
                                "that appended.",
                                {}, kCommitEntriesBuckets)) {
  try {
    db_ = env_.OpenDatabase(options_.database);
    LmdbTransaction txn = LmdbTransaction::Read(env_);
    storage::LmdbCursor cursor{txn, db_};
    if (const auto last = cursor.Last()) last_sequence_ = DecodeKey(last->key);
  } catch (const StoreError& e) {
    throw Retold(e);
  }
  handed_out_ = last_sequence_;
  writer_ = std::thread{[this] { WriterLoop(); }};
}

Outbox::~Outbox() {
  {
    const std::lock_guard lock{mutex_};
    stopping_ = true;
  }
  queued_.notify_all();
  writer_.join();
  // The last commit deleted only, leaving its meta page unsynced: sync it, so that a crash of
  // the machine after a clean stop relays nothing twice.
  if (unsynced_meta_) {
    try {
      env_.SyncToDisk();
    } catch (const StoreError& e) {
      spdlog::warn(
          "{}: cannot sync the last deletions at close: {}; if the machine crashes now, those "
          "messages are relayed once more (consumers drop duplicates by message id)",
          Describe(), e.what());
    }
  }
  // Group commit at a glance: how many appends shared each synced commit.
  spdlog::info("outbox closed: appended={} commits={} commit_ms_avg={:.2f}", appended_, commits_,
               commits_ == 0 ? 0.0
                             : std::chrono::duration<double, std::milli>(commit_time_).count() /
                                   static_cast<double>(commits_));
}

std::string Outbox::Describe() const { return options_.database + " in " + env_.Path().string(); }

StoreError Outbox::Closed() const { return StoreError(Describe() + ": closed"); }

StoreError Outbox::Retold(const StoreError& error) const {
  std::string_view text = error.what();
  const std::string ours = Describe() + ": ";
  if (text.starts_with(ours)) return error;
  // The wrapper's errors begin "<store> <path>: "; the outbox's name the database instead.
  const std::string wrapper = env_.Describe() + ": ";
  if (text.starts_with(wrapper)) text.remove_prefix(wrapper.size());
  return StoreError(ours + std::string(text));
}

std::uint64_t Outbox::NextSequence(LmdbTransaction& txn, std::size_t count) {
  std::uint64_t last = 0;
  {
    storage::LmdbCursor cursor{txn, db_};
    if (const auto entry = cursor.Last()) last = DecodeKey(entry->key);
  }
  const std::lock_guard lock{sequence_mutex_};
  const std::uint64_t top = std::max(last, handed_out_);
  if (top > std::numeric_limits<std::uint64_t>::max() - count) {
    throw StoreError(Describe() + ": no sequence left after " + std::to_string(top) +
                     " (an entry under the highest key was written behind the outbox's back; "
                     "delete it)");
  }
  handed_out_ = top + count;
  return top + 1;
}

void Outbox::Put(LmdbTransaction& txn, std::uint64_t sequence, const OutboxMessage& message) {
  std::string value = message.message_id;
  if (!message.traceparent.empty()) {
    value.push_back(kTraceSeparator);
    value.append(message.traceparent);
    if (!message.tracestate.empty()) {
      value.push_back(kTraceSeparator);
      value.append(message.tracestate);
    }
  }
  value.push_back('\0');
  value.append(message.body);
  const Key key = EncodeKey(sequence);
  txn.Append(db_, KeyView(key), value);
}

std::uint64_t Outbox::Append(LmdbTransaction& txn, OutboxMessage message) {
  if (&txn.Environment() != &env_) {
    throw std::invalid_argument(Describe() + ": Append in a transaction of another environment (" +
                                txn.Environment().Describe() + ")");
  }
  if (!txn.IsWrite() || txn.Get() == nullptr) {
    throw std::invalid_argument(Describe() + ": Append needs a write transaction that is open");
  }
  DropWhatCannotBeKept(message);
  std::uint64_t sequence = 0;
  try {
    sequence = NextSequence(txn, 1);
    Put(txn, sequence, message);
  } catch (const StoreError& e) {
    throw Retold(e);
  }
  txn.AfterCommit([this, sequence] { Committed(sequence); });
  return sequence;
}

void Outbox::AppendAsync(OutboxMessage message, AppendCallback done) {
  DropWhatCannotBeKept(message);
  {
    const std::lock_guard lock{mutex_};
    if (!stopping_) {
      queue_.push_back({.message = std::move(message), .done = std::move(done), .sequence = 0});
      queued_.notify_one();
      return;
    }
  }
  done(std::make_exception_ptr(Closed()), 0);
}

void Outbox::Committed(std::uint64_t last) {
  std::uint64_t appended_up_to = 0;
  {
    const std::lock_guard lock{mutex_};
    last_sequence_ = std::max(last_sequence_, last);
    appended_up_to = last_sequence_;
  }
  committed_.notify_all();
  const std::lock_guard listener_lock{listener_mutex_};
  if (append_listener_) append_listener_(appended_up_to);
}

void Outbox::WriterLoop() {
  using SteadyClock = std::chrono::steady_clock;
  std::unique_lock lock{mutex_};
  std::size_t released = 0;  // appends the last commit completed
  SteadyClock::duration last_commit{};
  for (;;) {
    const auto has_work = [&] { return stopping_ || !queue_.empty() || !removals_.empty(); };
    if (!write_failing_) {
      queued_.wait(lock, has_work);
    } else if (!queued_.wait_for(lock, probe_backoff_, has_work)) {
      // Nothing to write while the last commit failed: find out whether the disk is back.
      lock.unlock();
      const std::exception_ptr error = Probe();
      lock.lock();
      RecordCommit(error);
      if (error) probe_backoff_ = std::min(probe_backoff_ * 2, kMaxProbeBackoff);
      continue;
    }
    if (queue_.empty() && removals_.empty()) return;  // stopping, nothing left
    // Deletions alone are not worth a commit of their own: the next append's commit takes them
    // at no cost. Under steady appends one always comes within milliseconds.
    if (queue_.empty()) {
      queued_.wait_for(lock, options_.removal_delay,
                       [&] { return stopping_ || !queue_.empty() || flush_removals_; });
    }
    flush_removals_ = false;
    // Those the last commit released usually append again at once (a client got its answer
    // and sends the next request). Waiting a moment for them, bounded by half a commit, lets
    // the next commit take them too, instead of two half-size batches taking turns.
    if (released > 1 && queue_.size() < released) {
      const auto wait = std::min<SteadyClock::duration>(last_commit / 2, kMaxMergeWait);
      queued_.wait_for(lock, wait, [&] { return stopping_ || queue_.size() >= released; });
    }
    std::deque<Pending> batch;
    batch.swap(queue_);
    std::vector<std::uint64_t> removals;
    removals.swap(removals_);
    const std::uint64_t removal_round = removals.empty() ? 0 : ++removal_rounds_started_;
    lock.unlock();
    // Everything queued while this batch is written goes into the next one: one sync each.
    const auto started = SteadyClock::now();
    const std::exception_ptr error = WriteBatch(batch, removals);
    unsynced_meta_ = !error && batch.empty();
    const auto took = SteadyClock::now() - started;
    lock.lock();
    const bool was_failing = write_failing_;
    RecordCommit(error);
    released = error ? 0 : batch.size();
    last_commit = took;
    if (!error) {
      if (commit_duration_ != nullptr) {
        commit_duration_->Observe(std::chrono::duration<double>(took).count());
        if (!batch.empty()) commit_entries_->Observe(static_cast<double>(batch.size()));
      }
      commit_time_ += took;
      appended_ += batch.size();
      ++commits_;
    }
    if (removal_round != 0) {
      removal_rounds_done_ = removal_round;
      if (error) {
        failed_removal_round_ = removal_round;
        removal_error_ = error;
        // While the outbox cannot commit (logged once, with its cause), one line per round of
        // deletions would flood the log.
        if (!was_failing) LogRemovalFailure(error, removals.size());
      }
    }
    lock.unlock();
    if (!error && !batch.empty()) {
      Committed(batch.back().sequence);
    } else {
      committed_.notify_all();  // FlushRemovals waits for its round
    }
    // Outside the lock: a callback may append again, or take its time.
    for (Pending& pending : batch) {
      try {
        pending.done(error, error ? 0 : pending.sequence);
      } catch (const std::exception& e) {
        spdlog::error("outbox append callback threw (it must not): {}", e.what());
      }
    }
    lock.lock();
  }
}

void Outbox::RecordCommit(const std::exception_ptr& error) {
  if (!error) {
    if (write_failing_) {
      write_failing_ = false;
      spdlog::info("{}: commits work again, after {} s; appends are taken again", Describe(),
                   std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::steady_clock::now() - failing_since_)
                       .count());
    }
    return;
  }
  std::string text = TextOf(error);
  if (!write_failing_) {
    write_failing_ = true;
    failing_since_ = std::chrono::steady_clock::now();
    probe_backoff_ = std::chrono::milliseconds{100};
    spdlog::error(
        "{}; appends fail until a commit works again (free space on the disk); the outbox keeps "
        "what it holds",
        text);
  } else if (text != write_error_) {
    spdlog::error("{}", text);
  }
  write_error_ = std::move(text);
}

Outbox::WriteStatus Outbox::Status() const {
  const std::lock_guard lock{mutex_};
  if (!write_failing_) return {};
  return {.writable = false,
          .error = write_error_,
          .failing_for = std::chrono::steady_clock::now() - failing_since_};
}

std::exception_ptr Outbox::Probe() {
  try {
    try {
      LmdbTransaction txn = LmdbTransaction::Write(env_);
      reserve_.Ensure(env_.Get(), txn.Get());
      // Shorter than every entry's 8-byte key, so never taken for one; gone by the commit.
      txn.Put(db_, "probe", "");
      static_cast<void>(txn.Delete(db_, "probe"));
      txn.Commit();
    } catch (const StoreError& e) {
      throw Retold(e);
    }
    return nullptr;
  } catch (...) {
    return std::current_exception();
  }
}

void Outbox::LogRemovalFailure(const std::exception_ptr& error, std::size_t count) const {
  spdlog::error(
      "{}: cannot delete {} relayed messages: {}; they stay and are relayed once more (consumers "
      "drop what they have seen)",
      Describe(), count, TextOf(error));
}

std::exception_ptr Outbox::WriteBatch(std::deque<Pending>& batch,
                                      std::span<const std::uint64_t> removals) {
  try {
    try {
      // A commit of deletions alone syncs its pages but not its meta page, which the next
      // commit syncs: a deletion a crash undoes only means the entry is relayed once more.
      LmdbTransaction txn =
          LmdbTransaction::Write(env_, batch.empty() ? LmdbTransaction::Sync::kNoMetaSync
                                                     : LmdbTransaction::Sync::kEnvironment);
      // Keeps this commit from growing the file, which makes its sync twice as slow.
      reserve_.Ensure(env_.Get(), txn.Get());
      for (const std::uint64_t removed : removals) {
        const Key key = EncodeKey(removed);
        static_cast<void>(txn.Delete(db_, KeyView(key)));
      }
      if (!batch.empty()) {
        std::uint64_t sequence = NextSequence(txn, batch.size());
        for (Pending& pending : batch) {
          pending.sequence = sequence++;
          Put(txn, pending.sequence, pending.message);
        }
      }
      // The environment syncs its commits: a commit with appends syncs the whole batch once.
      txn.Commit();
    } catch (const StoreError& e) {
      throw Retold(e);
    }
    return nullptr;
  } catch (...) {
    return std::current_exception();
  }
}

std::vector<OutboxEntry> Outbox::Read(std::uint64_t after, std::size_t max) const {
  std::vector<OutboxEntry> entries;
  if (max == 0 || after == std::numeric_limits<std::uint64_t>::max()) return entries;
  try {
    LmdbTransaction txn = LmdbTransaction::Read(env_);
    storage::LmdbCursor cursor{txn, db_};
    const Key start = EncodeKey(after + 1);
    for (auto entry = cursor.Seek(KeyView(start)); entry && entries.size() < max;
         entry = cursor.Next()) {
      const std::string_view stored = entry->value;
      const auto nul = stored.find('\0');
      if (nul == std::string_view::npos) continue;  // not written by us: leave it alone
      // The forms of outbox.hpp: message id [US traceparent [US tracestate]] NUL body.
      std::string_view head = stored.substr(0, nul);
      const auto NextField = [&head]() {
        const auto separator = head.find(kTraceSeparator);
        const std::string_view field = head.substr(0, separator);
        head =
            separator == std::string_view::npos ? std::string_view{} : head.substr(separator + 1);
        return std::string(field);
      };
      std::string message_id = NextField();
      std::string traceparent = NextField();
      std::string tracestate = NextField();
      entries.push_back({.sequence = DecodeKey(entry->key),
                         .message_id = std::move(message_id),
                         .body = std::string(stored.substr(nul + 1)),
                         .traceparent = std::move(traceparent),
                         .tracestate = std::move(tracestate)});
    }
  } catch (const StoreError& e) {
    throw Retold(e);
  }
  return entries;
}

void Outbox::RemoveLater(std::span<const std::uint64_t> sequences) {
  if (sequences.empty()) return;
  {
    const std::lock_guard lock{mutex_};
    if (stopping_) throw Closed();
    removals_.insert(removals_.end(), sequences.begin(), sequences.end());
  }
  queued_.notify_one();
}

void Outbox::FlushRemovals() {
  std::unique_lock lock{mutex_};
  // The writer takes everything queued at once: what is queued goes in the round after the
  // last started; with nothing queued, the last started round is the one to wait for.
  const std::uint64_t round = removal_rounds_started_ + (removals_.empty() ? 0 : 1);
  const std::uint64_t done_before = removal_rounds_done_;
  if (!removals_.empty()) {
    flush_removals_ = true;  // no waiting for an append to carry them
    queued_.notify_one();
  }
  committed_.wait(lock, [&] { return removal_rounds_done_ >= round; });
  if (failed_removal_round_ > done_before && failed_removal_round_ <= round) {
    std::rethrow_exception(removal_error_);
  }
}

std::size_t Outbox::Size() const {
  try {
    const LmdbTransaction txn = LmdbTransaction::Read(env_);
    return txn.Count(db_);
  } catch (const StoreError& e) {
    throw Retold(e);
  }
}

std::uint64_t Outbox::LastSequence() const {
  const std::lock_guard lock{mutex_};
  return last_sequence_;
}

void Outbox::SetAppendListener(std::function<void(std::uint64_t last_sequence)> listener) {
  const std::lock_guard lock{listener_mutex_};
  append_listener_ = std::move(listener);
}

bool Outbox::WaitForEntriesAfter(std::uint64_t after, std::chrono::milliseconds timeout) const {
  std::unique_lock lock{mutex_};
  return committed_.wait_for(lock, timeout, [&] { return last_sequence_ > after; });
}

OutboxGauges::OutboxGauges(const OutboxStore& outbox, metrics::Registry& metrics,
                           EntryTime entry_time)
    : entries_(metrics.AddCallbackGauge(
          "cppblog_outbox_entries",
          "Messages in the outbox: appended, not yet deleted after the broker's confirm.", {},
          [&outbox] { return static_cast<double>(outbox.Size()); })) {
  if (!entry_time) return;
  oldest_age_ = metrics.AddCallbackGauge(
      "cppblog_outbox_oldest_entry_age_seconds",
      "Age of the oldest outbox entry (now minus the time its body gives); 0 when the outbox is "
      "empty.",
      {}, [&outbox, entry_time = std::move(entry_time)] {
        const std::vector<OutboxEntry> oldest = outbox.Read(0, 1);
        if (oldest.empty()) return 0.0;
        const auto made = entry_time(oldest.front());
        if (!made) return 0.0;
        return std::max(
            0.0, std::chrono::duration<double>(std::chrono::system_clock::now() - *made).count());
      });
}

}  // namespace cppblog::outbox

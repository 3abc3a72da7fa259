#include "outbox.hpp"

#include <algorithm>
#include <array>
#include <exception>
#include <memory>
#include <utility>
#include <vector>

#include <lmdb.h>
#include <spdlog/spdlog.h>

#include "cppblog/storage/lmdb_environment.hpp"
#include "cppblog/trace/trace_context.hpp"
#include "cppblog/vip/vip_notification.hpp"

namespace cppblog::account {
namespace {

using Key = std::array<unsigned char, 8>;

// The longest the writer waits for the appenders of its last commit to come back.
constexpr std::chrono::microseconds kMaxMergeWait{1000};

Key EncodeKey(std::uint64_t sequence) {
  Key key{};
  for (std::size_t i = 0; i < key.size(); ++i) {
    key[key.size() - 1 - i] = static_cast<unsigned char>(sequence >> (8 * i));
  }
  return key;
}

std::uint64_t DecodeKey(const MDB_val& value) {
  std::uint64_t sequence = 0;
  const auto* bytes = static_cast<const unsigned char*>(value.mv_data);
  for (std::size_t i = 0; i < value.mv_size; ++i) sequence = (sequence << 8) | bytes[i];
  return sequence;
}

class Txn {
 public:
  Txn(MDB_env* env, unsigned flags, int& rc) { rc = mdb_txn_begin(env, nullptr, flags, &txn_); }
  ~Txn() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  MDB_txn* Get() const { return txn_; }
  int Commit() { return mdb_txn_commit(std::exchange(txn_, nullptr)); }

 private:
  MDB_txn* txn_ = nullptr;
};

class Cursor {
 public:
  Cursor(MDB_txn* txn, MDB_dbi dbi, int& rc) { rc = mdb_cursor_open(txn, dbi, &cursor_); }
  ~Cursor() {
    if (cursor_ != nullptr) mdb_cursor_close(cursor_);
  }
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  MDB_cursor* Get() const { return cursor_; }

 private:
  MDB_cursor* cursor_ = nullptr;
};

// Between an entry's message id, its traceparent and its tracestate (ASCII unit separator).
constexpr char kTraceSeparator = '\x1f';

constexpr double kCommitEntriesBuckets[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

}  // namespace

Outbox::Outbox(AccountStore& store, std::chrono::milliseconds removal_delay,
               metrics::Registry* metrics)
    : store_(store),
      env_(store.Environment().Get()),
      reserve_("outbox in " + store.Path().string()),
      removal_delay_(removal_delay),
      commit_duration_(metrics == nullptr
                           ? nullptr
                           : &metrics->AddHistogram("cppblog_outbox_commit_duration_seconds",
                                                    "Outbox commits (write and sync), successful "
                                                    "ones.")),
      commit_entries_(metrics == nullptr
                          ? nullptr
                          : &metrics->AddHistogram(
                                "cppblog_outbox_commit_entries",
                                "Entries appended per outbox commit (group commit), for commits "
                                "that appended.",
                                {}, kCommitEntriesBuckets)) {
  int rc = 0;
  Txn txn{env_, 0, rc};
  if (rc != MDB_SUCCESS) Fail("begin transaction", rc);
  MDB_dbi dbi = 0;
  if (rc = mdb_dbi_open(txn.Get(), "outbox", MDB_CREATE, &dbi); rc != MDB_SUCCESS) {
    Fail("open database 'outbox'", rc);
  }
  {
    Cursor cursor{txn.Get(), dbi, rc};
    if (rc != MDB_SUCCESS) Fail("open cursor", rc);
    MDB_val key{};
    MDB_val value{};
    rc = mdb_cursor_get(cursor.Get(), &key, &value, MDB_LAST);
    if (rc == MDB_SUCCESS) {
      last_sequence_ = DecodeKey(key);
    } else if (rc != MDB_NOTFOUND) {
      Fail("read the last entry", rc);
    }
  }
  if (rc = txn.Commit(); rc != MDB_SUCCESS) Fail("commit opening 'outbox'", rc);
  dbi_ = dbi;
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
    if (const int rc = mdb_env_sync(env_, 1); rc != MDB_SUCCESS) {
      spdlog::warn(
          "outbox in {}: cannot sync the last deletions at close: {}; if the machine crashes "
          "now, those notifications are relayed once more (the vipservice drops duplicates)",
          store_.Path().string(), mdb_strerror(rc));
    }
  }
  // Group commit at a glance: how many appends shared each synced commit.
  spdlog::info("outbox closed: appended={} commits={} commit_ms_avg={:.2f}", appended_, commits_,
               commits_ == 0 ? 0.0
                             : std::chrono::duration<double, std::milli>(commit_time_).count() /
                                   static_cast<double>(commits_));
}

void Outbox::Fail(std::string_view operation, int rc) const {
  throw StoreError("outbox in " + store_.Path().string() + ": " + std::string(operation) + ": " +
                   storage::LmdbErrorText(rc, store_.Path()));
}

StoreError Outbox::Closed() const {
  return StoreError("outbox in " + store_.Path().string() + ": closed");
}

void Outbox::AppendAsync(std::string message_id, std::string body, AppendCallback done) {
  AppendAsync(std::move(message_id), std::move(body), std::string{}, std::move(done));
}

void Outbox::AppendAsync(std::string message_id, std::string body, std::string traceparent,
                         AppendCallback done) {
  AppendAsync(std::move(message_id), std::move(body), std::move(traceparent), std::string{},
              std::move(done));
}

void Outbox::AppendAsync(std::string message_id, std::string body, std::string traceparent,
                         std::string tracestate, AppendCallback done) {
  // A separator inside would corrupt the entry: such a value is no traceparent or tracestate
  // anyway.
  constexpr std::string_view kSeparators{"\x1f\0", 2};
  if (traceparent.find_first_of(kSeparators) != std::string::npos) traceparent.clear();
  if (traceparent.empty() || tracestate.size() > trace::kMaxTraceStateBytes ||
      tracestate.find_first_of(kSeparators) != std::string::npos) {
    tracestate.clear();
  }
  {
    const std::lock_guard lock{mutex_};
    if (!stopping_) {
      queue_.push_back({.message_id = std::move(message_id),
                        .body = std::move(body),
                        .traceparent = std::move(traceparent),
                        .tracestate = std::move(tracestate),
                        .done = std::move(done),
                        .sequence = 0});
      queued_.notify_one();
      return;
    }
  }
  done(std::make_exception_ptr(Closed()), 0);
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
    // at no cost. Under steady VIP reads one always comes within milliseconds; a commit for
    // deletions alone was as many syncs per read as the appends made.
    if (queue_.empty()) {
      queued_.wait_for(lock, removal_delay_,
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
    const std::uint64_t last = last_sequence_;
    lock.unlock();
    // Everything queued while this batch is written goes into the next one: one sync each.
    const auto started = SteadyClock::now();
    const std::exception_ptr error = WriteBatch(batch, removals, last);
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
      if (!batch.empty()) last_sequence_ = batch.back().sequence;
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
    committed_.notify_all();
    const std::uint64_t appended_up_to = last_sequence_;
    lock.unlock();
    if (!error && !batch.empty()) {
      const std::lock_guard listener_lock{listener_mutex_};
      if (append_listener_) append_listener_(appended_up_to);
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
      spdlog::info("outbox in {}: commits work again, after {} s; VIP reads are served again",
                   store_.Path().string(),
                   std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::steady_clock::now() - failing_since_)
                       .count());
    }
    return;
  }
  std::string text = "unknown error";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    text = e.what();
  } catch (...) {
  }
  if (!write_failing_) {
    write_failing_ = true;
    failing_since_ = std::chrono::steady_clock::now();
    probe_backoff_ = std::chrono::milliseconds{100};
    spdlog::error(
        "{}; VIP reads answer 503 with Retry-After and /health 503 until a commit works again "
        "(free space on the disk); the outbox keeps what it holds",
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
    int rc = 0;
    Txn txn{env_, 0, rc};
    if (rc != MDB_SUCCESS) Fail("begin write transaction", rc);
    reserve_.Ensure(env_, txn.Get());
    // Shorter than every entry's 8-byte key, so never taken for one; gone by the commit.
    char probe_key[] = "probe";
    MDB_val key{sizeof(probe_key) - 1, probe_key};
    MDB_val data{0, nullptr};
    if (rc = mdb_put(txn.Get(), dbi_, &key, &data, 0); rc != MDB_SUCCESS) Fail("probe write", rc);
    if (rc = mdb_del(txn.Get(), dbi_, &key, nullptr); rc != MDB_SUCCESS) Fail("probe delete", rc);
    if (rc = txn.Commit(); rc != MDB_SUCCESS) Fail("commit a probe", rc);
    return nullptr;
  } catch (...) {
    return std::current_exception();
  }
}

void Outbox::LogRemovalFailure(const std::exception_ptr& error, std::size_t count) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    spdlog::error(
        "outbox: cannot delete {} relayed VIP notifications: {}; they stay and are relayed once "
        "more (the vipservice drops what it has seen)",
        count, e.what());
  }
}

std::exception_ptr Outbox::WriteBatch(std::deque<Pending>& batch,
                                      std::span<const std::uint64_t> removals,
                                      std::uint64_t last_sequence) {
  try {
    std::uint64_t sequence = last_sequence;
    int rc = 0;
    // A commit of deletions alone syncs its pages but not its meta page, which the next commit
    // syncs (MDB_NOMETASYNC keeps the file consistent after a crash): a deletion a crash undoes
    // only means the entry is relayed once more, and consumers drop what they have seen.
    Txn txn{env_, batch.empty() ? static_cast<unsigned>(MDB_NOMETASYNC) : 0U, rc};
    if (rc != MDB_SUCCESS) Fail("begin write transaction", rc);
    // Keeps this commit from growing the file, which makes its sync twice as slow.
    reserve_.Ensure(env_, txn.Get());
    for (const std::uint64_t removed : removals) {
      Key key_bytes = EncodeKey(removed);
      MDB_val key{key_bytes.size(), key_bytes.data()};
      rc = mdb_del(txn.Get(), dbi_, &key, nullptr);
      if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) Fail("delete entry", rc);
    }
    std::string value;
    for (Pending& pending : batch) {
      pending.sequence = ++sequence;
      Key key_bytes = EncodeKey(pending.sequence);
      MDB_val key{key_bytes.size(), key_bytes.data()};
      value.assign(pending.message_id);
      if (!pending.traceparent.empty()) {
        value.push_back(kTraceSeparator);
        value.append(pending.traceparent);
        if (!pending.tracestate.empty()) {
          value.push_back(kTraceSeparator);
          value.append(pending.tracestate);
        }
      }
      value.push_back('\0');
      value.append(pending.body);
      MDB_val data{value.size(), value.data()};
      if (rc = mdb_put(txn.Get(), dbi_, &key, &data, MDB_APPEND); rc != MDB_SUCCESS) {
        Fail("append entry", rc);
      }
    }
    // The environment has no MDB_NOSYNC: a commit with appends syncs the whole batch once.
    if (rc = txn.Commit(); rc != MDB_SUCCESS) Fail("commit appended entries", rc);
    return nullptr;
  } catch (...) {
    return std::current_exception();
  }
}

std::vector<OutboxEntry> Outbox::Read(std::uint64_t after, std::size_t max) const {
  std::vector<OutboxEntry> entries;
  if (max == 0) return entries;
  int rc = 0;
  Txn txn{env_, MDB_RDONLY, rc};
  if (rc != MDB_SUCCESS) Fail("begin read transaction", rc);
  Cursor cursor{txn.Get(), dbi_, rc};
  if (rc != MDB_SUCCESS) Fail("open cursor", rc);
  Key start = EncodeKey(after + 1);
  MDB_val key{start.size(), start.data()};
  MDB_val value{};
  for (rc = mdb_cursor_get(cursor.Get(), &key, &value, MDB_SET_RANGE);
       rc == MDB_SUCCESS && entries.size() < max;
       rc = mdb_cursor_get(cursor.Get(), &key, &value, MDB_NEXT)) {
    const std::string_view stored{static_cast<const char*>(value.mv_data), value.mv_size};
    const auto nul = stored.find('\0');
    if (nul == std::string_view::npos) continue;  // not written by us: leave it alone
    // The forms of outbox.hpp: message id [US traceparent [US tracestate]] NUL body.
    std::string_view head = stored.substr(0, nul);
    const auto NextField = [&head]() {
      const auto separator = head.find(kTraceSeparator);
      const std::string_view field = head.substr(0, separator);
      head = separator == std::string_view::npos ? std::string_view{} : head.substr(separator + 1);
      return std::string(field);
    };
    std::string message_id = NextField();
    std::string traceparent = NextField();
    std::string tracestate = NextField();
    entries.push_back({.sequence = DecodeKey(key),
                       .message_id = std::move(message_id),
                       .body = std::string(stored.substr(nul + 1)),
                       .traceparent = std::move(traceparent),
                       .tracestate = std::move(tracestate)});
  }
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) Fail("read entries", rc);
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
  int rc = 0;
  Txn txn{env_, MDB_RDONLY, rc};
  if (rc != MDB_SUCCESS) Fail("begin read transaction", rc);
  MDB_stat stat{};
  if (rc = mdb_stat(txn.Get(), dbi_, &stat); rc != MDB_SUCCESS) Fail("stat", rc);
  return stat.ms_entries;
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

OutboxGauges::OutboxGauges(const Outbox& outbox, metrics::Registry& metrics)
    : entries_(metrics.AddCallbackGauge(
          "cppblog_outbox_entries",
          "VIP notifications in the outbox: appended, not yet deleted after the broker's confirm.",
          {}, [&outbox] { return static_cast<double>(outbox.Size()); })),
      oldest_age_(metrics.AddCallbackGauge(
          "cppblog_outbox_oldest_entry_age_seconds",
          "Age of the oldest outbox entry (now minus its readAt); 0 when the outbox is empty.", {},
          [&outbox] {
            const std::vector<OutboxEntry> oldest = outbox.Read(0, 1);
            if (oldest.empty()) return 0.0;
            const auto read_at = vip::ParseVipNotification(oldest.front().body).read_at;
            return std::max(
                0.0,
                std::chrono::duration<double>(std::chrono::system_clock::now() - read_at).count());
          })) {}

}  // namespace cppblog::account

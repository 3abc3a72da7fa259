#include "lmdb_offer_store.hpp"

#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <lmdb.h>

#include "cppblog/storage/lmdb_environment.hpp"

namespace cppblog::vip {
namespace {

using std::chrono::nanoseconds;
using std::chrono::system_clock;

constexpr std::size_t kMapSize = std::size_t{1} << 30;  // address space; the file grows as needed
constexpr unsigned kMaxDbs = 4;
constexpr std::size_t kTimeBytes = 8;
// An offer's value: offered_at (kTimeBytes); from version 2 on, then the version byte, then
// (version 2) the trace id's 16 bytes or nothing. Version 1 values are offered_at alone.
constexpr char kOfferValueVersion = 2;

MDB_val ToVal(std::string_view text) {
  return MDB_val{text.size(), const_cast<char*>(text.data())};
}

std::string_view FromVal(const MDB_val& value) {
  return {static_cast<const char*>(value.mv_data), value.mv_size};
}

std::int64_t ToNanos(system_clock::time_point time) {
  return std::chrono::duration_cast<nanoseconds>(time.time_since_epoch()).count();
}

system_clock::time_point FromNanos(std::int64_t nanos) {
  return system_clock::time_point{
      std::chrono::duration_cast<system_clock::duration>(nanoseconds{nanos})};
}

std::int64_t SaturatingAdd(std::int64_t a, std::int64_t b) {
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  if (b > 0 && a > kMax - b) return kMax;
  if (b < 0 && a < kMin - b) return kMin;
  return a + b;
}

// Big-endian with the sign bit flipped: byte order is numeric order, as LMDB compares keys.
void AppendTime(std::string& out, std::int64_t nanos) {
  const auto bits = static_cast<std::uint64_t>(nanos) ^ (std::uint64_t{1} << 63);
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((bits >> shift) & 0xFF));
  }
}

std::int64_t ReadTime(std::string_view bytes) {
  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < kTimeBytes; ++i) {
    bits = (bits << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return static_cast<std::int64_t>(bits ^ (std::uint64_t{1} << 63));
}

// Offers are keyed <len><account id><readAt><message id>: one account's offers are adjacent
// and sorted by readAt, so the cooldown check is one seek.
std::string AccountPrefix(std::string_view account_id) {
  std::string prefix;
  prefix.push_back(static_cast<char>(account_id.size()));
  prefix.append(account_id);
  return prefix;
}

std::string OfferKey(std::string_view account_id, std::int64_t read_at, std::string_view id) {
  std::string key = AccountPrefix(account_id);
  AppendTime(key, read_at);
  key.append(id);
  return key;
}

class Txn {
 public:
  Txn(MDB_env* env, unsigned flags, const LmdbOfferStore& store) {
    if (const int rc = mdb_txn_begin(env, nullptr, flags, &txn_); rc != MDB_SUCCESS) {
      throw StoreError("offer store " + store.Path().string() +
                       ": begin transaction: " + mdb_strerror(rc));
    }
  }
  ~Txn() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  [[nodiscard]] MDB_txn* Get() const { return txn_; }
  [[nodiscard]] int Commit() { return mdb_txn_commit(std::exchange(txn_, nullptr)); }

 private:
  MDB_txn* txn_ = nullptr;
};

class Cursor {
 public:
  Cursor(MDB_txn* txn, MDB_dbi dbi) { rc_ = mdb_cursor_open(txn, dbi, &cursor_); }
  ~Cursor() { Close(); }
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  /// Before the write transaction it belongs to commits: LMDB frees a write transaction's
  /// cursors when it ends, so closing one afterwards frees it twice.
  void Close() {
    if (cursor_ != nullptr) mdb_cursor_close(std::exchange(cursor_, nullptr));
  }
  [[nodiscard]] int OpenStatus() const { return rc_; }
  [[nodiscard]] MDB_cursor* Get() const { return cursor_; }

 private:
  MDB_cursor* cursor_ = nullptr;
  int rc_ = MDB_SUCCESS;
};

}  // namespace

LmdbOfferStore::LmdbOfferStore(std::filesystem::path data_dir)
    : path_(std::move(data_dir)), reserve_("offer store " + path_.string()) {
  if (const int rc = mdb_env_create(&env_); rc != MDB_SUCCESS) Fail("create environment", rc);
  try {
    if (const int rc = mdb_env_set_mapsize(env_, kMapSize); rc != MDB_SUCCESS)
      Fail("set map size", rc);
    if (const int rc = mdb_env_set_maxdbs(env_, kMaxDbs); rc != MDB_SUCCESS)
      Fail("set max dbs", rc);
    // MDB_NOTLS: handler and HTTP threads each take short transactions of their own.
    storage::OpenLmdbEnvironment(env_, path_,
                                 {.store = "offer store", .flags = MDB_NOTLS | MDB_NORDAHEAD});
    Txn txn{env_, 0, *this};
    MDB_dbi offers = 0;
    MDB_dbi processed = 0;
    if (const int rc = mdb_dbi_open(txn.Get(), "offers", MDB_CREATE, &offers); rc != MDB_SUCCESS)
      Fail("open database 'offers'", rc);
    if (const int rc = mdb_dbi_open(txn.Get(), "processed", MDB_CREATE, &processed);
        rc != MDB_SUCCESS)
      Fail("open database 'processed'", rc);
    if (const int rc = txn.Commit(); rc != MDB_SUCCESS) Fail("commit database creation", rc);
    offers_dbi_ = offers;
    processed_dbi_ = processed;
  } catch (...) {
    mdb_env_close(env_);
    throw;
  }
}

LmdbOfferStore::~LmdbOfferStore() { mdb_env_close(env_); }

void LmdbOfferStore::Fail(std::string_view operation, int rc) const {
  throw StoreError("offer store " + path_.string() + ": " + std::string(operation) + ": " +
                   storage::LmdbErrorText(rc, path_));
}

ProcessResult LmdbOfferStore::ProcessTraced(std::string_view message_id,
                                            const VipNotification& notification,
                                            system_clock::time_point offered_at,
                                            std::chrono::milliseconds cooldown,
                                            std::string_view trace_id) {
  return group_commit_.Process(message_id, notification, offered_at, cooldown, trace_id,
                               [this] { return CommitQueued(); });
}

std::vector<OfferRequest*> LmdbOfferStore::CommitQueued() noexcept {
  std::vector<OfferRequest*> batch;
  std::exception_ptr error;
  std::optional<Txn> txn;
  try {
    // Waits for LMDB's writer lock, which the other instances on this store take too.
    txn.emplace(env_, 0, *this);
  } catch (...) {
    error = std::current_exception();
  }
  // Only now take the queue: what arrived while the lock was busy joins this commit instead of
  // waiting for the next one.
  batch = group_commit_.Take();
  try {
    if (error) std::rethrow_exception(error);
    // Keeps this commit from growing the file, which makes its sync twice as slow: offers only
    // accumulate, so without it every commit would.
    reserve_.Ensure(env_, txn->Get());
    for (OfferRequest* request : batch) request->result = Apply(txn->Get(), *request);
    if (const int rc = txn->Commit(); rc != MDB_SUCCESS) Fail("commit offers", rc);
  } catch (...) {  // one failed write fails the whole transaction, so every request in it
    error = std::current_exception();
    for (OfferRequest* request : batch) request->error = error;
  }
  return batch;
}

ProcessResult LmdbOfferStore::Apply(MDB_txn* txn, const OfferRequest& request) const {
  // The transaction sees its own writes: a duplicate within one batch is found here too.
  MDB_val id_key = ToVal(request.message_id);
  MDB_val seen{};
  if (const int rc = mdb_get(txn, processed_dbi_, &id_key, &seen); rc == MDB_SUCCESS) {
    return ProcessResult::kDuplicate;
  } else if (rc != MDB_NOTFOUND) {
    Fail("read processed message id", rc);
  }

  const VipNotification& notification = request.notification;
  const std::int64_t read_at = ToNanos(notification.read_at);
  const std::int64_t window = std::chrono::duration_cast<nanoseconds>(request.cooldown).count();
  bool in_cooldown = false;
  if (window > 0) {
    // The first offer of this account with readAt > read_at - cooldown; in cooldown when
    // its readAt < read_at + cooldown.
    const std::string prefix = AccountPrefix(notification.account_id);
    std::string seek = prefix;
    AppendTime(seek, SaturatingAdd(SaturatingAdd(read_at, -window), 1));
    const Cursor cursor{txn, offers_dbi_};
    if (cursor.OpenStatus() != MDB_SUCCESS) Fail("open offers cursor", cursor.OpenStatus());
    MDB_val key = ToVal(seek);
    MDB_val value{};
    const int rc = mdb_cursor_get(cursor.Get(), &key, &value, MDB_SET_RANGE);
    if (rc == MDB_SUCCESS) {
      const std::string_view found = FromVal(key);
      if (found.size() >= prefix.size() + kTimeBytes && found.substr(0, prefix.size()) == prefix) {
        in_cooldown = ReadTime(found.substr(prefix.size())) < SaturatingAdd(read_at, window);
      }
    } else if (rc != MDB_NOTFOUND) {
      Fail("seek offers of account " + notification.account_id, rc);
    }
  }

  const std::int64_t offered = ToNanos(request.offered_at);
  std::string record;
  AppendTime(record, offered);
  record.push_back(in_cooldown ? 'c' : 'o');
  MDB_val record_val = ToVal(record);
  if (const int rc = mdb_put(txn, processed_dbi_, &id_key, &record_val, 0); rc != MDB_SUCCESS) {
    Fail("record processed message id", rc);
  }
  if (!in_cooldown) {
    const std::string key_text = OfferKey(notification.account_id, read_at, request.message_id);
    std::string value_text;
    AppendTime(value_text, offered);
    value_text.push_back(kOfferValueVersion);
    if (!request.trace_id.empty()) value_text.append(TraceIdBytes(request.trace_id));
    MDB_val key = ToVal(key_text);
    MDB_val value = ToVal(value_text);
    if (const int rc = mdb_put(txn, offers_dbi_, &key, &value, 0); rc != MDB_SUCCESS) {
      Fail("write offer for account " + notification.account_id, rc);
    }
  }
  return in_cooldown ? ProcessResult::kCooldown : ProcessResult::kOffered;
}

std::vector<Offer> LmdbOfferStore::OffersFor(std::string_view account_id) const {
  std::vector<Offer> offers;
  if (account_id.empty() || account_id.size() > kMaxAccountIdBytes) return offers;
  const Txn txn{env_, MDB_RDONLY, *this};
  const Cursor cursor{txn.Get(), offers_dbi_};
  if (cursor.OpenStatus() != MDB_SUCCESS) Fail("open offers cursor", cursor.OpenStatus());
  const std::string prefix = AccountPrefix(account_id);
  MDB_val key = ToVal(prefix);
  MDB_val value{};
  int rc = mdb_cursor_get(cursor.Get(), &key, &value, MDB_SET_RANGE);
  while (rc == MDB_SUCCESS) {
    const std::string_view found = FromVal(key);
    if (found.size() < prefix.size() + kTimeBytes || found.substr(0, prefix.size()) != prefix) {
      break;
    }
    const std::string_view stamp = FromVal(value);
    if (stamp.size() < kTimeBytes) Fail("read offer", MDB_CORRUPTED);
    // Version 1: offered_at alone; version 2: then the version byte and the trace id, if any.
    const bool version2 = stamp.size() > kTimeBytes && stamp[kTimeBytes] == kOfferValueVersion;
    offers.push_back(
        {.account_id = std::string(account_id),
         .message_id = std::string(found.substr(prefix.size() + kTimeBytes)),
         .read_at = FromNanos(ReadTime(found.substr(prefix.size()))),
         .offered_at = FromNanos(ReadTime(stamp)),
         .trace_id = version2 ? TraceIdFromBytes(stamp.substr(kTimeBytes + 1)) : std::string{}});
    rc = mdb_cursor_get(cursor.Get(), &key, &value, MDB_NEXT);
  }
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) Fail("read offers of account", rc);
  return offers;
}

std::size_t LmdbOfferStore::Count(unsigned dbi, std::string_view name) const {
  const Txn txn{env_, MDB_RDONLY, *this};
  MDB_stat stat{};
  if (const int rc = mdb_stat(txn.Get(), dbi, &stat); rc != MDB_SUCCESS) {
    Fail("stat database '" + std::string(name) + "'", rc);
  }
  return stat.ms_entries;
}

std::size_t LmdbOfferStore::CountOffers() const { return Count(offers_dbi_, "offers"); }

std::size_t LmdbOfferStore::CountProcessed() const { return Count(processed_dbi_, "processed"); }

void LmdbOfferStore::Ping() const { static_cast<void>(CountOffers()); }

std::size_t LmdbOfferStore::DeleteProcessedBefore(system_clock::time_point cutoff) {
  // Each write transaction holds LMDB's writer lock, which Process waits for: keep them short.
  constexpr std::size_t kScanPerTransaction = 4096;
  const std::int64_t limit = ToNanos(cutoff);
  std::size_t deleted = 0;
  std::string resume;  // the first key the next transaction scans; empty: from the first
  for (;;) {
    Txn txn{env_, 0, *this};
    Cursor cursor{txn.Get(), processed_dbi_};
    if (cursor.OpenStatus() != MDB_SUCCESS) Fail("open processed cursor", cursor.OpenStatus());
    MDB_val key = ToVal(resume);
    MDB_val value{};
    int rc = mdb_cursor_get(cursor.Get(), &key, &value, resume.empty() ? MDB_FIRST : MDB_SET_RANGE);
    std::size_t scanned = 0;
    std::size_t deleted_here = 0;
    while (rc == MDB_SUCCESS && scanned < kScanPerTransaction) {
      ++scanned;
      const std::string_view record = FromVal(value);
      if (record.size() >= kTimeBytes && ReadTime(record) < limit) {
        if (const int del = mdb_cursor_del(cursor.Get(), 0); del != MDB_SUCCESS) {
          Fail("delete processed message id", del);
        }
        ++deleted_here;
      }
      // After a delete, LMDB's MDB_NEXT yields the entry that followed the deleted one.
      rc = mdb_cursor_get(cursor.Get(), &key, &value, MDB_NEXT);
    }
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) Fail("scan processed message ids", rc);
    const bool more = rc == MDB_SUCCESS;
    if (more) resume.assign(FromVal(key));  // before the commit frees the page it points into
    cursor.Close();
    if (deleted_here > 0) {
      if (const int commit = txn.Commit(); commit != MDB_SUCCESS) {
        Fail("commit deletion of processed message ids", commit);
      }
      deleted += deleted_here;
    }
    if (!more) return deleted;
  }
}

}  // namespace cppblog::vip

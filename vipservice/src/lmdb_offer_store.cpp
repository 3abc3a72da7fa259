#include "lmdb_offer_store.hpp"

#include <cstdint>
#include <limits>
#include <optional>
#include <utility>

#include "cppblog/storage/byte_order.hpp"

namespace cppblog::vipservice {
namespace {

using std::chrono::nanoseconds;
using std::chrono::system_clock;

constexpr std::size_t kMapSize = std::size_t{1} << 30;  // address space; the file grows as needed
constexpr unsigned kMaxDbs = 4;
constexpr std::size_t kTimeBytes = 8;
// What the inbox keeps after a processed id's time: whether it yielded an offer.
constexpr std::string_view kOffered = "o";
constexpr std::string_view kCooldown = "c";
// An offer's value: offered_at (kTimeBytes); from version 2 on, then the version byte, then
// (version 2) the trace id's 16 bytes or nothing. Version 1 values are offered_at alone.
constexpr char kOfferValueVersion = 2;

std::int64_t SaturatingAdd(std::int64_t a, std::int64_t b) {
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  if (b > 0 && a > kMax - b) return kMax;
  if (b < 0 && a < kMin - b) return kMin;
  return a + b;
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
  storage::AppendOrdered64(key, read_at);
  key.append(id);
  return key;
}

}  // namespace

LmdbOfferStore::LmdbOfferStore(std::filesystem::path data_dir)
    : env_(std::move(data_dir),
           {.store = "offer store", .map_size = kMapSize, .max_databases = kMaxDbs}),
      reserve_("offer store " + env_.Path().string()),
      offers_(env_.OpenDatabase("offers")),
      inbox_(env_, "processed") {}

ProcessResult LmdbOfferStore::ProcessTraced(std::string_view message_id,
                                            const vip::VipNotification& notification,
                                            system_clock::time_point offered_at,
                                            std::chrono::milliseconds cooldown,
                                            std::string_view trace_id) {
  return group_commit_.Process(message_id, notification, offered_at, cooldown, trace_id,
                               [this] { return CommitQueued(); });
}

std::vector<OfferRequest*> LmdbOfferStore::CommitQueued() noexcept {
  std::vector<OfferRequest*> batch;
  std::exception_ptr error;
  std::optional<storage::LmdbTransaction> txn;
  try {
    // Waits for LMDB's writer lock, which the other instances on this store take too.
    txn.emplace(storage::LmdbTransaction::Write(env_));
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
    reserve_.Ensure(env_.Get(), txn->Get());
    for (OfferRequest* request : batch) request->result = Apply(*txn, *request);
    txn->Commit();
  } catch (...) {  // one failed write fails the whole transaction, so every request in it
    error = std::current_exception();
    for (OfferRequest* request : batch) request->error = error;
  }
  return batch;
}

ProcessResult LmdbOfferStore::Apply(storage::LmdbTransaction& txn,
                                    const OfferRequest& request) const {
  const vip::VipNotification& notification = request.notification;
  const std::int64_t read_at = storage::ToNanos(notification.read_at);
  const std::int64_t window = std::chrono::duration_cast<nanoseconds>(request.cooldown).count();
  bool in_cooldown = false;
  if (window > 0) {
    // The first offer of this account with readAt > read_at - cooldown; in cooldown when
    // its readAt < read_at + cooldown.
    const std::string prefix = AccountPrefix(notification.account_id);
    std::string seek = prefix;
    storage::AppendOrdered64(seek, SaturatingAdd(SaturatingAdd(read_at, -window), 1));
    storage::LmdbCursor cursor{txn, offers_};
    if (const std::optional<storage::LmdbEntry> found = cursor.Seek(seek)) {
      const std::string_view key = found->key;
      if (key.size() >= prefix.size() + kTimeBytes && key.substr(0, prefix.size()) == prefix) {
        in_cooldown =
            storage::ReadOrdered64(key.substr(prefix.size())) < SaturatingAdd(read_at, window);
      }
    }
  }

  // The transaction sees its own writes: a duplicate within one batch is refused here too.
  if (!inbox_.Record(txn, request.message_id, request.offered_at,
                     in_cooldown ? kCooldown : kOffered)) {
    return ProcessResult::kDuplicate;
  }
  if (!in_cooldown) {
    std::string value;
    storage::AppendOrdered64(value, storage::ToNanos(request.offered_at));
    value.push_back(kOfferValueVersion);
    if (!request.trace_id.empty()) value.append(TraceIdBytes(request.trace_id));
    txn.Put(offers_, OfferKey(notification.account_id, read_at, request.message_id), value);
  }
  return in_cooldown ? ProcessResult::kCooldown : ProcessResult::kOffered;
}

std::vector<Offer> LmdbOfferStore::OffersFor(std::string_view account_id) const {
  std::vector<Offer> offers;
  if (account_id.empty() || account_id.size() > kMaxAccountIdBytes) return offers;
  auto txn = storage::LmdbTransaction::Read(env_);
  storage::LmdbCursor cursor{txn, offers_};
  const std::string prefix = AccountPrefix(account_id);
  for (std::optional<storage::LmdbEntry> entry = cursor.Seek(prefix); entry;
       entry = cursor.Next()) {
    const std::string_view key = entry->key;
    if (key.size() < prefix.size() + kTimeBytes || key.substr(0, prefix.size()) != prefix) break;
    const std::string_view stamp = entry->value;
    if (stamp.size() < kTimeBytes) {
      throw StoreError(env_.Describe() + ": read offer of account " + std::string(account_id) +
                       ": a value of " + std::to_string(stamp.size()) +
                       " bytes, too short for its time: the store is damaged");
    }
    // Version 1: offered_at alone; version 2: then the version byte and the trace id, if any.
    const bool version2 = stamp.size() > kTimeBytes && stamp[kTimeBytes] == kOfferValueVersion;
    offers.push_back(
        {.account_id = std::string(account_id),
         .message_id = std::string(key.substr(prefix.size() + kTimeBytes)),
         .read_at = storage::FromNanos(storage::ReadOrdered64(key.substr(prefix.size()))),
         .offered_at = storage::FromNanos(storage::ReadOrdered64(stamp)),
         .trace_id = version2 ? TraceIdFromBytes(stamp.substr(kTimeBytes + 1)) : std::string{}});
  }
  return offers;
}

void LmdbOfferStore::Ping() const {
  static_cast<void>(storage::LmdbTransaction::Read(env_).Count(offers_));
}

std::size_t LmdbOfferStore::DeleteProcessedBefore(system_clock::time_point cutoff) {
  return inbox_.DeleteProcessedBefore(cutoff);
}

}  // namespace cppblog::vipservice

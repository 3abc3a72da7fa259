#include "cppblog/inbox/lmdb_inbox.hpp"

#include <cstdint>
#include <optional>
#include <string>

#include "cppblog/storage/byte_order.hpp"

namespace cppblog::inbox {
namespace {

constexpr std::size_t kTimeBytes = 8;

}  // namespace

LmdbInbox::LmdbInbox(storage::LmdbEnvironment& env, std::string_view database)
    : env_(env), db_(env.OpenDatabase(database)) {}

bool LmdbInbox::Record(storage::LmdbTransaction& txn, std::string_view message_id, TimePoint at,
                       std::string_view detail) const {
  std::string value;
  value.reserve(kTimeBytes + detail.size());
  storage::AppendOrdered64(value, storage::ToNanos(at));
  value.append(detail);
  // One B-tree descent: the write transaction sees its own writes, so an id recorded earlier in
  // it is refused too.
  return txn.PutIfAbsent(db_, message_id, value);
}

std::size_t LmdbInbox::DeleteProcessedBefore(TimePoint cutoff) {
  // Each write transaction holds LMDB's writer lock, which Record's callers wait for: keep them
  // short.
  constexpr std::size_t kScanPerTransaction = 4096;
  const std::int64_t limit = storage::ToNanos(cutoff);
  std::size_t deleted = 0;
  std::string resume;  // the first key the next transaction scans; empty: from the first
  for (;;) {
    auto txn = storage::LmdbTransaction::Write(env_);
    std::size_t deleted_here = 0;
    bool more = false;
    {
      storage::LmdbCursor cursor{txn, db_};
      std::optional<storage::LmdbEntry> entry = cursor.Seek(resume);
      std::size_t scanned = 0;
      while (entry && scanned < kScanPerTransaction) {
        ++scanned;
        if (entry->value.size() >= kTimeBytes && storage::ReadOrdered64(entry->value) < limit) {
          cursor.DeleteCurrent();
          ++deleted_here;
        }
        entry = cursor.Next();  // after a delete: the entry that followed the deleted one
      }
      more = entry.has_value();
      if (more) resume.assign(entry->key);  // before the commit frees the page it points into
    }
    if (deleted_here > 0) {
      txn.Commit();
      deleted += deleted_here;
    }
    if (!more) return deleted;
  }
}

std::size_t LmdbInbox::Count() const { return storage::LmdbTransaction::Read(env_).Count(db_); }

}  // namespace cppblog::inbox

#pragma once

#include <cstdint>
#include <filesystem>
#include <future>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include "cppblog/metrics/registry.hpp"
#include "cppblog/outbox/outbox.hpp"
#include "cppblog/storage/lmdb.hpp"

namespace cppblog::outbox {

/// An LMDB environment in `dir` for an outbox (and the application state beside it).
inline storage::LmdbEnvironment OpenEnvironment(const std::filesystem::path& dir) {
  return {dir, {.store = "test store", .map_size = std::size_t{64} << 20}};
}

/// Outbox::AppendAsync, waited for: the entry's sequence once it is durable. Throws the
/// append's StoreError (a failed write, a closed outbox).
inline std::uint64_t AppendAndWait(Outbox& outbox, OutboxMessage message) {
  auto result = std::make_shared<std::promise<std::uint64_t>>();
  auto appended = result->get_future();
  outbox.AppendAsync(std::move(message),
                     [result](std::exception_ptr error, std::uint64_t sequence) {
                       if (error) {
                         result->set_exception(error);
                       } else {
                         result->set_value(sequence);
                       }
                     });
  return appended.get();
}

inline std::uint64_t AppendAndWait(Outbox& outbox, std::string message_id, std::string body) {
  return AppendAndWait(outbox, {.message_id = std::move(message_id), .body = std::move(body)});
}

/// Outbox::RemoveLater, then FlushRemovals: returns once the deletions are committed.
inline void RemoveNow(Outbox& outbox, std::span<const std::uint64_t> sequences) {
  outbox.RemoveLater(sequences);
  outbox.FlushRemovals();
}

/// The value of the series named exactly `series` in the text format, or -1 when absent.
inline double Sample(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

/// The commits of the outbox built with `metrics` so far, as its metrics count them (each
/// successful commit is timed in cppblog_outbox_commit_duration_seconds).
inline std::uint64_t Commits(const metrics::Registry& metrics) {
  const double count = Sample(metrics.Serialize(), "cppblog_outbox_commit_duration_seconds_count");
  return count < 0 ? 0 : static_cast<std::uint64_t>(count);
}

/// The entries the commits of the outbox built with `metrics` appended so far
/// (cppblog_outbox_commit_entries counts each commit's appended entries).
inline std::uint64_t Appended(const metrics::Registry& metrics) {
  const double sum = Sample(metrics.Serialize(), "cppblog_outbox_commit_entries_sum");
  return sum < 0 ? 0 : static_cast<std::uint64_t>(sum);
}

/// Makes every later outbox append fail: plants an entry under the highest possible key behind
/// the outbox's back, after which no sequence is left. For tests of the error paths.
inline void BreakOutboxAppends(storage::LmdbEnvironment& env,
                               const std::string& database = "outbox") {
  const storage::LmdbDatabase db = env.OpenDatabase(database);
  storage::LmdbTransaction txn = storage::LmdbTransaction::Write(env);
  txn.Put(db, std::string(8, '\xff'), std::string("planted", 8));
  txn.Commit();
}

}  // namespace cppblog::outbox

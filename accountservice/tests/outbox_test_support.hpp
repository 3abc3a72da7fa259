#pragma once

#include <cstdint>
#include <string>

#include "cppblog/metrics/registry.hpp"
#include "cppblog/storage/lmdb.hpp"

#include "account_store.hpp"

namespace cppblog::account {

/// The value of the series named exactly `series` in the text format, or -1 when absent.
inline double Sample(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

/// The entries the commits of the outbox built with `metrics` appended so far
/// (cppblog_outbox_commit_entries counts each commit's appended entries).
inline std::uint64_t Appended(const metrics::Registry& metrics) {
  const double sum = Sample(metrics.Serialize(), "cppblog_outbox_commit_entries_sum");
  return sum < 0 ? 0 : static_cast<std::uint64_t>(sum);
}

/// Makes every later outbox append fail: plants an entry under the highest possible key of the
/// store's "outbox" database behind the outbox's back, after which no sequence is left. For
/// tests of the error paths; the outbox must already be open.
inline void BreakOutboxAppends(AccountStore& store) {
  storage::LmdbEnvironment& env = store.Environment();
  const storage::LmdbDatabase db = env.OpenDatabase("outbox");
  storage::LmdbTransaction txn = storage::LmdbTransaction::Write(env);
  txn.Put(db, std::string(8, '\xff'), std::string("planted", 8));
  txn.Commit();
}

}  // namespace cppblog::account

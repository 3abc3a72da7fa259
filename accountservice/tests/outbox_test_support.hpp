#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include "cppblog/metrics/registry.hpp"

#include "outbox.hpp"

namespace cppblog::account {

/// Outbox::AppendAsync, waited for: the entry's sequence once it is durable. Throws the
/// append's StoreError (a failed write, a closed outbox).
inline std::uint64_t AppendAndWait(Outbox& outbox, std::string message_id, std::string body) {
  auto result = std::make_shared<std::promise<std::uint64_t>>();
  auto appended = result->get_future();
  outbox.AppendAsync(std::move(message_id), std::move(body),
                     [result](std::exception_ptr error, std::uint64_t sequence) {
                       if (error) {
                         result->set_exception(error);
                       } else {
                         result->set_value(sequence);
                       }
                     });
  return appended.get();
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

}  // namespace cppblog::account

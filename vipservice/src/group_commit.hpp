#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <string_view>
#include <vector>

#include "offer_store.hpp"

namespace cppblog::vipservice {

/// One OfferStore::Process call waiting to be committed.
struct OfferRequest {
  std::string_view message_id;
  const vip::VipNotification& notification;
  std::chrono::system_clock::time_point offered_at;
  std::chrono::milliseconds cooldown;
  std::string_view trace_id;  // IsTraceId, or empty
  ProcessResult result = ProcessResult::kDuplicate;
  std::exception_ptr error;
  bool done = false;
};

/// The group commit both offer stores share: concurrent Process calls queue their request, and
/// one of them at a time (the leader) runs the store's commit, which takes what is queued
/// (Take) and settles each request it took (a result or an error) in one transaction and one
/// sync. A sync costs milliseconds; without this, handler threads would queue behind each
/// other's. Thread-safe.
class GroupCommit {
 public:
  /// The store's commit: takes requests with Take, settles them, returns those it took.
  using Commit = std::function<std::vector<OfferRequest*>()>;

  /// Checks the ids (std::invalid_argument for an empty or too long one, or a trace id neither
  /// empty nor IsTraceId: such a request can never be processed), queues the request, and
  /// returns its result once a commit (maybe this caller's own) has settled it; rethrows its
  /// error.
  ProcessResult Process(std::string_view message_id, const vip::VipNotification& notification,
                        std::chrono::system_clock::time_point offered_at,
                        std::chrono::milliseconds cooldown, std::string_view trace_id,
                        const Commit& commit);

  /// For the commit: up to `max` queued requests, oldest first.
  [[nodiscard]] std::vector<OfferRequest*> Take(
      std::size_t max = std::numeric_limits<std::size_t>::max());

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  std::vector<OfferRequest*> queued_;
  bool committing_ = false;
};

}  // namespace cppblog::vipservice

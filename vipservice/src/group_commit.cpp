#include "group_commit.hpp"

#include <algorithm>
#include <stdexcept>

namespace cppblog::vipservice {

ProcessResult GroupCommit::Process(std::string_view message_id,
                                   const vip::VipNotification& notification,
                                   std::chrono::system_clock::time_point offered_at,
                                   std::chrono::milliseconds cooldown, std::string_view trace_id,
                                   const Commit& commit) {
  if (message_id.empty() || message_id.size() > OfferStore::kMaxMessageIdBytes) {
    throw std::invalid_argument("offer store: a message id must be 1 to 255 bytes");
  }
  if (notification.account_id.empty() ||
      notification.account_id.size() > OfferStore::kMaxAccountIdBytes) {
    throw std::invalid_argument("offer store: an account id must be 1 to " +
                                std::to_string(OfferStore::kMaxAccountIdBytes) + " bytes");
  }
  if (!trace_id.empty() && !IsTraceId(trace_id)) {
    throw std::invalid_argument(
        "offer store: a trace id must be 32 lower-case hex digits, not all zero, or empty");
  }
  OfferRequest mine{.message_id = message_id,
                    .notification = notification,
                    .offered_at = offered_at,
                    .cooldown = cooldown,
                    .trace_id = trace_id,
                    .result = ProcessResult::kDuplicate,
                    .error = nullptr,
                    .done = false};
  std::unique_lock lock{mutex_};
  queued_.push_back(&mine);
  while (!mine.done) {
    if (committing_) {
      done_.wait(lock);
      continue;
    }
    // Lead: commit what is queued (this request among it, unless the commit takes fewer).
    committing_ = true;
    lock.unlock();
    const std::vector<OfferRequest*> batch = commit();
    lock.lock();
    for (OfferRequest* request : batch) request->done = true;
    committing_ = false;
    done_.notify_all();
  }
  if (mine.error) std::rethrow_exception(mine.error);
  return mine.result;
}

std::vector<OfferRequest*> GroupCommit::Take(std::size_t max) {
  const std::lock_guard lock{mutex_};
  const std::size_t take = std::min(queued_.size(), max);
  std::vector<OfferRequest*> batch(queued_.begin(),
                                   queued_.begin() + static_cast<std::ptrdiff_t>(take));
  queued_.erase(queued_.begin(), queued_.begin() + static_cast<std::ptrdiff_t>(take));
  return batch;
}

}  // namespace cppblog::vipservice

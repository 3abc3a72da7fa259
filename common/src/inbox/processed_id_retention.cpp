#include "cppblog/inbox/processed_id_retention.hpp"

#include <algorithm>
#include <exception>
#include <utility>

#include <spdlog/spdlog.h>

namespace cppblog::inbox {

std::chrono::milliseconds ProcessedIdRetention::DefaultInterval(
    std::chrono::milliseconds retention) {
  using std::chrono::milliseconds;
  return std::clamp(retention / 48, milliseconds{1'000}, milliseconds{3'600'000});
}

ProcessedIdRetention::ProcessedIdRetention(DeleteBefore delete_before, Options options)
    : delete_before_(std::move(delete_before)), options_(std::move(options)) {
  if (options_.interval.count() <= 0) options_.interval = DefaultInterval(options_.retention);
  thread_ = std::jthread{[this](const std::stop_token& stop) {
    while (!stop.stop_requested()) {
      try {
        const std::size_t deleted = SweepOnce();
        if (deleted > 0) {
          spdlog::info("{}: deleted {} processed message ids older than {} ms", options_.name,
                       deleted, options_.retention.count());
        }
      } catch (const std::exception& e) {
        spdlog::warn("{}: deleting old processed message ids failed, next try in {} ms: {}",
                     options_.name, options_.interval.count(), e.what());
      }
      std::unique_lock lock{mutex_};
      wake_.wait_for(lock, stop, options_.interval, [] { return false; });
    }
  }};
}

ProcessedIdRetention::~ProcessedIdRetention() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

std::size_t ProcessedIdRetention::SweepOnce() {
  return delete_before_(options_.clock() - options_.retention);
}

}  // namespace cppblog::inbox

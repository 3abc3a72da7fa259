#include "refresh_publisher.hpp"

#include <algorithm>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "cppblog/config/refresh_event.hpp"

namespace cppblog::configserver {

struct RefreshPublisher::Waiter {
  std::size_t remaining = 0;
  std::optional<std::string> error{};
  AnnounceDone done;
};

RefreshPublisher::RefreshPublisher(messaging::MessagePublisher& publisher,
                                   RefreshPublisherOptions options)
    : publisher_(publisher), options_(std::move(options)) {
  if (!options_.now_ms) {
    options_.now_ms = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  if (!options_.new_event_id) options_.new_event_id = config::RandomUuid;
  worker_ = std::jthread{[this](const std::stop_token& stop) { Run(stop); }};
}

RefreshPublisher::~RefreshPublisher() {
  worker_.request_stop();
  worker_.join();
}

void RefreshPublisher::Announce(std::vector<std::string> destinations, AnnounceDone done) {
  if (destinations.empty()) throw std::invalid_argument("Announce needs at least one destination");
  std::sort(destinations.begin(), destinations.end());
  destinations.erase(std::unique(destinations.begin(), destinations.end()), destinations.end());
  auto waiter = std::make_shared<Waiter>();
  waiter->remaining = destinations.size();
  waiter->done = std::move(done);
  {
    std::lock_guard lock{mutex_};
    const auto fresh = static_cast<std::size_t>(
        std::count_if(destinations.begin(), destinations.end(),
                      [this](const std::string& d) { return !queued_.contains(d); }));
    if (queued_.size() + fresh > options_.max_queued) {
      throw AnnouncerBusyError("refresh events for " + std::to_string(queued_.size()) +
                               " destinations are already waiting for the broker (at most " +
                               std::to_string(options_.max_queued) + "); retry later");
    }
    const auto now = std::chrono::steady_clock::now();
    for (auto& destination : destinations) {
      auto [it, inserted] = queued_.try_emplace(std::move(destination));
      if (inserted) it->second.since = now;
      it->second.waiters.push_back(waiter);
    }
  }
  wake_.notify_all();
}

void RefreshPublisher::Run(const std::stop_token& stop) {
  std::unique_lock lock{mutex_};
  while (!stop.stop_requested()) {
    if (!wake_.wait(lock, stop, [this] { return !queued_.empty(); })) break;
    auto due = std::chrono::steady_clock::time_point::max();
    for (const auto& [destination, queued] : queued_) due = std::min(due, queued.since);
    due += options_.coalesce_window;
    // Requests arriving meanwhile join the batch; only a stop ends the wait early.
    static_cast<void>(wake_.wait_until(lock, stop, due, [] { return false; }));
    if (stop.stop_requested()) break;
    std::map<std::string, Queued> batch = std::exchange(queued_, {});
    lock.unlock();
    PublishBatch(std::move(batch));
    lock.lock();
  }
  std::map<std::string, Queued> rest = std::exchange(queued_, {});
  lock.unlock();
  for (auto& [destination, queued] : rest) {
    for (auto& waiter : queued.waiters) {
      if (!waiter->error) {
        waiter->error = "the configserver is stopping; the refresh event for '" + destination +
                        "' was not sent";
      }
      if (--waiter->remaining == 0 && waiter->done) waiter->done(waiter->error);
    }
  }
}

void RefreshPublisher::PublishBatch(std::map<std::string, Queued> batch) {
  std::vector<std::pair<std::string, std::future<void>>> sent;
  std::map<std::string, std::string> failed;
  for (const auto& [destination, queued] : batch) {
    const RefreshEvent event{.timestamp_ms = options_.now_ms(),
                             .origin_service = options_.origin_service,
                             .destination_service = destination,
                             .id = options_.new_event_id()};
    messaging::Message message;
    message.body = ToJson(event);
    message.content_type = "application/json";
    message.message_id = event.id;
    message.persistent = true;
    message.mandatory = false;
    try {
      sent.emplace_back(destination, publisher_.Publish({.name = options_.bus,
                                                         .type = messaging::ExchangeType::kTopic,
                                                         .durable = true,
                                                         .auto_delete = false},
                                                        options_.bus, std::move(message)));
    } catch (const std::exception& e) {
      failed.emplace(destination, e.what());
    }
  }
  // The events went out together; their confirms share one deadline.
  const auto deadline = std::chrono::steady_clock::now() + options_.confirm_timeout;
  std::vector<std::string> confirmed;
  for (auto& [destination, future] : sent) {
    if (future.wait_until(deadline) != std::future_status::ready) {
      failed.emplace(destination,
                     "the broker did not confirm the refresh event for '" + destination +
                         "' within " + std::to_string(options_.confirm_timeout.count()) +
                         " ms (is the broker reachable?); the client keeps it and retries until "
                         "its publish timeout, so it may still arrive");
      continue;
    }
    try {
      future.get();
      confirmed.push_back(destination);
    } catch (const std::exception& e) {
      failed.emplace(destination, "the refresh event for '" + destination +
                                      "' could not be published: " + e.what());
    }
  }
  if (!confirmed.empty()) {
    spdlog::info("refresh events published: exchange={} destinations={}", options_.bus,
                 fmt::join(confirmed, ","));
  }
  for (const auto& [destination, reason] : failed) spdlog::error("{}", reason);
  for (auto& [destination, queued] : batch) {
    const auto failure = failed.find(destination);
    for (auto& waiter : queued.waiters) {
      if (failure != failed.end() && !waiter->error) waiter->error = failure->second;
      if (--waiter->remaining != 0 || !waiter->done) continue;
      try {
        waiter->done(waiter->error);
      } catch (const std::exception& e) {
        spdlog::error("a refresh announcement's completion failed: {}", e.what());
      }
    }
  }
}

}  // namespace cppblog::configserver

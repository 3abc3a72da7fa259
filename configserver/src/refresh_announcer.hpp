#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace cppblog::configserver {

/// Called once when an announcement is over: nullopt when every event was confirmed by the
/// broker, else why one was not (for people). Must not throw.
using AnnounceDone = std::function<void(const std::optional<std::string>& error)>;

/// Too many destinations are waiting to be announced; nothing was queued (→ 503).
class AnnouncerBusyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Announces a configuration change to the services: Spring Cloud Bus
/// RefreshRemoteApplicationEvents. Implemented over AMQP by RefreshPublisher
/// (refresh_publisher.hpp).
class RefreshAnnouncer {
 public:
  virtual ~RefreshAnnouncer() = default;
  /// Queues one event per destination (already normalised: "accountservice:**", "**") and
  /// returns at once; a destination already queued and not yet published shares that event.
  /// `done` runs exactly once, on the announcer's own thread (never inside this call), when
  /// every event has been confirmed or one has failed. Thread-safe. Throws
  /// AnnouncerBusyError when too many destinations are already waiting.
  virtual void Announce(std::vector<std::string> destinations, AnnounceDone done) = 0;
};

}  // namespace cppblog::configserver

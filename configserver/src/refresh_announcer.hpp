#pragma once

#include <string>

namespace cppblog::configserver {

/// Announces a configuration change to the services: one Spring Cloud Bus
/// RefreshRemoteApplicationEvent per call. Implemented over AMQP by RefreshPublisher
/// (refresh_publisher.hpp) once the messaging library is available.
class RefreshAnnouncer {
 public:
  virtual ~RefreshAnnouncer() = default;
  /// Publishes an event for `destination`, already normalised ("accountservice:**", "**").
  /// Thread-safe. Throws when the event cannot be published.
  virtual void Announce(const std::string& destination) = 0;
};

}  // namespace cppblog::configserver

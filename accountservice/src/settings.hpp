#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cppblog/config/properties.hpp"
#include "cppblog/messaging/topology.hpp"

namespace cppblog::account {

inline constexpr const char* kServiceName = "accountservice";

/// The accountservice's typed configuration. Built once from the loaded
/// properties; nothing else in the service reads raw keys.
struct Settings {
  std::uint16_t server_port = 6767;
  /// The address the HTTP server listens on (server_address); 0.0.0.0: every IPv4 interface.
  std::string server_address = "0.0.0.0";
  /// Most HTTP connections at once (max_connections); 0: derived from ulimit -n.
  std::size_t max_connections = 0;
  /// How long a request may take to arrive whole (request_timeout).
  std::chrono::milliseconds request_timeout{30'000};
  std::string server_name = kServiceName;
  std::filesystem::path data_dir;
  std::string amqp_server_url;
  std::string log_level;
  /// metrics_enabled: false turns every metric off (GET /metrics answers 404, the hot paths
  /// update nothing); for measuring what metrics cost (docs/operations.md).
  bool metrics_enabled = true;
  std::string config_event_bus;
  std::vector<std::string> vip_accounts;
  /// Declare the VIP queue as the Go original does (non-durable); see docs/decisions/0003.
  bool compat_goblog_p9 = false;
  /// The queue VIP notifications go to; "vip_queue" except in tests that need their own.
  std::string vip_queue;
  /// classic (default) or quorum: how vip_queue and vip_queue.dlq are declared (ADR 0011).
  messaging::QueueType vip_queue_type = messaging::QueueType::kClassic;
  /// HTTP threads; 0: one per core. A VIP read holds none while its outbox entry is synced
  /// (its answer is sent from the outbox's writer), so more threads do not help group commit.
  unsigned http_threads = 0;

  /// Every key the service knows, with its built-in default (the lowest layer).
  [[nodiscard]] static config::Properties Defaults();
  /// Throws config::ConfigError naming the key, value and source of a bad setting.
  [[nodiscard]] static Settings From(const config::Properties& properties);
};

}  // namespace cppblog::account

#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cppblog/config/properties.hpp"
#include "cppblog/messaging/topology.hpp"
#include "cppblog/vip/vip_notification.hpp"
#include "cppblog/web/server_options.hpp"

namespace cppblog::account {

inline constexpr const char* kServiceName = "accountservice";
inline constexpr std::uint16_t kServerPort = 6767;

/// The accountservice's typed configuration. Built once from the loaded
/// properties; nothing else in the service reads raw keys. The member initializers are the
/// built-in defaults, written only here: Defaults() writes a default-constructed Settings as
/// the lowest configuration layer (docs/configuration.md, "Keys").
struct Settings {
  /// The HTTP server: server_port (default kServerPort), server_address, max_connections,
  /// request_timeout, http_threads (web::ServerOptionsFrom). A VIP read holds no HTTP thread
  /// while its outbox entry is synced (its answer is sent from the outbox's writer), so more
  /// threads do not help group commit.
  web::ServerOptions server{.port = kServerPort};
  std::string server_name = kServiceName;
  std::filesystem::path data_dir = "./data/accountservice";
  std::string amqp_server_url = "amqp://guest:guest@127.0.0.1:5672/%2F";
  std::string log_level = "info";
  /// metrics_enabled: false turns every metric off (GET /metrics answers 404, the hot paths
  /// update nothing); for measuring what metrics cost (docs/operations.md).
  bool metrics_enabled = true;
  std::string config_event_bus = "springCloudBus";
  std::vector<std::string> vip_accounts{"10000"};
  /// Declare the VIP queue as the Go original does (non-durable); see docs/decisions/0003.
  bool compat_goblog_p9 = false;
  /// The queue VIP notifications go to; "vip_queue" except in tests that need their own.
  std::string vip_queue{vip::kVipQueueName};
  /// classic (default) or quorum: how vip_queue and vip_queue.dlq are declared (ADR 0011).
  messaging::QueueType vip_queue_type = messaging::QueueType::kClassic;

  /// Every key the service knows, with its built-in default (the lowest layer, source
  /// "default"): Settings{} written as text, so that From(Defaults()) == Settings{}.
  [[nodiscard]] static config::Properties Defaults();
  /// Throws config::ConfigError naming the key, value and source of a bad setting.
  [[nodiscard]] static Settings From(const config::Properties& properties);

  friend bool operator==(const Settings&, const Settings&) = default;
};

}  // namespace cppblog::account

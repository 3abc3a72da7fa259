#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "cppblog/config/properties.hpp"
#include "cppblog/messaging/topology.hpp"
#include "cppblog/vip/vip_notification.hpp"
#include "cppblog/web/server_options.hpp"

namespace cppblog::vipservice {

inline constexpr const char* kServiceName = "vipservice";
inline constexpr std::uint16_t kServerPort = 6868;

/// The vipservice's typed configuration. Built once from the loaded properties;
/// nothing else in the service reads raw keys. The member initializers are the built-in
/// defaults, written only here: Defaults() writes a default-constructed Settings as the lowest
/// configuration layer (docs/configuration.md, "Keys").
struct Settings {
  /// The HTTP server: server_port (default kServerPort), server_address, max_connections,
  /// request_timeout, http_threads (web::ServerOptionsFrom).
  web::ServerOptions server{.port = kServerPort};
  std::string server_name = kServiceName;
  std::filesystem::path data_dir = "./data/vipservice";
  /// Empty: offers in LMDB under data_dir. Else a postgresql:// URL: offers in PostgreSQL,
  /// shared by every vipservice that names the same database.
  std::string offer_store_url;
  /// When set, the PostgreSQL password is read from this file (it replaces the URL's).
  std::filesystem::path offer_store_password_file;
  /// Processed message ids older than this are deleted in the background.
  std::chrono::milliseconds processed_id_retention = std::chrono::days{7};
  std::string amqp_server_url = "amqp://guest:guest@127.0.0.1:5672/%2F";
  std::string log_level = "info";
  /// metrics_enabled: false turns every metric off (GET /metrics answers 404, the hot paths
  /// update nothing); for measuring what metrics cost (docs/operations.md).
  bool metrics_enabled = true;
  std::string config_event_bus = "springCloudBus";
  /// An account gets no second offer within this time of its last one (by readAt); 0: every
  /// distinct notification yields an offer.
  std::chrono::milliseconds offer_cooldown = std::chrono::hours{24};
  /// Declare the queue exactly as the Go original does (non-durable), to share a broker with it.
  bool compat_goblog_p9 = false;
  /// The queue consumed; "vip_queue" except in tests that need a queue of their own.
  std::string vip_queue{vip::kVipQueueName};
  /// classic (default) or quorum: how vip_queue and vip_queue.dlq are declared (ADR 0011).
  messaging::QueueType vip_queue_type = messaging::QueueType::kClassic;
  std::uint16_t prefetch = 100;
  std::size_t handler_threads = 16;
  /// How long SIGTERM waits for handlers in flight to finish and be acked.
  std::chrono::milliseconds drain_timeout = std::chrono::seconds{5};

  /// Every key the service knows, with its built-in default (the lowest layer, source
  /// "default"): Settings{} written as text, so that From(Defaults()) == Settings{}.
  [[nodiscard]] static config::Properties Defaults();
  /// Throws config::ConfigError naming the key, value and source of a bad setting.
  [[nodiscard]] static Settings From(const config::Properties& properties);

  friend bool operator==(const Settings&, const Settings&) = default;
};

}  // namespace cppblog::vipservice

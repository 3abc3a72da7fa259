#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "cppblog/config/properties.hpp"
#include "cppblog/web/server_options.hpp"

namespace cppblog::configserver {

inline constexpr std::uint16_t kServerPort = 8888;

enum class Backend { kNative, kGit };

/// The configserver's own settings, parsed once from its configuration layers. The member
/// initializers are the built-in defaults, written only here: Defaults() writes a
/// default-constructed Settings as the lowest configuration layer (configserver/README.md).
struct Settings {
  Backend backend = Backend::kNative;                       // config_backend: native | git
  std::filesystem::path repository = "deploy/config-repo";  // config_repo (relative to cwd)
  std::string repository_uri;  // config_repo_uri: git source-name prefix; empty → file://<path>
  std::string default_label;   // config_default_label; empty → main, then master (git)
  bool accept_empty = true;    // config_accept_empty: false → 404 when nothing matches
  bool watch = true;           // config_watch: inotify on a native repository
  std::chrono::milliseconds watch_debounce{300};  // config_watch_debounce
  std::string log_level = "info";                 // log_level
  /// metrics_enabled: false turns every metric off (GET /metrics answers 404, the hot paths
  /// update nothing); for measuring what metrics cost (docs/operations.md).
  bool metrics_enabled = true;
  /// amqp_server_url: the broker of the Spring Cloud Bus; empty: no bus (/monitor and
  /// /actuator/busrefresh answer 503, file changes are only logged).
  std::string amqp_server_url = "amqp://guest:guest@127.0.0.1:5672/%2F";
  std::string config_event_bus = "springCloudBus";  // config_event_bus: the bus exchange
  /// The HTTP server: server_port (default kServerPort), server_address, max_connections,
  /// request_timeout, http_threads (web::ServerOptionsFrom).
  web::ServerOptions server{.port = kServerPort};

  /// spring.security.user.name / spring.security.user.password: HTTP Basic credentials every
  /// endpoint but /health requires; no authentication while the password is empty.
  std::string security_user = "user";
  std::string security_password;
  /// monitor_webhook_secret: the secret of the repository's webhook; when set, POST /monitor
  /// checks X-Hub-Signature-256 (or X-Gitlab-Token).
  std::string monitor_webhook_secret;

  /// Every key above with its default, as the lowest configuration layer (source "default"):
  /// Settings{} written as text, so that From(Defaults()) == Settings{}.
  [[nodiscard]] static config::Properties Defaults();
  /// Throws config::ConfigError naming the key, the value and its source.
  [[nodiscard]] static Settings From(const config::Properties& properties);

  friend bool operator==(const Settings&, const Settings&) = default;
};

}  // namespace cppblog::configserver

#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "cppblog/config/command_line.hpp"
#include "cppblog/config/loader.hpp"
#include "cppblog/config/properties.hpp"
#include "cppblog/config/spring_environment.hpp"

namespace cppblog::config {

/// How often and how patiently the config server is asked. The defaults are Spring Cloud
/// Config client's retry defaults (spring.cloud.config.retry.*: 6 attempts, 1 s initial
/// interval, ×1.1, at most 2 s), plus ±10 % jitter so that a fleet restarted together does
/// not ask in lock-step. Worst case at start-up: 5 waits (≈6.1 s) plus 6 request timeouts.
struct RetryPolicy {
  int max_attempts = 6;
  std::chrono::milliseconds initial_interval{1'000};
  double multiplier = 1.1;
  std::chrono::milliseconds max_interval{2'000};
  double jitter = 0.1;  // each wait is drawn uniformly from interval × [1 − jitter, 1 + jitter]
};

struct ConfigClientOptions {
  std::string app;           // "accountservice": the {application} asked for
  CommandLine command_line;  // -configServerUrl, -profile, -configBranch (the label), the rest
  Properties defaults;       // the service's Settings::Defaults()
  EnvironmentLookup environment = ProcessEnvironment();
  RetryPolicy retry{};
  /// One HTTP exchange (resolve, connect, request, response) must finish within this.
  std::chrono::milliseconds request_timeout{5'000};
  /// nullopt: the `fail_fast` key of the local layers (files, environment FAIL_FAST,
  /// --set fail_fast=true), false when none sets it — Spring's default.
  std::optional<bool> fail_fast{};
};

/// What the config server answered.
struct RemoteConfiguration {
  std::string url;                // the environment URL, password masked
  SpringEnvironment environment;  // name, profiles, label, version (git commit), sources
  Properties properties;          // the sources merged, the first winning
};

struct LoadedConfiguration {
  Properties properties;  // every layer merged (see ConfigClient::Load)
  /// nullopt: no -configServerUrl, or the server stayed unreachable and fail_fast is false.
  std::optional<RemoteConfiguration> remote;
};

enum class LoadMode {
  kStartup,  // an unreachable server: fail_fast decides (throw, or run on the local layers)
  kRefresh,  // an unreachable server always throws: the caller keeps what it has
};

/// The Spring Cloud Config client: fetches `{configServerUrl}/{app}/{profile}/{label}`
/// (`(_)` for a '/' in a label, no label segment when -configBranch is empty) over HTTP/1.1
/// with `Accept: application/json`, retrying per RetryPolicy, and layers the result between
/// the local files and the environment. URLs: `http://host:port[/prefix]`, or a bare
/// `host:port`; `http://user:password@host` sends HTTP Basic credentials, and so do
/// `spring.cloud.config.username` / `spring.cloud.config.password` from the local layers
/// (files, SPRING_CLOUD_CONFIG_PASSWORD or SPRING_CLOUD_CONFIG_PASSWORD_FILE, --set), which
/// win over the URL's. https:// is not supported (ConfigError at construction): put the
/// server behind a local TLS proxy.
/// Const member functions are thread-safe; each request uses its own connection.
class ConfigClient {
 public:
  /// With a configServerUrl, reads the local layers once (for the credentials). Throws
  /// ConfigError for a malformed or https configServerUrl, or a malformed local file.
  explicit ConfigClient(ConfigClientOptions options);
  ~ConfigClient();
  ConfigClient(const ConfigClient&) = delete;
  ConfigClient& operator=(const ConfigClient&) = delete;
  ConfigClient(ConfigClient&&) = delete;
  ConfigClient& operator=(ConfigClient&&) = delete;

  /// Builds the configuration, lowest layer first: defaults → {app}.yml → {app}-{profile}.yml
  /// → the config server (when -configServerUrl is given) → environment → --set, as
  /// config::Load. When the server cannot be reached after all attempts (connection errors,
  /// timeouts, 5xx and a 404 for an unknown application all count), kStartup with fail_fast
  /// false logs one warning and returns the local layers; otherwise it throws ConfigError
  /// "cannot load configuration from <url>: <reason>; is the configserver running? …".
  /// Also throws ConfigError for a malformed local file or a malformed server answer.
  [[nodiscard]] LoadedConfiguration Load(LoadMode mode = LoadMode::kStartup) const;

  /// Asks the server, with retries. Throws ConfigError as above. Requires a configServerUrl
  /// (throws ConfigError without one).
  [[nodiscard]] RemoteConfiguration Fetch() const;

  /// True when a configServerUrl is set.
  [[nodiscard]] bool HasServer() const noexcept;
  /// The environment URL this client asks, password masked; empty without a server.
  [[nodiscard]] const std::string& Url() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cppblog::config

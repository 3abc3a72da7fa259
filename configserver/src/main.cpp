#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>

#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "cppblog/config/command_line.hpp"
#include "cppblog/config/loader.hpp"
#include "cppblog/health/health_registry.hpp"
#include "cppblog/logging/logging.hpp"
#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/metrics/http_server_metrics.hpp"
#include "cppblog/web/server.hpp"

#include "config_handlers.hpp"
#include "config_repository.hpp"
#include "file_watcher.hpp"
#include "git_repository.hpp"
#include "property_path.hpp"
#include "refresh_publisher.hpp"
#include "settings.hpp"

namespace cppblog::configserver {
namespace {

constexpr const char* kServiceName = "configserver";

std::unique_ptr<ConfigRepository> MakeRepository(const Settings& settings) {
  if (settings.backend == Backend::kGit) {
    return std::make_unique<GitRepository>(
        GitRepositoryOptions{.path = settings.repository,
                             .uri = settings.repository_uri,
                             .default_label = settings.default_label});
  }
  return std::make_unique<NativeRepository>(settings.repository);
}

// A changed file announces itself, as Spring's FileMonitorConfiguration does through /monitor.
void Announce(RefreshAnnouncer* announcer, const std::vector<std::string>& files) {
  std::vector<std::string> destinations;
  try {
    destinations = RefreshDestinations(GuessServiceNames(files));
  } catch (const std::exception& e) {
    spdlog::warn("config files changed: {}; not announced: {}", fmt::join(files, ", "), e.what());
    return;
  }
  spdlog::info("config files changed: {} → refresh for: {}", fmt::join(files, ", "),
               fmt::join(destinations, ", "));
  if (destinations.empty()) return;
  if (announcer == nullptr) {
    spdlog::warn("no bus: the change is not announced; services pick it up on restart");
    return;
  }
  try {
    // The client keeps what the broker has not confirmed and sends it once it is back.
    announcer->Announce(std::move(destinations), [](const std::optional<std::string>&) {});
  } catch (const std::exception& e) {
    spdlog::error("refresh events for the changed files not queued: {}", e.what());
  }
}

RequestAuthOptions AuthOptions(const Settings& settings) {
  RequestAuthOptions options{.basic = std::nullopt,
                             .webhook_secret = settings.monitor_webhook_secret};
  if (!settings.security_password.empty()) {
    options.basic =
        BasicCredentials{.user = settings.security_user, .password = settings.security_password};
  }
  return options;
}

int Run(int argc, char* argv[]) {
  try {
    const auto command_line = config::ParseCommandLine(argc, argv, kServiceName, std::cout);
    if (!command_line) return EXIT_SUCCESS;
    logging::Init(kServiceName, command_line->log_format);
    const config::Properties defaults = Settings::Defaults();
    const Settings settings = Settings::From(
        config::Load({.app = kServiceName, .command_line = *command_line, .defaults = defaults}));
    logging::SetLevel(settings.log_level);

    // GET /metrics (docs/operations.md); metrics_enabled=false: inert, 404.
    metrics::Registry metrics{{.enabled = settings.metrics_enabled}};
    const std::unique_ptr<ConfigRepository> repository = MakeRepository(settings);
    health::HealthRegistry health;
    // Spring's EnvironmentRepository health check: can the repository be read at all?
    health.Add("repository", [&repository]() -> health::CheckResult {
      try {
        static_cast<void>(repository->FindOne("application", "default", std::nullopt));
        return {.healthy = true, .detail = {}};
      } catch (const std::exception& e) {
        return {.healthy = false, .detail = e.what()};
      }
    });

    // The bus: optional, connects and reconnects in the background.
    std::optional<messaging::AmqpClient> broker;
    std::optional<RefreshPublisher> publisher;
    if (!settings.amqp_server_url.empty()) {
      // A named object, not a temporary: GCC 12 -O3 reports a false maybe-uninitialized
      // on the temporary's strings.
      messaging::AmqpClientOptions amqp_options;
      amqp_options.url = settings.amqp_server_url;
      amqp_options.password_from_environment = true;
      amqp_options.connection_name = kServiceName;
      amqp_options.metrics = &metrics;
      broker.emplace(std::move(amqp_options));
      publisher.emplace(*broker, RefreshPublisherOptions{.bus = settings.config_event_bus,
                                                         .origin_service = MakeBusId(
                                                             kServiceName, settings.server.port)});
      spdlog::info("refresh events go to exchange {} on {}", settings.config_event_bus,
                   broker->DisplayUrl());
    } else {
      spdlog::warn(
          "amqp_server_url is empty: no bus; /monitor and /actuator/busrefresh answer 503");
    }
    RefreshAnnouncer* announcer = publisher ? &*publisher : nullptr;

    std::optional<FileWatcher> watcher;
    if (settings.backend == Backend::kNative && settings.watch) {
      watcher.emplace(FileWatcherOptions{.directory = settings.repository,
                                         .debounce = settings.watch_debounce,
                                         .on_change = [announcer](std::vector<std::string> files) {
                                           Announce(announcer, files);
                                         }});
    }

    metrics::HttpServerMetrics http_metrics{metrics};
    web::Server server{
        settings.server,
        http_metrics.Instrument(MakeRouter({.repository = *repository,
                                            .health = health,
                                            .accept_empty = settings.accept_empty,
                                            .announcer = announcer,
                                            .bus_reachable =
                                                [&broker] {
                                                  return broker &&
                                                         broker->State() ==
                                                             messaging::ConnectionState::kConnected;
                                                },
                                            .auth = AuthOptions(settings)}))};
    spdlog::info(
        "configserver serving {} repository {} on port {}; HTTP Basic authentication {}, "
        "webhook signature {}",
        settings.backend == Backend::kGit ? "git" : "native", settings.repository.string(),
        server.Port(), settings.security_password.empty() ? "off" : "on",
        settings.monitor_webhook_secret.empty() ? "not checked" : "checked");
    server.RunUntilSignal();
    return EXIT_SUCCESS;
  } catch (const std::exception& e) {
    spdlog::critical("{} stopped: {}", kServiceName, e.what());
    return EXIT_FAILURE;
  }
}

}  // namespace
}  // namespace cppblog::configserver

int main(int argc, char* argv[]) { return cppblog::configserver::Run(argc, argv); }

#include <chrono>
#include <cstdlib>
#include <exception>
#include <future>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "cppblog/config/command_line.hpp"
#include "cppblog/config/config_client.hpp"
#include "cppblog/config/live_properties.hpp"
#include "cppblog/config/refresh_event.hpp"
#include "cppblog/config/refresh_listener.hpp"
#include "cppblog/health/health_registry.hpp"
#include "cppblog/logging/logging.hpp"
#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/metrics/http_server_metrics.hpp"
#include "cppblog/outbox/outbox.hpp"
#include "cppblog/outbox/relay.hpp"
#include "cppblog/process/working_set.hpp"
#include "cppblog/vip/vip_notification.hpp"
#include "cppblog/web/host_address.hpp"
#include "cppblog/web/server.hpp"

#include "account_handlers.hpp"
#include "account_store.hpp"
#include "settings.hpp"
#include "vip_notifier.hpp"

namespace cppblog::account {
namespace {

// Closing the broker client at shutdown: time for the relay's confirms and the bus acks.
constexpr std::chrono::milliseconds kBrokerCloseWait{500};

}  // namespace

int Run(int argc, char* argv[]) {
  try {
    const auto options = config::ParseCommandLine(argc, argv, kServiceName, std::cout);
    if (!options) return EXIT_SUCCESS;  // --help or --version was printed
    logging::Init(kServiceName, options->log_format);

    // Config: local files, the config server when -configServerUrl is given, environment,
    // flags; refreshed over the bus below.
    const config::ConfigClient config_client{
        {.app = kServiceName, .command_line = *options, .defaults = Settings::Defaults()}};
    config::LiveProperties live{config_client.Load().properties};
    const Settings settings = Settings::From(*live.Get());
    logging::SetLevel(settings.log_level);

    // Wiring in dependency order; destruction in reverse is the shutdown order.
    // GET /metrics (docs/operations.md); metrics_enabled=false: inert, 404.
    metrics::Registry metrics{{.enabled = settings.metrics_enabled}};
    AccountStore accounts{settings.data_dir};
    // The VIP outbox: the database "outbox" beside the accounts, in the same file.
    outbox::Outbox outbox{accounts.Environment(), {.metrics = &metrics}};
    const outbox::OutboxGauges outbox_gauges{outbox, metrics, VipReadAt};
    // Waits for the refresh subscription (below); joined after the broker client closes.
    std::jthread trim_when_connected;
    // Never blocks: connects (and reconnects) in the background; the outbox holds VIP
    // notifications meanwhile.
    messaging::AmqpClient broker{
        {.url = settings.amqp_server_url,
         // AMQP_PASSWORD or AMQP_PASSWORD_FILE (a Docker secret) wins over the URL's password.
         .password_from_environment = true,
         .connection_name = std::string(kServiceName) + ":" + std::to_string(settings.server.port),
         .on_state_change =
             [](messaging::ConnectionState state) {
               spdlog::info("broker connection: {}", messaging::ToString(state));
             },
         .metrics = &metrics}};
    const messaging::QueueSpec vip_queue =
        vip::VipQueue(settings.compat_goblog_p9, settings.vip_queue, settings.vip_queue_type);
    // Optional so that shutdown stops it right after closing the broker client (below).
    std::optional<outbox::Relay> relay{std::in_place, outbox, broker, VipRelayOptions(vip_queue)};
    VipNotifier notifier{outbox, settings.vip_accounts};

    live.OnChange(
        [&notifier](const config::PropertiesSnapshot& now, const std::vector<std::string>&) {
          const Settings next = Settings::From(*now);  // validated before the swap
          logging::SetLevel(next.log_level);
          notifier.SetVipAccounts(next.vip_accounts);
        });
    // server_name is not live: nothing in the accountservice reads it.
    const config::RefreshListener refresh{
        broker,
        broker,
        config_client,
        live,
        {.bus_exchange = settings.config_event_bus,
         .bus_id = config::MakeBusId(kServiceName, settings.server.port),
         .live_keys = {"log_level", "vip_accounts"},
         .validate = [](const config::Properties& p) { static_cast<void>(Settings::From(p)); },
         .metrics = &metrics}};

    health::HealthRegistry health;
    health::HealthSwitch health_switch;
    AddHealthChecks(health, accounts, health_switch);
    AddOutboxHealthCheck(health, outbox);
    AddVipQueueHealthCheck(health, [&relay]() -> std::optional<std::string> {
      return relay ? relay->Refusal() : std::nullopt;  // the server stops before the relay
    });
    metrics::HttpServerMetrics http_metrics{metrics};
    web::Server server{settings.server,
                       http_metrics.Instrument(MakeRouter(
                           {.accounts = accounts,
                            .health = health,
                            .health_switch = health_switch,
                            .served_by = web::FirstNonLoopbackIpv4(),
                            .vip_notifier = &notifier,
                            .broker_state = [&broker] { return broker.State(); },
                            .broker_node = [&broker] { return broker.CurrentNode(); }}))};
    spdlog::info(
        "{} listening on :{} data_dir={} broker={} vip_queue={} durable={} "
        "outbox_pending={}",
        kServiceName, server.Port(), settings.data_dir.string(), broker.DisplayUrl(),
        vip_queue.name, vip_queue.durable, outbox.Size());

    // Start-up is over (configured, store open, listening): drop the pages only start-up used,
    // code and constants that steady state maps again as it needs them (ADR 0006). The broker
    // may connect later or never; once it has taken the refresh subscription, drop the
    // connection set-up's pages too.
    static_cast<void>(process::TrimWorkingSet());
    // No polling: the future completes when the broker takes the subscription, and fails when
    // it refuses it or the client closes; the thread was declared before the client, so on every
    // way out the client closes before the thread is joined.
    trim_when_connected = std::jthread{[subscribed = refresh.Subscribed()] {
      try {
        subscribed.get();
        static_cast<void>(process::TrimWorkingSet());
      } catch (const std::exception&) {
        // refused, or closed at shutdown: nothing to trim for
      }
    }};

    server.RunUntilSignal();
    // One wait bounds the whole stop, broker reachable or not (SIGTERM ends the service within
    // 1 s): the client's close waits for the relay's confirms and the bus acks; what is still
    // unconfirmed then fails with 'closed' and stays in the outbox, so the relay, stopped
    // next, has nothing left to wait for.
    broker.Close(kBrokerCloseWait);
    relay.reset();
    spdlog::info("{} stopped", kServiceName);
    return EXIT_SUCCESS;
  } catch (const std::exception& e) {
    spdlog::critical("{} stopped: {}", kServiceName, e.what());
    return EXIT_FAILURE;
  }
}

}  // namespace cppblog::account

int main(int argc, char* argv[]) { return cppblog::account::Run(argc, argv); }

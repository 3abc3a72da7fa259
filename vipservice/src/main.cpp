#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <future>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <malloc.h>
#include <spdlog/spdlog.h>

#include "cppblog/config/command_line.hpp"
#include "cppblog/config/config_client.hpp"
#include "cppblog/config/live_properties.hpp"
#include "cppblog/config/refresh_event.hpp"
#include "cppblog/config/refresh_listener.hpp"
#include "cppblog/health/health_registry.hpp"
#include "cppblog/inbox/processed_id_retention.hpp"
#include "cppblog/logging/logging.hpp"
#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/messaging/messaging_error.hpp"
#include "cppblog/metrics/http_server_metrics.hpp"
#include "cppblog/process/working_set.hpp"
#include "cppblog/vip/vip_notification.hpp"
#include "cppblog/web/server.hpp"

#include "offer_store.hpp"
#include "settings.hpp"
#include "vip_consumer.hpp"
#include "vip_handlers.hpp"

namespace cppblog::vipservice {
namespace {

// Waits for the broker to register the consumer. A refusal (PRECONDITION_FAILED: vip_queue
// declared otherwise by a peer) is a configuration error: log it and stop the service. Once the
// config bus subscription is in place too, start-up is over (configured, listening, consuming):
// drop the pages only start-up used, code and constants that steady state maps again as it
// needs them (ADR 0006). The waits block without polling: both futures complete when the broker
// answers, and fail when the client closes, so the caller closes the client before joining.
std::jthread WatchSubscription(std::future<void> subscribed,
                               std::shared_future<void> bus_subscribed, SubscriptionStatus& status,
                               web::Server& server, std::atomic<bool>& refused, std::string queue) {
  return std::jthread{[subscribed = subscribed.share(), bus_subscribed = std::move(bus_subscribed),
                       &status, &server, &refused, queue = std::move(queue)] {
    try {
      subscribed.get();
      status.SetActive();
      spdlog::info("consuming queue={} consumer_tag={}", queue, kServiceName);
    } catch (const std::exception& e) {
      const auto* error = dynamic_cast<const messaging::MessagingError*>(&e);
      if (error != nullptr && error->kind() == messaging::MessagingErrorKind::kClosed) return;
      spdlog::critical("cannot consume queue {}: {} ({})", queue, e.what(),
                       vip::VipQueueMismatchHint(e.what()));
      refused.store(true);
      server.Stop();
      return;
    }
    try {
      bus_subscribed.get();
      static_cast<void>(process::TrimWorkingSet());
    } catch (const std::exception&) {
      // refused (the refresh listener reports it), or closed at shutdown: nothing to trim for
    }
  }};
}

// Closes `broker`, then joins `watch` (Close is idempotent; a joined thread is left alone).
class CloseThenJoin {
 public:
  CloseThenJoin(messaging::AmqpClient& broker, std::jthread& watch,
                std::chrono::milliseconds deadline)
      : broker_(broker), watch_(watch), deadline_(deadline) {}
  CloseThenJoin(const CloseThenJoin&) = delete;
  CloseThenJoin& operator=(const CloseThenJoin&) = delete;
  ~CloseThenJoin() {
    broker_.Close(deadline_);
    if (watch_.joinable()) watch_.join();
  }

 private:
  messaging::AmqpClient& broker_;
  std::jthread& watch_;
  std::chrono::milliseconds deadline_;
};

}  // namespace

int Run(int argc, char* argv[]) {
  // glibc gives each thread that allocates an arena of its own, up to 8 per core; the ~20
  // threads here allocate little, so two arenas hold the resident memory down (about 130 kB
  // after a stream of notifications; bench/vip_end_to_end.sh saw no latency cost).
  mallopt(M_ARENA_MAX, 2);
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
    const std::unique_ptr<OfferStore> store = MakeOfferStore(settings);
    OfferStore& offers = *store;
    spdlog::info("offer store: {}", offers.Describe());
    const inbox::ProcessedIdRetention retention{
        [&offers](std::chrono::system_clock::time_point cutoff) {
          return offers.DeleteProcessedBefore(cutoff);
        },
        {.retention = settings.processed_id_retention, .name = "offer store"}};
    VipConsumer consumer{offers, settings.offer_cooldown, metrics};
    messaging::AmqpClient broker{
        {.url = settings.amqp_server_url,
         // AMQP_PASSWORD or AMQP_PASSWORD_FILE (a Docker secret) wins over the URL's password.
         .password_from_environment = true,
         .handler_threads = settings.handler_threads,
         .connection_name = std::string(kServiceName) + ":" + std::to_string(settings.server.port),
         .on_state_change =
             [](messaging::ConnectionState state) {
               spdlog::info("broker connection: {}", messaging::ToString(state));
             },
         .metrics = &metrics}};
    spdlog::info("broker {} (connecting in the background)", broker.DisplayUrl());
    const messaging::QueueSpec queue =
        vip::VipQueue(settings.compat_goblog_p9, settings.vip_queue, settings.vip_queue_type);
    auto subscribed = SubscribeVipQueue(broker, consumer, settings);

    live.OnChange(
        [&consumer](const config::PropertiesSnapshot& now, const std::vector<std::string>&) {
          const Settings next = Settings::From(*now);  // validated before the swap
          logging::SetLevel(next.log_level);
          consumer.SetOfferCooldown(next.offer_cooldown);
        });
    const config::RefreshListener refresh{
        broker,
        broker,
        config_client,
        live,
        {.bus_exchange = settings.config_event_bus,
         .bus_id = config::MakeBusId(kServiceName, settings.server.port),
         .live_keys = {"log_level", "offer_cooldown"},
         .validate = [](const config::Properties& p) { static_cast<void>(Settings::From(p)); },
         .metrics = &metrics}};

    SubscriptionStatus subscription;
    health::HealthRegistry health;
    AddHealthChecks(
        health, offers, [&broker] { return broker.State(); }, subscription,
        [&broker] { return broker.CurrentNode(); });
    AddStoreWriteCheck(health, consumer);
    metrics::HttpServerMetrics http_metrics{metrics};
    web::Server server{settings.server,
                       http_metrics.Instrument(MakeRouter({.offers = offers, .health = health}))};
    std::atomic<bool> refused{false};
    std::jthread watch = WatchSubscription(std::move(subscribed), refresh.Subscribed(),
                                           subscription, server, refused, queue.name);
    // On every way out, the client closes (failing what the watch waits on) before the watch is
    // joined; the normal way out below closes it first, after draining the consumer.
    const CloseThenJoin close_then_join{broker, watch, settings.drain_timeout};
    spdlog::info("{} listening on :{} data_dir={} queue={} durable={} offer_cooldown={}ms",
                 kServiceName, server.Port(), settings.data_dir.string(), queue.name, queue.durable,
                 settings.offer_cooldown.count());

    server.RunUntilSignal();
    // Drain: no new deliveries; handlers in flight finish and are acked, or go back to the
    // queue at once while the store cannot write.
    consumer.Stop();
    broker.Close(settings.drain_timeout);
    watch.join();
    if (refused.load()) return EXIT_FAILURE;
    spdlog::info("{} stopped", kServiceName);
    return EXIT_SUCCESS;
  } catch (const std::exception& e) {
    spdlog::critical("{} stopped: {}", kServiceName, e.what());
    return EXIT_FAILURE;
  }
}

}  // namespace cppblog::vipservice

int main(int argc, char* argv[]) { return cppblog::vipservice::Run(argc, argv); }

#include "cppblog/config/refresh_listener.hpp"

#include <atomic>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "cppblog/config/refresh_event.hpp"

#include "config/display.hpp"

namespace cppblog::config {
namespace {

std::int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "key=value (source)" for a log line; lists joined, secrets masked.
std::string Describe(const Properties& properties, const std::string& key) {
  if (const auto* value = properties.Find(key)) {
    return fmt::format("{}={} ({})", key, DisplayValue(key, value->text), value->source);
  }
  if (properties.Has(key)) {
    try {
      return fmt::format(
          "{}=[{}]", key,
          DisplayValue(key, fmt::format("{}", fmt::join(properties.GetList(key), ","))));
    } catch (const std::exception&) {
      return fmt::format("{}=(a list of maps)", key);
    }
  }
  return fmt::format("{} (removed)", key);
}

messaging::ExchangeSpec BusExchange(const std::string& name) {
  // Spring Cloud Stream's Rabbit binder declares the bus this way.
  return {
      .name = name, .type = messaging::ExchangeType::kTopic, .durable = true, .auto_delete = false};
}

}  // namespace

struct RefreshListener::State {
  std::mutex mutex;  // serialises handling; guards alive
  bool alive = true;
  messaging::MessagePublisher& publisher;
  const ConfigClient& client;
  LiveProperties& live;
  RefreshListenerOptions options;
  std::atomic<std::uint64_t> refreshes{0};

  State(messaging::MessagePublisher& p, const ConfigClient& c, LiveProperties& l,
        RefreshListenerOptions o)
      : publisher(p), client(c), live(l), options(std::move(o)) {
    if (options.metrics != nullptr) {
      constexpr std::string_view kHelp =
          "Configuration refreshes over the bus: applied (validated and swapped in) or failed "
          "(the current configuration stays).";
      applied = &options.metrics->AddCounter("cppblog_config_refreshes_total", kHelp,
                                             {{"result", "applied"}});
      failed = &options.metrics->AddCounter("cppblog_config_refreshes_total", kHelp,
                                            {{"result", "failed"}});
    }
  }

  metrics::Counter* applied = nullptr;
  metrics::Counter* failed = nullptr;

  messaging::Outcome Handle(const messaging::Message& message) {
    const std::lock_guard lock{mutex};
    if (!alive) {
      return messaging::Outcome::kAck;
    }
    BusEvent event;
    try {
      event = ParseBusEvent(message.body);
    } catch (const std::invalid_argument& e) {
      // Spring drops what it cannot read; a server-named queue has no dead-letter queue.
      spdlog::warn("config bus: dropped a message on {}: {}", options.bus_exchange, e.what());
      return messaging::Outcome::kAck;
    }
    const BusEventAction action = Decide(event, options.bus_id);
    if (action != BusEventAction::kRefresh) {
      spdlog::debug("config bus: {} id={} from={} destination={}: {}", event.type, event.id,
                    event.origin_service, event.destination_service.value_or("(none)"),
                    ToString(action));
      return messaging::Outcome::kAck;
    }
    spdlog::info("config bus: refresh event id={} from={} destination={}", event.id,
                 event.origin_service, NormalizeDestination(event.destination_service));
    refreshes.fetch_add(1, std::memory_order_relaxed);
    Refresh();
    if (options.send_acks) {
      SendAck(event);
    }
    return messaging::Outcome::kAck;
  }

  void Refresh() {
    try {
      LoadedConfiguration loaded = client.Load(LoadMode::kRefresh);
      if (options.validate) {
        options.validate(loaded.properties);
      }
      const Properties after = loaded.properties;
      const std::vector<std::string> changed = live.Replace(std::move(loaded.properties));
      if (applied != nullptr) applied->Increment();
      const std::string version =
          loaded.remote ? loaded.remote->environment.version.value_or("(none)") : "(local)";
      if (changed.empty()) {
        spdlog::info("configuration: refreshed (version {}), nothing changed", version);
        return;
      }
      std::vector<std::string> live_changes;
      std::vector<std::string> restart_changes;
      for (const std::string& key : changed) {
        (options.live_keys.contains(key) ? live_changes : restart_changes)
            .push_back(Describe(after, key));
      }
      if (!live_changes.empty()) {
        spdlog::info("configuration: refreshed (version {}), applied: {}", version,
                     fmt::join(live_changes, ", "));
      }
      if (!restart_changes.empty()) {
        spdlog::warn(
            "configuration: refreshed (version {}), changed but applied only after a "
            "restart: {}",
            version, fmt::join(restart_changes, ", "));
      }
    } catch (const std::exception& e) {
      if (failed != nullptr) failed->Increment();
      spdlog::error("configuration: refresh failed, keeping the current configuration: {}",
                    e.what());
    }
  }

  void SendAck(const BusEvent& event) {
    messaging::Message ack;
    ack.message_id = RandomUuid();
    const std::int64_t now = options.now_ms ? options.now_ms() : SystemNowMs();
    ack.body = MakeAckJson(event, options.bus_id, ack.message_id, now);
    ack.content_type = "application/json";
    ack.persistent = true;
    ack.mandatory = false;  // a bus nobody else listens to is not an error
    try {
      // Fire and forget, as Spring's acks: nothing waits for them.
      (void)publisher.Publish(BusExchange(options.bus_exchange), options.bus_exchange,
                              std::move(ack));
    } catch (const std::exception& e) {
      spdlog::warn("config bus: could not send the ack for event {}: {}", event.id, e.what());
    }
  }
};

RefreshListener::RefreshListener(messaging::MessageSubscriber& bus_subscriber,
                                 messaging::MessagePublisher& ack_publisher,
                                 const ConfigClient& client, LiveProperties& live,
                                 RefreshListenerOptions options)
    : state_(std::make_shared<State>(ack_publisher, client, live, std::move(options))) {
  if (state_->options.bus_id.empty()) {
    throw std::invalid_argument("RefreshListener: bus_id is empty; use MakeBusId(app, port)");
  }
  std::weak_ptr<State> weak = state_;
  // Server-named: exclusive and auto-delete, so a restart leaves no orphan queue behind.
  const messaging::QueueSpec queue{
      .name = "", .durable = false, .exclusive = true, .auto_delete = true};
  subscribed_ = bus_subscriber
                    .Subscribe(BusExchange(state_->options.bus_exchange), {"#"}, queue,
                               [weak](const messaging::Message& message) {
                                 if (const auto state = weak.lock()) {
                                   return state->Handle(message);
                                 }
                                 return messaging::Outcome::kAck;
                               },
                               {.consumer_tag = "", .prefetch = 1, .max_retries = 0})
                    .share();
  spdlog::info("config bus: listening on exchange {} as {}", state_->options.bus_exchange,
               state_->options.bus_id);
}

RefreshListener::~RefreshListener() {
  const std::lock_guard lock{state_->mutex};
  state_->alive = false;
}

std::shared_future<void> RefreshListener::Subscribed() const { return subscribed_; }

std::uint64_t RefreshListener::RefreshCount() const {
  return state_->refreshes.load(std::memory_order_relaxed);
}

}  // namespace cppblog::config

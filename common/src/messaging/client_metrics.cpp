#include "client_metrics.hpp"

#include <string>

namespace cppblog::messaging {
namespace {

metrics::Registry& Pick(metrics::Registry* given, std::unique_ptr<metrics::Registry>& own) {
  if (given != nullptr) return *given;
  own = std::make_unique<metrics::Registry>();
  return *own;
}

constexpr std::string_view kDeadLettered =
    "Messages moved to a dead-letter queue (or dropped, for a server-named queue), by reason.";

}  // namespace

ClientMetrics::ClientMetrics(metrics::Registry* given)
    : registry(Pick(given, own_registry)),
      published(registry.AddCounter("rabbitmq_published_total",
                                    "Messages sent to the broker (basic.publish; a resend after "
                                    "a reconnect or nack counts again).")),
      acknowledged_published(registry.AddCounter("rabbitmq_acknowledged_published_total",
                                                 "Published messages the broker confirmed (ack).")),
      not_acknowledged_published(
          registry.AddCounter("rabbitmq_not_acknowledged_published_total",
                              "Published messages the broker refused (nack).")),
      unrouted_published(registry.AddCounter(
          "rabbitmq_unrouted_published_total",
          "Published messages the broker returned as unroutable (mandatory, no queue).")),
      failed_to_publish(registry.AddCounter(
          "rabbitmq_failed_to_publish_total",
          "Publishes whose caller got an error: refused by the client (closed, buffer full), "
          "unroutable, refused by the broker (nack: at once for a classic queue, else until the "
          "publish timeout), timed out, or unconfirmed at close.")),
      consumed(registry.AddCounter("rabbitmq_consumed_total",
                                   "Messages delivered to this client's consumers.")),
      acknowledged(registry.AddCounter("rabbitmq_acknowledged_total",
                                       "Deliveries acknowledged (basic.ack), one per message.")),
      rejected(registry.AddCounter("rabbitmq_rejected_total",
                                   "Deliveries rejected back to their queue (basic.reject).")),
      recoveries(registry.AddCounter("cppblog_amqp_recoveries_total",
                                     "Connections re-established after a loss.")),
      dead_lettered_poison(registry.AddCounter("cppblog_dead_lettered_total", kDeadLettered,
                                               {{"reason", "poison"}})),
      dead_lettered_rejected(registry.AddCounter("cppblog_dead_lettered_total", kDeadLettered,
                                                 {{"reason", "rejected"}})),
      dead_lettered_retries_exhausted(registry.AddCounter(
          "cppblog_dead_lettered_total", kDeadLettered, {{"reason", "retries_exhausted"}})),
      connections(registry.AddGauge("rabbitmq_connections", "Open AMQP connections.")),
      channels(registry.AddGauge("rabbitmq_channels", "Open AMQP channels.")),
      blocked(registry.AddGauge("cppblog_amqp_blocked",
                                "1 while the broker blocks publishing (connection.blocked).")) {
  for (const ConnectionState s : {ConnectionState::kRecovering, ConnectionState::kConnected,
                                  ConnectionState::kBlocked, ConnectionState::kClosed}) {
    state[static_cast<std::size_t>(s)] = &registry.AddGauge(
        "cppblog_amqp_connection_state",
        "The AMQP client's state: 1 for the current one (the worse of its two connections).",
        {{"state", ToString(s)}});
  }
}

metrics::Histogram& ClientMetrics::PublishDuration(std::string_view destination) {
  return registry.AddHistogram("messaging_client_operation_duration_seconds",
                               "Publish to broker confirm, per destination.",
                               {{"messaging_operation_name", "publish"},
                                {"messaging_destination_name", std::string(destination)}});
}

metrics::Histogram& ClientMetrics::ProcessDuration(std::string_view destination) {
  return registry.AddHistogram("messaging_process_duration_seconds",
                               "Time in the message handler, per queue consumed.",
                               {{"messaging_destination_name", std::string(destination)}});
}

void ClientMetrics::ShowState(ConnectionState current) noexcept {
  for (std::size_t i = 0; i < state.size(); ++i) {
    state[i]->Set(i == static_cast<std::size_t>(current) ? 1 : 0);
  }
  blocked.Set(current == ConnectionState::kBlocked ? 1 : 0);
}

}  // namespace cppblog::messaging

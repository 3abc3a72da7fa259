#pragma once

#include <array>
#include <memory>
#include <string_view>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/metrics/registry.hpp"

namespace cppblog::messaging {

/// The AMQP client's series (docs/operations.md), resolved once: the I/O threads and handlers
/// only add to them. The names are those the RabbitMQ Java client exposes through Micrometer,
/// plus cppblog_amqp_* for what it has no name for. Every client of a process adds to the same
/// series (one registry per process; the state gauges show the client that changed last).
struct ClientMetrics {
  /// `registry` null: a private registry nobody scrapes (the client still counts).
  explicit ClientMetrics(metrics::Registry* registry);

  /// publish → confirm, and handler time, of one destination (a queue or exchange name): call
  /// when a destination is first seen, keep the reference.
  [[nodiscard]] metrics::Histogram& PublishDuration(std::string_view destination);
  [[nodiscard]] metrics::Histogram& ProcessDuration(std::string_view destination);

  /// Shows `state` (1 for it, 0 for the others) and whether publishing is blocked.
  void ShowState(ConnectionState state) noexcept;

  std::unique_ptr<metrics::Registry> own_registry;
  metrics::Registry& registry;

  metrics::Counter& published;
  metrics::Counter& acknowledged_published;
  metrics::Counter& not_acknowledged_published;
  metrics::Counter& unrouted_published;
  metrics::Counter& failed_to_publish;
  metrics::Counter& consumed;
  metrics::Counter& acknowledged;
  metrics::Counter& rejected;
  metrics::Counter& recoveries;
  metrics::Counter& dead_lettered_poison;
  metrics::Counter& dead_lettered_rejected;
  metrics::Counter& dead_lettered_retries_exhausted;
  metrics::Gauge& connections;
  metrics::Gauge& channels;
  metrics::Gauge& blocked;
  std::array<metrics::Gauge*, 4> state{};  // by ConnectionState
};

}  // namespace cppblog::messaging

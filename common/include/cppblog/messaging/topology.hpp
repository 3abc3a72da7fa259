#pragma once

#include <string>

#include "cppblog/messaging/message.hpp"

namespace cppblog::messaging {

enum class ExchangeType { kDirect, kFanout, kTopic, kHeaders };

/// An exchange as declared by the client (durable by default). The empty name is the
/// default exchange, which is never declared.
struct ExchangeSpec {
  std::string name{};
  ExchangeType type = ExchangeType::kDirect;
  bool durable = true;
  bool auto_delete = false;
};

/// How the broker stores a queue. kClassic declares no x-queue-type argument (as the Go
/// services do, so both declarations stay equivalent); kQuorum declares x-queue-type=quorum,
/// a replicated queue on a cluster that must be durable, not exclusive, not auto-delete
/// (docs/decisions/0011).
enum class QueueType { kClassic, kQuorum };

[[nodiscard]] const char* ToString(QueueType type) noexcept;

/// A queue as declared by the client. Durable by default. The empty name asks the broker
/// for a server-named, exclusive, auto-delete queue (durable is ignored then); such a queue
/// is renamed by every reconnect and has no dead-letter queue.
struct QueueSpec {
  std::string name{};
  bool durable = true;
  bool exclusive = false;
  bool auto_delete = false;
  /// x-arguments (x-message-ttl, ...); must equal what peers declared. x-queue-type comes
  /// from `type`.
  Headers arguments{};
  /// Also the type of its dead-letter queue `<name>.dlq`.
  QueueType type = QueueType::kClassic;
  /// The setting that chose `type` (e.g. "vip_queue_type (env VIP_QUEUE_TYPE)"): named in
  /// the error when the broker holds the queue with another type. Empty: none.
  std::string type_setting{};
};

}  // namespace cppblog::messaging

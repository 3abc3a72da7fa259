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

/// A queue as declared by the client. Durable by default. The empty name asks the broker
/// for a server-named, exclusive, auto-delete queue (durable is ignored then); such a queue
/// is renamed by every reconnect and has no dead-letter queue.
struct QueueSpec {
  std::string name{};
  bool durable = true;
  bool exclusive = false;
  bool auto_delete = false;
  /// x-arguments (x-queue-type, x-message-ttl, ...); must equal what peers declared.
  Headers arguments{};
};

}  // namespace cppblog::messaging

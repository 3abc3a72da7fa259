#include "declare.hpp"

#include <string_view>
#include <vector>

#include "cppblog/messaging/messaging_error.hpp"

#include "amqp_message.hpp"
#include "amqp_status.hpp"

namespace cppblog::messaging {

const char* ToString(QueueType type) noexcept {
  return type == QueueType::kQuorum ? "quorum" : "classic";
}

}  // namespace cppblog::messaging

namespace cppblog::messaging::amqp {

const char* TypeName(ExchangeType type) noexcept {
  switch (type) {
    case ExchangeType::kDirect:
      return "direct";
    case ExchangeType::kFanout:
      return "fanout";
    case ExchangeType::kTopic:
      return "topic";
    case ExchangeType::kHeaders:
      return "headers";
  }
  return "direct";
}

void DeclareExchange(amqp_connection_state_t conn, amqp_channel_t channel,
                     const ExchangeSpec& exchange) {
  if (exchange.name.empty() || exchange.name.rfind("amq.", 0) == 0) return;  // predeclared
  amqp_exchange_declare(conn, channel, Bytes(exchange.name), Bytes(TypeName(exchange.type)), 0,
                        exchange.durable ? 1 : 0, exchange.auto_delete ? 1 : 0, 0,
                        amqp_empty_table);
  CheckReply(amqp_get_rpc_reply(conn), "declare exchange '" + exchange.name + "' (type " +
                                           TypeName(exchange.type) +
                                           (exchange.durable ? ", durable)" : ", transient)"));
}

namespace {

// The broker's PRECONDITION_FAILED for a queue that exists with another type says
// "inequivalent arg 'x-queue-type' for queue 'q' in vhost '/': received ... but current is ...":
// say it in the user's words, both sides and what to change.
[[noreturn]] void ThrowTypeConflict(const QueueSpec& queue, const MessagingError& error) {
  const QueueType other =
      queue.type == QueueType::kQuorum ? QueueType::kClassic : QueueType::kQuorum;
  std::string what = "queue '" + queue.name + "' declared as a " + ToString(queue.type) +
                     " queue, but the broker already has it as a " + ToString(other) +
                     " queue (PRECONDITION_FAILED): ";
  if (queue.type_setting.empty()) {
    what += "declare it as a " + std::string(ToString(other)) + " queue";
  } else {
    what += "set " + queue.type_setting + " to " + ToString(other) + " to use the existing queue";
  }
  what += ", or migrate the queue (docs/configuration.md, \"Quorum queues\"); broker said: ";
  what += error.what();
  throw MessagingError(MessagingErrorKind::kPreconditionFailed, what);
}

}  // namespace

std::string DeclareQueue(amqp_connection_state_t conn, amqp_channel_t channel,
                         const QueueSpec& queue) {
  const bool server_named = queue.name.empty();
  Headers headers = queue.arguments;
  if (queue.type == QueueType::kQuorum) {
    headers.insert_or_assign("x-queue-type", std::string(messaging::ToString(queue.type)));
  }
  FieldStorage entries;
  const amqp_table_t arguments = TableOf(headers, entries);
  const amqp_queue_declare_ok_t* ok = amqp_queue_declare(
      conn, channel, Bytes(queue.name), 0, !server_named && queue.durable ? 1 : 0,
      server_named || queue.exclusive ? 1 : 0, server_named || queue.auto_delete ? 1 : 0,
      arguments);
  try {
    CheckReply(amqp_get_rpc_reply(conn), server_named
                                             ? std::string("declare a server-named queue")
                                             : "declare queue '" + queue.name + "' (" +
                                                   (queue.durable ? "durable" : "transient") +
                                                   ", " + messaging::ToString(queue.type) + ")");
  } catch (const MessagingError& e) {
    if (e.kind() == MessagingErrorKind::kPreconditionFailed &&
        std::string_view(e.what()).find("'x-queue-type'") != std::string_view::npos) {
      ThrowTypeConflict(queue, e);
    }
    throw;
  }
  return ToString(ok->queue);
}

void BindQueue(amqp_connection_state_t conn, amqp_channel_t channel, const std::string& queue,
               const std::string& exchange, const std::string& key, const Headers& arguments) {
  FieldStorage entries;
  amqp_queue_bind(conn, channel, Bytes(queue), Bytes(exchange), Bytes(key),
                  TableOf(arguments, entries));
  CheckReply(amqp_get_rpc_reply(conn),
             "bind queue '" + queue + "' to exchange '" + exchange + "' with key '" + key + "'");
}

}  // namespace cppblog::messaging::amqp

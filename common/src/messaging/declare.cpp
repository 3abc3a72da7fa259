#include "declare.hpp"

#include <vector>

#include "amqp_message.hpp"
#include "amqp_status.hpp"

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

std::string DeclareQueue(amqp_connection_state_t conn, amqp_channel_t channel,
                         const QueueSpec& queue) {
  const bool server_named = queue.name.empty();
  std::vector<amqp_table_entry_t> entries;
  const amqp_table_t arguments = TableOf(queue.arguments, entries);
  const amqp_queue_declare_ok_t* ok = amqp_queue_declare(
      conn, channel, Bytes(queue.name), 0, !server_named && queue.durable ? 1 : 0,
      server_named || queue.exclusive ? 1 : 0, server_named || queue.auto_delete ? 1 : 0,
      arguments);
  CheckReply(amqp_get_rpc_reply(conn), server_named
                                           ? std::string("declare a server-named queue")
                                           : "declare queue '" + queue.name +
                                                 (queue.durable ? "' (durable)" : "' (transient)"));
  return ToString(ok->queue);
}

void BindQueue(amqp_connection_state_t conn, amqp_channel_t channel, const std::string& queue,
               const std::string& exchange, const std::string& key, const Headers& arguments) {
  std::vector<amqp_table_entry_t> entries;
  amqp_queue_bind(conn, channel, Bytes(queue), Bytes(exchange), Bytes(key),
                  TableOf(arguments, entries));
  CheckReply(amqp_get_rpc_reply(conn),
             "bind queue '" + queue + "' to exchange '" + exchange + "' with key '" + key + "'");
}

}  // namespace cppblog::messaging::amqp

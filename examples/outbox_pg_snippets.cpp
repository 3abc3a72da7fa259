// The PostgreSQL outbox snippets of docs/messaging.md ("Outbox", "On PostgreSQL"). Compiled by
// ./dev test (examples/CMakeLists.txt: outbox_pg_snippets) against the installed package, never
// run: a snippet the library no longer compiles fails the test.
#include <array>
#include <stdexcept>
#include <string>

#include <libpq-fe.h>

#include "cppblog/messaging/message_publisher.hpp"
#include "cppblog/outbox/pg_outbox.hpp"
#include "cppblog/outbox/relay.hpp"

namespace messaging = cppblog::messaging;
namespace outbox = cppblog::outbox;

namespace guide {

void Exec(PGconn* conn, const char* sql) {
  PGresult* result = PQexec(conn, sql);
  const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
  PQclear(result);
  if (!ok) throw std::runtime_error(PQerrorMessage(conn));
}

void InsertOrder(PGconn* conn, const std::string& order_id) {
  const std::array<const char*, 1> values{order_id.c_str()};
  PGresult* result = PQexecParams(conn, "INSERT INTO orders (id) VALUES ($1)", 1, nullptr,
                                  values.data(), nullptr, nullptr, 0);
  const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
  PQclear(result);
  if (!ok) throw std::runtime_error(PQerrorMessage(conn));
}

// [snippet outbox-pg-append]
// At start, once: create or migrate the table (inside a transaction of yours).
void OpenOutbox(PGconn* conn, const outbox::PgOutbox& order_events) {
  Exec(conn, "BEGIN");
  order_events.Migrate(conn);  // table outbox_messages; version in cppblog_schema_version
  Exec(conn, "COMMIT");
}

// The order and the message that announces it, on your connection, in your transaction: both
// committed, or neither.
void PlaceOrder(PGconn* conn, const outbox::PgOutbox& order_events, const std::string& order_id) {
  Exec(conn, "BEGIN");
  try {
    InsertOrder(conn, order_id);
    // Last: appenders take turns from their Append to their commit (sequences in commit order).
    order_events.Append(conn, {.message_id = "placed-" + order_id,
                               .body = R"({"order":")" + order_id + R"(","event":"placed"})"});
    Exec(conn, "COMMIT");  // durable here; PostgreSQL notifies the relay now, not before
  } catch (...) {
    Exec(conn, "ROLLBACK");  // no order, no message
    throw;
  }
}
// [/snippet outbox-pg-append]

// [snippet outbox-pg-relay]
// The relay's side, in this process or another: its own connections from a URL (the password
// never appears in a log), the table's relay lock (one relay at a time across processes; the
// others wait for it in PostgreSQL), woken by the commits' NOTIFY. The store outlives the relay.
class OrderEventsRelay {
 public:
  OrderEventsRelay(const std::string& url, messaging::MessagePublisher& publisher)
      : store_({.url = url, .table = "outbox_messages"}),
        relay_(store_, publisher,
               {.destination = messaging::QueueSpec{.name = "examples.outbox.orders"}}) {}

  // For a health check: whether this process relays (holds the lock) now.
  [[nodiscard]] bool Relaying() const { return store_.Relaying(); }

 private:
  outbox::PgOutboxStore store_;
  outbox::Relay relay_;
};
// [/snippet outbox-pg-relay]

}  // namespace guide

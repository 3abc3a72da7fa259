// A service with a transactional outbox: an order and the message announcing it are written in
// one LMDB transaction, and a relay publishes the message with a confirm, deleting it then.
//
//   outbox_orders [AMQP_URL]
//
// Places two orders (order and message committed together), one order that fails validation
// (its transaction aborts: neither the order nor the message exists), and one message appended
// without a transaction of its own (group-committed). Consumes the queue "examples.outbox.orders"
// and exits 0 when exactly the three committed messages arrived and the outbox is empty.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <future>
#include <iostream>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/messaging/messaging_error.hpp"
#include "cppblog/outbox/outbox.hpp"
#include "cppblog/outbox/relay.hpp"
#include "cppblog/storage/lmdb.hpp"
#include "cppblog/storage/store_error.hpp"

#include "temp_data_dir.hpp"

namespace messaging = cppblog::messaging;
namespace outbox = cppblog::outbox;
namespace storage = cppblog::storage;
using namespace std::chrono_literals;

namespace {

struct Received {
  std::mutex mutex;
  std::condition_variable changed;
  std::set<std::string> ids;
};

// [snippet outbox-append]
// The order and the message that announces it: both committed, or neither.
void PlaceOrder(storage::LmdbEnvironment& store, const storage::LmdbDatabase& orders,
                outbox::Outbox& order_events, const std::string& order_id, int quantity) {
  storage::LmdbTransaction txn = storage::LmdbTransaction::Write(store);
  txn.Put(orders, order_id, std::to_string(quantity));
  order_events.Append(txn, {.message_id = "placed-" + order_id,
                            .body = R"({"order":")" + order_id + R"(","event":"placed"})"});
  if (quantity <= 0) {
    // Throwing before Commit aborts the transaction: no order, no message.
    throw std::invalid_argument("order " + order_id + ": quantity must be positive");
  }
  txn.Commit();  // durable here; the relay is woken now, not before
}
// [/snippet outbox-append]

}  // namespace

// [snippet outbox-relay-exchange]
// Or to an exchange: every entry with the same routing key.
outbox::RelayOptions OrderEventsToTopic() {
  return {.destination =
              outbox::ExchangeDestination{
                  .exchange = {.name = "shop.events", .type = messaging::ExchangeType::kTopic},
                  .routing_key = "order.placed"},
          .window = 500,       // publishes awaiting their confirm at most
          .retry_min = 100ms,  // after a failed publish; doubles up to retry_max
          .retry_max = 5s,
          .stop_wait = 2s};  // on destruction, for outstanding confirms
}
// [/snippet outbox-relay-exchange]

int main(int argc, char** argv) {
  const std::string url = argc > 1 ? argv[1] : "amqp://guest:guest@localhost:5672/%2F";
  const std::string run =
      std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  Received received;
  try {
    const examples::TempDataDir dir{"outbox-orders"};
    messaging::AmqpClient client{{.url = url, .connection_name = "outbox-orders"}};
    const messaging::QueueSpec queue{.name = "examples.outbox.orders"};
    client
        .SubscribeToQueue(queue,
                          [&received](const messaging::Message& message) {
                            const std::lock_guard lock{received.mutex};
                            received.ids.insert(message.message_id);
                            received.changed.notify_all();
                            return messaging::Outcome::kAck;
                          },
                          {})
        .get();

    // [snippet outbox-setup]
    // The application's store: its own databases and the outbox's, in one LMDB environment.
    storage::LmdbEnvironment store{dir.path(), {.store = "order store"}};
    const storage::LmdbDatabase orders = store.OpenDatabase("orders");
    outbox::Outbox order_events{store, {.database = "outbox"}};
    // [/snippet outbox-setup]
    bool arrived = false;
    bool aborted_stayed_out = false;
    {
      // [snippet outbox-relay]
      // Publishes what the outbox holds (also what an earlier run left), in order, and deletes
      // each entry once the broker confirmed it. Destroyed before the outbox.
      outbox::Relay relay{order_events,
                          client,
                          {.destination = messaging::QueueSpec{.name = "examples.outbox.orders"}}};
      // [/snippet outbox-relay]

      PlaceOrder(store, orders, order_events, "a-" + run, 2);
      try {
        PlaceOrder(store, orders, order_events, "b-" + run, 0);
      } catch (const std::invalid_argument& e) {
        std::cout << "refused, as expected: " << e.what() << '\n';
      }
      PlaceOrder(store, orders, order_events, "c-" + run, 1);

      // [snippet outbox-append-async]
      // No transaction of your own: the outbox's writer commits it (with whatever else is
      // queued, one sync for all) and calls back once it is durable, or with the StoreError.
      std::promise<void> stored;
      order_events.AppendAsync({.message_id = "audit-" + run, .body = R"({"event":"audit"})"},
                               [&stored](std::exception_ptr error, std::uint64_t /*sequence*/) {
                                 if (error) {
                                   stored.set_exception(error);
                                 } else {
                                   stored.set_value();
                                 }
                               });
      stored.get_future().get();
      // [/snippet outbox-append-async]

      const std::set<std::string> expected = {"placed-a-" + run, "placed-c-" + run, "audit-" + run};
      std::unique_lock lock{received.mutex};
      arrived = received.changed.wait_for(lock, 30s, [&] {
        for (const auto& id : expected) {
          if (!received.ids.contains(id)) return false;
        }
        return true;
      });
      aborted_stayed_out = !received.ids.contains("placed-b-" + run);
    }  // the relay stops: it waits (stop_wait, 2 s) for confirms still outstanding
    order_events.FlushRemovals();  // the deletions the relay queued on each confirm
    const std::size_t left = order_events.Size();
    std::cout << "messages arrived: " << (arrived ? "all 3" : "not all") << "; the aborted one "
              << (aborted_stayed_out ? "never published" : "published (wrong)")
              << "; entries left in the outbox: " << left << '\n';
    client.Close();
    return arrived && aborted_stayed_out && left == 0 ? 0 : 1;
  } catch (const messaging::MessagingError& e) {
    std::cerr << "outbox_orders: " << e.what() << '\n';
  } catch (const storage::StoreError& e) {
    std::cerr << "outbox_orders: " << e.what() << '\n';
  }
  return 1;
}

// A service with an inbox and an outbox: it consumes payment requests, and each request is
// processed once in effect however often it is delivered. In one LMDB transaction it records the
// request's message id (the inbox), writes the payment, and appends the "paid" event (the
// outbox); a relay publishes the events with confirms.
//
//   payment_service [AMQP_URL]
//
// Publishes three payment requests, the second one twice (the same message id, as a publisher's
// resend or a redelivery would bring it). Exits 0 when three payments were written, three events
// appended and all three published, and the second delivery of the repeated request changed
// nothing.
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "cppblog/inbox/lmdb_inbox.hpp"
#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/messaging/messaging_error.hpp"
#include "cppblog/outbox/outbox.hpp"
#include "cppblog/outbox/relay.hpp"
#include "cppblog/storage/lmdb.hpp"
#include "cppblog/storage/store_error.hpp"

#include "temp_data_dir.hpp"

namespace inbox = cppblog::inbox;
namespace messaging = cppblog::messaging;
namespace outbox = cppblog::outbox;
namespace storage = cppblog::storage;
using namespace std::chrono_literals;

namespace {

// What arrived on the events queue, and how many requests the handler saw (repeats included).
struct Observed {
  std::mutex mutex;
  std::condition_variable changed;
  std::multiset<std::string> events;
  int requests = 0;
};

// [snippet inbox-outbox-handler]
// The payment service's store: payments, the inbox's processed ids and the outbox's entries,
// three databases of one LMDB environment, so one transaction covers all three.
class PaymentService {
 public:
  explicit PaymentService(const std::filesystem::path& dir)
      : store_(dir, {.store = "payment store"}),
        payments_(store_.OpenDatabase("payments")),
        processed_(store_, "processed"),
        events_(store_, {.database = "outbox"}) {}

  // The handler: a request seen before changes nothing; a new one is recorded, paid and
  // announced in one transaction. A StoreError thrown here retries the message later.
  messaging::Outcome Handle(const messaging::Message& request) {
    storage::LmdbTransaction txn = storage::LmdbTransaction::Write(store_);
    if (!processed_.Record(txn, request.message_id, std::chrono::system_clock::now())) {
      return messaging::Outcome::kAck;  // processed before: the effect is there already
    }
    const std::string& order_id = request.body;
    txn.Put(payments_, order_id, "paid");
    events_.Append(txn, {.message_id = "paid-" + order_id,
                         .body = R"({"order":")" + order_id + R"(","event":"paid"})"});
    txn.Commit();  // the id, the payment and the event, or none of them
    return messaging::Outcome::kAck;
  }

  [[nodiscard]] outbox::Outbox& Events() { return events_; }
  [[nodiscard]] std::size_t Payments() const {
    return storage::LmdbTransaction::Read(store_).Count(payments_);
  }
  [[nodiscard]] std::size_t ProcessedIds() const { return processed_.Count(); }

 private:
  storage::LmdbEnvironment store_;
  storage::LmdbDatabase payments_;
  inbox::LmdbInbox processed_;
  outbox::Outbox events_;
};
// [/snippet inbox-outbox-handler]

}  // namespace

int main(int argc, char** argv) {
  const std::string url = argc > 1 ? argv[1] : "amqp://guest:guest@localhost:5672/%2F";
  const std::string run =
      std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  const std::vector<std::string> orders = {"a-" + run, "b-" + run, "c-" + run};
  Observed observed;
  try {
    const examples::TempDataDir dir{"payment-service"};
    PaymentService service{dir.path()};
    messaging::AmqpClient client{{.url = url, .connection_name = "payment-service"}};
    const messaging::QueueSpec requests{.name = "examples.payments.requests"};
    const messaging::QueueSpec events{.name = "examples.payments.events"};

    client
        .SubscribeToQueue(events,
                          [&observed](const messaging::Message& event) {
                            const std::lock_guard lock{observed.mutex};
                            observed.events.insert(event.message_id);
                            observed.changed.notify_all();
                            return messaging::Outcome::kAck;
                          },
                          {})
        .get();
    bool settled = false;
    {
      outbox::Relay relay{service.Events(), client, {.destination = events}};
      client
          .SubscribeToQueue(requests,
                            [&](const messaging::Message& request) {
                              // Left in the queue by an earlier run of this example: not ours.
                              if (!request.body.ends_with(run)) return messaging::Outcome::kAck;
                              const messaging::Outcome outcome = service.Handle(request);
                              const std::lock_guard lock{observed.mutex};
                              ++observed.requests;
                              observed.changed.notify_all();
                              return outcome;
                            },
                            {.prefetch = 10})
          .get();

      // Three requests, the second one delivered twice.
      for (const std::string& order : {orders[0], orders[1], orders[1], orders[2]}) {
        client.PublishToQueue(requests, {.body = order, .message_id = "pay-" + order}).get();
      }
      std::unique_lock lock{observed.mutex};
      settled = observed.changed.wait_for(lock, 30s, [&] {
        if (observed.requests < 4) return false;
        for (const std::string& order : orders) {
          if (!observed.events.contains("paid-" + order)) return false;
        }
        return true;
      });
    }  // the relay stops: it waits (stop_wait, 2 s) for confirms still outstanding
    client.Close();
    const std::size_t payments = service.Payments();
    const std::size_t ids = service.ProcessedIds();
    const std::uint64_t appended = service.Events().LastSequence();
    std::cout << "requests handled: " << observed.requests
              << " (one repeated); payments: " << payments << "; processed ids: " << ids
              << "; events appended: " << appended
              << "; events published: " << (settled ? "all 3" : "not all") << '\n';
    return settled && payments == 3 && ids == 3 && appended == 3 ? 0 : 1;
  } catch (const messaging::MessagingError& e) {
    std::cerr << "payment_service: " << e.what() << '\n';
  } catch (const storage::StoreError& e) {
    std::cerr << "payment_service: " << e.what() << '\n';
  }
  return 1;
}

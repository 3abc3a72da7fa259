// A work-queue consumer with retries and dead-lettering.
//
//   work_queue_consumer [AMQP_URL]
//
// Publishes a few jobs to the queue "examples.work" and consumes them. The handler's outcome
// decides what happens to each: done (acked), failed for now (retried with backoff), never
// processable (straight to the dead-letter queue "examples.work.dlq"), or failing every time
// (dead-lettered once the retries are spent). Reads the dead letters back with their reason.
// Exits 0 when every job ended where it should.
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <variant>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/messaging/messaging_error.hpp"

namespace messaging = cppblog::messaging;
using namespace std::chrono_literals;

namespace {

// What happened to this run's jobs (other runs' leftovers in the queues are ignored).
struct Results {
  std::mutex mutex;
  std::condition_variable changed;
  std::set<std::string> done;
  std::map<std::string, std::string> dead_letters;  // message id -> x-death-reason
};

std::string StringHeader(const messaging::Message& message, const std::string& name) {
  const auto it = message.headers.find(name);
  if (it == message.headers.end()) return {};
  const auto* text = std::get_if<std::string>(&it->second);
  return text != nullptr ? *text : std::string{};
}

// [snippet work-handler]
// Runs on one of the client's handler threads; the message is acked, retried or dead-lettered
// after it returns, by what it returns or throws.
messaging::Outcome HandleJob(const messaging::Message& job) {
  if (job.body == "poison") {
    // Never processable, however often it is tried: dead-lettered at once, with this reason.
    throw messaging::PoisonMessage("job body is not a known command");
  }
  if (job.body == "broken") {
    // Any other exception is a retry; after max_retries the message is dead-lettered.
    throw std::runtime_error("downstream refused the job");
  }
  if (job.body == "flaky" && job.retry_count == 0) {
    return messaging::Outcome::kRetry;  // fails the first time only
  }
  return messaging::Outcome::kAck;
}
// [/snippet work-handler]

}  // namespace

int main(int argc, char** argv) {
  const std::string url = argc > 1 ? argv[1] : "amqp://guest:guest@localhost:5672/%2F";
  const std::string run =
      std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  const std::map<std::string, std::string> jobs = {{"ok-1-" + run, "ok"},
                                                   {"ok-2-" + run, "ok"},
                                                   {"flaky-" + run, "flaky"},
                                                   {"poison-" + run, "poison"},
                                                   {"broken-" + run, "broken"}};
  Results results;
  try {
    messaging::AmqpClient client{{.url = url, .connection_name = "work-queue-consumer"}};

    // [snippet work-subscribe]
    const messaging::QueueSpec work{.name = "examples.work"};  // and examples.work.dlq
    auto subscribed = client.SubscribeToQueue(work,
                                              [&results](const messaging::Message& job) {
                                                const messaging::Outcome outcome = HandleJob(job);
                                                if (outcome == messaging::Outcome::kAck) {
                                                  const std::lock_guard lock{results.mutex};
                                                  results.done.insert(job.message_id);
                                                  results.changed.notify_all();
                                                }
                                                return outcome;
                                              },
                                              {.prefetch = 10,
                                               .max_retries = 2,  // then the dead-letter queue
                                               .retry_backoff = 100ms});
    subscribed.get();  // the consumer is registered; throws MessagingError if refused
    // [/snippet work-subscribe]

    // [snippet dead-letters]
    auto dead_letters = client.SubscribeToQueue({.name = "examples.work.dlq"},
                                                [&results](const messaging::Message& dead) {
                                                  const std::lock_guard lock{results.mutex};
                                                  results.dead_letters[dead.message_id] =
                                                      StringHeader(dead, "x-death-reason");
                                                  results.changed.notify_all();
                                                  return messaging::Outcome::kAck;
                                                },
                                                {});
    dead_letters.get();
    // [/snippet dead-letters]

    for (const auto& [id, body] : jobs) {
      client.PublishToQueue(work, {.body = body, .message_id = id}).get();
    }

    std::unique_lock lock{results.mutex};
    const bool settled = results.changed.wait_for(lock, 30s, [&] {
      for (const auto& [id, body] : jobs) {
        if (!results.done.contains(id) && !results.dead_letters.contains(id)) return false;
      }
      return true;
    });
    int wrong = settled ? 0 : 1;
    for (const auto& [id, body] : jobs) {
      const bool dead = results.dead_letters.contains(id);
      const bool should_be_dead = body == "poison" || body == "broken";
      std::cout << id << " (" << body << "): "
                << (dead                        ? "dead-lettered: " + results.dead_letters[id]
                    : results.done.contains(id) ? "done"
                                                : "still pending")
                << '\n';
      if (dead != should_be_dead) ++wrong;
    }
    lock.unlock();
    client.Close();
    return wrong == 0 ? 0 : 1;
  } catch (const messaging::MessagingError& e) {
    std::cerr << "work_queue_consumer: " << e.what() << '\n';
    return 1;
  }
}

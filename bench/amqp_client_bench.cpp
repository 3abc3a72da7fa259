// The workloads of amqp_raw_bench through cppblog's AmqpClient, so the two can be compared:
//
//   amqp_client_bench publish --url URL --queue Q --count N [--window 1000]
//   amqp_client_bench publish-callback --url URL --queue Q --count N [--window 1000]
//   amqp_client_bench consume --url URL --queue Q --count N --prefetch P
//
// publish: N persistent ~120-byte JSON messages to the durable queue Q (PublishToQueue), the
//   client's confirm window set to --window like the raw loop's; the caller keeps at most
//   10 × window futures open and waits on the oldest. Timed from the first PublishToQueue to
//   the last future completed (confirmed). Starts once the client reports kConnected.
// publish-callback: the same with PublishToQueue's callback form (no futures); the caller
//   waits on a condition variable while 10 × window publishes are open, woken by the callback
//   of the one it waits for.
// consume: SubscribeToQueue(Q) with ConsumerOptions::prefetch = P, a handler that counts and
//   returns Outcome::kAck; Q holds N messages beforehand. Timed from the first handler call to
//   the return of the N-th.
//
// Prints one line like amqp_raw_bench: `amqpclient publish 100000 msgs 3.52 s 28400 msg/s
// 0.61 cpu-s`.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <future>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>

#include "cppblog/messaging/amqp_client.hpp"

#include "amqp_bench_common.hpp"

namespace cppblog::bench {
namespace {

using messaging::AmqpClient;
using messaging::AmqpClientOptions;
using messaging::ConnectionState;

constexpr std::chrono::seconds kConnectLimit{15};
constexpr std::chrono::seconds kIdleLimit{30};

/// An AmqpClient and a future that completes the first time it reports kConnected.
struct ConnectedClient {
  explicit ConnectedClient(const Args& args)
      : client(Options(args, [this](ConnectionState state) {
          if (state == ConnectionState::kConnected && !connected_once.exchange(true)) {
            connected.set_value();
          }
        })) {}

  static AmqpClientOptions Options(const Args& args,
                                   std::function<void(ConnectionState)> on_state_change) {
    AmqpClientOptions options;
    options.url = args.url;
    options.confirm_window = args.window;
    options.connection_name = "amqp_client_bench";
    options.on_state_change = std::move(on_state_change);
    return options;
  }

  /// Waits until the publishing connection is up (the consuming one opens on subscribe).
  void AwaitConnected() {
    if (connected_future.wait_for(kConnectLimit) != std::future_status::ready &&
        client.State() != ConnectionState::kConnected) {
      throw std::runtime_error("the AMQP client did not connect within 15 s (state " +
                               std::string(messaging::ToString(client.State())) +
                               "); is the broker running at --url?");
    }
  }

  std::atomic<bool> connected_once{false};
  std::promise<void> connected;
  std::future<void> connected_future = connected.get_future();
  AmqpClient client;  // last: destroyed first, so its callback never sees a dead promise
};

double Publish(const Args& args) {
  ConnectedClient bench{args};
  bench.AwaitConnected();
  const messaging::QueueSpec queue{.name = args.queue};
  const std::size_t max_open = static_cast<std::size_t>(args.window) * 10;

  std::deque<std::future<void>> open;
  const auto start = std::chrono::steady_clock::now();
  for (std::uint32_t i = 1; i <= args.count; ++i) {
    open.push_back(bench.client.PublishToQueue(queue, messaging::Message{.body = JsonBody(i)}));
    if (open.size() >= max_open) {
      open.front().get();  // throws MessagingError on nack, return, timeout
      open.pop_front();
    }
  }
  while (!open.empty()) {
    open.front().get();
    open.pop_front();
  }
  return SecondsSince(start);
}

// As Publish, with the callback API: no future per message; the caller waits (on a condition
// variable the callbacks signal only while it waits) when 10 × window are open.
double PublishWithCallbacks(const Args& args) {
  // The caller sleeps until `wanted` publishes are done; only the callback that completes that
  // one wakes it (as only the set_value of the awaited future does in Publish).
  static constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
  struct Progress {
    std::atomic<std::uint32_t> done{0};
    std::atomic<std::uint32_t> failed{0};
    std::atomic<std::uint32_t> wanted{kNone};
    std::mutex mutex;
    std::condition_variable changed;
  } progress;
  ConnectedClient bench{args};
  bench.AwaitConnected();
  const messaging::QueueSpec queue{.name = args.queue};
  const std::uint32_t max_open = args.window * 10;
  const auto on_done = [&progress](const messaging::MessagingError* error) {
    if (error != nullptr) progress.failed.fetch_add(1);
    if (progress.done.fetch_add(1) + 1 == progress.wanted.load()) {
      const std::lock_guard lock{progress.mutex};
      progress.changed.notify_one();
    }
  };
  const auto wait_until_done = [&](std::uint32_t at_least) {
    if (progress.done.load() >= at_least) return;
    std::unique_lock lock{progress.mutex};
    progress.wanted = at_least;
    const bool done = progress.changed.wait_for(lock, kIdleLimit,
                                                [&] { return progress.done.load() >= at_least; });
    progress.wanted = kNone;
    if (!done) throw std::runtime_error("no publisher confirm for 30 s");
  };
  const auto start = std::chrono::steady_clock::now();
  for (std::uint32_t i = 1; i <= args.count; ++i) {
    if (i > max_open) wait_until_done(i - max_open);
    bench.client.PublishToQueue(queue, messaging::Message{.body = JsonBody(i)}, on_done);
  }
  wait_until_done(args.count);
  const double seconds = SecondsSince(start);
  if (progress.failed.load() > 0) {
    throw std::runtime_error(std::to_string(progress.failed.load()) + " of " +
                             std::to_string(args.count) + " publishes failed");
  }
  return seconds;
}

double Consume(const Args& args) {
  // Declared before the client: its destructor (Close) may still run the handler.
  std::atomic<std::uint32_t> handled{0};
  std::once_flag first;
  std::chrono::steady_clock::time_point start;
  std::promise<std::chrono::steady_clock::time_point> done;
  auto finished = done.get_future();
  const std::uint32_t count = args.count;

  ConnectedClient bench{args};
  auto subscribed = bench.client.SubscribeToQueue(
      messaging::QueueSpec{.name = args.queue},
      [&](const messaging::Message&) {
        std::call_once(first, [&] { start = std::chrono::steady_clock::now(); });
        if (handled.fetch_add(1) + 1 == count) done.set_value(std::chrono::steady_clock::now());
        return messaging::Outcome::kAck;
      },
      messaging::ConsumerOptions{.prefetch = args.prefetch});

  std::uint32_t seen = 0;
  auto last_progress = std::chrono::steady_clock::now();
  while (finished.wait_for(std::chrono::seconds{1}) != std::future_status::ready) {
    if (subscribed.valid() &&
        subscribed.wait_for(std::chrono::seconds{0}) == std::future_status::ready) {
      subscribed.get();  // throws if the broker refused the queue or the consumer
    }
    const std::uint32_t now_handled = handled.load();
    if (now_handled != seen) {
      seen = now_handled;
      last_progress = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - last_progress > kIdleLimit) {
      throw std::runtime_error("only " + std::to_string(now_handled) + " of " +
                               std::to_string(count) + " messages handled; none in 30 s (state " +
                               messaging::ToString(bench.client.State()) + ")");
    }
  }
  const auto end = finished.get();
  bench.client.Close();  // acks what is still in flight before the handler's captures go
  return std::chrono::duration<double>(end - start).count();
}

int Run(int argc, char* argv[]) {
  try {
    const Args args = ParseArgs(argc, argv, "amqp_client_bench");
    if (!args.consume_url.empty() || args.queue_type != "classic" || args.body_bytes != 0) {
      throw std::runtime_error(
          "--consume-url, --queue-type and --body-bytes are amqp_raw_bench's options only");
    }
    if (args.mode == "publish") {
      PrintResult("amqpclient", args, Publish(args));
    } else if (args.mode == "publish-callback") {
      PrintResult("amqpclient", args, PublishWithCallbacks(args));
    } else if (args.mode == "consume") {
      PrintResult("amqpclient", args, Consume(args));
    } else {
      throw std::runtime_error("unknown mode '" + args.mode +
                               "' (publish, publish-callback, consume)");
    }
    return EXIT_SUCCESS;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "amqp_client_bench: %s\n", e.what());
    return EXIT_FAILURE;
  }
}

}  // namespace
}  // namespace cppblog::bench

int main(int argc, char* argv[]) { return cppblog::bench::Run(argc, argv); }

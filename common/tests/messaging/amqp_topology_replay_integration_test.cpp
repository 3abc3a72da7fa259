// Exchange and binding replay after a reconnect: a subscription to an exchange with binding
// keys, its exchange deleted behind the client's back (which takes the bindings with it), then
// every connection closed by the broker. On recovery the subscriber declares the exchange and
// binds its queue again with every key, so messages published to the exchange arrive.
// close_all_connections disturbs every client of the shared test broker: this file belongs to
// the RUN_SERIAL recovery target (./dev test runs ctest -j2).
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cppblog/messaging/amqp_client.hpp"

#include "broker_test_env.hpp"
#include "inbox.hpp"

namespace cppblog::messaging {
namespace {

using namespace std::chrono_literals;

constexpr auto kWait = 60s;

// Counts losses of one client so a test can wait for "lost" and "back".
class StateLog {
 public:
  std::function<void(ConnectionState)> Callback() {
    return [this](ConnectionState state) {
      std::lock_guard lock(mutex_);
      if (state == ConnectionState::kRecovering) ++losses_;
      current_ = state;
      cv_.notify_all();
    };
  }
  bool WaitForLoss() {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kWait, [&] { return losses_ >= 1; });
  }
  bool WaitConnected() {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kWait, [&] { return current_ == ConnectionState::kConnected; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int losses_ = 0;
  ConnectionState current_ = ConnectionState::kRecovering;
};

std::string Ctl(const std::string& args) {
  return ShellOutput("RABBIT_DIR='" + RequiredEnv("CPPBLOG_TEST_RABBIT_DIR") + "' '" +
                     RequiredEnv("CPPBLOG_DEV") + "' rabbit ctl " + args);
}

// rabbitmqctl has no delete_exchange: the broker's own function, as the management API calls it.
void DeleteExchange(const std::string& name) {
  const std::string out =
      Ctl("eval 'rabbit_exchange:delete(rabbit_misc:r(<<\"/\">>, exchange, <<\"" + name +
          "\">>), false, <<\"cppblog-test\">>).'");
  if (out.rfind("ok", 0) != 0) {
    throw std::runtime_error("could not delete exchange " + name + ": " + out);
  }
}

bool ExchangeExists(const std::string& name) {
  std::istringstream lines(Ctl("list_exchanges name"));
  for (std::string line; std::getline(lines, line);) {
    if (line == name) return true;
  }
  return false;
}

// The routing keys that bind `exchange` to `queue`.
std::set<std::string> BindingKeys(const std::string& exchange, const std::string& queue) {
  std::set<std::string> keys;
  std::istringstream lines(Ctl("list_bindings source_name destination_name routing_key"));
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string source;
    std::string destination;
    std::string key;
    if (std::getline(fields, source, '\t') && std::getline(fields, destination, '\t') &&
        std::getline(fields, key) && source == exchange && destination == queue) {
      keys.insert(key);
    }
  }
  return keys;
}

void Publish(AmqpClient& client, const ExchangeSpec& exchange, const std::string& key,
             const std::string& body) {
  auto confirmed = client.Publish(exchange, key, {.body = body});
  ASSERT_EQ(confirmed.wait_for(kWait), std::future_status::ready);
  confirmed.get();
}

TEST(AmqpTopologyReplay, ADeletedExchangeAndItsBindingsAreDeclaredAgainAfterAReconnect) {
  const ExchangeSpec exchange{.name = UniqueName("replay-x"), .type = ExchangeType::kTopic};
  const std::string queue = UniqueName("replay-q");
  const std::set<std::string> keys{"order.*.created", "audit.#"};
  StateLog consumer_log;
  Inbox inbox;
  AmqpClient consumer{{.url = TestAmqpUrl(),
                       .reconnect_min = 50ms,
                       .reconnect_max = 500ms,
                       .on_state_change = consumer_log.Callback()}};
  auto subscribed = consumer.Subscribe(exchange, {keys.begin(), keys.end()}, {.name = queue},
                                       inbox.Recorder(), {});
  ASSERT_EQ(subscribed.wait_for(kWait), std::future_status::ready);
  subscribed.get();
  ASSERT_EQ(BindingKeys(exchange.name, queue), keys);

  DeleteExchange(exchange.name);
  ASSERT_FALSE(ExchangeExists(exchange.name));
  ASSERT_TRUE(BindingKeys(exchange.name, queue).empty());

  RabbitCtl("close_all_connections 'cppblog topology replay test'");
  ASSERT_TRUE(consumer_log.WaitForLoss());
  ASSERT_TRUE(consumer_log.WaitConnected());

  // The consumer's replay, before anything else declares the exchange: a publisher would
  // declare it too, but would not bind the queue.
  EXPECT_TRUE(ExchangeExists(exchange.name)) << "the exchange was not declared again";
  EXPECT_EQ(BindingKeys(exchange.name, queue), keys) << "the bindings were not made again";

  AmqpClient publisher{{.url = TestAmqpUrl()}};
  Publish(publisher, exchange, "order.eu.created", "by the first key");
  Publish(publisher, exchange, "audit.login.failed", "by the second key");
  ASSERT_TRUE(inbox.WaitFor(2, kWait)) << "messages published to the exchange did not arrive";
  std::set<std::string> bodies;
  for (const Message& m : inbox.Messages()) bodies.insert(m.body);
  EXPECT_EQ(bodies, (std::set<std::string>{"by the first key", "by the second key"}));

  consumer.Close();
  publisher.Close();
  RabbitCtl("delete_queue '" + queue + "'");
  RabbitCtl("delete_queue '" + queue + ".dlq'");
  DeleteExchange(exchange.name);
}

}  // namespace
}  // namespace cppblog::messaging

#include <optional>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/messaging/message.hpp"
#include "cppblog/metrics/registry.hpp"

#include "broker_test_env.hpp"
#include "inbox.hpp"

namespace cppblog::messaging {
namespace {

constexpr auto kWait = std::chrono::seconds{20};

// The value of the series named exactly `series` (name and labels as serialized).
std::optional<double> Sample(const std::string& text, const std::string& series) {
  std::istringstream lines{text};
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

TEST(AmqpClientMetricsIntegration, CountsPublishesConfirmsDeliveriesAcksAndDeadLetters) {
  const std::string queue = UniqueName("metrics");
  metrics::Registry registry;
  Inbox inbox;
  AmqpClient client{{.url = TestAmqpUrl(), .metrics = &registry}};
  auto subscribed = client.SubscribeToQueue({.name = queue},
                                            [recorder = inbox.Recorder()](const Message& message) {
                                              if (message.body == "poison")
                                                throw PoisonMessage("not a notification");
                                              return recorder(message);
                                            },
                                            {});
  ASSERT_EQ(subscribed.wait_for(kWait), std::future_status::ready);
  subscribed.get();

  constexpr int kGood = 5;
  for (int i = 0; i < kGood; ++i) {
    auto published = client.PublishToQueue({.name = queue}, {.body = "m" + std::to_string(i)});
    ASSERT_EQ(published.wait_for(kWait), std::future_status::ready);
    published.get();
  }
  auto poison = client.PublishToQueue({.name = queue}, {.body = "poison"});
  ASSERT_EQ(poison.wait_for(kWait), std::future_status::ready);
  poison.get();
  ASSERT_TRUE(inbox.WaitFor(kGood));

  // The poison message is acked once its dead-letter copy is confirmed: wait for all six acks.
  const std::string dest = "messaging_destination_name=\"" + queue + "\"";
  std::string text;
  const bool settled = WaitUntil(
      [&] {
        text = registry.Serialize();
        return Sample(text, "rabbitmq_acknowledged_total") == kGood + 1;
      },
      kWait);
  ASSERT_TRUE(settled) << text;

  EXPECT_EQ(Sample(text, "rabbitmq_published_total"), kGood + 1);
  EXPECT_EQ(Sample(text, "rabbitmq_acknowledged_published_total"), kGood + 1);
  EXPECT_EQ(Sample(text, "rabbitmq_not_acknowledged_published_total"), 0);
  EXPECT_EQ(Sample(text, "rabbitmq_failed_to_publish_total"), 0);
  EXPECT_EQ(Sample(text, "rabbitmq_consumed_total"), kGood + 1);
  EXPECT_EQ(Sample(text, "rabbitmq_rejected_total"), 0);
  EXPECT_EQ(Sample(text, "cppblog_dead_lettered_total{reason=\"poison\"}"), 1);
  EXPECT_EQ(Sample(text, "cppblog_dead_lettered_total{reason=\"retries_exhausted\"}"), 0);
  EXPECT_EQ(Sample(text, "rabbitmq_connections"), 2);  // publishing and consuming
  EXPECT_GE(Sample(text, "rabbitmq_channels").value_or(0), 4);
  EXPECT_EQ(Sample(text, "cppblog_amqp_connection_state{state=\"connected\"}"), 1);
  EXPECT_EQ(Sample(text, "cppblog_amqp_connection_state{state=\"recovering\"}"), 0);
  EXPECT_EQ(Sample(text, "cppblog_amqp_blocked"), 0);
  EXPECT_EQ(Sample(text, "cppblog_amqp_recoveries_total"), 0);
  EXPECT_EQ(Sample(text,
                   "messaging_client_operation_duration_seconds_count{messaging_operation_"
                   "name=\"publish\"," +
                       dest + "}"),
            kGood + 1);
  EXPECT_EQ(Sample(text, "messaging_process_duration_seconds_count{" + dest + "}"), kGood + 1);

  client.Close();
  text = registry.Serialize();
  EXPECT_EQ(Sample(text, "rabbitmq_connections"), 0);
  EXPECT_EQ(Sample(text, "rabbitmq_channels"), 0);
  EXPECT_EQ(Sample(text, "cppblog_amqp_connection_state{state=\"closed\"}"), 1);
}

}  // namespace
}  // namespace cppblog::messaging

#include "cppblog/metrics/registry.hpp"

#include <stdexcept>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cppblog::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsRegistry, CounterIsSerializedWithHelpTypeAndLabels) {
  Registry registry;
  Counter& published = registry.AddCounter("rabbitmq_published_total", "Messages published.");
  published.Increment();
  published.Increment(2);

  const std::string text = registry.Serialize();

  EXPECT_THAT(text, HasSubstr("# HELP rabbitmq_published_total Messages published.\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE rabbitmq_published_total counter\n"));
  EXPECT_THAT(text, HasSubstr("rabbitmq_published_total 3\n"));
}

TEST(MetricsRegistry, SameNameAndLabelsGiveTheSameSeries) {
  Registry registry;
  Counter& a = registry.AddCounter("cppblog_offers_total", "Offers.", {{"result", "offered"}});
  Counter& b = registry.AddCounter("cppblog_offers_total", "Offers.", {{"result", "offered"}});
  Counter& c = registry.AddCounter("cppblog_offers_total", "Offers.", {{"result", "cooldown"}});
  a.Increment();
  b.Increment();
  c.Increment();

  EXPECT_EQ(&a, &b);
  const std::string text = registry.Serialize();
  EXPECT_THAT(text, HasSubstr("cppblog_offers_total{result=\"offered\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("cppblog_offers_total{result=\"cooldown\"} 1\n"));
}

TEST(MetricsRegistry, GaugeGoesUpAndDown) {
  Registry registry;
  Gauge& channels = registry.AddGauge("rabbitmq_channels", "Open channels.");
  channels.Add(3);
  channels.Add(-1);

  const std::string text = registry.Serialize();

  EXPECT_THAT(text, HasSubstr("# TYPE rabbitmq_channels gauge\n"));
  EXPECT_THAT(text, HasSubstr("rabbitmq_channels 2\n"));
}

TEST(MetricsRegistry, HistogramHasCumulativeBucketsSumAndCount) {
  Registry registry;
  const double bounds[] = {0.1, 1};
  Histogram& h = registry.AddHistogram("messaging_process_duration_seconds", "Handler time.",
                                       {{"messaging_destination_name", "vip_queue"}}, bounds);
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(7);

  const std::string text = registry.Serialize();

  EXPECT_THAT(text, HasSubstr("# TYPE messaging_process_duration_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("messaging_process_duration_seconds_bucket{messaging_destination_"
                              "name=\"vip_queue\",le=\"0.1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("messaging_process_duration_seconds_bucket{messaging_destination_"
                              "name=\"vip_queue\",le=\"1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("messaging_process_duration_seconds_bucket{messaging_destination_"
                              "name=\"vip_queue\",le=\"+Inf\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("messaging_process_duration_seconds_count{messaging_destination_"
                              "name=\"vip_queue\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("messaging_process_duration_seconds_sum{messaging_destination_"
                              "name=\"vip_queue\"} 7.55\n"));
}

TEST(MetricsRegistry, CallbackGaugeIsReadAtScrapeUntilItsRegistrationEnds) {
  Registry registry;
  double entries = 4;
  {
    const CallbackRegistration registration = registry.AddCallbackGauge(
        "cppblog_outbox_entries", "Pending.", {}, [&entries] { return entries; });
    EXPECT_THAT(registry.Serialize(), HasSubstr("cppblog_outbox_entries 4\n"));
    entries = 7;
    EXPECT_THAT(registry.Serialize(), HasSubstr("cppblog_outbox_entries 7\n"));
  }
  EXPECT_THAT(registry.Serialize(), Not(HasSubstr("cppblog_outbox_entries")));
}

TEST(MetricsRegistry, CallbackThatThrowsIsLeftOutOfTheScrape) {
  Registry registry;
  const CallbackRegistration failing =
      registry.AddCallbackGauge("cppblog_outbox_oldest_entry_age_seconds", "Age.", {},
                                []() -> double { throw std::runtime_error("store closed"); });
  registry.AddGauge("cppblog_amqp_blocked", "Blocked.").Set(1);

  const std::string text = registry.Serialize();

  EXPECT_THAT(text, Not(HasSubstr("cppblog_outbox_oldest_entry_age_seconds ")));
  EXPECT_THAT(text, HasSubstr("cppblog_amqp_blocked 1\n"));
}

TEST(MetricsRegistry, LabelValuesAreEscaped) {
  Registry registry;
  registry.AddCounter("cppblog_dead_lettered_total", "Dead letters.", {{"reason", "a\"b\\c"}})
      .Increment();

  EXPECT_THAT(registry.Serialize(),
              HasSubstr(R"(cppblog_dead_lettered_total{reason="a\"b\\c"} 1)"));
}

TEST(MetricsRegistry, RefusesInvalidNamesAndConflictingDefinitions) {
  Registry registry;
  registry.AddCounter("cppblog_amqp_recoveries_total", "Recoveries.");

  EXPECT_THROW(registry.AddCounter("bad-name", "x"), std::invalid_argument);
  EXPECT_THROW(registry.AddCounter("ok_total", "x", {{"bad-label", "v"}}), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("cppblog_amqp_recoveries_total", "Recoveries."),
               std::invalid_argument);
  EXPECT_THROW(registry.AddCounter("cppblog_amqp_recoveries_total", "Other help."),
               std::invalid_argument);
  const double descending[] = {1, 0.5};
  EXPECT_THROW(registry.AddHistogram("h_seconds", "x", {}, descending), std::invalid_argument);
}

TEST(MetricsRegistry, DisabledRegistryRecordsNothingAndKeepsNoSeries) {
  Registry registry{{.enabled = false}};
  Counter& offered =
      registry.AddCounter("cppblog_offers_total", "Offers.", {{"result", "offered"}});
  Counter& cooldown =
      registry.AddCounter("cppblog_offers_total", "Offers.", {{"result", "cooldown"}});
  Counter& other = registry.AddCounter("rabbitmq_published_total", "Published.");
  Gauge& gauge = registry.AddGauge("rabbitmq_connections", "Connections.");
  Histogram& histogram = registry.AddHistogram("messaging_process_duration_seconds", "Handler.",
                                               {{"messaging_destination_name", "vip_queue"}});
  Histogram& another = registry.AddHistogram("cppblog_outbox_commit_duration_seconds", "Commit.");
  bool read = false;
  const CallbackRegistration callback =
      registry.AddCallbackGauge("cppblog_outbox_entries", "Pending.", {}, [&read] {
        read = true;
        return 1.0;
      });

  offered.Increment(5);
  other.Increment();
  gauge.Set(3);
  gauge.Add(2);
  histogram.Observe(0.002);

  EXPECT_FALSE(registry.Enabled());
  // No series: every counter is the one inert counter, every histogram the one inert histogram.
  EXPECT_EQ(&offered, &cooldown);
  EXPECT_EQ(&offered, &other);
  EXPECT_EQ(&histogram, &another);
  EXPECT_EQ(offered.Value(), 0U);
  EXPECT_EQ(gauge.Value(), 0.0);
  EXPECT_EQ(histogram.Count(), 0U);
  EXPECT_EQ(histogram.Sum(), 0.0);
  EXPECT_EQ(registry.Serialize(), "");
  EXPECT_FALSE(read);
}

TEST(MetricsRegistry, DisabledRegistryStillRefusesInvalidNames) {
  Registry registry{{.enabled = false}};

  EXPECT_THROW(static_cast<void>(registry.AddCounter("bad-name", "Bad.")), std::invalid_argument);
  EXPECT_THROW(static_cast<void>(registry.AddHistogram("h_seconds", "H.", {{"le", "1"}})),
               std::invalid_argument);
}

}  // namespace
}  // namespace cppblog::metrics

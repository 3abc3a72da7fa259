#include "cppblog/config/refresh_event.hpp"

#include <set>
#include <stdexcept>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace cppblog::config {
namespace {

constexpr const char* kOwnId = "accountservice:6767:0123456789abcdef0123456789abcdef";

BusEvent Refresh(std::optional<std::string> destination,
                 std::string origin = "configserver:8888:feedface") {
  BusEvent event;
  event.type = "RefreshRemoteApplicationEvent";
  event.kind = BusEventType::kRefresh;
  event.origin_service = std::move(origin);
  event.destination_service = std::move(destination);
  event.id = "53e61c71-cbae-4b6d-84bb-d0dcc0aeb4dc";
  return event;
}

TEST(RefreshEvent, ParsesTheEventQuotedInTheSeed) {
  const BusEvent event = ParseBusEvent(
      R"({"type":"RefreshRemoteApplicationEvent","timestamp":1494514362123,
          "originService":"config-server:docker:8888","destinationService":"xxxaccoun:**",
          "id":"53e61c71-cbae-4b6d-84bb-d0dcc0aeb4dc"})");

  EXPECT_EQ(event.kind, BusEventType::kRefresh);
  EXPECT_EQ(event.timestamp_ms, 1494514362123);
  EXPECT_EQ(event.origin_service, "config-server:docker:8888");
  EXPECT_EQ(event.destination_service, "xxxaccoun:**");
  EXPECT_EQ(event.id, "53e61c71-cbae-4b6d-84bb-d0dcc0aeb4dc");
}

TEST(RefreshEvent, DispatchesOnType) {
  EXPECT_EQ(ParseBusEvent(R"({"type":"AckRemoteApplicationEvent","ackId":"x"})").kind,
            BusEventType::kAck);
  EXPECT_EQ(ParseBusEvent(R"({"type":"EnvironmentChangeRemoteApplicationEvent"})").kind,
            BusEventType::kEnvironmentChange);
  EXPECT_EQ(ParseBusEvent(R"({"type":"ShutdownRemoteApplicationEvent"})").kind,
            BusEventType::kShutdown);
  EXPECT_EQ(ParseBusEvent(R"({"type":"MyCustomEvent","source":{"x":1}})").kind,
            BusEventType::kUnknown);
  EXPECT_EQ(ParseBusEvent(R"({})").kind, BusEventType::kUnknown);
}

TEST(RefreshEvent, ParsesAckFields) {
  const BusEvent ack = ParseBusEvent(
      R"({"type":"AckRemoteApplicationEvent","timestamp":1,"originService":"a:1:b",
          "destinationService":"**","id":"i","ackId":"acked","ackDestinationService":"x:**",
          "event":"org.springframework.cloud.bus.event.RefreshRemoteApplicationEvent"})");

  EXPECT_EQ(ack.ack_id, "acked");
  EXPECT_EQ(ack.ack_destination_service, "x:**");
  EXPECT_EQ(ack.event, "org.springframework.cloud.bus.event.RefreshRemoteApplicationEvent");
}

TEST(RefreshEvent, NullDestinationIsAbsent) {
  EXPECT_FALSE(
      ParseBusEvent(R"({"type":"RefreshRemoteApplicationEvent","destinationService":null})")
          .destination_service.has_value());
}

TEST(RefreshEvent, MalformedBodiesAreRejected) {
  EXPECT_THROW((void)ParseBusEvent("not json"), std::invalid_argument);
  EXPECT_THROW((void)ParseBusEvent("[1]"), std::invalid_argument);
  EXPECT_THROW((void)ParseBusEvent(R"({"type":3})"), std::invalid_argument);
  EXPECT_THROW((void)ParseBusEvent(R"({"timestamp":"soon"})"), std::invalid_argument);
}

struct NormalizeCase {
  std::optional<std::string> destination;
  std::string normalized;
};

TEST(RefreshEvent, NormalizesDestinationsAsPathDestinationFactory) {
  const NormalizeCase cases[] = {
      {std::nullopt, "**"},
      {"", "**"},
      {"accountservice", "accountservice:**"},
      {"customers:9000", "customers:9000:**"},
      {"accountservice:**", "accountservice:**"},
      {"**", "**"},
      {"a:b:c", "a:b:c"},
  };
  for (const NormalizeCase& c : cases) {
    EXPECT_EQ(NormalizeDestination(c.destination), c.normalized)
        << c.destination.value_or("(null)");
  }
}

struct MatchCase {
  const char* pattern;
  const char* path;
  bool matches;
};

TEST(RefreshEvent, MatchesLikeAntPathMatcherWithColons) {
  const MatchCase cases[] = {
      {"**", "accountservice:6767:abc", true},
      {"accountservice:**", "accountservice:6767:abc", true},
      {"accountservice:**", "accountservice", true},
      {"*:**", "accountservice:6767:abc", true},
      {"accountservice-test:**", "accountservice:6767:abc", false},
      {"accountservice2:**", "accountservice:6767:abc", false},
      {"account*:**", "accountservice:6767:abc", true},
      {"*service:6767:*", "accountservice:6767:abc", true},
      {"accountservice:6767:*", "accountservice:6767:abc", true},
      {"accountservice:6868:**", "accountservice:6767:abc", false},
      {"accountservice:*", "accountservice:6767:abc", false},
      {"accountservice:????:**", "accountservice:6767:abc", true},
      {"accountservice:???:**", "accountservice:6767:abc", false},
      {"**:abc", "accountservice:6767:abc", true},
      {"accountservice:**:abc", "accountservice:6767:abc", true},
      {"vipservice:**", "accountservice:6767:abc", false},
      {"accountservice", "accountservice:6767:abc", false},
      {":accountservice:**", "accountservice:6767:abc", false},
      {"", "accountservice:6767:abc", false},
  };
  for (const MatchCase& c : cases) {
    EXPECT_EQ(MatchesAntPath(c.pattern, c.path), c.matches) << c.pattern << " vs " << c.path;
  }
}

TEST(RefreshEvent, RetriesEachProfileOfACommaSeparatedList) {
  EXPECT_TRUE(MatchesBusId("app:test:**", "app:dev,test:8080"));
  EXPECT_TRUE(MatchesBusId("app:dev:8080", "app:dev,test:8080"));
  EXPECT_FALSE(MatchesBusId("app:prod:**", "app:dev,test:8080"));
  EXPECT_FALSE(MatchesAntPath("app:test:**", "app:dev,test:8080"));
  EXPECT_TRUE(MatchesBusId("app:dev,test:**", "app:dev,test:8080"));
}

struct DecideCase {
  const char* name;
  BusEvent event;
  BusEventAction action;
};

TEST(RefreshEvent, DecidesLikeSpringsBusConsumer) {
  BusEvent ack = Refresh("**");
  ack.type = "AckRemoteApplicationEvent";
  ack.kind = BusEventType::kAck;
  BusEvent unknown = Refresh("**");
  unknown.type = "SomethingElse";
  unknown.kind = BusEventType::kUnknown;
  BusEvent environment = Refresh("accountservice:**");
  environment.type = "EnvironmentChangeRemoteApplicationEvent";
  environment.kind = BusEventType::kEnvironmentChange;

  const DecideCase cases[] = {
      {"broadcast **", Refresh("**"), BusEventAction::kRefresh},
      {"null destination", Refresh(std::nullopt), BusEventAction::kRefresh},
      {"accountservice:**", Refresh("accountservice:**"), BusEventAction::kRefresh},
      {"bare name", Refresh("accountservice"), BusEventAction::kRefresh},
      {"*:** (application.yml changed)", Refresh("*:**"), BusEventAction::kRefresh},
      {"this instance exactly", Refresh(kOwnId), BusEventAction::kRefresh},
      {"accountservice-test:**", Refresh("accountservice-test:**"),
       BusEventAction::kIgnoreNotForUs},
      {"accountservice2:**", Refresh("accountservice2:**"), BusEventAction::kIgnoreNotForUs},
      {"another port", Refresh("accountservice:6768"), BusEventAction::kIgnoreNotForUs},
      {"vipservice:**", Refresh("vipservice:**"), BusEventAction::kIgnoreNotForUs},
      {"own origin", Refresh("**", kOwnId), BusEventAction::kIgnoreOwn},
      {"ack", ack, BusEventAction::kIgnoreAck},
      {"unknown type", unknown, BusEventAction::kIgnoreOtherType},
      {"busenv", environment, BusEventAction::kIgnoreOtherType},
  };
  for (const DecideCase& c : cases) {
    EXPECT_EQ(Decide(c.event, kOwnId), c.action) << c.name;
  }
}

TEST(RefreshEvent, AckIsTheJsonSpringSends) {
  const BusEvent acked = Refresh("accountservice:**");

  const auto ack = boost::json::parse(MakeAckJson(acked, kOwnId, "ack-id", 1700000000000));

  EXPECT_EQ(ack, boost::json::parse(
                     R"({"type":"AckRemoteApplicationEvent","timestamp":1700000000000,
          "originService":"accountservice:6767:0123456789abcdef0123456789abcdef",
          "destinationService":"**","id":"ack-id",
          "ackId":"53e61c71-cbae-4b6d-84bb-d0dcc0aeb4dc",
          "ackDestinationService":"accountservice:**",
          "event":"org.springframework.cloud.bus.event.RefreshRemoteApplicationEvent"})"));
  // What we send, we read back as an ack, and ignore.
  EXPECT_EQ(Decide(ParseBusEvent(MakeAckJson(acked, "other:1:x", "a", 1)), kOwnId),
            BusEventAction::kIgnoreAck);
}

TEST(RefreshEvent, RefreshJsonRoundTrips) {
  const BusEvent event =
      ParseBusEvent(MakeRefreshJson("configserver:8888:x", "accountservice:**", "id-1", 42));

  EXPECT_EQ(event.kind, BusEventType::kRefresh);
  EXPECT_EQ(event.origin_service, "configserver:8888:x");
  EXPECT_EQ(event.destination_service, "accountservice:**");
  EXPECT_EQ(event.id, "id-1");
  EXPECT_EQ(event.timestamp_ms, 42);
}

TEST(RefreshEvent, BusIdsAreUniquePerInstance) {
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    ids.insert(MakeBusId("accountservice", 6767));
  }

  EXPECT_EQ(ids.size(), 100U);
  const std::string id = *ids.begin();
  EXPECT_TRUE(id.starts_with("accountservice:6767:"));
  EXPECT_EQ(id.size(), std::string("accountservice:6767:").size() + 32);
  EXPECT_TRUE(MatchesBusId("accountservice:**", id));
}

}  // namespace
}  // namespace cppblog::config

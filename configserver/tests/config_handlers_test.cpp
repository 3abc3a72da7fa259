#include "config_handlers.hpp"

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_dir.hpp"

namespace cppblog::configserver {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

namespace json = boost::json;

// Records what the handlers asked for and answers with one fixed source.
class RecordingRepository final : public ConfigRepository {
 public:
  Environment FindOne(const std::string& application, const std::string& profiles,
                      const std::optional<std::string>& label) const override {
    calls.push_back({application, profiles, label.value_or("<none>")});
    if (label == "missing") throw NoSuchLabelError("No such label: missing");
    Environment environment{.name = application, .profiles = {profiles}, .label = label};
    environment.property_sources.push_back({.name = "n", .source = {{"k", std::string("v")}}});
    return environment;
  }
  mutable std::vector<std::vector<std::string>> calls;
};

class RecordingAnnouncer final : public RefreshAnnouncer {
 public:
  void Announce(const std::string& destination) override {
    if (fail) throw std::runtime_error("broker unreachable");
    destinations.push_back(destination);
  }
  std::vector<std::string> destinations;
  bool fail = false;
};

struct Fixture {
  TempDir dir;
  std::unique_ptr<NativeRepository> repository;
  health::HealthRegistry health;
};

std::unique_ptr<Fixture> NativeFixture() {
  auto fixture = std::make_unique<Fixture>();
  fixture->dir.Write("application.yml", "config_event_bus: springCloudBus\nserver_port: 80\n");
  fixture->dir.Write(
      "accountservice-test.yml",
      "server_port: 6767\nserver_name: Accountservice TEST\nvip_accounts:\n  - \"10000\"\n"
      "amqp_server_url: amqp://${amqp_host:localhost}:5672/\n");
  fixture->repository = std::make_unique<NativeRepository>(fixture->dir.path());
  return fixture;
}

std::optional<std::string> HeaderOf(const web::Response& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return std::nullopt;
}

TEST(ConfigHandlers, EnvironmentListsSourcesMostSpecificFirst) {
  const auto fixture = NativeFixture();
  const auto router = MakeRouter({.repository = *fixture->repository, .health = fixture->health});

  const web::Response response = router.Dispatch(web::Get("/accountservice/test"));

  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.content_type, "application/json");
  const auto body = json::parse(response.body).as_object();
  EXPECT_EQ(body.at("name").as_string(), "accountservice");
  const auto& sources = body.at("propertySources").as_array();
  ASSERT_EQ(sources.size(), 2U);
  EXPECT_THAT(std::string(sources[0].at("name").as_string()),
              HasSubstr("/accountservice-test.yml"));
  EXPECT_EQ(sources[0].at("source").at("server_port").as_int64(), 6767);
  EXPECT_THAT(std::string(sources[1].at("name").as_string()), HasSubstr("/application.yml"));
}

TEST(ConfigHandlers, LabelAndApplicationTranslateSlashPlaceholder) {
  RecordingRepository repository;
  health::HealthRegistry health;
  const auto router = MakeRouter({.repository = repository, .health = health});

  const web::Response response = router.Dispatch(web::Get("/team(_)foo/dev,db/feature(_)x"));

  EXPECT_EQ(response.status, 200);
  ASSERT_EQ(repository.calls.size(), 1U);
  EXPECT_THAT(repository.calls[0], ElementsAre("team/foo", "dev,db", "feature/x"));
  EXPECT_EQ(json::parse(response.body).at("label").as_string(), "feature/x");
}

TEST(ConfigHandlers, UnknownLabelIsNotFound) {
  RecordingRepository repository;
  health::HealthRegistry health;
  const auto router = MakeRouter({.repository = repository, .health = health});

  const web::Response response = router.Dispatch(web::Get("/accountservice/test/missing"));

  EXPECT_EQ(response.status, 404);
  EXPECT_THAT(response.body, HasSubstr("No such label: missing"));
}

TEST(ConfigHandlers, PathTraversalIsBadRequest) {
  const auto fixture = NativeFixture();
  const auto router = MakeRouter({.repository = *fixture->repository, .health = fixture->health});
  EXPECT_EQ(router.Dispatch(web::Get("/..(_)..(_)etc(_)passwd/test")).status, 400);
}

TEST(ConfigHandlers, UnknownApplicationIsServedUnlessAcceptEmptyIsOff) {
  TempDir dir;
  const NativeRepository repository{dir.path()};
  health::HealthRegistry health;

  const auto lenient = MakeRouter({.repository = repository, .health = health});
  const auto strict =
      MakeRouter({.repository = repository, .health = health, .accept_empty = false});

  const web::Response served = lenient.Dispatch(web::Get("/nosuchservice/test"));
  EXPECT_EQ(served.status, 200);
  EXPECT_TRUE(json::parse(served.body).at("propertySources").as_array().empty());
  EXPECT_EQ(strict.Dispatch(web::Get("/nosuchservice/test")).status, 404);
}

TEST(ConfigHandlers, MalformedFileIsNamedInWarningAndBodyWhileTheRestIsServed) {
  const auto fixture = NativeFixture();
  fixture->dir.Write("accountservice-test.yml", "server_port: [6767\n");
  const auto router = MakeRouter({.repository = *fixture->repository, .health = fixture->health});

  const web::Response response = router.Dispatch(web::Get("/accountservice/test"));

  ASSERT_EQ(response.status, 200);
  const auto warning = HeaderOf(response, "Warning");
  ASSERT_TRUE(warning.has_value());
  EXPECT_THAT(*warning, HasSubstr("199 configserver \"accountservice-test.yml: line"));
  const auto sources = json::parse(response.body).at("propertySources").as_array();
  ASSERT_EQ(sources.size(), 2U);
  EXPECT_THAT(std::string(sources[0].at("source").at("invalid.source").as_string()),
              HasSubstr("accountservice-test.yml"));
  EXPECT_EQ(sources[1].at("source").at("server_port").as_int64(), 80);
}

TEST(ConfigHandlers, YamlFormIsMergedAndNested) {
  const auto fixture = NativeFixture();
  const auto router = MakeRouter({.repository = *fixture->repository, .health = fixture->health});

  const web::Response response = router.Dispatch(web::Get("/accountservice-test.yml"));

  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.content_type, "text/plain");
  EXPECT_EQ(response.body,
            "amqp_server_url: amqp://localhost:5672/\nconfig_event_bus: springCloudBus\n"
            "server_name: Accountservice TEST\nserver_port: 6767\nvip_accounts:\n  - \"10000\"\n");
}

TEST(ConfigHandlers, PropertiesFormWithLabelIsFlatAndCanKeepPlaceholders) {
  const auto fixture = NativeFixture();
  const auto router = MakeRouter({.repository = *fixture->repository, .health = fixture->health});

  const web::Response response =
      router.Dispatch(web::Get("/P9/accountservice-test.properties?resolvePlaceholders=false"));

  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(
      response.body,
      "amqp_server_url: amqp://${amqp_host:localhost}:5672/\nconfig_event_bus: springCloudBus\n"
      "server_name: Accountservice TEST\nserver_port: 6767\nvip_accounts[0]: 10000");
}

TEST(ConfigHandlers, JsonFormIsNestedWithTypes) {
  const auto fixture = NativeFixture();
  const auto router = MakeRouter({.repository = *fixture->repository, .health = fixture->health});

  const web::Response response = router.Dispatch(web::Get("/accountservice-test.json"));

  ASSERT_EQ(response.status, 200) << response.body;
  const auto body = json::parse(response.body);
  EXPECT_EQ(body.at("server_port").as_int64(), 6767);
  EXPECT_EQ(body.at("vip_accounts").as_array()[0].as_string(), "10000");
}

TEST(ConfigHandlers, LabelledFileFormPassesTheLabel) {
  RecordingRepository repository;
  health::HealthRegistry health;
  const auto router = MakeRouter({.repository = repository, .health = health});

  EXPECT_EQ(router.Dispatch(web::Get("/P9/accountservice-test.yml")).status, 200);
  ASSERT_EQ(repository.calls.size(), 1U);
  EXPECT_THAT(repository.calls[0], ElementsAre("accountservice", "test", "P9"));
}

TEST(ConfigHandlers, HealthIsUpOrNamesTheFailingCheck) {
  RecordingRepository repository;
  health::HealthRegistry health;
  const auto router = MakeRouter({.repository = repository, .health = health});
  const web::Response up = router.Dispatch(web::Get("/health"));
  EXPECT_EQ(up.status, 200);
  EXPECT_EQ(up.body, R"({"status":"UP"})");
  EXPECT_EQ(router.Dispatch(web::Get("/actuator/health")).status, 200);

  health.Add("repository", [] { return false; });
  const web::Response down = router.Dispatch(web::Get("/health"));
  EXPECT_EQ(down.status, 503);
  EXPECT_THAT(down.body, HasSubstr("\"repository\":\"DOWN\""));
}

TEST(ConfigHandlers, MonitorWithoutBusIsServiceUnavailable) {
  RecordingRepository repository;
  health::HealthRegistry health;
  const auto router = MakeRouter({.repository = repository, .health = health});
  web::Request request = web::Post("/monitor", "path=accountservice-test.yml");
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");

  const web::Response response = router.Dispatch(request);

  EXPECT_EQ(response.status, 503);
  EXPECT_THAT(response.body, HasSubstr("message bus"));
}

TEST(ConfigHandlers, MonitorAnnouncesOneEventPerGuessedService) {
  RecordingRepository repository;
  health::HealthRegistry health;
  RecordingAnnouncer announcer;
  const auto router =
      MakeRouter({.repository = repository, .health = health, .announcer = &announcer});
  web::Request request = web::Post("/monitor", "path=accountservice-test.yml");
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");

  const web::Response response = router.Dispatch(request);

  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.body, R"(["accountservice:test","accountservice","accountservice-test"])");
  EXPECT_THAT(announcer.destinations,
              ElementsAre("accountservice:test:**", "accountservice:**", "accountservice-test:**"));
}

TEST(ConfigHandlers, BusRefreshAnnouncesTheDestination) {
  RecordingRepository repository;
  health::HealthRegistry health;
  RecordingAnnouncer announcer;
  const auto router =
      MakeRouter({.repository = repository, .health = health, .announcer = &announcer});

  EXPECT_EQ(router.Dispatch(web::Post("/actuator/busrefresh", "")).status, 204);
  EXPECT_EQ(router.Dispatch(web::Post("/actuator/busrefresh/vipservice:**", "")).status, 204);
  EXPECT_EQ(router.Dispatch(web::Post("/actuator/busrefresh/vipservice", "")).status, 204);

  EXPECT_THAT(announcer.destinations, ElementsAre("**", "vipservice:**", "vipservice:**"));
}

TEST(ConfigHandlers, FailedPublishIsServiceUnavailableWithTheReason) {
  RecordingRepository repository;
  health::HealthRegistry health;
  RecordingAnnouncer announcer;
  announcer.fail = true;
  const auto router =
      MakeRouter({.repository = repository, .health = health, .announcer = &announcer});

  const web::Response response = router.Dispatch(web::Post("/actuator/busrefresh/vipservice", ""));

  EXPECT_EQ(response.status, 503);
  EXPECT_THAT(response.body, HasSubstr("vipservice:**"));
  EXPECT_THAT(response.body, HasSubstr("broker unreachable"));
}

}  // namespace
}  // namespace cppblog::configserver

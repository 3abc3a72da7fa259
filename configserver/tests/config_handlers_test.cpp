#include "config_handlers.hpp"

#include <chrono>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include "cppblog/storage/temp_dir.hpp"

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

// Records every destination asked for and completes at once (from the caller's thread, which
// the handlers must tolerate too).
class RecordingAnnouncer final : public RefreshAnnouncer {
 public:
  void Announce(std::vector<std::string> requested, AnnounceDone done) override {
    ++calls;
    destinations.insert(destinations.end(), requested.begin(), requested.end());
    done(fail ? std::optional<std::string>("broker unreachable") : std::nullopt);
  }
  std::vector<std::string> destinations;
  int calls = 0;
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
  EXPECT_THAT(response.body, HasSubstr("broker unreachable"));
}

web::Request FormPost(std::string body) {
  web::Request request = web::Post("/monitor", std::move(body));
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  return request;
}

long MaxRssKb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// Issue 16.1: a 16 KB stem of dashes made 16,001 events, 66 s and +440 MB.
TEST(ConfigHandlers, MonitorWithAFileNameOfManyDashesIsRefusedAtOnce) {
  RecordingRepository repository;
  health::HealthRegistry health;
  RecordingAnnouncer announcer;
  const auto router =
      MakeRouter({.repository = repository, .health = health, .announcer = &announcer});
  std::string stem;
  for (int i = 0; i < 8'000; ++i) stem += "a-";
  const long rss_before = MaxRssKb();
  const auto started = std::chrono::steady_clock::now();

  const web::Response response = router.Dispatch(FormPost("path=" + stem + "x.yml"));

  EXPECT_EQ(response.status, 400) << response.body;
  EXPECT_THAT(response.body, HasSubstr("16001 bytes"));
  EXPECT_EQ(announcer.calls, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1));
  EXPECT_LT(MaxRssKb() - rss_before, 20 * 1024);
  // Short enough for a file name, but 20 dashes (41 names).
  const web::Response dashes = router.Dispatch(FormPost("path=" + stem.substr(0, 40) + "x.yml"));
  EXPECT_EQ(dashes.status, 400) << dashes.body;
  EXPECT_THAT(dashes.body, HasSubstr("20 dashes"));
  EXPECT_EQ(announcer.calls, 0);
}

TEST(ConfigHandlers, MonitorWithThousandsOfPathsIsRefused) {
  RecordingRepository repository;
  health::HealthRegistry health;
  RecordingAnnouncer announcer;
  const auto router =
      MakeRouter({.repository = repository, .health = health, .announcer = &announcer});
  std::string paths;
  for (int i = 0; i < 2'000; ++i)
    paths += (i == 0 ? "" : ",") + ("app" + std::to_string(i)) + ".yml";

  const web::Response response = router.Dispatch(FormPost("path=" + paths));

  EXPECT_EQ(response.status, 400) << response.body;
  EXPECT_THAT(response.body, HasSubstr("2000 files"));
  EXPECT_EQ(announcer.calls, 0);
}

TEST(ConfigHandlers, MonitorSendsAtMostOneEventPerDestinationAndCollapsesManyIntoOneBroadcast) {
  RecordingRepository repository;
  health::HealthRegistry health;
  RecordingAnnouncer announcer;
  const auto router =
      MakeRouter({.repository = repository, .health = health, .announcer = &announcer});

  // The same file three times, and two files naming the same application.
  EXPECT_EQ(
      router.Dispatch(FormPost("path=vipservice.yml,vipservice.yml&path=vipservice.yml")).status,
      200);
  EXPECT_THAT(announcer.destinations, ElementsAre("vipservice:**"));

  announcer.destinations.clear();
  std::string paths;
  for (int i = 0; i < 200; ++i) {
    paths += (i == 0 ? "" : ",") + ("app" + std::to_string(i)) + "-test-eu-west.yml";
  }
  const long rss_before = MaxRssKb();
  const web::Response response = router.Dispatch(FormPost("path=" + paths));

  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.body, R"(["**"])");
  EXPECT_THAT(announcer.destinations, ElementsAre("**"));
  EXPECT_LT(MaxRssKb() - rss_before, 20 * 1024);
}

TEST(ConfigHandlers, RefreshWhileTheBrokerIsAwayIs503AtOnceAndQueuesNothing) {
  RecordingRepository repository;
  health::HealthRegistry health;
  RecordingAnnouncer announcer;
  const auto router = MakeRouter(
      {.repository = repository, .health = health, .announcer = &announcer, .bus_reachable = [] {
         return false;
       }});

  const web::Response busrefresh = router.Dispatch(web::Post("/actuator/busrefresh", ""));
  const web::Response monitor = router.Dispatch(FormPost("path=vipservice.yml"));

  EXPECT_EQ(busrefresh.status, 503);
  EXPECT_THAT(busrefresh.body, HasSubstr("not reachable"));
  EXPECT_EQ(monitor.status, 503);
  EXPECT_EQ(announcer.calls, 0);
}

TEST(ConfigHandlers, AnOverlongDestinationIsBadRequest) {
  RecordingRepository repository;
  health::HealthRegistry health;
  RecordingAnnouncer announcer;
  const auto router =
      MakeRouter({.repository = repository, .health = health, .announcer = &announcer});

  const web::Response response =
      router.Dispatch(web::Post("/actuator/busrefresh/" + std::string(300, 'a'), ""));

  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(announcer.calls, 0);
}

TEST(ConfigHandlers, ABusyAnnouncerIs503) {
  class BusyAnnouncer final : public RefreshAnnouncer {
   public:
    void Announce(std::vector<std::string>, AnnounceDone) override {
      throw AnnouncerBusyError("too many waiting");
    }
  } announcer;
  RecordingRepository repository;
  health::HealthRegistry health;
  const auto router =
      MakeRouter({.repository = repository, .health = health, .announcer = &announcer});

  const web::Response response = router.Dispatch(web::Post("/actuator/busrefresh", ""));

  EXPECT_EQ(response.status, 503);
  EXPECT_THAT(response.body, HasSubstr("too many waiting"));
}

HandlerDependencies Secured(const ConfigRepository& repository,
                            const health::HealthRegistry& health, RefreshAnnouncer* announcer) {
  return {.repository = repository,
          .health = health,
          .accept_empty = true,
          .announcer = announcer,
          .bus_reachable = {},
          .auth = {.basic = BasicCredentials{.user = "configserver", .password = "s3cret"},
                   .webhook_secret = "hook-secret"}};
}

web::Request WithBasic(web::Request request) {
  request.headers.emplace_back("Authorization", "Basic Y29uZmlnc2VydmVyOnMzY3JldA==");
  return request;
}

TEST(ConfigHandlers, WithCredentialsSetEveryEndpointButHealthNeedsThem) {
  RecordingRepository repository;
  health::HealthRegistry health;
  RecordingAnnouncer announcer;
  const auto router = MakeRouter(Secured(repository, health, &announcer));

  for (const std::string target : {"/accountservice/test", "/accountservice/test/P9",
                                   "/accountservice-test.yml", "/P9/accountservice-test.json"}) {
    const web::Response denied = router.Dispatch(web::Get(target));
    EXPECT_EQ(denied.status, 401) << target;
    EXPECT_TRUE(HeaderOf(denied, "WWW-Authenticate").has_value()) << target;
    EXPECT_EQ(router.Dispatch(WithBasic(web::Get(target))).status, 200) << target;
  }
  EXPECT_EQ(router.Dispatch(web::Post("/actuator/busrefresh", "")).status, 401);
  EXPECT_EQ(router.Dispatch(web::Post("/actuator/busrefresh/vipservice", "")).status, 401);
  EXPECT_EQ(router.Dispatch(FormPost("path=vipservice.yml")).status, 401);
  EXPECT_EQ(announcer.calls, 0);
  EXPECT_EQ(router.Dispatch(WithBasic(web::Post("/actuator/busrefresh", ""))).status, 204);
  EXPECT_EQ(router.Dispatch(web::Get("/health")).status, 200);
}

TEST(ConfigHandlers, HealthNamesFailingChecksOnlyToAuthenticatedCallers) {
  RecordingRepository repository;
  health::HealthRegistry health;
  health.Add("repository", [] {
    return health::CheckResult{.healthy = false, .detail = "/srv/secret-path unreadable"};
  });
  const auto router = MakeRouter(Secured(repository, health, nullptr));

  const web::Response anonymous = router.Dispatch(web::Get("/health"));
  const web::Response authenticated = router.Dispatch(WithBasic(web::Get("/health")));

  EXPECT_EQ(anonymous.status, 503);
  EXPECT_EQ(anonymous.body, R"({"status":"DOWN"})");
  EXPECT_EQ(authenticated.status, 503);
  EXPECT_THAT(authenticated.body, HasSubstr("secret-path"));
}

TEST(ConfigHandlers, MonitorChecksTheWebhookSignature) {
  RecordingRepository repository;
  health::HealthRegistry health;
  RecordingAnnouncer announcer;
  const auto router = MakeRouter(Secured(repository, health, &announcer));
  const std::string body = R"({"commits":[{"modified":["vipservice.yml"]}]})";
  const auto push = [&](std::optional<std::string> signature) {
    web::Request request = web::Post("/monitor", body);
    request.headers.emplace_back("X-Github-Event", "push");
    if (signature) request.headers.emplace_back("X-Hub-Signature-256", *signature);
    return router.Dispatch(request);
  };

  EXPECT_EQ(push(std::nullopt).status, 401);
  EXPECT_EQ(push("sha256=" + HmacSha256Hex("wrong", body)).status, 401);
  EXPECT_EQ(announcer.calls, 0);
  const web::Response signed_push = push("sha256=" + HmacSha256Hex("hook-secret", body));
  EXPECT_EQ(signed_push.status, 200) << signed_push.body;
  EXPECT_THAT(announcer.destinations, ElementsAre("vipservice:**"));
}

TEST(ConfigHandlers, TooManyProfilesOrAnOverlongLabelIsBadRequest) {
  const auto fixture = NativeFixture();
  const auto router = MakeRouter({.repository = *fixture->repository, .health = fixture->health});
  std::string profiles = "p0";
  for (int i = 1; i < 1'800; ++i) profiles += ",p" + std::to_string(i);

  const web::Response many = router.Dispatch(web::Get("/accountservice/" + profiles));
  const web::Response long_label =
      router.Dispatch(web::Get("/accountservice/test/" + std::string(300, 'l')));

  EXPECT_EQ(many.status, 400);
  EXPECT_THAT(many.body, HasSubstr("1800 profiles"));
  EXPECT_EQ(long_label.status, 400);
  EXPECT_EQ(router.Dispatch(web::Get("/accountservice/a,b,c")).status, 200);
}

// The file-name pattern was a std::regex, recursing once per character: a segment of 200,000
// characters (a server with a large header_limit) overflowed the stack and killed the process.
TEST(ConfigHandlers, AnOverlongFileNameIsAnsweredWithoutOverflowingTheStack) {
  RecordingRepository repository;
  health::HealthRegistry health;
  const auto router = MakeRouter({.repository = repository, .health = health});
  const std::string application(200'000, 'a');

  EXPECT_EQ(router.Dispatch(web::Get("/P9/" + application + "-test.yml")).status, 200);
  ASSERT_EQ(repository.calls.size(), 1U);
  EXPECT_EQ(repository.calls[0][0].size(), application.size());
  EXPECT_EQ(repository.calls[0][1], "test");
}

}  // namespace
}  // namespace cppblog::configserver

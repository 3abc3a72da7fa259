// The two ways a service gets a YAML file's values agree: read from its own directory
// (config::ParseYaml, text scalars) or served by the configserver (typed Environment JSON,
// read back by config::ParseSpringEnvironment). Both go through config::FlattenYaml.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/config/config_error.hpp"
#include "cppblog/config/loader.hpp"
#include "cppblog/config/spring_environment.hpp"
#include "cppblog/storage/temp_dir.hpp"

#include "config_repository.hpp"
#include "environment.hpp"

namespace cppblog::configserver {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

using Values = std::map<std::string, std::string>;

Values ValuesOf(const config::Properties& properties) {
  Values values;
  for (const auto& [key, value] : properties.All()) values.emplace(key, value.text);
  return values;
}

Values ReadLocally(const std::string& yaml) {
  return ValuesOf(config::ParseYaml(yaml, "accountservice.yml"));
}

// What the service holds after fetching /accountservice/default from a configserver serving a
// directory with the file; throws with the configserver's problem when it refuses the file.
Values ReadThroughTheConfigserver(const std::string& yaml) {
  const TempDir dir;
  dir.Write("accountservice.yml", yaml);
  const NativeRepository repository{dir.path()};
  const Environment environment = repository.FindOne("accountservice", "default", std::nullopt);
  if (!environment.problems.empty()) throw config::ConfigError(environment.problems.front());
  const config::SpringEnvironment parsed =
      config::ParseSpringEnvironment(ToJson(environment), "configserver");
  return ValuesOf(config::MergePropertySources(parsed));
}

std::string ErrorOf(Values (*read)(const std::string&), const std::string& yaml) {
  try {
    static_cast<void>(read(yaml));
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// Canonical scalars: a service's own file keeps each scalar's text, the configserver types it
// (as Spring does) and the client prints it back in Java's notation, which gives the same text.
constexpr std::string_view kFile = R"(defaults: &defaults
  timeout_ms: 5000
  retry: true
  host: db.local
amqp:
  <<: *defaults
  host: broker.local
  server:
    url: amqp://guest@rabbit:5672/
    heartbeat: 10
nothing:
tilde: ~
quoted_null: "null"
empty_list: []
empty_map: {}
vip_accounts:
  - 10000
  - '10001'
routes:
  - path: /a
    tags: [x, y]
    <<: {weight: 2, path: /ignored}
  - path: /b
ratio: 0.5
)";

TEST(YamlAgreement, ALocalFileAndTheConfigserversAnswerGiveTheSameValues) {
  const Values local = ReadLocally(std::string(kFile));
  const Values served = ReadThroughTheConfigserver(std::string(kFile));
  EXPECT_EQ(local, served);
  // And what both agree on is Spring's reading of the file.
  EXPECT_EQ(local.at("amqp.timeout_ms"), "5000");    // merged from the anchor
  EXPECT_EQ(local.at("amqp.host"), "broker.local");  // an explicit key wins over a merged one
  EXPECT_EQ(local.at("amqp.server.url"), "amqp://guest@rabbit:5672/");
  EXPECT_EQ(local.at("nothing"), "");
  EXPECT_EQ(local.at("tilde"), "");
  EXPECT_EQ(local.at("quoted_null"), "null");
  EXPECT_EQ(local.at("empty_list"), "");
  EXPECT_EQ(local.count("empty_map"), 0U);
  EXPECT_EQ(local.at("vip_accounts[1]"), "10001");
  EXPECT_EQ(local.at("routes[0].tags[1]"), "y");
  EXPECT_EQ(local.at("routes[0].weight"), "2");
  EXPECT_EQ(local.at("routes[0].path"), "/a");
  EXPECT_EQ(local.at("ratio"), "0.5");
  EXPECT_EQ(local.count("<<"), 0U);
  EXPECT_EQ(local.count("amqp.<<"), 0U);
}

TEST(YamlAgreement, BothRefuseADuplicateKeyNamingIt) {
  const std::string yaml = "amqp:\n  host: a\n  host: b\n";
  EXPECT_THAT(ErrorOf(&ReadLocally, yaml), HasSubstr("line 3, column 3: duplicate key 'host'"));
  EXPECT_THAT(ErrorOf(&ReadThroughTheConfigserver, yaml),
              HasSubstr("line 3, column 3: duplicate key 'host'"));
}

TEST(YamlAgreement, BothRefuseABillionLaughs) {
  std::string yaml = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int level = 1; level <= 8; ++level) {
    yaml += "l" + std::to_string(level) + ": &l" + std::to_string(level) + " [";
    for (int i = 0; i < 10; ++i) yaml += (i == 0 ? "*l" : ", *l") + std::to_string(level - 1);
    yaml += "]\n";
  }
  EXPECT_THAT(ErrorOf(&ReadLocally, yaml), HasSubstr("billion laughs"));
  EXPECT_THAT(ErrorOf(&ReadThroughTheConfigserver, yaml), HasSubstr("billion laughs"));
}

TEST(YamlAgreement, TheDeployedConfigRepositoryReadsTheSameBothWays) {
  const std::filesystem::path repo = CPPBLOG_CONFIG_REPO_DIR;
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(repo)) {
    if (entry.path().extension() != ".yml") continue;
    ++files;
    std::ifstream in{entry.path(), std::ios::binary};
    const std::string yaml{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    EXPECT_EQ(ReadLocally(yaml), ReadThroughTheConfigserver(yaml)) << entry.path();
  }
  EXPECT_GT(files, 0U) << "no .yml file in " << repo;
}

}  // namespace
}  // namespace cppblog::configserver

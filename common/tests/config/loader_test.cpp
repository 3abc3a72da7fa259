#include "cppblog/config/loader.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/config/config_error.hpp"
#include "cppblog/storage/temp_dir.hpp"

namespace cppblog::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A fresh directory under the system temp dir, removed with everything in it.
EnvironmentLookup FakeEnvironment(std::map<std::string, std::string> variables) {
  return [variables = std::move(variables)](std::string_view name) -> std::optional<std::string> {
    const auto it = variables.find(std::string(name));
    if (it == variables.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

Properties Defaults() {
  Properties defaults;
  defaults.Set("server_port", "6767", "default");
  defaults.Set("server_name", "accountservice", "default");
  defaults.Set("amqp_server_url", "amqp://localhost:5672/", "default");
  defaults.Set("data_dir", "data", "default");
  defaults.Set("vip_accounts[0]", "10000", "default");
  return defaults;
}

CommandLine InDir(const TempDir& dir, std::string profile = "test") {
  CommandLine command_line;
  command_line.config_dir = dir.path();
  command_line.profile = std::move(profile);
  return command_line;
}

template <typename Call>
std::string ErrorOf(Call call) {
  try {
    call();
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError thrown";
  return "";
}

TEST(ParseYaml, FlattensNestedMapsToDottedKeys) {
  const Properties properties =
      ParseYaml("amqp:\n  server:\n    url: amqp://h/\n  port: 5672\n", "a.yml");
  EXPECT_EQ(*properties.Find("amqp.server.url"), (PropertyValue{"amqp://h/", "a.yml"}));
  EXPECT_EQ(properties.GetString("amqp.port"), "5672");
  EXPECT_EQ(properties.All().size(), 2U);
}

TEST(ParseYaml, FlattensSequencesToIndexedKeys) {
  const Properties properties = ParseYaml("vip_accounts:\n  - 10000\n  - '10001'\n", "a.yml");
  EXPECT_THAT(properties.GetList("vip_accounts"), ElementsAre("10000", "10001"));
  EXPECT_TRUE(properties.Has("vip_accounts[1]"));
}

TEST(ParseYaml, FlattensListsOfMaps) {
  const Properties properties =
      ParseYaml("routes:\n  - path: /a\n    tags: [x, y]\n  - path: /b\n", "a.yml");
  EXPECT_EQ(properties.GetString("routes[0].path"), "/a");
  EXPECT_EQ(properties.GetString("routes[0].tags[1]"), "y");
  EXPECT_EQ(properties.GetString("routes[1].path"), "/b");
  EXPECT_EQ(properties.All().size(), 4U);
}

TEST(ParseYaml, KeepsScalarsAsTheirText) {
  const Properties properties = ParseYaml(
      "server_port: 6767\nflag: true\nratio: 0.50\nquoted: \"null\"\nempty:\nnothing: ~\n"
      "text: 'a: b'\n",
      "a.yml");
  EXPECT_EQ(properties.GetString("server_port"), "6767");
  EXPECT_EQ(properties.GetString("flag"), "true");
  EXPECT_EQ(properties.GetString("ratio"), "0.50");
  EXPECT_EQ(properties.GetString("quoted"), "null");
  EXPECT_EQ(properties.GetString("empty"), "");
  EXPECT_EQ(properties.GetString("nothing"), "");
  EXPECT_EQ(properties.GetString("text"), "a: b");
}

TEST(ParseYaml, EmptySequenceIsAnEmptyValueAndEmptyMapIsNothing) {
  const Properties properties = ParseYaml("list: []\nmap: {}\n", "a.yml");
  EXPECT_EQ(properties.GetString("list"), "");
  EXPECT_THAT(properties.GetList("list"), IsEmpty());
  EXPECT_FALSE(properties.Has("map"));
}

TEST(ParseYaml, EmptyDocumentHasNoProperties) {
  EXPECT_THAT(ParseYaml("", "a.yml").All(), IsEmpty());
  EXPECT_THAT(ParseYaml("# only a comment\n", "a.yml").All(), IsEmpty());
  EXPECT_THAT(ParseYaml("---\n", "a.yml").All(), IsEmpty());
}

TEST(ParseYaml, SyntaxErrorNamesSourceAndPosition) {
  const std::string error =
      ErrorOf([] { (void)ParseYaml("server_port: 6767\nbad: [1, 2\n", "config/a.yml"); });
  EXPECT_THAT(error, HasSubstr("config/a.yml: not valid YAML at line "));
  EXPECT_THAT(error, HasSubstr("column"));
}

TEST(ParseYaml, TopLevelListIsAnError) {
  EXPECT_THAT(ErrorOf([] { (void)ParseYaml("- a\n- b\n", "a.yml"); }),
              HasSubstr("a.yml at line 1, column 1: expected a map of keys"));
}

TEST(ParseYaml, SeveralDocumentsAreAnError) {
  EXPECT_THAT(ErrorOf([] { (void)ParseYaml("a: 1\n---\nb: 2\n", "a.yml"); }),
              HasSubstr("a.yml at line 3"));
}

TEST(ParseYaml, DuplicateKeyIsAnError) {
  EXPECT_THAT(ErrorOf([] { (void)ParseYaml("a:\n  b: 1\n  b: 2\n", "a.yml"); }),
              HasSubstr("a.yml at line 3, column 3: duplicate key 'b'"));
}

// Found by fuzz/fuzz_yaml: yaml-cpp 0.7's LoadAll never returned on these six bytes.
TEST(ParseYaml, ATextTheYamlReaderCannotFinishIsRefusedNotHung) {
  EXPECT_THAT(ErrorOf([] { (void)ParseYaml(std::string(",:`\xb4`s", 6), "a.yml"); }),
              HasSubstr("a.yml: not valid YAML"));
}

TEST(ParseYaml, ComplexKeyIsAnError) {
  EXPECT_THAT(ErrorOf([] { (void)ParseYaml("? [a, b]\n: 1\n", "a.yml"); }),
              HasSubstr("a key must be a plain value"));
}

TEST(EnvironmentVariableName, UpperCasesAndMapsSeparators) {
  EXPECT_EQ(EnvironmentVariableName("server_port"), "SERVER_PORT");
  EXPECT_EQ(EnvironmentVariableName("amqp_server_url"), "AMQP_SERVER_URL");
  EXPECT_EQ(EnvironmentVariableName("amqp.server-url"), "AMQP_SERVER_URL");
  EXPECT_EQ(EnvironmentVariableName("routes[0].path"), "ROUTES_0_PATH");
}

TEST(Load, DefaultsAloneWhenNothingElseIsThere) {
  const TempDir dir;
  const CommandLine command_line = InDir(dir);
  const Properties defaults = Defaults();
  const Properties loaded = Load({.app = "accountservice",
                                  .command_line = command_line,
                                  .defaults = defaults,
                                  .environment = FakeEnvironment({})});
  EXPECT_EQ(loaded, defaults);
}

TEST(Load, EachLayerOverridesTheOneBelow) {
  const TempDir dir;
  dir.Write("accountservice.yml",
            "server_port: 7001\nserver_name: from-app-file\n"
            "data_dir: app-file\namqp_server_url: amqp://app-file/\n");
  dir.Write("accountservice-test.yml",
            "server_port: 7002\nserver_name: from-profile-file\n"
            "data_dir: profile-file\n");
  CommandLine command_line = InDir(dir);
  command_line.overrides = {{"server_port", "7004"}};
  const Properties defaults = Defaults();
  const Properties loaded =
      Load({.app = "accountservice",
            .command_line = command_line,
            .defaults = defaults,
            .environment = FakeEnvironment({{"SERVER_PORT", "7003"}, {"DATA_DIR", "/env"}})});

  const std::string app_file = (dir.path() / "accountservice.yml").string();
  const std::string profile_file = (dir.path() / "accountservice-test.yml").string();
  EXPECT_EQ(*loaded.Find("amqp_server_url"), (PropertyValue{"amqp://app-file/", app_file}));
  EXPECT_EQ(*loaded.Find("server_name"), (PropertyValue{"from-profile-file", profile_file}));
  EXPECT_EQ(*loaded.Find("data_dir"), (PropertyValue{"/env", "environment DATA_DIR"}));
  EXPECT_EQ(*loaded.Find("server_port"), (PropertyValue{"7004", "flag --set"}));
  EXPECT_EQ(loaded.GetList("vip_accounts"), std::vector<std::string>{"10000"});
}

TEST(Load, EnvironmentErrorsNameTheVariable) {
  const TempDir dir;
  const CommandLine command_line = InDir(dir);
  const Properties defaults = Defaults();
  const Properties loaded = Load({.app = "accountservice",
                                  .command_line = command_line,
                                  .defaults = defaults,
                                  .environment = FakeEnvironment({{"SERVER_PORT", "abc"}})});
  EXPECT_EQ(ErrorOf([&] { (void)loaded.GetPort("server_port"); }),
            "server_port: 'abc' (from environment SERVER_PORT) is not a port number (1-65535)");
}

TEST(Load, EnvironmentSetsKeysKnownOnlyToFiles) {
  const TempDir dir;
  dir.Write("accountservice.yml", "offer_cooldown: 1h\n");
  const CommandLine command_line = InDir(dir);
  const Properties defaults = Defaults();
  const Properties loaded =
      Load({.app = "accountservice",
            .command_line = command_line,
            .defaults = defaults,
            .environment = FakeEnvironment({{"OFFER_COOLDOWN", "5m"}, {"UNKNOWN_KEY", "x"}})});
  EXPECT_EQ(loaded.GetString("offer_cooldown"), "5m");
  EXPECT_FALSE(loaded.Has("unknown_key"));
}

TEST(Load, AVariableEndingInFileNamesAFileHoldingTheValue) {
  const TempDir dir;
  dir.Write("secret", "amqp://guest:S3c/r3t@broker:5672/\n");
  const CommandLine command_line = InDir(dir);
  const Properties defaults = Defaults();
  const std::string secret = (dir.path() / "secret").string();
  const Properties loaded = Load(
      {.app = "accountservice",
       .command_line = command_line,
       .defaults = defaults,
       .environment = FakeEnvironment(
           {{"AMQP_SERVER_URL_FILE", secret}, {"DATA_DIR", "/env"}, {"DATA_DIR_FILE", secret}})});
  EXPECT_EQ(loaded.GetString("amqp_server_url"), "amqp://guest:S3c/r3t@broker:5672/");
  EXPECT_EQ(loaded.Find("amqp_server_url")->source, "file named by AMQP_SERVER_URL_FILE");
  EXPECT_EQ(loaded.GetString("data_dir"), "/env");  // the variable itself wins
}

TEST(Load, AnUnreadableFileVariableNamesTheVariableAndThePath) {
  const TempDir dir;
  const CommandLine command_line = InDir(dir);
  const Properties defaults = Defaults();
  const std::string error = ErrorOf([&] {
    (void)Load({.app = "accountservice",
                .command_line = command_line,
                .defaults = defaults,
                .environment = FakeEnvironment({{"DATA_DIR_FILE", "/nonexistent/secret"}})});
  });
  EXPECT_NE(error.find("DATA_DIR_FILE"), std::string::npos) << error;
  EXPECT_NE(error.find("/nonexistent/secret"), std::string::npos) << error;
}

TEST(Load, FileListReplacesTheDefaultListWhole) {
  const TempDir dir;
  Properties defaults = Defaults();
  defaults.Set("vip_accounts[1]", "10001", "default");
  defaults.Set("vip_accounts[2]", "10002", "default");
  dir.Write("accountservice-test.yml", "vip_accounts:\n  - '20000'\n");
  const CommandLine command_line = InDir(dir);
  const Properties loaded = Load({.app = "accountservice",
                                  .command_line = command_line,
                                  .defaults = defaults,
                                  .environment = FakeEnvironment({})});
  EXPECT_THAT(loaded.GetList("vip_accounts"), ElementsAre("20000"));
}

TEST(Load, EnvironmentListByBaseNameReplacesTheList) {
  const TempDir dir;
  dir.Write("accountservice.yml", "vip_accounts: [10000, 10001, 10002]\n");
  const CommandLine command_line = InDir(dir);
  const Properties defaults = Defaults();
  const Properties loaded =
      Load({.app = "accountservice",
            .command_line = command_line,
            .defaults = defaults,
            .environment = FakeEnvironment({{"VIP_ACCOUNTS", "30000,30001"}})});
  EXPECT_THAT(loaded.GetList("vip_accounts"), ElementsAre("30000", "30001"));
  EXPECT_EQ(loaded.Find("vip_accounts")->source, "environment VIP_ACCOUNTS");
}

TEST(Load, RemoteLayerSitsAboveFilesAndBelowEnvironment) {
  const TempDir dir;
  dir.Write("accountservice-test.yml", "server_name: file\nserver_port: 7001\n");
  const CommandLine command_line = InDir(dir);
  const Properties defaults = Defaults();
  Properties remote;
  remote.Set("server_name", "remote", "configserver accountservice-test.yml");
  remote.Set("server_port", "7002", "configserver accountservice-test.yml");
  const Properties loaded = Load({.app = "accountservice",
                                  .command_line = command_line,
                                  .defaults = defaults,
                                  .environment = FakeEnvironment({{"SERVER_PORT", "7003"}}),
                                  .remote = &remote});
  EXPECT_EQ(loaded.GetString("server_name"), "remote");
  EXPECT_EQ(loaded.GetPort("server_port"), 7003);
}

TEST(Load, SeveralProfilesTheLastWinning) {
  const TempDir dir;
  dir.Write("accountservice-a.yml", "server_name: a\ndata_dir: a\n");
  dir.Write("accountservice-b.yaml", "server_name: b\n");
  const CommandLine command_line = InDir(dir, "a,b");
  const Properties defaults = Defaults();
  const Properties loaded = Load({.app = "accountservice",
                                  .command_line = command_line,
                                  .defaults = defaults,
                                  .environment = FakeEnvironment({})});
  EXPECT_EQ(loaded.GetString("server_name"), "b");
  EXPECT_EQ(loaded.GetString("data_dir"), "a");
}

TEST(Load, MalformedFileErrorNamesTheFile) {
  const TempDir dir;
  dir.Write("accountservice-test.yml", "server_port: 6767\n  bad indentation: [\n");
  const CommandLine command_line = InDir(dir);
  const Properties defaults = Defaults();
  const std::string error = ErrorOf([&] {
    (void)Load({.app = "accountservice",
                .command_line = command_line,
                .defaults = defaults,
                .environment = FakeEnvironment({})});
  });
  EXPECT_THAT(error, HasSubstr((dir.path() / "accountservice-test.yml").string()));
  EXPECT_THAT(error, HasSubstr("line 2"));
}

TEST(Load, UnreadableFileErrorNamesTheFile) {
  const TempDir dir;
  std::filesystem::create_directory(dir.path() / "accountservice.yml");
  const CommandLine command_line = InDir(dir);
  const Properties defaults = Defaults();
  EXPECT_THAT(ErrorOf([&] {
                (void)Load({.app = "accountservice",
                            .command_line = command_line,
                            .defaults = defaults,
                            .environment = FakeEnvironment({})});
              }),
              HasSubstr((dir.path() / "accountservice.yml").string() + ": cannot read it"));
}

TEST(Load, ProfileWithPathSeparatorIsAnError) {
  const TempDir dir;
  const CommandLine command_line = InDir(dir, "../etc/passwd");
  const Properties defaults = Defaults();
  EXPECT_THAT(ErrorOf([&] {
                (void)Load({.app = "accountservice",
                            .command_line = command_line,
                            .defaults = defaults,
                            .environment = FakeEnvironment({})});
              }),
              HasSubstr("profile: '../etc/passwd' is not a profile name"));
}

}  // namespace
}  // namespace cppblog::config

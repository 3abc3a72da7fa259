#include "cppblog/config/spring_environment.hpp"

#include <gtest/gtest.h>

#include "cppblog/config/config_error.hpp"

namespace cppblog::config {
namespace {

// Spring Cloud Config's quickstart example (curl localhost:8888/foo/development).
constexpr const char* kQuickstart = R"({
  "name": "foo",
  "profiles": ["development"],
  "label": null,
  "version": "a61e4ae8b7a4d94f7e4f4d26d8c4d0d1d9ff6a3b",
  "state": null,
  "propertySources": [
    { "name": "https://github.com/spring-cloud-samples/config-repo/foo-development.properties",
      "source": { "bar": "spam", "foo": "from foo development" } },
    { "name": "https://github.com/spring-cloud-samples/config-repo/foo.properties",
      "source": { "foo": "from foo props", "democonfigclient.message": "hello spring io" } }
  ]
})";

TEST(SpringEnvironment, ParsesTheTopLevelFields) {
  const SpringEnvironment environment = ParseSpringEnvironment(kQuickstart, "test");

  EXPECT_EQ(environment.name, "foo");
  EXPECT_EQ(environment.profiles, std::vector<std::string>{"development"});
  EXPECT_FALSE(environment.label.has_value());
  EXPECT_EQ(environment.version, "a61e4ae8b7a4d94f7e4f4d26d8c4d0d1d9ff6a3b");
  EXPECT_FALSE(environment.state.has_value());
  ASSERT_EQ(environment.property_sources.size(), 2U);
  EXPECT_EQ(environment.property_sources[1].name,
            "https://github.com/spring-cloud-samples/config-repo/foo.properties");
}

TEST(SpringEnvironment, FirstSourceWinsWhenMerged) {
  const Properties merged = MergePropertySources(ParseSpringEnvironment(kQuickstart, "test"));

  EXPECT_EQ(merged.GetString("foo"), "from foo development");
  EXPECT_EQ(merged.GetString("bar"), "spam");
  EXPECT_EQ(merged.GetString("democonfigclient.message"), "hello spring io");
  EXPECT_EQ(merged.Find("foo")->source,
            "configserver https://github.com/spring-cloud-samples/config-repo/"
            "foo-development.properties");
  EXPECT_EQ(merged.Find("democonfigclient.message")->source,
            "configserver https://github.com/spring-cloud-samples/config-repo/foo.properties");
}

TEST(SpringEnvironment, ParsesTheEncryptionExampleWithEveryFieldNull) {
  const SpringEnvironment environment = ParseSpringEnvironment(
      R"({ "label": null, "name": "application", "profiles": ["prd"],
        "propertySources": [
          { "name": "file:/demo/configserver/application-prd.yaml",
            "source": { "invalid.SharedPassword": "<n/a>" } },
          { "name": "file:/demo/configserver/application.yaml",
            "source": { "SharedPassword": "Fill_me_in" } } ],
        "state": null, "version": null })",
      "test");

  EXPECT_EQ(environment.name, "application");
  EXPECT_FALSE(environment.version.has_value());
  const Properties merged = MergePropertySources(environment);
  EXPECT_EQ(merged.GetString("invalid.SharedPassword"), "<n/a>");
  EXPECT_EQ(merged.GetString("SharedPassword"), "Fill_me_in");
}

TEST(SpringEnvironment, TypedValuesBecomeTextAsSpringReadsThem) {
  const Properties merged = MergePropertySources(ParseSpringEnvironment(
      R"({"name":"accountservice","profiles":["test"],"propertySources":[{"name":"a.yml",
        "source":{"server_port":6767,"ratio":0.5,"whole":1.0,"huge":1e20,"tiny":1.5e-5,
                  "on":true,"off":false,"nothing":null,"big":18446744073709551615}}]})",
      "test"));

  EXPECT_EQ(merged.GetString("server_port"), "6767");
  EXPECT_EQ(merged.GetString("ratio"), "0.5");
  EXPECT_EQ(merged.GetString("whole"), "1.0");
  EXPECT_EQ(merged.GetString("huge"), "1.0E20");
  EXPECT_EQ(merged.GetString("tiny"), "1.5E-5");
  EXPECT_EQ(merged.GetString("on"), "true");
  EXPECT_EQ(merged.GetString("off"), "false");
  EXPECT_EQ(merged.GetString("nothing"), "");
  EXPECT_EQ(merged.GetString("big"), "18446744073709551615");
}

TEST(SpringEnvironment, NestedValuesAreFlattenedLikeYaml) {
  const Properties merged = MergePropertySources(ParseSpringEnvironment(
      R"({"propertySources":[{"name":"n","source":{"amqp":{"host":"h","port":5672},
        "vip_accounts":["10000","10001"],"empty":[]}}]})",
      "test"));

  EXPECT_EQ(merged.GetString("amqp.host"), "h");
  EXPECT_EQ(merged.GetString("amqp.port"), "5672");
  EXPECT_EQ(merged.GetList("vip_accounts"), (std::vector<std::string>{"10000", "10001"}));
  EXPECT_EQ(merged.GetString("empty"), "");
}

TEST(SpringEnvironment, AListOfAHigherSourceReplacesTheWholeList) {
  const Properties merged = MergePropertySources(ParseSpringEnvironment(
      R"({"propertySources":[
          {"name":"accountservice-test.yml","source":{"vip_accounts[0]":"20000"}},
          {"name":"accountservice.yml","source":{"vip_accounts[0]":"10000",
                                                 "vip_accounts[1]":"10001"}}]})",
      "test"));

  EXPECT_EQ(merged.GetList("vip_accounts"), std::vector<std::string>{"20000"});
}

TEST(SpringEnvironment, NoPropertySourcesIsAnEmptyConfiguration) {
  const SpringEnvironment environment =
      ParseSpringEnvironment(R"({"name":"nobody","profiles":["test"],"propertySources":[]})", "t");

  EXPECT_TRUE(MergePropertySources(environment).All().empty());
}

TEST(SpringEnvironment, MalformedJsonNamesTheOrigin) {
  try {
    (void)ParseSpringEnvironment("{\"name\":", "http://configserver:8888/a/test/master");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("http://configserver:8888/a/test/master"),
              std::string::npos);
    EXPECT_NE(std::string(e.what()).find("malformed JSON"), std::string::npos);
  }
}

TEST(SpringEnvironment, WrongFieldTypesAreRejected) {
  EXPECT_THROW((void)ParseSpringEnvironment("[]", "t"), ConfigError);
  EXPECT_THROW((void)ParseSpringEnvironment(R"({"propertySources":{}})", "t"), ConfigError);
  EXPECT_THROW((void)ParseSpringEnvironment(R"({"propertySources":[{"source":[]}]})", "t"),
               ConfigError);
  EXPECT_THROW((void)ParseSpringEnvironment(R"({"version":12})", "t"), ConfigError);
}

}  // namespace
}  // namespace cppblog::config

#include "environment.hpp"

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cppblog::configserver {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

Environment Sample() {
  return Environment{
      .name = "accountservice",
      .profiles = {"test"},
      .label = "P9",
      .version = "8f1c2e",
      .state = std::nullopt,
      .property_sources = {{.name = "file:/repo/accountservice-test.yml",
                            .source = {{"server_port", std::int64_t{6767}},
                                       {"server_name", std::string("Accountservice TEST")},
                                       {"vip_accounts[0]", std::string("10000")},
                                       {"healthy", true},
                                       {"ratio", 0.5}}},
                           {.name = "file:/repo/application.yml",
                            .source = {{"config_event_bus", std::string("springCloudBus")},
                                       {"server_port", std::int64_t{80}},
                                       {"vip_accounts[0]", std::string("1")},
                                       {"vip_accounts[1]", std::string("2")},
                                       {"spring.profiles", std::string("x")}}}},
      .problems = {}};
}

TEST(Environment, JsonHasSpringFieldOrderAndTypedValues) {
  EXPECT_EQ(
      ToJson(Sample()),
      R"({"name":"accountservice","profiles":["test"],"label":"P9","version":"8f1c2e",)"
      R"("state":null,"propertySources":[{"name":"file:/repo/accountservice-test.yml",)"
      R"("source":{"server_port":6767,"server_name":"Accountservice TEST",)"
      R"("vip_accounts[0]":"10000","healthy":true,"ratio":0.5}},)"
      R"({"name":"file:/repo/application.yml","source":{"config_event_bus":"springCloudBus",)"
      R"("server_port":80,"vip_accounts[0]":"1","vip_accounts[1]":"2","spring.profiles":"x"}}]})");
}

TEST(Environment, JsonWritesAbsentLabelAndVersionAsNull) {
  const Environment environment{.name = "application", .profiles = {"prd"}};
  const auto parsed = boost::json::parse(ToJson(environment)).as_object();
  EXPECT_TRUE(parsed.at("label").is_null());
  EXPECT_TRUE(parsed.at("version").is_null());
  EXPECT_TRUE(parsed.at("state").is_null());
  EXPECT_TRUE(parsed.at("propertySources").as_array().empty());
}

TEST(Environment, JsonEscapesStrings) {
  Environment environment{.name = "a\"b", .profiles = {"p"}};
  environment.property_sources.push_back(
      {.name = "n", .source = {{"k", std::string("line\n\t\\")}}});
  const auto parsed = boost::json::parse(ToJson(environment)).as_object();
  EXPECT_EQ(parsed.at("name").as_string(), "a\"b");
  EXPECT_EQ(parsed.at("propertySources").as_array()[0].at("source").at("k").as_string(),
            "line\n\t\\");
}

TEST(Environment, JsonStaysValidWhenANameIsNotUtf8) {
  // /{application}/{profile} are percent-decoded: /%FF/test names the application "\xff".
  Environment environment{.name = "\xff\xfe", .profiles = {"te\xc3st"}};

  boost::system::error_code ec;
  const auto parsed = boost::json::parse(ToJson(environment), ec);

  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(parsed.at("name").as_string(), "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(parsed.at("profiles").as_array()[0].as_string(), "te\xef\xbf\xbdst");
}

TEST(Environment, MergeLetsTheFirstSourceWinAndReplacesWholeLists) {
  EXPECT_THAT(Merge(Sample()),
              ElementsAre(Pair("config_event_bus", ScalarValue{std::string("springCloudBus")}),
                          Pair("healthy", ScalarValue{true}), Pair("ratio", ScalarValue{0.5}),
                          Pair("server_name", ScalarValue{std::string("Accountservice TEST")}),
                          Pair("server_port", ScalarValue{std::int64_t{6767}}),
                          Pair("vip_accounts[0]", ScalarValue{std::string("10000")})));
}

TEST(Environment, PropertiesTextIsSortedKeyColonValueLines) {
  EXPECT_EQ(ToPropertiesText({{"a.b", std::int64_t{1}}, {"c", std::string("x y")}, {"d", 1.0}}),
            "a.b: 1\nc: x y\nd: 1.0");
}

TEST(Environment, NestedJsonRebuildsMapsAndLists) {
  const FlatProperties merged{{"a.b", std::int64_t{1}},
                              {"a.c[0]", std::string("x")},
                              {"a.c[1]", std::string("y")},
                              {"d[0].e", true}};
  EXPECT_EQ(ToNestedJson(merged), R"({"a":{"b":1,"c":["x","y"]},"d":[{"e":true}]})");
}

TEST(Environment, NestedYamlQuotesStringsThatWouldReadAsOtherTypes) {
  const FlatProperties merged{{"server.port", std::int64_t{6767}},
                              {"vip_accounts[0]", std::string("10000")},
                              {"name", std::string("plain")}};
  EXPECT_EQ(ToNestedYaml(merged),
            "server:\n  port: 6767\nvip_accounts:\n  - \"10000\"\nname: plain\n");
}

TEST(Environment, PlaceholdersResolveAgainstOtherKeysWithDefaults) {
  FlatProperties merged{{"host", std::string("rabbit")},
                        {"url", std::string("amqp://${host}:${port:5672}/")},
                        {"other", std::string("${missing}")}};
  ResolvePlaceholders(merged);
  EXPECT_EQ(std::get<std::string>(merged[1].second), "amqp://rabbit:5672/");
  EXPECT_EQ(std::get<std::string>(merged[2].second), "${missing}");
}

}  // namespace
}  // namespace cppblog::configserver

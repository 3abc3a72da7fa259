#include "property_file.hpp"

#include <chrono>
#include <cmath>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cppblog::configserver {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

FlatProperties Flat(std::string_view yaml) {
  auto documents = ParseYamlDocuments(yaml, "test.yml");
  EXPECT_EQ(documents.size(), 1U);
  return documents.empty() ? FlatProperties{} : documents.front().properties;
}

TEST(PropertyFile, NestedMapsBecomeDottedKeysInFileOrder) {
  EXPECT_THAT(Flat("server:\n  port: 6767\n  name: acc\namqp:\n  url: x\n"),
              ElementsAre(Pair("server.port", ScalarValue{std::int64_t{6767}}),
                          Pair("server.name", ScalarValue{std::string("acc")}),
                          Pair("amqp.url", ScalarValue{std::string("x")})));
}

TEST(PropertyFile, ListsBecomeIndexedKeys) {
  EXPECT_THAT(
      Flat("vip_accounts:\n  - 10000\n  - '10001'\nusers:\n  - name: a\n    roles: [x, y]\n"),
      ElementsAre(Pair("vip_accounts[0]", ScalarValue{std::int64_t{10000}}),
                  Pair("vip_accounts[1]", ScalarValue{std::string("10001")}),
                  Pair("users[0].name", ScalarValue{std::string("a")}),
                  Pair("users[0].roles[0]", ScalarValue{std::string("x")}),
                  Pair("users[0].roles[1]", ScalarValue{std::string("y")})));
}

TEST(PropertyFile, ScalarsAreTypedLikeSnakeYaml) {
  const FlatProperties flat = Flat(
      "a: true\nb: yes\nc: Off\nd: 0x1F\ne: 0755\nf: 1_000\ng: 1.5\nh: .inf\ni: '42'\n"
      "j: 2017-05-11\nk: \"true\"\nl: -7\nm: 1:30\nn: !!str 12\n");
  ASSERT_EQ(flat.size(), 14U);
  EXPECT_EQ(flat[0].second, ScalarValue{true});
  EXPECT_EQ(flat[1].second, ScalarValue{true});
  EXPECT_EQ(flat[2].second, ScalarValue{false});
  EXPECT_EQ(flat[3].second, ScalarValue{std::int64_t{31}});
  EXPECT_EQ(flat[4].second, ScalarValue{std::int64_t{493}});
  EXPECT_EQ(flat[5].second, ScalarValue{std::int64_t{1000}});
  EXPECT_EQ(flat[6].second, ScalarValue{1.5});
  EXPECT_TRUE(std::isinf(std::get<double>(flat[7].second)));
  EXPECT_EQ(flat[8].second, ScalarValue{std::string("42")});
  EXPECT_EQ(flat[9].second, ScalarValue{std::string("2017-05-11")});  // no timestamps in Boot
  EXPECT_EQ(flat[10].second, ScalarValue{std::string("true")});
  EXPECT_EQ(flat[11].second, ScalarValue{std::int64_t{-7}});
  EXPECT_EQ(flat[12].second, ScalarValue{std::int64_t{90}});
  EXPECT_EQ(flat[13].second, ScalarValue{std::string("12")});
}

// Found by fuzz_yaml: a base-60 integer past int64 overflowed (undefined behaviour).
TEST(PropertyFile, ASexagesimalIntegerTooLargeForInt64StaysText) {
  const FlatProperties flat = Flat("a: 7111111111111111111:1\nb: -153722867280912930:0:0\n");
  ASSERT_EQ(flat.size(), 2U);
  EXPECT_EQ(flat[0].second, ScalarValue{std::string("7111111111111111111:1")});
  EXPECT_EQ(flat[1].second, ScalarValue{std::string("-153722867280912930:0:0")});
}

TEST(PropertyFile, NullAndEmptyListBecomeEmptyStringAndEmptyMapVanishes) {
  EXPECT_THAT(
      Flat("a: ~\nb:\nc: []\nd: {}\ne: x\n"),
      ElementsAre(Pair("a", ScalarValue{std::string()}), Pair("b", ScalarValue{std::string()}),
                  Pair("c", ScalarValue{std::string()}), Pair("e", ScalarValue{std::string("x")})));
}

TEST(PropertyFile, NonStringKeysAreBracketed) {
  EXPECT_THAT(Flat("codes:\n  1: one\n"),
              ElementsAre(Pair("codes[1]", ScalarValue{std::string("one")})));
}

TEST(PropertyFile, MergeKeysCopyEntriesWithoutOverriding) {
  EXPECT_THAT(Flat("base: &base\n  a: 1\n  b: 2\nderived:\n  <<: *base\n  b: 3\n"),
              ElementsAre(Pair("base.a", ScalarValue{std::int64_t{1}}),
                          Pair("base.b", ScalarValue{std::int64_t{2}}),
                          Pair("derived.b", ScalarValue{std::int64_t{3}}),
                          Pair("derived.a", ScalarValue{std::int64_t{1}})));
}

TEST(PropertyFile, ScalarDocumentIsWrappedAsDocument) {
  EXPECT_THAT(Flat("- a\n- b\n"), ElementsAre(Pair("document[0]", ScalarValue{std::string("a")}),
                                              Pair("document[1]", ScalarValue{std::string("b")})));
}

TEST(PropertyFile, SyntaxErrorNamesFileLineAndColumn) {
  try {
    static_cast<void>(ParseYamlDocuments("a: 1\nb: [1, 2\nc: 3\n", "accountservice-test.yml"));
    FAIL() << "expected PropertyFileError";
  } catch (const PropertyFileError& e) {
    EXPECT_THAT(e.what(), HasSubstr("accountservice-test.yml: line "));
    EXPECT_THAT(e.what(), HasSubstr("column"));
  }
}

TEST(PropertyFile, DuplicateKeyIsAnError) {
  EXPECT_THROW(static_cast<void>(ParseYamlDocuments("a: 1\na: 2\n", "x.yml")), PropertyFileError);
}

TEST(PropertyFile, DocumentsKeepTheirProfileActivation) {
  const auto documents = ParseYamlDocuments(
      "a: 1\n---\nspring:\n  config:\n    activate:\n      on-profile: dev\na: 2\n---\n", "x.yml");
  ASSERT_EQ(documents.size(), 2U);
  EXPECT_EQ(documents[0].activate_on_profile, "");
  EXPECT_EQ(documents[1].activate_on_profile, "dev");
}

TEST(PropertyFile, PropertiesFollowJavaRules) {
  const auto documents = ParsePropertiesDocument(
      "# comment\n! also\nserver_port=6767\nname : a b \nlong = one \\\n    two\n"
      "path=c:\\\\dir\nuni=\\u00e9\nbare\n");
  ASSERT_EQ(documents.size(), 1U);
  EXPECT_THAT(documents[0].properties,
              ElementsAre(Pair("server_port", ScalarValue{std::string("6767")}),
                          Pair("name", ScalarValue{std::string("a b ")}),
                          Pair("long", ScalarValue{std::string("one two")}),
                          Pair("path", ScalarValue{std::string("c:\\dir")}),
                          Pair("uni", ScalarValue{std::string("\xc3\xa9")}),
                          Pair("bare", ScalarValue{std::string()})));
}

TEST(PropertyFile, ToTextPrintsLikeJava) {
  EXPECT_EQ(ToText(ScalarValue{1.5}), "1.5");
  EXPECT_EQ(ToText(ScalarValue{1000.0}), "1000.0");
  EXPECT_EQ(ToText(ScalarValue{1e7}), "1.0E7");
  EXPECT_EQ(ToText(ScalarValue{0.0001}), "1.0E-4");
  EXPECT_EQ(ToText(ScalarValue{std::int64_t{6767}}), "6767");
  EXPECT_EQ(ToText(ScalarValue{false}), "false");
}

// Nine levels of ten aliases each: 10⁹ values from a file of under 1 KB.
std::string BillionLaughs(std::string_view top_key) {
  std::string yaml = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int level = 1; level <= 8; ++level) {
    const std::string previous = "*l" + std::to_string(level - 1);
    yaml += "l" + std::to_string(level) + ": &l" + std::to_string(level) + " [";
    for (int i = 0; i < 10; ++i) yaml += (i == 0 ? "" : ", ") + previous;
    yaml += "]\n";
  }
  yaml += std::string(top_key) + ": [*l8, *l8, *l8, *l8, *l8, *l8, *l8, *l8, *l8, *l8]\n";
  return yaml;
}

// A refusal "quickly": the expansion bound stops a billion laughs in well under a second in a
// release build; a Debug build under AddressSanitizer (./dev test's dev preset) is ten times
// slower.
#if defined(__SANITIZE_ADDRESS__)
constexpr auto kQuickly = std::chrono::seconds(40);
#else
constexpr auto kQuickly = std::chrono::seconds(5);
#endif

TEST(PropertyFile, BillionLaughsIsRefusedQuickly) {
  const auto started = std::chrono::steady_clock::now();
  try {
    static_cast<void>(ParseYamlDocuments(BillionLaughs("lols"), "laughs.yml"));
    FAIL() << "a file expanding to 10^9 values was accepted";
  } catch (const PropertyFileError& e) {
    EXPECT_THAT(e.what(), HasSubstr("laughs.yml: line "));
    EXPECT_THAT(e.what(), HasSubstr("billion laughs"));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, kQuickly);
}

TEST(PropertyFile, MergeKeysCountTowardsTheExpansionBound) {
  std::string yaml = "m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 10}\n";
  for (int level = 1; level <= 9; ++level) {
    const std::string previous = "*m" + std::to_string(level - 1);
    yaml += "m" + std::to_string(level) + ": &m" + std::to_string(level) + " {<<: [";
    for (int i = 0; i < 10; ++i) yaml += (i == 0 ? "" : ", ") + previous;
    yaml += "]}\n";
  }
  EXPECT_THROW(static_cast<void>(ParseYamlDocuments(yaml, "merges.yml")), PropertyFileError);
}

// Found by fuzz_yaml: a map anchored `a` that merges *a merges itself; the walk recursed until
// the stack ran out. The cycle is refused as too deep, as is an alias inside the map it names.
TEST(PropertyFile, AnAliasThatIsACycleIsRefusedNotFollowed) {
  for (const std::string& yaml : {std::string{"a: &a {x: 1}\nb: &a\n  <<: *a\n  y: ~\n"},
                                  std::string{"r: &r {y: *r}\n"}, std::string{"l: &l [1, *l]\n"}}) {
    try {
      static_cast<void>(ParseYamlDocuments(yaml, "cycle.yml"));
      FAIL() << "a cycle was accepted: " << yaml;
    } catch (const PropertyFileError& e) {
      EXPECT_THAT(e.what(), HasSubstr("cycle.yml: line "));
      EXPECT_THAT(e.what(), HasSubstr("nest deeper than 100 levels"));
    }
  }
}

TEST(PropertyFile, ANestingOfOneHundredLevelsIsRead) {
  std::string yaml;
  for (int level = 0; level < 99; ++level) yaml += std::string(level * 2, ' ') + "k:\n";
  yaml += std::string(99 * 2, ' ') + "k: v\n";
  const auto flat = Flat(yaml);
  ASSERT_EQ(flat.size(), 1U);
  EXPECT_EQ(flat[0].second, ScalarValue{std::string{"v"}});
}

TEST(PropertyFile, AliasesWithinTheBoundStillWork) {
  EXPECT_THAT(Flat("base: &base {port: 6767}\nserver: *base\n"),
              ElementsAre(Pair("base.port", ScalarValue{std::int64_t{6767}}),
                          Pair("server.port", ScalarValue{std::int64_t{6767}})));
}

}  // namespace
}  // namespace cppblog::configserver

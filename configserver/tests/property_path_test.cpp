#include "property_path.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/web/http_error.hpp"

namespace cppblog::configserver {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

web::Request Webhook(std::string header, std::string value, std::string body) {
  web::Request request = web::Post("/monitor", std::move(body));
  request.headers.emplace_back(std::move(header), std::move(value));
  request.headers.emplace_back("Content-Type", "application/json");
  return request;
}

TEST(PropertyPath, GuessesNamesLikeSpringPlusTheBareApplication) {
  EXPECT_THAT(GuessServiceNames("accountservice-test.yml"),
              ElementsAre("accountservice:test", "accountservice", "accountservice-test"));
}

TEST(PropertyPath, ApplicationFilesMeanEveryone) {
  EXPECT_THAT(GuessServiceNames("application.yml"), ElementsAre("*"));
  EXPECT_THAT(GuessServiceNames("config/application-test.properties"), ElementsAre("*:test", "*"));
}

TEST(PropertyPath, OtherApplicationPrefixedNamesAreSkippedAsInSpring) {
  EXPECT_THAT(GuessServiceNames("applicationx.yml"), IsEmpty());
}

TEST(PropertyPath, HyphenatedApplicationNamesYieldEveryCandidate) {
  EXPECT_THAT(GuessServiceNames("/repo/vip-service-test.yml"),
              ElementsAre("vip:service-test", "vip", "vip-service:test", "vip-service",
                          "vip-service-test"));
}

TEST(PropertyPath, NamesOfSeveralPathsAreDeduplicated) {
  EXPECT_THAT(GuessServiceNames(std::vector<std::string>{"vipservice.yml", "vipservice-test.yml"}),
              ElementsAre("vipservice", "vipservice:test", "vipservice-test"));
}

TEST(PropertyPath, FormPathsAreDecodedAndRepeatable) {
  web::Request request =
      web::Post("/monitor", "path=accountservice-test.yml&path=dir%2Fa.yml,b.yml&x=1");
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8");
  EXPECT_THAT(ExtractChangedPaths(request),
              ElementsAre("accountservice-test.yml", "dir/a.yml", "b.yml"));
}

TEST(PropertyPath, GithubPushListsAddedRemovedAndModifiedFiles) {
  const auto request = Webhook("X-Github-Event", "push",
                               R"({"ref":"refs/heads/master","commits":[
                                 {"id":"1","added":["new.yml"],"removed":[],"modified":["accountservice-test.yml"]},
                                 {"id":"2","added":[],"removed":["old.yml"],"modified":["accountservice-test.yml"]}]})");
  EXPECT_THAT(ExtractChangedPaths(request),
              ElementsAre("accountservice-test.yml", "new.yml", "old.yml"));
}

TEST(PropertyPath, GitlabPushHookIsRead) {
  const auto request =
      Webhook("X-Gitlab-Event", "Push Hook",
              R"({"object_kind":"push","commits":[{"modified":["vipservice-test.yml"]}]})");
  EXPECT_THAT(ExtractChangedPaths(request), ElementsAre("vipservice-test.yml"));
}

TEST(PropertyPath, GithubEventsOtherThanPushNameNothing) {
  const auto request = Webhook("X-Github-Event", "ping", R"({"zen":"x"})");
  EXPECT_THAT(ExtractChangedPaths(request), IsEmpty());
}

TEST(PropertyPath, ProvidersWithoutFileListsBroadcast) {
  EXPECT_THAT(ExtractChangedPaths(Webhook("X-Gitea-Event", "push", "{}")),
              ElementsAre("application.yml"));
  web::Request bitbucket = Webhook("X-Event-Key", "repo:push", R"({"push":{"changes":[]}})");
  bitbucket.headers.emplace_back("X-Hook-UUID", "abc");
  EXPECT_THAT(ExtractChangedPaths(bitbucket), ElementsAre("application.yml"));
}

TEST(PropertyPath, JsonPathBodyIsRead) {
  web::Request request = web::Post("/monitor", R"({"path":["a.yml","b.yml"]})");
  EXPECT_THAT(ExtractChangedPaths(request), ElementsAre("a.yml", "b.yml"));
}

TEST(PropertyPath, MalformedJsonIsBadRequest) {
  EXPECT_THROW(static_cast<void>(ExtractChangedPaths(Webhook("X-Github-Event", "push", "{nope"))),
               web::BadRequest);
}

TEST(PropertyPath, DestinationsAreNormalisedLikePathDestinationFactory) {
  EXPECT_EQ(NormalizeDestination(""), "**");
  EXPECT_EQ(NormalizeDestination("**"), "**");
  EXPECT_EQ(NormalizeDestination("*"), "*:**");
  EXPECT_EQ(NormalizeDestination("accountservice"), "accountservice:**");
  EXPECT_EQ(NormalizeDestination("customers:9000"), "customers:9000:**");
  EXPECT_EQ(NormalizeDestination("accountservice:**"), "accountservice:**");
  EXPECT_EQ(NormalizeDestination("a:b:c"), "a:b:c");
}

TEST(PropertyPath, FileNamesSplitAtTheLastDashBeforeTheExtension) {
  const auto file = ParseFileName("vip(_)service-dev,db.properties");
  ASSERT_TRUE(file.has_value());
  EXPECT_EQ(file->application, "vip/service");
  EXPECT_EQ(file->profiles, "dev,db");
  EXPECT_EQ(file->form, FileForm::kProperties);
  EXPECT_EQ(ParseFileName("a-b-c.yaml")->application, "a-b");
  EXPECT_EQ(ParseFileName("a-b.c.json")->profiles, "b.c");
  EXPECT_EQ(ParseFileName("a-b.yml")->form, FileForm::kYaml);
}

TEST(PropertyPath, SegmentsThatAreNotFileNamesAreProfiles) {
  for (const std::string_view segment :
       {"test", "a.yml", "-b.yml", "a-.yml", "a-b.txt", "a-b.yml.x", "a\nb-c.yml", ""}) {
    EXPECT_FALSE(ParseFileName(segment).has_value()) << segment;
  }
}

// The std::regex this replaces overflowed the stack on a segment of some tens of kilobytes.
TEST(PropertyPath, AVeryLongFileNameIsReadInOnePass) {
  const std::string segment = std::string(1'000'000, 'a') + "-test.yml";
  const auto file = ParseFileName(segment);
  ASSERT_TRUE(file.has_value());
  EXPECT_EQ(file->application.size(), 1'000'000U);
  EXPECT_EQ(Unslash(std::string(3'000, '(') + "(_)"), std::string(3'000, '(') + "/");
}

}  // namespace
}  // namespace cppblog::configserver

#include "config_repository.hpp"

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/storage/temp_dir.hpp"

namespace cppblog::configserver {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;

std::vector<std::string> Names(const Environment& environment, const std::filesystem::path& dir) {
  std::vector<std::string> names;
  const std::string prefix = "file:" + dir.string() + "/";
  for (const auto& source : environment.property_sources) {
    names.push_back(source.name.starts_with(prefix) ? source.name.substr(prefix.size())
                                                    : source.name);
  }
  return names;
}

TEST(ConfigRepository, CandidateFilesAreMostSpecificFirstWithTheLastProfileWinning) {
  const auto files = CandidateFiles("foo", {"dev", "db"});
  EXPECT_THAT(
      files,
      ElementsAre("foo-db.properties", "foo-db.yml", "foo-db.yaml", "foo-dev.properties",
                  "foo-dev.yml", "foo-dev.yaml", "foo.properties", "foo.yml", "foo.yaml",
                  "application-db.properties", "application-db.yml", "application-db.yaml",
                  "application-dev.properties", "application-dev.yml", "application-dev.yaml",
                  "application.properties", "application.yml", "application.yaml"));
}

TEST(ConfigRepository, NativeSourcesFollowSpringPrecedence) {
  TempDir dir;
  dir.Write("application.yml", "a: app\n");
  dir.Write("application-test.yml", "a: app-test\n");
  dir.Write("accountservice.yml", "a: acc\n");
  dir.Write("accountservice-test.yml", "a: acc-test\n");
  dir.Write("vipservice-test.yml", "a: vip\n");
  const NativeRepository repository{dir.path()};

  const Environment environment = repository.FindOne("accountservice", "test", std::nullopt);

  EXPECT_THAT(Names(environment, repository.Directory()),
              ElementsAre("accountservice-test.yml", "accountservice.yml", "application-test.yml",
                          "application.yml"));
  EXPECT_EQ(environment.name, "accountservice");
  EXPECT_THAT(environment.profiles, ElementsAre("test"));
  EXPECT_FALSE(environment.version.has_value());
}

TEST(ConfigRepository, SeveralProfilesPutTheLastOneFirst) {
  TempDir dir;
  dir.Write("foo-dev.yml", "a: 1\n");
  dir.Write("foo-db.yml", "a: 2\n");
  const NativeRepository repository{dir.path()};

  const Environment environment = repository.FindOne("foo", "dev,db", "master");

  EXPECT_THAT(Names(environment, repository.Directory()), ElementsAre("foo-db.yml", "foo-dev.yml"));
  EXPECT_THAT(environment.profiles, ElementsAre("dev", "db"));
  EXPECT_EQ(environment.label, "master");
}

TEST(ConfigRepository, PropertiesFileComesBeforeYamlOfTheSameName) {
  TempDir dir;
  dir.Write("foo.yml", "a: 1\n");
  dir.Write("foo.properties", "a=2\n");
  const NativeRepository repository{dir.path()};

  EXPECT_THAT(Names(repository.FindOne("foo", "default", std::nullopt), repository.Directory()),
              ElementsAre("foo.properties", "foo.yml"));
}

TEST(ConfigRepository, UnknownApplicationGetsOnlyTheSharedFiles) {
  TempDir dir;
  dir.Write("application.yml", "a: 1\n");
  dir.Write("accountservice-test.yml", "a: 2\n");
  const NativeRepository repository{dir.path()};

  EXPECT_THAT(
      Names(repository.FindOne("nosuchservice", "test", std::nullopt), repository.Directory()),
      ElementsAre("application.yml"));
}

TEST(ConfigRepository, NothingMatchingGivesNoSources) {
  TempDir dir;
  const NativeRepository repository{dir.path()};
  EXPECT_THAT(repository.FindOne("nosuchservice", "test", std::nullopt).property_sources,
              IsEmpty());
}

TEST(ConfigRepository, MalformedFileIsReportedAndTheRestServed) {
  TempDir dir;
  dir.Write("application.yml", "shared: 1\n");
  dir.Write("accountservice-test.yml", "server_port: 6767\nvip_accounts: [10000\n");
  const NativeRepository repository{dir.path()};

  const Environment environment = repository.FindOne("accountservice", "test", std::nullopt);

  ASSERT_THAT(environment.problems, SizeIs(1));
  EXPECT_THAT(environment.problems[0], HasSubstr("accountservice-test.yml: line"));
  ASSERT_THAT(environment.property_sources, SizeIs(2));
  EXPECT_EQ(environment.property_sources[0].name,
            "file:" + repository.Directory().string() + "/accountservice-test.yml");
  ASSERT_THAT(environment.property_sources[0].source, SizeIs(1));
  EXPECT_EQ(environment.property_sources[0].source[0].first, kInvalidSourceKey);
  EXPECT_THAT(environment.property_sources[1].source,
              ElementsAre(Pair("shared", ScalarValue{std::int64_t{1}})));
}

TEST(ConfigRepository, SlashInApplicationSelectsASubdirectory) {
  TempDir dir;
  dir.Write("team/foo-dev.yml", "a: 1\n");
  const NativeRepository repository{dir.path()};

  EXPECT_THAT(Names(repository.FindOne("team/foo", "dev", std::nullopt), repository.Directory()),
              ElementsAre("team/foo-dev.yml"));
}

TEST(ConfigRepository, NamesThatLeaveTheRepositoryAreRejected) {
  TempDir dir;
  const NativeRepository repository{dir.path()};
  EXPECT_THROW(static_cast<void>(repository.FindOne("../etc/passwd", "x", std::nullopt)),
               InvalidRequestError);
  EXPECT_THROW(static_cast<void>(repository.FindOne("/etc/passwd", "x", std::nullopt)),
               InvalidRequestError);
  EXPECT_THROW(static_cast<void>(repository.FindOne("foo", "../x", std::nullopt)),
               InvalidRequestError);
  EXPECT_THROW(static_cast<void>(repository.FindOne("foo", ",", std::nullopt)),
               InvalidRequestError);
}

TEST(ConfigRepository, ProfileDocumentsApplyOnlyToTheirProfile) {
  TempDir dir;
  dir.Write("application.yml",
            "a: base\n---\nspring.config.activate.on-profile: dev\na: dev\n---\n"
            "spring.profiles: prod\na: prod\n");
  const NativeRepository repository{dir.path()};

  const Environment environment = repository.FindOne("foo", "dev", std::nullopt);

  EXPECT_THAT(Names(environment, repository.Directory()),
              ElementsAre("application.yml (document #1)", "application.yml (document #0)"));
}

TEST(ConfigRepository, MissingDirectoryIsARepositoryError) {
  EXPECT_THROW(NativeRepository{"/nonexistent/config-repo"}, RepositoryError);
}

TEST(ConfigRepository, CacheReusesParsesOfUnchangedContentOnly) {
  ParsedFileCache cache;
  const auto first = cache.Parse("a.yml", "a: 1\n");
  const auto same = cache.Parse("a.yml", "a: 1\n");
  const auto changed = cache.Parse("a.yml", "a: 2\n");
  const auto broken = cache.Parse("b.yml", "a: [\n");

  EXPECT_EQ(first.get(), same.get());
  EXPECT_NE(first.get(), changed.get());
  EXPECT_EQ(changed->documents.at(0).properties.at(0).second, ScalarValue{std::int64_t{2}});
  EXPECT_TRUE(broken->error.has_value());
  EXPECT_EQ(cache.Parse("a.yml", "a: 1\n").get(), first.get());  // both versions kept
}

TEST(ConfigRepository, EditedFileIsServedAtOnce) {
  TempDir dir;
  dir.Write("foo.yml", "a: 1\n");
  const NativeRepository repository{dir.path()};
  static_cast<void>(repository.FindOne("foo", "default", std::nullopt));

  dir.Write("foo.yml", "a: 2\n");

  EXPECT_THAT(repository.FindOne("foo", "default", std::nullopt).property_sources.at(0).source,
              ElementsAre(Pair("a", ScalarValue{std::int64_t{2}})));
}

// Spring Cloud Config docs, encryption-and-decryption.adoc (native backend): the
// complete Environment of `GET /application/prd`.
TEST(ConfigRepository, GoldenSpringNativeExample) {
  TempDir dir;
  dir.Write("application-prd.yaml", "invalid:\n  SharedPassword: <n/a>\n");
  dir.Write("application.yaml", "SharedPassword: Fill_me_in\n");
  const NativeRepository repository{dir.path()};
  const std::string base = repository.Directory().string();

  const auto actual =
      boost::json::parse(ToJson(repository.FindOne("application", "prd", std::nullopt)));

  const auto expected = boost::json::parse(
      R"({ "label": null, "name": "application", "profiles": ["prd"],
    "propertySources": [
      { "name": "file:)" +
      base + R"(/application-prd.yaml", "source": { "invalid.SharedPassword": "<n/a>" } },
      { "name": "file:)" +
      base + R"(/application.yaml",     "source": { "SharedPassword": "Fill_me_in" } } ],
    "state": null, "version": null })");
  EXPECT_EQ(actual, expected) << actual;
}

}  // namespace
}  // namespace cppblog::configserver

#include "git_repository.hpp"

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/storage/temp_dir.hpp"

#include "sample_git_repo.hpp"

namespace cppblog::configserver {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

ScalarValue Port(const Environment& environment) {
  return environment.property_sources.at(0).source.at(0).second;
}

TEST(GitRepository, BranchLabelServesTheBranchFilesAndItsCommitAsVersion) {
  const auto repo = MakeSampleRepo();
  const GitRepository repository{{.path = repo->dir.path(), .uri = "", .default_label = ""}};

  const Environment environment = repository.FindOne("accountservice", "test", "P9");

  EXPECT_EQ(environment.version, repo->p9_commit);
  EXPECT_EQ(environment.label, "P9");
  EXPECT_EQ(Port(environment), ScalarValue{std::int64_t{9999}});
  // application.yml also exists on P9 (branched from master).
  ASSERT_EQ(environment.property_sources.size(), 2U);
  EXPECT_EQ(environment.property_sources[0].name,
            "file://" + std::filesystem::weakly_canonical(repo->dir.path()).string() +
                "/accountservice-test.yml");
}

TEST(GitRepository, DefaultLabelFallsBackFromMainToMaster) {
  const auto repo = MakeSampleRepo();
  const GitRepository repository{{.path = repo->dir.path(), .uri = "", .default_label = ""}};

  const Environment environment = repository.FindOne("accountservice", "test", std::nullopt);

  EXPECT_EQ(environment.version, repo->master_commit);
  EXPECT_FALSE(environment.label.has_value());
  EXPECT_EQ(Port(environment), ScalarValue{std::int64_t{6767}});
}

TEST(GitRepository, ConfiguredDefaultLabelIsUsed) {
  const auto repo = MakeSampleRepo();
  const GitRepository repository{{.path = repo->dir.path(), .uri = "", .default_label = "P9"}};
  EXPECT_EQ(repository.FindOne("accountservice", "test", std::nullopt).version, repo->p9_commit);
}

TEST(GitRepository, TagAndCommitIdLabelsResolve) {
  const auto repo = MakeSampleRepo();
  const GitRepository repository{{.path = repo->dir.path(), .uri = "", .default_label = ""}};

  EXPECT_EQ(repository.FindOne("accountservice", "test", "v1").version, repo->master_commit);
  EXPECT_EQ(repository.FindOne("accountservice", "test", repo->p9_commit.substr(0, 10)).version,
            repo->p9_commit);
  EXPECT_EQ(repository.FindOne("accountservice", "test", repo->p9_commit).version, repo->p9_commit);
}

TEST(GitRepository, UnknownLabelIsNoSuchLabel) {
  const auto repo = MakeSampleRepo();
  const GitRepository repository{{.path = repo->dir.path(), .uri = "", .default_label = ""}};
  EXPECT_THROW(static_cast<void>(repository.FindOne("accountservice", "test", "P10")),
               NoSuchLabelError);
  EXPECT_THROW(static_cast<void>(repository.FindOne("accountservice", "test", "../../x")),
               NoSuchLabelError);
}

TEST(GitRepository, RemoteTrackingBranchOfACloneResolves) {
  const auto repo = MakeSampleRepo();
  TempDir clone;
  Git(clone.path(), "clone -q '" + repo->dir.path().string() + "' work");
  const GitRepository repository{{.path = clone.path() / "work", .uri = "", .default_label = ""}};

  const Environment environment = repository.FindOne("vipservice", "test", "P9");

  EXPECT_EQ(environment.version, repo->p9_commit);
  EXPECT_EQ(Port(environment), ScalarValue{std::int64_t{6868}});
}

TEST(GitRepository, BareRepositoryIsReadWithoutAWorkTree) {
  const auto repo = MakeSampleRepo();
  TempDir bare;
  Git(bare.path(), "clone -q --bare '" + repo->dir.path().string() + "' repo.git");
  const GitRepository repository{
      {.path = bare.path() / "repo.git", .uri = "", .default_label = ""}};
  EXPECT_EQ(repository.FindOne("accountservice", "test", "P9").version, repo->p9_commit);
}

TEST(GitRepository, BranchWithSlashResolves) {
  const auto repo = MakeSampleRepo();
  Git(repo->dir.path(), "branch feature/x P9");
  const GitRepository repository{{.path = repo->dir.path(), .uri = "", .default_label = ""}};
  EXPECT_EQ(repository.FindOne("accountservice", "test", "feature/x").version, repo->p9_commit);
}

TEST(GitRepository, NotARepositoryFailsAtConstruction) {
  TempDir dir;
  EXPECT_THROW((GitRepository{{.path = dir.path(), .uri = "", .default_label = ""}}),
               RepositoryError);
}

// Spring Cloud Config quickstart.adoc: `curl localhost:8888/foo/development` against
// https://github.com/spring-cloud-samples/config-repo (the sources the docs show, in order).
TEST(GitRepository, GoldenSpringQuickstartExample) {
  TempDir dir;
  Git(dir.path(), "init -q");
  dir.Write("foo-development.properties", "bar: spam\nfoo: from foo development\n");
  dir.Write("foo.properties", "foo: from foo props\ndemoconfigclient.message: hello spring io\n");
  Git(dir.path(), "add -A");
  Git(dir.path(), "commit -q -m init");
  const std::string commit = Git(dir.path(), "rev-parse HEAD");
  const GitRepository repository{{.path = dir.path(),
                                  .uri = "https://github.com/spring-cloud-samples/config-repo",
                                  .default_label = ""}};

  const auto actual =
      boost::json::parse(ToJson(repository.FindOne("foo", "development", std::nullopt)));

  const auto expected = boost::json::parse(R"({
    "name": "foo", "profiles": ["development"], "label": null, "version": ")" +
                                           commit + R"(",
    "state": null,
    "propertySources": [
      { "name": "https://github.com/spring-cloud-samples/config-repo/foo-development.properties",
        "source": { "bar": "spam", "foo": "from foo development" } },
      { "name": "https://github.com/spring-cloud-samples/config-repo/foo.properties",
        "source": { "foo": "from foo props", "democonfigclient.message": "hello spring io" } } ] })");
  EXPECT_EQ(actual, expected) << actual;
}

TEST(GitRepository, CredentialsInTheUriNeverReachSourceNames) {
  const auto repo = MakeSampleRepo();
  for (const std::string uri : {"https://deploy:S3c/r3t?x@git.example.com/org/config",
                                "https://ghp_T0KEN@github.com/org/config"}) {
    const GitRepository repository{{.path = repo->dir.path(), .uri = uri, .default_label = ""}};

    const std::string json = ToJson(repository.FindOne("accountservice", "test", std::nullopt));

    EXPECT_THAT(json, Not(HasSubstr("S3c"))) << json;
    EXPECT_THAT(json, Not(HasSubstr("r3t"))) << json;
    EXPECT_THAT(json, Not(HasSubstr("T0KEN"))) << json;
    EXPECT_THAT(json, HasSubstr("https://***@"));
  }
}

}  // namespace
}  // namespace cppblog::configserver

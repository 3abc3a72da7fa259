#include "cppblog/config/command_line.hpp"

#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/config/config_error.hpp"

namespace cppblog::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

std::optional<CommandLine> Parse(std::initializer_list<const char*> args, std::ostream& out) {
  std::vector<const char*> argv{"accountservice"};
  argv.insert(argv.end(), args.begin(), args.end());
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data(), "accountservice", out);
}

CommandLine Parse(std::initializer_list<const char*> args) {
  std::ostringstream out;
  auto command_line = Parse(args, out);
  if (!command_line) {
    throw std::runtime_error("no command line: " + out.str());
  }
  return *command_line;
}

std::string ErrorOf(std::initializer_list<const char*> args) {
  try {
    (void)Parse(args);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError thrown";
  return "";
}

TEST(CommandLine, DefaultsAsTheOriginal) {
  const CommandLine command_line = Parse({});
  EXPECT_EQ(command_line.profile, "test");
  EXPECT_EQ(command_line.config_server_url, std::nullopt);
  EXPECT_EQ(command_line.config_branch, "master");
  EXPECT_EQ(command_line.config_dir, "config");
  EXPECT_EQ(command_line.log_format, logging::LogFormat::kText);
  EXPECT_TRUE(command_line.overrides.empty());
}

TEST(CommandLine, AcceptsTheOriginalSingleDashFlags) {
  const CommandLine command_line = Parse(
      {"-profile", "dev", "-configServerUrl=http://configserver:8888", "-configBranch", "P9"});
  EXPECT_EQ(command_line.profile, "dev");
  EXPECT_EQ(command_line.config_server_url, "http://configserver:8888");
  EXPECT_EQ(command_line.config_branch, "P9");
}

TEST(CommandLine, AcceptsTheOriginalFlagsWithTwoDashes) {
  const CommandLine command_line =
      Parse({"--profile=dev", "--configServerUrl", "http://cs:8888", "--configBranch=P9"});
  EXPECT_EQ(command_line.profile, "dev");
  EXPECT_EQ(command_line.config_server_url, "http://cs:8888");
  EXPECT_EQ(command_line.config_branch, "P9");
}

TEST(CommandLine, AcceptsLongForms) {
  const CommandLine command_line =
      Parse({"--profile", "prod", "--config-server-url=http://cs:8888", "--config-branch", "v1",
             "--config-dir", "/tmp", "--log-format", "json"});
  EXPECT_EQ(command_line.profile, "prod");
  EXPECT_EQ(command_line.config_server_url, "http://cs:8888");
  EXPECT_EQ(command_line.config_branch, "v1");
  EXPECT_EQ(command_line.config_dir, "/tmp");
  EXPECT_EQ(command_line.log_format, logging::LogFormat::kJson);
}

TEST(CommandLine, AMissingConfigDirGivenExplicitlyIsAnError) {
  const std::string error = ErrorOf({"--config-dir", "/nonexistent-cppblog-confg"});
  EXPECT_THAT(error, HasSubstr("--config-dir: '/nonexistent-cppblog-confg' is not a directory"));
  EXPECT_THAT(error, HasSubstr("leave the flag out"));
}

TEST(CommandLine, AMissingDefaultConfigDirIsNoError) {
  // ./config is optional: only a directory the user named must exist.
  EXPECT_EQ(Parse({}).config_dir, "config");
}

TEST(CommandLine, ParseErrorsMaskAUrlPassword) {
  const std::string error = ErrorOf({"--config-server-url", "http://u:S3c/r3t?x@host:8888",
                                     "stray-argument", "http://u:S3c/r3t?x@other:8888"});
  EXPECT_THAT(error, ::testing::Not(HasSubstr("S3c")));
  EXPECT_THAT(error, ::testing::Not(HasSubstr("r3t")));
}

TEST(CommandLine, TheLastOfARepeatedFlagWins) {
  EXPECT_EQ(Parse({"-profile", "a", "--profile", "b"}).profile, "b");
}

TEST(CommandLine, SetIsRepeatableAndSplitsAtTheFirstEquals) {
  const CommandLine command_line =
      Parse({"--set", "server_port=7000", "--set=amqp_server_url=amqp://h/?a=b", "--set", "e="});
  EXPECT_THAT(command_line.overrides,
              ElementsAre(Pair("server_port", "7000"), Pair("amqp_server_url", "amqp://h/?a=b"),
                          Pair("e", "")));
}

TEST(CommandLine, SetWithoutEqualsIsAnError) {
  EXPECT_EQ(ErrorOf({"--set", "server_port"}),
            "accountservice: --set: 'server_port' is not key=value; run accountservice --help");
}

TEST(CommandLine, UnknownFlagErrorNamesItAndPointsToHelp) {
  const std::string error = ErrorOf({"--bogus"});
  EXPECT_THAT(error, HasSubstr("--bogus"));
  EXPECT_THAT(error, HasSubstr("run accountservice --help"));
}

TEST(CommandLine, MisspelledSingleDashFlagIsAnError) {
  EXPECT_THAT(ErrorOf({"-profil", "dev"}), HasSubstr("run accountservice --help"));
}

TEST(CommandLine, MissingValueIsAnError) {
  EXPECT_THAT(ErrorOf({"-profile"}), HasSubstr("--profile"));
}

TEST(CommandLine, BadLogFormatIsAnError) {
  EXPECT_EQ(ErrorOf({"--log-format", "xml"}),
            "accountservice: --log-format: 'xml' is not a log format (text or json); run "
            "accountservice --help");
}

TEST(CommandLine, EmptyConfigServerUrlIsAnError) {
  EXPECT_THAT(ErrorOf({"-configServerUrl="}), HasSubstr("--config-server-url"));
}

TEST(CommandLine, HelpPrintsUsageAndReturnsNothing) {
  for (const char* flag : {"--help", "-h", "-help"}) {
    std::ostringstream out;
    EXPECT_EQ(Parse({flag}, out), std::nullopt) << flag;
    EXPECT_THAT(out.str(), HasSubstr("--config-server-url")) << flag;
    EXPECT_THAT(out.str(), HasSubstr("-configServerUrl")) << flag;
  }
}

TEST(CommandLine, VersionPrintsTheProjectVersion) {
  std::ostringstream out;
  EXPECT_EQ(Parse({"--version"}, out), std::nullopt);
  EXPECT_EQ(out.str(), "accountservice 0.9\n");
}

TEST(CommandLine, ArgumentsAfterDoubleDashAreNotRewritten) {
  EXPECT_THAT(ErrorOf({"--", "-profile"}), HasSubstr("-profile"));
}

}  // namespace
}  // namespace cppblog::config

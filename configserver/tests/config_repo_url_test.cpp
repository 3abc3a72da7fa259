// deploy/config-repo is shared with the Go services of the original (goblog), which read
// amqp_server_url and dial it with "/" appended (ADR 0003): the served value must parse, for them
// and for us, as the broker's default vhost "/".
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "cppblog/messaging/amqp_url.hpp"

#include "config_repository.hpp"
#include "environment.hpp"

namespace cppblog::configserver {
namespace {

std::string ServedBrokerUrl(const std::string& application) {
  const NativeRepository repository{CPPBLOG_CONFIG_REPO_DIR};
  const Environment environment = repository.FindOne(application, "test", std::nullopt);
  EXPECT_TRUE(environment.problems.empty()) << environment.problems.front();
  for (const auto& [key, value] : Merge(environment)) {
    if (key == "amqp_server_url") return ToText(value);
  }
  ADD_FAILURE() << application << "-test: no amqp_server_url served";
  return {};
}

// streadway/amqp's ParseURI, for the vhost only: the URL's path without its leading '/',
// percent-decoded; an empty one keeps the default "/".
std::string GoClientVhost(const std::string& url) {
  const auto authority = url.find("://");
  const auto slash = url.find('/', authority == std::string::npos ? 0 : authority + 3);
  if (slash == std::string::npos) return "/";
  std::string path = url.substr(slash + 1, url.find('?', slash) - slash - 1);
  std::string vhost;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '%' && i + 2 < path.size()) {
      vhost += static_cast<char>(std::stoi(path.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      vhost += path[i];
    }
  }
  return vhost.empty() ? "/" : vhost;
}

TEST(ConfigRepoBrokerUrl, TheOldFormWouldNotReachTheDefaultVhostFromGo) {
  EXPECT_EQ(GoClientVhost("amqp://guest:guest@127.0.0.1:5672/%2F/"), "//");
  EXPECT_EQ(GoClientVhost("amqp://guest:guest@127.0.0.1:5672/"), "/");
}

TEST(ConfigRepoBrokerUrl, ParsesAsTheDefaultVhostWithAndWithoutTheSlashTheGoServicesAppend) {
  for (const std::string application : {"accountservice", "vipservice", "configserver"}) {
    SCOPED_TRACE(application);
    const std::string url = ServedBrokerUrl(application);
    ASSERT_FALSE(url.empty());
    // Ours read the value as it is.
    const messaging::AmqpUrl ours = messaging::ParseAmqpUrl(url);
    EXPECT_EQ(ours.vhost, "/");
    // The Go services dial fmt.Sprintf("%s/", url); their client (streadway/amqp) takes the
    // path after the first '/' as the vhost, "" being the default "/". "/%2F" would become the
    // vhost "%2F/" there, which no broker has.
    const std::string go_dialed = url + "/";
    EXPECT_EQ(GoClientVhost(go_dialed), "/") << go_dialed;
    const messaging::AmqpUrl as_go = messaging::ParseAmqpUrl(go_dialed);
    EXPECT_EQ(as_go.vhost, "/");
    EXPECT_EQ(as_go.host, ours.host);
    EXPECT_EQ(as_go.port, ours.port);
  }
}

}  // namespace
}  // namespace cppblog::configserver

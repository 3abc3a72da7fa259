// The broker address list against the test broker plus addresses where nothing listens: the
// client skips the dead ones whatever the shuffled order (so it goes on to the next address
// when one fails), and a list where no node answers keeps the client recovering, as one dead
// address does.
#include <future>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/messaging/amqp_url.hpp"

#include "broker_test_env.hpp"

namespace cppblog::messaging {
namespace {

using namespace std::chrono_literals;

// A port on 127.0.0.1 where nothing listens (bound to port 0, then released).
int DeadPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  ::close(fd);
  return ntohs(address.sin_port);
}

std::string DeadUrl() {
  return "amqp://guest:guest@127.0.0.1:" + std::to_string(DeadPort()) + "/%2F";
}

TEST(AmqpAddressList, DeadAddressesAreSkippedInAnyOrder) {
  const std::string live = TestAmqpUrl();
  const std::string live_node = NodeName(ParseAmqpUrl(live));
  const std::string list = DeadUrl() + "," + live + "," + DeadUrl();
  // Each client shuffles the list: several clients see several orders.
  for (int i = 0; i < 4; ++i) {
    AmqpClient client{{.url = list, .reconnect_max = 500ms}};
    const std::string queue = UniqueName("address-list");
    auto confirmed = client.PublishToQueue({.name = queue, .auto_delete = true}, {.body = "x"});
    ASSERT_EQ(confirmed.wait_for(20s), std::future_status::ready);
    confirmed.get();
    EXPECT_EQ(client.CurrentNode(), live_node);
    EXPECT_EQ(client.State(), ConnectionState::kConnected);
  }
}

TEST(AmqpAddressList, APasswordFromTheOptionsAppliesToEveryAddress) {
  const AmqpUrl live = ParseAmqpUrl(TestAmqpUrl());
  const auto url = [&](int port) {
    return "amqp://" + live.user + ":not-the-password@127.0.0.1:" + std::to_string(port) + "/%2F";
  };
  AmqpClient client{{.url = url(DeadPort()) + "," + url(live.port) + "," + url(DeadPort()),
                     .password = live.password,
                     .reconnect_max = 500ms}};
  auto confirmed =
      client.PublishToQueue({.name = UniqueName("password"), .auto_delete = true}, {.body = "x"});
  ASSERT_EQ(confirmed.wait_for(20s), std::future_status::ready);
  confirmed.get();
  EXPECT_EQ(client.CurrentNode(), "127.0.0.1:" + std::to_string(live.port));
}

TEST(AmqpAddressList, NoNodeAnsweringKeepsRecovering) {
  const std::string first = DeadUrl();
  const std::string second = DeadUrl();
  AmqpClient client{{.url = first + "," + second, .reconnect_min = 10ms, .reconnect_max = 50ms}};
  const std::set<std::string> both = {NodeName(ParseAmqpUrl(first)),
                                      NodeName(ParseAmqpUrl(second))};
  EXPECT_EQ(both.count(client.CurrentNode()), 1U) << client.CurrentNode();
  EXPECT_EQ(client.State(), ConnectionState::kRecovering);
  auto publish = client.PublishToQueue({.name = UniqueName("nowhere")}, {.body = "x"});
  EXPECT_EQ(publish.wait_for(300ms), std::future_status::timeout);  // waits, does not fail
  EXPECT_EQ(client.State(), ConnectionState::kRecovering);
  client.Close(100ms);
}

}  // namespace
}  // namespace cppblog::messaging

// (g) TLS: the test makes a CA, a server certificate for localhost and a client certificate
// with the openssl CLI, starts its own RabbitMQ node with a TLS listener (peer verification
// on), and talks to it over amqps://.
#include <gtest/gtest.h>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/messaging/messaging_error.hpp"

#include "broker_test_env.hpp"
#include "inbox.hpp"
#include "tls_broker.hpp"

namespace cppblog::messaging {
namespace {

constexpr auto kWait = std::chrono::seconds{30};

TEST(AmqpClientTls, VerifiesTheBrokerAndRefusesAnUntrustedOne) {
  ASSERT_FALSE(RequiredEnv("CPPBLOG_DEV").empty());
  const TlsBroker& broker = SharedTlsBroker();

  // Trusted CA and a client certificate: a full round trip over TLS.
  Inbox inbox;
  AmqpClient client{{.url = broker.Url(),
                     .tls = {.ca_file = broker.File("ca.pem"),
                             .cert_file = broker.File("client.pem"),
                             .key_file = broker.File("client.key")}}};
  const std::string queue = UniqueName("tls");
  auto subscribed = client.SubscribeToQueue({.name = queue}, inbox.Recorder(), {});
  ASSERT_EQ(subscribed.wait_for(kWait), std::future_status::ready);
  subscribed.get();
  auto published = client.PublishToQueue({.name = queue}, {.body = "over TLS"});
  ASSERT_EQ(published.wait_for(kWait), std::future_status::ready);
  published.get();
  ASSERT_TRUE(inbox.WaitFor(1, kWait));
  EXPECT_EQ(inbox.Messages().front().body, "over TLS");
  EXPECT_EQ(client.State(), ConnectionState::kConnected);

  // A CA that did not sign the broker's certificate: never connects, the publish times out.
  AmqpClient untrusting{{.url = broker.Url(),
                         .tls = {.ca_file = broker.File("other-ca.pem")},
                         .publish_timeout = std::chrono::milliseconds{1500}}};
  auto refused = untrusting.PublishToQueue({.name = queue}, {.body = "never"});
  ASSERT_EQ(refused.wait_for(kWait), std::future_status::ready);
  try {
    refused.get();
    ADD_FAILURE() << "expected MessagingError";
  } catch (const MessagingError& e) {
    EXPECT_EQ(e.kind(), MessagingErrorKind::kTimeout) << e.what();
  }
  EXPECT_EQ(untrusting.State(), ConnectionState::kRecovering);

  // Mutual TLS: the broker requires a client certificate, so a client that trusts the broker
  // but presents none never connects either.
  AmqpClient anonymous{{.url = broker.Url(),
                        .tls = {.ca_file = broker.File("ca.pem")},
                        .publish_timeout = std::chrono::milliseconds{1500}}};
  auto unauthenticated = anonymous.PublishToQueue({.name = queue}, {.body = "never"});
  ASSERT_EQ(unauthenticated.wait_for(kWait), std::future_status::ready);
  try {
    unauthenticated.get();
    ADD_FAILURE() << "a client without a certificate was let in by a broker that requires one";
  } catch (const MessagingError& e) {
    EXPECT_EQ(e.kind(), MessagingErrorKind::kTimeout) << e.what();
  }
  EXPECT_EQ(anonymous.State(), ConnectionState::kRecovering);
}

}  // namespace
}  // namespace cppblog::messaging

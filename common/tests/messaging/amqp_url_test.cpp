#include "cppblog/messaging/amqp_url.hpp"

#include <gtest/gtest.h>

#include "cppblog/messaging/messaging_error.hpp"

namespace cppblog::messaging {
namespace {

TEST(AmqpUrl, ParsesEveryPart) {
  const AmqpUrl url = ParseAmqpUrl("amqp://user:secret@broker.example:5673/%2F");
  EXPECT_FALSE(url.tls);
  EXPECT_EQ(url.user, "user");
  EXPECT_EQ(url.password, "secret");
  EXPECT_EQ(url.host, "broker.example");
  EXPECT_EQ(url.port, 5673);
  EXPECT_EQ(url.vhost, "/");
}

TEST(AmqpUrl, AppliesDefaults) {
  const AmqpUrl url = ParseAmqpUrl("amqp://");
  EXPECT_EQ(url.user, "guest");
  EXPECT_EQ(url.password, "guest");
  EXPECT_EQ(url.host, "localhost");
  EXPECT_EQ(url.port, 5672);
  EXPECT_EQ(url.vhost, "/");
}

TEST(AmqpUrl, AmqpsDefaultsToPort5671) {
  const AmqpUrl url = ParseAmqpUrl("amqps://broker");
  EXPECT_TRUE(url.tls);
  EXPECT_EQ(url.port, 5671);
}

TEST(AmqpUrl, DecodesPercentEscapes) {
  const AmqpUrl url = ParseAmqpUrl("amqp://us%40er:p%3Ass%2Fw@host/my%2Fvhost");
  EXPECT_EQ(url.user, "us@er");
  EXPECT_EQ(url.password, "p:ss/w");
  EXPECT_EQ(url.vhost, "my/vhost");
}

TEST(AmqpUrl, NamedVhost) { EXPECT_EQ(ParseAmqpUrl("amqp://h/production").vhost, "production"); }

TEST(AmqpUrl, TrailingSlashMeansDefaultVhostAsInTheGoClient) {
  EXPECT_EQ(ParseAmqpUrl("amqp://guest:guest@rabbitmq:5672/").vhost, "/");
}

TEST(AmqpUrl, ReadsQueryParameters) {
  const AmqpUrl url = ParseAmqpUrl(
      "amqps://h/%2F?heartbeat=5&connection_timeout=2500&cacertfile=/ca.pem&certfile=/c.pem"
      "&keyfile=/k.pem&verify=verify_none&channel_max=10");
  EXPECT_EQ(url.heartbeat, std::chrono::seconds{5});
  EXPECT_EQ(url.connection_timeout, std::chrono::milliseconds{2500});
  EXPECT_EQ(url.ca_file, "/ca.pem");
  EXPECT_EQ(url.cert_file, "/c.pem");
  EXPECT_EQ(url.key_file, "/k.pem");
  EXPECT_EQ(url.verify_peer, false);
}

TEST(AmqpUrl, ParsesIpv6Host) {
  const AmqpUrl url = ParseAmqpUrl("amqp://[::1]:5999");
  EXPECT_EQ(url.host, "::1");
  EXPECT_EQ(url.port, 5999);
}

TEST(AmqpUrl, UserWithoutPasswordHasEmptyPassword) {
  EXPECT_EQ(ParseAmqpUrl("amqp://alice@h").password, "");
}

TEST(AmqpUrl, RejectsOtherSchemes) { EXPECT_THROW((void)ParseAmqpUrl("http://h"), MessagingError); }

TEST(AmqpUrl, RejectsBadPort) {
  EXPECT_THROW((void)ParseAmqpUrl("amqp://h:99999"), MessagingError);
  EXPECT_THROW((void)ParseAmqpUrl("amqp://h:abc"), MessagingError);
}

TEST(AmqpUrl, RejectsUnknownQueryParameter) {
  try {
    (void)ParseAmqpUrl("amqp://h?hearbeat=5");
    FAIL() << "expected MessagingError";
  } catch (const MessagingError& e) {
    EXPECT_EQ(e.kind(), MessagingErrorKind::kInvalidOptions);
    EXPECT_NE(std::string(e.what()).find("hearbeat"), std::string::npos) << e.what();
  }
}

TEST(AmqpUrl, RejectsUnescapedSlashInVhost) {
  EXPECT_THROW((void)ParseAmqpUrl("amqp://h/a/b"), MessagingError);
}

TEST(AmqpUrl, ErrorsNeverShowThePassword) {
  try {
    (void)ParseAmqpUrl("amqp://user:topsecret@h:notaport/%2F");
    FAIL() << "expected MessagingError";
  } catch (const MessagingError& e) {
    EXPECT_EQ(std::string(e.what()).find("topsecret"), std::string::npos) << e.what();
  }
}

TEST(AmqpUrl, MaskPasswordHidesOnlyThePassword) {
  EXPECT_EQ(MaskPassword("amqp://user:secret@host:5672/%2F"), "amqp://user:***@host:5672/%2F");
  EXPECT_EQ(MaskPassword("amqps://u:p@w@h/v?heartbeat=1"), "amqps://u:***@h/v?heartbeat=1");
  EXPECT_EQ(MaskPassword("amqp://user@host/"), "amqp://user@host/");
  EXPECT_EQ(MaskPassword("not a url"), "not a url");
}

}  // namespace
}  // namespace cppblog::messaging

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

// The error text of `url`, or "" when it parses.
std::string ErrorOf(std::string_view url) {
  try {
    (void)ParseAmqpUrlList(url);
  } catch (const MessagingError& e) {
    EXPECT_EQ(e.kind(), MessagingErrorKind::kInvalidOptions);
    return e.what();
  }
  return {};
}

// Issue 16.3: a generated password with '/', '?' or '#' in it, not percent-encoded, used to
// be cut into host, port and vhost, and a piece of it printed in the error.
TEST(AmqpUrl, AnUnencodedPasswordIsRefusedWithoutShowingIt) {
  for (const std::string_view url :
       {"amqp://guest:S3c/r3tPw@host/%2F", "amqp://guest:S3c?r3tPw@host/%2F",
        "amqp://guest:S3c#r3tPw@host:5672/%2F", "amqp://guest:S3c/r3tPw@host:5672",
        "amqps://guest:S3c/r?3t#Pw@h/%2F?heartbeat=5", "guest:S3c/r3tPw@host/%2F",
        "amqp://a:b@h1/%2F,amqp://guest:S3c/r3tPw@host/%2F"}) {
    const std::string error = ErrorOf(url);
    ASSERT_FALSE(error.empty()) << url;
    EXPECT_EQ(error.find("S3c"), std::string::npos) << error;
    EXPECT_EQ(error.find("r3t"), std::string::npos) << error;
    EXPECT_EQ(error.find("Pw"), std::string::npos) << error;
    EXPECT_NE(error.find("percent-encoded"), std::string::npos) << error;
  }
}

TEST(AmqpUrl, APercentEncodedPasswordParses) {
  EXPECT_EQ(ParseAmqpUrl("amqp://guest:S3c%2Fr3t%3FPw%23@host/%2F").password, "S3c/r3t?Pw#");
}

TEST(AmqpUrlList, OneUrlIsAListOfOne) {
  const auto urls = ParseAmqpUrlList("amqp://u:p@h:5673/%2F");
  ASSERT_EQ(urls.size(), 1U);
  EXPECT_EQ(urls[0].host, "h");
  EXPECT_EQ(urls[0].port, 5673);
}

TEST(AmqpUrlList, SplitsAtCommasBeforeAUrl) {
  const auto urls = ParseAmqpUrlList(
      "amqp://u:p@10.0.0.1:5672/%2F, amqp://u:p@10.0.0.2:5673/%2F ,amqps://u:p@[::1]/%2F");
  ASSERT_EQ(urls.size(), 3U);
  EXPECT_EQ(NodeName(urls[0]), "10.0.0.1:5672");
  EXPECT_EQ(NodeName(urls[1]), "10.0.0.2:5673");
  EXPECT_EQ(NodeName(urls[2]), "[::1]:5671");
  EXPECT_TRUE(urls[2].tls);
  for (const auto& url : urls) EXPECT_EQ(url.password, "p");
}

TEST(AmqpUrlList, ACommaInAPasswordDoesNotSplit) {
  const auto urls = ParseAmqpUrlList("amqp://u:p,w@h1/%2F,amqp://u:p,w@h2/%2F");
  ASSERT_EQ(urls.size(), 2U);
  EXPECT_EQ(urls[0].password, "p,w");
  EXPECT_EQ(urls[1].host, "h2");
}

TEST(AmqpUrlList, RefusesEmptyEntries) {
  EXPECT_NE(ErrorOf("").find("entry 1 of 1 is empty"), std::string::npos) << ErrorOf("");
  const std::string error = ErrorOf("amqp://u:secret@h1/%2F,,amqp://u:secret@h2/%2F");
  EXPECT_NE(error.find("entry 2 of 3 is empty"), std::string::npos) << error;
  EXPECT_EQ(error.find("secret"), std::string::npos) << error;
  EXPECT_NE(ErrorOf("amqp://h1,").find("entry 2 of 2 is empty"), std::string::npos);
}

TEST(AmqpUrlList, NamesTheEntryThatDoesNotParse) {
  const std::string error = ErrorOf("amqp://u:secret@h1/%2F,amqp://u:secret@h2:bad/%2F");
  EXPECT_NE(error.find("entry 2 of 2"), std::string::npos) << error;
  EXPECT_NE(error.find("'bad' is not a number"), std::string::npos) << error;
  EXPECT_EQ(error.find("secret"), std::string::npos) << error;
}

TEST(AmqpUrlList, RefusesEntriesThatDifferInUserPasswordOrVhost) {
  const std::string user = ErrorOf("amqp://a:secret@h1/%2F,amqp://b:secret@h2/%2F");
  EXPECT_NE(user.find("entries 1 ('amqp://a:***@h1/%2F') and 2 ('amqp://b:***@h2/%2F')"),
            std::string::npos)
      << user;
  EXPECT_NE(user.find("user name"), std::string::npos) << user;

  const std::string password =
      ErrorOf("amqp://u:secret1@h1/%2F,amqp://u:secret1@h2/%2F,amqp://u:secret2@h3/%2F");
  EXPECT_NE(password.find("entries 1 ("), std::string::npos) << password;
  EXPECT_NE(password.find("and 3 ("), std::string::npos) << password;
  EXPECT_NE(password.find("password"), std::string::npos) << password;
  EXPECT_EQ(password.find("secret"), std::string::npos) << password;

  const std::string vhost = ErrorOf("amqp://u:p@h1/%2F,amqp://u:p@h2/other");
  EXPECT_NE(vhost.find("vhost"), std::string::npos) << vhost;
}

TEST(AmqpUrlList, NodeNameShowsNothingThatNeedsEscaping) {
  AmqpUrl url;
  url.host = "h\"\n";
  url.port = 1;
  EXPECT_EQ(NodeName(url), "h??:1");
}

}  // namespace
}  // namespace cppblog::messaging

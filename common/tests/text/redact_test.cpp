#include "cppblog/text/redact.hpp"

#include <gtest/gtest.h>

namespace cppblog::text {
namespace {

TEST(MaskUrlCredentials, MasksOnlyThePassword) {
  EXPECT_EQ(MaskUrlCredentials("amqp://user:secret@host:5672/%2F"),
            "amqp://user:***@host:5672/%2F");
  EXPECT_EQ(MaskUrlCredentials("amqps://u:p@h/v?heartbeat=1"), "amqps://u:***@h/v?heartbeat=1");
}

TEST(MaskUrlCredentials, KeepsAUserWithoutPasswordAndTextWithoutUrl) {
  EXPECT_EQ(MaskUrlCredentials("amqp://user@host/"), "amqp://user@host/");
  EXPECT_EQ(MaskUrlCredentials("amqp://host:5672/%2F"), "amqp://host:5672/%2F");
  EXPECT_EQ(MaskUrlCredentials("not a url"), "not a url");
  EXPECT_EQ(MaskUrlCredentials(""), "");
}

TEST(MaskUrlCredentials, MasksAPasswordWithUnencodedDelimiters) {
  // A generated password with '/', '?', '#' or '@' does not parse, and must not leak either.
  EXPECT_EQ(MaskUrlCredentials("amqp://guest:S3c/r3tPw@host/%2F"), "amqp://guest:***@host/%2F");
  EXPECT_EQ(MaskUrlCredentials("amqp://guest:a?b#c@host"), "amqp://guest:***@host");
  EXPECT_EQ(MaskUrlCredentials("http://u:p@ss@configserver:8888"),
            "http://u:***@configserver:8888");
}

TEST(MaskUrlCredentials, MasksEveryUrlOfAListAndUrlsInsideText) {
  EXPECT_EQ(MaskUrlCredentials("amqp://a:x@h1:5672/%2F,amqp://b:y/z@h2:5672/%2F"),
            "amqp://a:***@h1:5672/%2F,amqp://b:***@h2:5672/%2F");
  EXPECT_EQ(MaskUrlCredentials("cannot connect to http://u:pw@h:1 (refused)"),
            "cannot connect to http://u:***@h:1 (refused)");
}

TEST(MaskUrlCredentials, MasksMoreRatherThanLessWhenAPathHoldsAnAt) {
  EXPECT_EQ(MaskUrlCredentials("https://u:tok@git.example/a@b"), "https://u:***@b");
}

}  // namespace
}  // namespace cppblog::text

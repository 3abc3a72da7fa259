#include "request_auth.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cppblog::configserver {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

// "configserver:s3cret" in base64.
constexpr const char* kGoodBasic = "Basic Y29uZmlnc2VydmVyOnMzY3JldA==";

RequestAuth BasicAuth() {
  return RequestAuth{{.basic = BasicCredentials{.user = "configserver", .password = "s3cret"},
                      .webhook_secret = ""}};
}

web::Request WithHeader(web::Request request, std::string name, std::string value) {
  request.headers.emplace_back(std::move(name), std::move(value));
  return request;
}

std::optional<std::string> HeaderOf(const web::Response& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return std::nullopt;
}

TEST(RequestAuth, WithoutCredentialsConfiguredEverythingIsOpen) {
  const RequestAuth auth{{}};
  EXPECT_FALSE(auth.BasicRequired());
  EXPECT_EQ(auth.Check(web::Get("/accountservice/test")), std::nullopt);
  EXPECT_EQ(auth.CheckWebhook(web::Post("/monitor", "path=a.yml")), std::nullopt);
}

TEST(RequestAuth, MissingCredentialsAre401WithAChallenge) {
  const auto denied = BasicAuth().Check(web::Get("/accountservice/test"));
  ASSERT_TRUE(denied.has_value());
  EXPECT_EQ(denied->status, 401);
  EXPECT_THAT(HeaderOf(*denied, "WWW-Authenticate"), Optional(HasSubstr("Basic realm=")));
  EXPECT_THAT(denied->body, HasSubstr("spring.security.user.name"));
}

TEST(RequestAuth, RightCredentialsPassWrongOnesDoNot) {
  const RequestAuth auth = BasicAuth();
  EXPECT_EQ(auth.Check(WithHeader(web::Get("/a/b"), "Authorization", kGoodBasic)), std::nullopt);
  EXPECT_EQ(auth.Check(WithHeader(web::Get("/a/b"), "authorization",
                                  "basic   Y29uZmlnc2VydmVyOnMzY3JldA== ")),
            std::nullopt);
  // configserver:s3creT
  EXPECT_NE(auth.Check(WithHeader(web::Get("/a/b"), "Authorization",
                                  "Basic Y29uZmlnc2VydmVyOnMzY3JlVA==")),
            std::nullopt);
  EXPECT_NE(auth.Check(WithHeader(web::Get("/a/b"), "Authorization", "Bearer abc")), std::nullopt);
  EXPECT_NE(auth.Check(WithHeader(web::Get("/a/b"), "Authorization", "Basic")), std::nullopt);
}

TEST(RequestAuth, HmacMatchesGithubsDocumentedExample) {
  // docs.github.com, "Validating webhook deliveries": secret "It's a Secret to Everybody",
  // payload "Hello, World!".
  EXPECT_EQ(HmacSha256Hex("It's a Secret to Everybody", "Hello, World!"),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
}

TEST(RequestAuth, WebhookSignatureRightWrongAndMissing) {
  const RequestAuth auth{{.basic = std::nullopt, .webhook_secret = "hook-secret"}};
  const std::string body = R"({"commits":[{"modified":["accountservice-test.yml"]}]})";
  const web::Request request = web::Post("/monitor", body);

  EXPECT_EQ(auth.CheckWebhook(WithHeader(request, "X-Hub-Signature-256",
                                         "sha256=" + HmacSha256Hex("hook-secret", body))),
            std::nullopt);

  const auto wrong = auth.CheckWebhook(
      WithHeader(request, "X-Hub-Signature-256", "sha256=" + HmacSha256Hex("other", body)));
  ASSERT_TRUE(wrong.has_value());
  EXPECT_EQ(wrong->status, 401);
  EXPECT_THAT(wrong->body, HasSubstr("does not match"));

  const auto missing = auth.CheckWebhook(request);
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status, 401);
  EXPECT_THAT(missing->body, HasSubstr("X-Hub-Signature-256"));

  // A signature of another body does not carry over.
  EXPECT_NE(auth.CheckWebhook(WithHeader(web::Post("/monitor", body + " "), "X-Hub-Signature-256",
                                         "sha256=" + HmacSha256Hex("hook-secret", body))),
            std::nullopt);
}

TEST(RequestAuth, GitlabTokenIsCompared) {
  const RequestAuth auth{{.basic = std::nullopt, .webhook_secret = "hook-secret"}};
  const web::Request request = web::Post("/monitor", "{}");
  EXPECT_EQ(auth.CheckWebhook(WithHeader(request, "X-Gitlab-Token", "hook-secret")), std::nullopt);
  EXPECT_NE(auth.CheckWebhook(WithHeader(request, "X-Gitlab-Token", "hook-secreT")), std::nullopt);
}

TEST(RequestAuth, WithBothAWrongSignatureIsRefusedEvenWithBasicCredentials) {
  const RequestAuth auth{{.basic = BasicCredentials{.user = "configserver", .password = "s3cret"},
                          .webhook_secret = "hook-secret"}};
  const web::Request operator_post =
      WithHeader(web::Post("/monitor", "path=a.yml"), "Authorization", kGoodBasic);
  EXPECT_EQ(auth.CheckWebhook(operator_post), std::nullopt);
  EXPECT_NE(auth.CheckWebhook(WithHeader(operator_post, "X-Hub-Signature-256", "sha256=00")),
            std::nullopt);
  EXPECT_NE(auth.CheckWebhook(web::Post("/monitor", "path=a.yml")), std::nullopt);
}

TEST(RequestAuth, ConstantTimeEqualsComparesContentsAndLengths) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

}  // namespace
}  // namespace cppblog::configserver

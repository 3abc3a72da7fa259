#include "cppblog/web/response.hpp"

#include <string>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace cppblog::web {
namespace {

TEST(Response, JsonKeepsBodyAndType) {
  const Response response = Response::Json(201, R"({"id":"1"})");

  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(response.body, R"({"id":"1"})");
}

TEST(Response, TextIsPlain) {
  const Response response = Response::Text(200, "OK");

  EXPECT_EQ(response.content_type, "text/plain");
  EXPECT_EQ(response.body, "OK");
}

TEST(Response, ErrorEscapesMessage) {
  const Response response = Response::Error(400, "a \"b\"\\\n\x01");

  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.content_type, "application/json");
  const auto parsed = boost::json::parse(response.body);
  EXPECT_EQ(parsed.at("error").as_string(), "a \"b\"\\\n\x01");
}

TEST(Response, ErrorEchoingInvalidUtf8IsStillValidJson) {
  // A path segment like /accounts/%FF%00 decodes to bytes that are not UTF-8.
  const Response response = Response::Error(404, std::string("no account \xff\0\xc3", 14));

  boost::system::error_code ec;
  const auto parsed = boost::json::parse(response.body, ec);
  ASSERT_FALSE(ec) << ec.message() << ": " << response.body;
  EXPECT_EQ(parsed.at("error").as_string(),
            std::string("no account \xef\xbf\xbd\0\xef\xbf\xbd", 18));
}

TEST(Response, ErrorBodyIsCompact) {
  EXPECT_EQ(Response::Error(404, "no account 7").body, R"({"error":"no account 7"})");
}

}  // namespace
}  // namespace cppblog::web

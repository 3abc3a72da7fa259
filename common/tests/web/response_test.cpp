#include "cppblog/web/response.hpp"

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

TEST(Response, ErrorBodyIsCompact) {
  EXPECT_EQ(Response::Error(404, "no account 7").body, R"({"error":"no account 7"})");
}

}  // namespace
}  // namespace cppblog::web

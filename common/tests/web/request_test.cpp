#include "cppblog/web/request.hpp"

#include <gtest/gtest.h>

#include "cppblog/web/http_error.hpp"

namespace cppblog::web {
namespace {

TEST(Request, MakeRequestSplitsPathAndQuery) {
  const Request request = Get("/accounts/10000?x=1&y=%20");

  EXPECT_EQ(request.method, Method::kGet);
  EXPECT_EQ(request.path, "/accounts/10000");
  EXPECT_EQ(request.query, "x=1&y=%20");
}

TEST(Request, MakeRequestPercentDecodesPath) { EXPECT_EQ(Get("/a%2Fb%41").path, "/a/bA"); }

TEST(Request, MakeRequestAcceptsAbsoluteForm) {
  const Request request = Get("http://example.test:8080/health?x");

  EXPECT_EQ(request.path, "/health");
  EXPECT_EQ(request.query, "x");
}

TEST(Request, MakeRequestRejectsMalformedTargets) {
  EXPECT_THROW((void)Get("/a%2"), BadRequest);
  EXPECT_THROW((void)Get("/a%zz"), BadRequest);
  EXPECT_THROW((void)Get("relative"), BadRequest);
  EXPECT_THROW((void)Get(""), BadRequest);
}

TEST(Request, PostKeepsBody) {
  const Request request = Post("/x", "{\"a\":1}");

  EXPECT_EQ(request.method, Method::kPost);
  EXPECT_EQ(request.body, "{\"a\":1}");
}

TEST(Request, HeaderIsCaseInsensitive) {
  Request request = Get("/");
  request.headers = {
      {"Content-Type", "application/json"}, {"X-Twice", "first"}, {"x-twice", "second"}};

  EXPECT_EQ(request.Header("content-type"), "application/json");
  EXPECT_EQ(request.Header("X-TWICE"), "first");
  EXPECT_FALSE(request.Header("Accept").has_value());
}

TEST(Request, MissingPathParamIsEmpty) {
  Request request = Get("/");
  request.path_params.emplace("id", "7");

  EXPECT_EQ(request.PathParam("id"), "7");
  EXPECT_EQ(request.PathParam("other"), "");
}

TEST(Request, MethodNamesAreWireNames) {
  EXPECT_EQ(ToString(Method::kGet), "GET");
  EXPECT_EQ(ToString(Method::kDelete), "DELETE");
  EXPECT_EQ(ToString(Method::kOptions), "OPTIONS");
  EXPECT_EQ(ToString(Method::kOther), "OTHER");
}

}  // namespace
}  // namespace cppblog::web

#include "response_head.hpp"

#include <string>

#include <gtest/gtest.h>

namespace cppblog::web::detail {
namespace {

constexpr std::string_view kDate = "Sun, 06 Nov 1994 08:49:37 GMT";

std::string Head(const Response& response, HeadOptions options = {.date = kDate}) {
  std::string out;
  FormatResponseHead(response, options, out);
  return out;
}

Response WithHeader(std::string name, std::string value) {
  Response response = Response::Text(200, "ok");
  response.headers.emplace_back(std::move(name), std::move(value));
  return response;
}

TEST(ResponseHead, KeptHttp11ResponseHasStatusTypeLengthAndDate) {
  EXPECT_EQ(Head(Response::Json(200, R"({"id":"1"})")),
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 10\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "\r\n");
}

TEST(ResponseHead, KeptHttp10ConnectionSaysKeepAlive) {
  const std::string head = Head(
      Response::Text(200, "ok"),
      {.version = HttpVersion::kHttp10, .persistence = Persistence::kKeepAlive, .date = kDate});

  EXPECT_TRUE(head.ends_with("\r\nConnection: keep-alive\r\n\r\n")) << head;
}

TEST(ResponseHead, ClosingSaysCloseInEitherVersion) {
  for (const HttpVersion version : {HttpVersion::kHttp10, HttpVersion::kHttp11}) {
    const std::string head =
        Head(Response::Text(200, "ok"),
             {.version = version, .persistence = Persistence::kClose, .date = kDate});

    EXPECT_TRUE(head.ends_with("\r\nConnection: close\r\n\r\n")) << head;
    EXPECT_EQ(head.find("keep-alive"), std::string::npos) << head;
  }
}

TEST(ResponseHead, KeptHttp11ConnectionHasNoConnectionHeader) {
  EXPECT_EQ(Head(Response::Text(200, "ok")).find("Connection"), std::string::npos);
}

TEST(ResponseHead, NoContentAndNotModifiedHaveNoTypeOrLength) {
  for (const int status : {204, 304, 101}) {
    Response response = Response::Text(status, "");
    const std::string head = Head(response);

    EXPECT_EQ(head.find("Content-Length"), std::string::npos) << head;
    EXPECT_EQ(head.find("Content-Type"), std::string::npos) << head;
    EXPECT_NE(head.find("Date: "), std::string::npos) << head;
  }
  EXPECT_TRUE(Head(Response::Text(204, "")).starts_with("HTTP/1.1 204 No Content\r\n"));
}

TEST(ResponseHead, EmptyBodyOfAnOrdinaryStatusHasLengthZero) {
  EXPECT_NE(Head(Response::Json(200, "")).find("\r\nContent-Length: 0\r\n"), std::string::npos);
}

TEST(ResponseHead, UnregisteredStatusHasReasonUnknown) {
  EXPECT_TRUE(Head(Response::Text(299, "x")).starts_with("HTTP/1.1 299 Unknown\r\n"));
}

TEST(ResponseHead, StatusOutsideThreeDigitsIsWrittenAs500WithItsBodyFramed) {
  for (const int status : {0, 42, 1000, -1}) {
    const std::string head = Head(Response::Text(status, "oops"));

    EXPECT_TRUE(head.starts_with("HTTP/1.1 500 Internal Server Error\r\n")) << head;
    // Framed, so that a kept connection stays usable: no body read until close.
    EXPECT_NE(head.find("\r\nContent-Length: 4\r\n"), std::string::npos) << head;
  }
}

TEST(ResponseHead, WireStatusKeepsThreeDigitStatuses) {
  EXPECT_EQ(WireStatus(100), 100);
  EXPECT_EQ(WireStatus(404), 404);
  EXPECT_EQ(WireStatus(999), 999);
  EXPECT_EQ(WireStatus(99), 500);
  EXPECT_EQ(WireStatus(1000), 500);
}

TEST(ResponseHead, BodyAllowedForFinalStatusesButNoContentAndNotModified) {
  EXPECT_TRUE(BodyAllowed(200));
  EXPECT_TRUE(BodyAllowed(404));
  EXPECT_TRUE(BodyAllowed(503));
  EXPECT_FALSE(BodyAllowed(204));
  EXPECT_FALSE(BodyAllowed(304));
  EXPECT_FALSE(BodyAllowed(100));
}

TEST(ResponseHead, HandlerHeadersFollowDateInTheirOrder) {
  Response response = Response::Text(405, "no");
  response.headers = {{"Allow", "GET, HEAD"}, {"Retry-After", "1"}, {"traceparent", "00-x"}};

  EXPECT_EQ(Head(response),
            "HTTP/1.1 405 Method Not Allowed\r\n"
            "Content-Type: text/plain\r\n"
            "Content-Length: 2\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Allow: GET, HEAD\r\n"
            "Retry-After: 1\r\n"
            "traceparent: 00-x\r\n"
            "\r\n");
}

TEST(ResponseHead, ValueWithALineBreakIsDroppedSoNoHeaderCanBeInjected) {
  for (const std::string value :
       {"a\r\nSet-Cookie: s=1", "a\nSet-Cookie: s=1", "a\rSet-Cookie: s=1"}) {
    const std::string head = Head(WithHeader("X-Echo", value));

    EXPECT_EQ(head.find("X-Echo"), std::string::npos) << head;
    EXPECT_EQ(head.find("Set-Cookie"), std::string::npos) << head;
    EXPECT_EQ(head.find("\r\n\r\n"), head.size() - 4) << head;
  }
}

TEST(ResponseHead, ValueWithNulIsDropped) {
  EXPECT_EQ(Head(WithHeader("X-Echo", std::string("a\0b", 3))).find("X-Echo"), std::string::npos);
}

TEST(ResponseHead, NameThatIsNotATokenIsDropped) {
  for (const std::string name : {"", "Bad Name", "X-A:B", "X\r\nY", "X\nY", "(x)"}) {
    const std::string head = Head(WithHeader(name, "v"));

    EXPECT_EQ(head, Head(Response::Text(200, "ok"))) << "name: " << name;
  }
}

TEST(ResponseHead, TokenNamesAndOrdinaryValuesAreKept) {
  const std::string head = Head(WithHeader("X-a.b_c~1!", "text; q=\"1\", \t tabs too"));

  EXPECT_NE(head.find("\r\nX-a.b_c~1!: text; q=\"1\", \t tabs too\r\n"), std::string::npos) << head;
}

TEST(ResponseHead, FramingHeadersOfAHandlerAreDroppedForTheServers) {
  Response response = Response::Text(200, "ok");
  response.headers = {{"Content-Length", "99"},
                      {"transfer-encoding", "chunked"},
                      {"CONNECTION", "keep-alive"},
                      {"Date", "yesterday"},
                      {"X-Kept", "1"}};
  const std::string head = Head(response);

  EXPECT_EQ(head,
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/plain\r\n"
            "Content-Length: 2\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "X-Kept: 1\r\n"
            "\r\n");
}

TEST(ResponseHead, ContentTypeWithALineBreakIsDroppedAndTheBodyStillFramed) {
  Response response = Response::Text(200, "ok");
  response.content_type = "text/html\r\nSet-Cookie: s=1";
  const std::string head = Head(response);

  EXPECT_EQ(head.find("Content-Type"), std::string::npos) << head;
  EXPECT_EQ(head.find("Set-Cookie"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nContent-Length: 2\r\n"), std::string::npos) << head;
}

TEST(ResponseHead, EmptyContentTypeIsLeftOut) {
  Response response = Response::Text(200, "ok");
  response.content_type.clear();

  EXPECT_EQ(Head(response).find("Content-Type"), std::string::npos);
}

TEST(ResponseHead, OutputIsReplacedNotAppended) {
  std::string out = "left over from the previous response";
  FormatResponseHead(Response::Text(200, "ok"), {.date = kDate}, out);

  EXPECT_TRUE(out.starts_with("HTTP/1.1 200 OK\r\n")) << out;
}

TEST(FormatClosingResponse, IsAClosingHeadWithItsBody) {
  Response response = Response::Error(503, "too many connections; retry later");
  response.headers.emplace_back("Retry-After", "1");

  const std::string wire = FormatClosingResponse(response);

  EXPECT_TRUE(
      wire.starts_with("HTTP/1.1 503 Service Unavailable\r\n"
                       "Content-Type: application/json\r\n"
                       "Content-Length: 45\r\n"
                       "Date: "))
      << wire;
  EXPECT_TRUE(
      wire.ends_with(" GMT\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
                     "{\"error\":\"too many connections; retry later\"}"))
      << wire;
}

TEST(FormatClosingResponse, LeavesOutTheBodyOfANoContentAnswer) {
  EXPECT_TRUE(FormatClosingResponse(Response::Text(204, "not sent")).ends_with("\r\n\r\n"));
}

TEST(FormatHttpDate, IsAnImfFixdateInUtc) {
  EXPECT_EQ(FormatHttpDate(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(FormatHttpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(FormatHttpDate(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
}

}  // namespace
}  // namespace cppblog::web::detail

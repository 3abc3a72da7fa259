#include "cppblog/web/router.hpp"

#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "cppblog/web/http_error.hpp"

namespace cppblog::web {
namespace {

Handler Answer(std::string body) {
  return [body = std::move(body)](const Request&) { return Response::Text(200, body); };
}

std::string ErrorMessage(const Response& response) {
  return std::string(boost::json::parse(response.body).at("error").as_string());
}

std::string HeaderOf(const Response& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return {};
}

TEST(Router, PathParameterIsFilled) {
  Router router;
  router.Get("/accounts/{accountId}", [](const Request& request) {
    return Response::Text(200, std::string(request.PathParam("accountId")));
  });

  const Response response = router.Dispatch(Get("/accounts/10000"));

  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "10000");
}

TEST(Router, SeveralParametersAreFilledInOrder) {
  Router router;
  router.Get("/a/{first}/b/{second}", [](const Request& request) {
    return Response::Text(200, std::string(request.PathParam("first")) + "," +
                                   std::string(request.PathParam("second")));
  });

  EXPECT_EQ(router.Dispatch(Get("/a/1/b/2")).body, "1,2");
}

TEST(Router, PathParameterIsPercentDecoded) {
  Router router;
  router.Get("/names/{name}", [](const Request& request) {
    return Response::Text(200, std::string(request.PathParam("name")));
  });

  EXPECT_EQ(router.Dispatch(Get("/names/a%20b")).body, "a b");
}

TEST(Router, LiteralSegmentBeatsParameter) {
  Router router;
  router.Get("/accounts/{accountId}", Answer("param"));
  router.Get("/accounts/special", Answer("literal"));

  EXPECT_EQ(router.Dispatch(Get("/accounts/special")).body, "literal");
  EXPECT_EQ(router.Dispatch(Get("/accounts/other")).body, "param");
}

TEST(Router, LiteralPrefixFallsBackToParameterRoute) {
  Router router;
  router.Get("/a/b/c", Answer("literal"));
  router.Get("/a/{x}/d", Answer("param"));

  EXPECT_EQ(router.Dispatch(Get("/a/b/d")).body, "param");
}

TEST(Router, ParameterDoesNotMatchEmptySegment) {
  Router router;
  router.Get("/accounts/{accountId}", Answer("param"));

  EXPECT_EQ(router.Dispatch(Get("/accounts/")).status, 404);
}

TEST(Router, ParameterMatchesOneSegmentOnly) {
  Router router;
  router.Get("/accounts/{accountId}", Answer("param"));

  EXPECT_EQ(router.Dispatch(Get("/accounts/1/2")).status, 404);
}

TEST(Router, RootRouteMatchesOnlyRoot) {
  Router router;
  router.Get("/", Answer("root"));

  EXPECT_EQ(router.Dispatch(Get("/")).body, "root");
  EXPECT_EQ(router.Dispatch(Get("/x")).status, 404);
}

TEST(Router, QueryIsNotPartOfThePath) {
  Router router;
  router.Get("/health", [](const Request& request) { return Response::Text(200, request.query); });

  EXPECT_EQ(router.Dispatch(Get("/health?verbose=1")).body, "verbose=1");
}

TEST(Router, UnknownPathIsNotFoundAsJson) {
  Router router;
  router.Get("/health", Answer("ok"));

  const Response response = router.Dispatch(Get("/nothing"));

  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_NE(ErrorMessage(response).find("/nothing"), std::string::npos);
}

TEST(Router, OtherMethodIsNotAllowedWithAllowHeader) {
  Router router;
  router.Get("/accounts/{accountId}", Answer("get"));
  router.Add(Method::kDelete, "/accounts/{accountId}", Answer("delete"));

  const Response response = router.Dispatch(Post("/accounts/1", "{}"));

  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(HeaderOf(response, "Allow"), "GET, HEAD, DELETE");
  EXPECT_FALSE(ErrorMessage(response).empty());
}

TEST(Router, AllowListsMethodsOfEveryMatchingRoute) {
  Router router;
  router.Get("/items/{id}", Answer("get"));
  router.Post("/items/new", Answer("post"));

  const Response response = router.Dispatch(MakeRequest(Method::kPut, "/items/new"));

  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(HeaderOf(response, "Allow"), "GET, HEAD, POST");
}

TEST(Router, MethodMismatchOnLiteralFallsBackToParameterRoute) {
  Router router;
  router.Get("/items/{id}", Answer("get"));
  router.Post("/items/new", Answer("post"));

  EXPECT_EQ(router.Dispatch(Get("/items/new")).body, "get");
}

TEST(Router, HeadIsServedByGetHandler) {
  Router router;
  router.Get("/health", Answer("UP"));

  const Response response = router.Dispatch(MakeRequest(Method::kHead, "/health"));

  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "UP");  // the server sends its length, not the body
}

TEST(Router, ExplicitHeadHandlerWinsOverGet) {
  Router router;
  router.Get("/x", Answer("get"));
  router.Add(Method::kHead, "/x", Answer("head"));

  EXPECT_EQ(router.Dispatch(MakeRequest(Method::kHead, "/x")).body, "head");
}

TEST(Router, UnknownMethodIsNotAllowed) {
  Router router;
  router.Get("/x", Answer("get"));

  EXPECT_EQ(router.Dispatch(MakeRequest(Method::kOther, "/x")).status, 405);
}

TEST(Router, HttpErrorBecomesItsStatus) {
  Router router;
  router.Get("/accounts/{accountId}",
             [](const Request&) -> Response { throw BadRequest("accountId must be digits"); });

  const Response response = router.Dispatch(Get("/accounts/abc"));

  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(ErrorMessage(response), "accountId must be digits");
}

TEST(Router, NotFoundErrorBecomes404) {
  Router router;
  router.Get("/accounts/{accountId}",
             [](const Request&) -> Response { throw NotFound("no account 1"); });

  EXPECT_EQ(router.Dispatch(Get("/accounts/1")).status, 404);
}

TEST(Router, OtherExceptionBecomesGeneric500) {
  Router router;
  router.Get("/boom", [](const Request&) -> Response {
    throw std::runtime_error("secret detail: password=hunter2");
  });

  const Response response = router.Dispatch(Get("/boom"));

  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(ErrorMessage(response), "internal server error");
}

TEST(Router, NonStandardExceptionBecomes500) {
  Router router;
  router.Get("/boom", [](const Request&) -> Response { throw 42; });

  EXPECT_EQ(router.Dispatch(Get("/boom")).status, 500);
}

TEST(Router, ErrorMessageIsJsonEscaped) {
  Router router;
  router.Get("/x",
             [](const Request&) -> Response { throw BadRequest("bad \"quote\" \\ and\nnewline"); });

  const Response response = router.Dispatch(Get("/x"));

  EXPECT_EQ(ErrorMessage(response), "bad \"quote\" \\ and\nnewline");
}

TEST(Router, DuplicateRouteIsRejected) {
  Router router;
  router.Get("/x/{id}", Answer("a"));

  EXPECT_THROW(router.Get("/x/{id}", Answer("b")), std::invalid_argument);
}

TEST(Router, MalformedPatternsAreRejected) {
  Router router;
  EXPECT_THROW(router.Get("no-slash", Answer("a")), std::invalid_argument);
  EXPECT_THROW(router.Get("/a/{}", Answer("a")), std::invalid_argument);
  EXPECT_THROW(router.Get("/a/x{id}", Answer("a")), std::invalid_argument);
  EXPECT_THROW(router.Get("/a/{id}/{id}", Answer("a")), std::invalid_argument);
  EXPECT_THROW(router.Get("/a", Handler{}), std::invalid_argument);
}

TEST(Router, MovedRouterStillDispatches) {
  Router first;
  first.Get("/x", Answer("moved"));
  Router second = std::move(first);

  EXPECT_EQ(second.Dispatch(Get("/x")).body, "moved");
}

TEST(Router, PlainRouteAnswersTheResponderBeforeDispatchReturns) {
  Router router;
  router.Get("/x", Answer("plain"));
  std::optional<Response> answered;

  router.Dispatch(Get("/x"), Responder{[&answered](Response response) { answered = response; }});

  ASSERT_TRUE(answered.has_value());
  EXPECT_EQ(answered->body, "plain");
}

TEST(Router, AsyncRouteIsAnsweredFromAnotherThread) {
  Router router;
  std::jthread worker;
  router.GetAsync("/accounts/{accountId}", [&worker](const Request& request, Responder& responder) {
    worker = std::jthread{[id = std::string(request.PathParam("accountId")),
                           responder = std::move(responder)]() mutable {
      responder.Send(Response::Text(200, "later " + id));
    }};
  });

  const Response response = router.Dispatch(Get("/accounts/10000"));

  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "later 10000");
}

TEST(Router, AsyncHandlerMayAnswerAtOnce) {
  Router router;
  router.GetAsync("/x", [](const Request&, Responder& responder) {
    responder.Send(Response::Text(201, "now"));
  });
  std::optional<Response> answered;

  router.Dispatch(Get("/x"), Responder{[&answered](Response response) { answered = response; }});

  ASSERT_TRUE(answered.has_value());
  EXPECT_EQ(answered->status, 201);
}

TEST(Router, HttpErrorFromAsyncHandlerBecomesItsStatus) {
  Router router;
  router.GetAsync("/accounts/{accountId}",
                  [](const Request&, Responder&) { throw NotFound("no account with id 1"); });

  const Response response = router.Dispatch(Get("/accounts/1"));

  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(ErrorMessage(response), "no account with id 1");
}

TEST(Router, OtherExceptionFromAsyncHandlerBecomesGeneric500) {
  Router router;
  router.GetAsync("/boom", [](const Request&, Responder&) {
    throw std::runtime_error("secret detail: password=hunter2");
  });

  const Response response = router.Dispatch(Get("/boom"));

  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(ErrorMessage(response), "internal server error");
}

TEST(Router, AsyncHandlerReturningWithoutAnsweringGets500) {
  Router router;
  router.GetAsync("/forgot", [](const Request&, Responder&) {});

  EXPECT_EQ(router.Dispatch(Get("/forgot")).status, 500);
}

TEST(Router, ResponderDroppedOnAnotherThreadAnswers500) {
  Router router;
  std::jthread worker;
  router.GetAsync("/dropped", [&worker](const Request&, Responder& responder) {
    worker = std::jthread{[responder = std::move(responder)] {}};
  });

  const Response response = router.Dispatch(Get("/dropped"));

  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(ErrorMessage(response), "internal server error");
}

TEST(Router, ExceptionAfterHandOffLeavesTheAnswerToTheHolder) {
  Router router;
  std::optional<Responder> kept;
  router.GetAsync("/x", [&kept](const Request&, Responder& responder) {
    kept.emplace(std::move(responder));
    throw BadRequest("too late to matter");
  });
  std::optional<Response> answered;

  router.Dispatch(Get("/x"), Responder{[&answered](Response response) { answered = response; }});
  EXPECT_FALSE(answered.has_value());
  kept->Send(Response::Text(200, "from the holder"));

  ASSERT_TRUE(answered.has_value());
  EXPECT_EQ(answered->status, 200);
}

TEST(Router, ResponderAnswersOnlyOnce) {
  int answers = 0;
  Responder responder{[&answers](Response) { ++answers; }};

  responder.Send(Response::Text(200, "once"));

  EXPECT_FALSE(responder.IsPending());
  EXPECT_THROW(responder.Send(Response::Text(200, "twice")), std::logic_error);
  EXPECT_EQ(answers, 1);
}

TEST(Router, MovedFromResponderDoesNotAnswer) {
  std::vector<int> statuses;
  {
    Responder first{[&statuses](Response response) { statuses.push_back(response.status); }};
    Responder second = std::move(first);
    second.Send(Response::Text(204, ""));
  }

  EXPECT_EQ(statuses, std::vector<int>{204});
}

TEST(Router, EmptyAsyncHandlerIsRejected) {
  Router router;

  EXPECT_THROW(router.GetAsync("/a", AsyncHandler{}), std::invalid_argument);
}

TEST(Router, AsyncAndPlainRoutesOnOnePathConflict) {
  Router router;
  router.Get("/x", Answer("plain"));

  EXPECT_THROW(router.GetAsync("/x",
                               [](const Request&, Responder& responder) {
                                 responder.Send(Response::Text(200, "async"));
                               }),
               std::invalid_argument);
}

}  // namespace
}  // namespace cppblog::web

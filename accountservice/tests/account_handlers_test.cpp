#include "account_handlers.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/storage/file_writes_refused.hpp"
#include "cppblog/storage/temp_dir.hpp"
#include "cppblog/trace/trace_context.hpp"
#include "cppblog/web/request.hpp"

#include "outbox_test_support.hpp"
#include "vip_notifier.hpp"

namespace cppblog::account {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr const char* kServedBy = "10.0.0.7";

// Everything the router needs, built the way main builds it.
struct Service {
  TempDir dir;
  AccountStore accounts{dir.path()};
  health::HealthRegistry health;
  health::HealthSwitch health_switch;
  web::Router router = MakeRouterFor(*this);

  static web::Router MakeRouterFor(Service& s) {
    AddHealthChecks(s.health, s.accounts, s.health_switch);
    return MakeRouter({.accounts = s.accounts,
                       .health = s.health,
                       .health_switch = s.health_switch,
                       .served_by = kServedBy});
  }
};

TEST(AccountHandlers, KnownAccountReturnsContractJson) {
  const Service service;

  const web::Response response = service.router.Dispatch(web::Get("/accounts/10000"));

  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(response.body, R"({"id":"10000","name":"Person_0","servedBy":"10.0.0.7"})");
}

TEST(AccountHandlers, UnknownAccountReturnsNotFoundWithJsonError) {
  const Service service;

  const web::Response response = service.router.Dispatch(web::Get("/accounts/99999"));

  EXPECT_EQ(response.status, 404);
  EXPECT_NE(response.body.find("\"error\""), std::string::npos) << response.body;
}

TEST(AccountHandlers, NonDigitIdIsBadRequest) {
  const Service service;

  EXPECT_EQ(service.router.Dispatch(web::Get("/accounts/abc")).status, 400);
  EXPECT_EQ(service.router.Dispatch(web::Get("/accounts/10000x")).status, 400);
}

TEST(AccountHandlers, IdLongerThan32DigitsIsBadRequest) {
  const Service service;

  EXPECT_EQ(service.router.Dispatch(web::Get("/accounts/" + std::string(33, '1'))).status, 400);
  EXPECT_EQ(service.router.Dispatch(web::Get("/accounts/" + std::string(32, '1'))).status, 404);
}

TEST(AccountHandlers, HealthIsUpByDefault) {
  const Service service;

  const web::Response response = service.router.Dispatch(web::Get("/health"));

  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, R"({"status":"UP"})");
}

TEST(AccountHandlers, SwitchingHealthyOffMakesHealthUnavailable) {
  const Service service;

  const web::Response flip = service.router.Dispatch(web::Get("/testability/healthy/false"));
  const web::Response health = service.router.Dispatch(web::Get("/health"));

  EXPECT_EQ(flip.status, 200);
  EXPECT_EQ(health.status, 503);
  EXPECT_EQ(health.body,
            R"({"status":"Database unaccessible","reason":"healthy_switch: unusable"})");
}

TEST(AccountHandlers, SwitchingHealthyBackOnRestoresHealth) {
  const Service service;

  static_cast<void>(service.router.Dispatch(web::Get("/testability/healthy/false")));
  static_cast<void>(service.router.Dispatch(web::Get("/testability/healthy/true")));

  EXPECT_EQ(service.router.Dispatch(web::Get("/health")).status, 200);
  EXPECT_TRUE(service.health_switch.IsHealthy());
}

TEST(AccountHandlers, HealthySwitchRejectsAnythingButTrueOrFalse) {
  const Service service;

  const web::Response response = service.router.Dispatch(web::Get("/testability/healthy/maybe"));

  EXPECT_EQ(response.status, 400);
  EXPECT_TRUE(service.health_switch.IsHealthy());
}

TEST(AccountHandlers, PostToAccountIsMethodNotAllowed) {
  const Service service;

  EXPECT_EQ(service.router.Dispatch(web::Post("/accounts/10000", "{}")).status, 405);
}

// The service as main wires it with the VIP outbox and a broker in a given state.
struct VipService {
  TempDir dir;
  AccountStore accounts{dir.path()};
  metrics::Registry metrics;
  outbox::Outbox outbox{accounts.Environment(), {.metrics = &metrics}};
  VipNotifier notifier{outbox, {"10000"}};
  messaging::ConnectionState broker = messaging::ConnectionState::kRecovering;
  health::HealthRegistry health;
  health::HealthSwitch health_switch;
  web::Router router = MakeRouterFor(*this);

  static web::Router MakeRouterFor(VipService& s) {
    AddHealthChecks(s.health, s.accounts, s.health_switch);
    return MakeRouter({.accounts = s.accounts,
                       .health = s.health,
                       .health_switch = s.health_switch,
                       .served_by = kServedBy,
                       .vip_notifier = &s.notifier,
                       .broker_state = [&s] { return s.broker; }});
  }
};

TEST(AccountHandlers, VipReadIsInTheOutboxWhenAnswered) {
  const VipService service;

  const web::Response response = service.router.Dispatch(web::Get("/accounts/10000"));

  EXPECT_EQ(response.status, 200);
  EXPECT_THAT(response.body, HasSubstr(R"("id":"10000")"));
  const auto entries = service.outbox.Read(0, 10);
  ASSERT_EQ(entries.size(), 1U);
  EXPECT_THAT(entries[0].body, HasSubstr(R"({"accountId":"10000","readAt":")"));
}

std::string HeaderOf(const web::Response& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return {};
}

TEST(AccountHandlers, VipReadContinuesTheCallersTraceAndTheOutboxKeepsItsSpan) {
  const VipService service;
  web::Request request = web::Get("/accounts/10000");
  request.headers.emplace_back("traceparent",
                               "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");

  const web::Response response = service.router.Dispatch(std::move(request));

  ASSERT_EQ(response.status, 200);
  const auto span = trace::ParseTraceparent(HeaderOf(response, "traceparent"));
  ASSERT_TRUE(span.has_value()) << HeaderOf(response, "traceparent");
  EXPECT_EQ(trace::TraceIdHex(*span), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_NE(trace::SpanIdHex(*span), "00f067aa0ba902b7");  // a span of its own
  const auto entries = service.outbox.Read(0, 10);
  ASSERT_EQ(entries.size(), 1U);
  EXPECT_EQ(entries[0].traceparent, HeaderOf(response, "traceparent"));
}

TEST(AccountHandlers, VipReadPassesTheCallersTracestateOnToTheOutbox) {
  const VipService service;
  web::Request request = web::Get("/accounts/10000");
  request.headers.emplace_back("traceparent",
                               "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  request.headers.emplace_back("tracestate", "congo=t61rcWkgMzE");

  const web::Response response = service.router.Dispatch(std::move(request));

  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(HeaderOf(response, "tracestate"), "congo=t61rcWkgMzE");
  const auto entries = service.outbox.Read(0, 10);
  ASSERT_EQ(entries.size(), 1U);
  EXPECT_EQ(entries[0].traceparent, HeaderOf(response, "traceparent"));
  EXPECT_EQ(entries[0].tracestate, "congo=t61rcWkgMzE");
}

TEST(AccountHandlers, MalformedTraceparentStartsANewTrace) {
  const VipService service;
  web::Request request = web::Get("/accounts/10000");
  request.headers.emplace_back("traceparent", "00-not-a-trace-01");

  const web::Response response = service.router.Dispatch(std::move(request));

  ASSERT_EQ(response.status, 200);
  const auto span = trace::ParseTraceparent(HeaderOf(response, "traceparent"));
  ASSERT_TRUE(span.has_value());
  EXPECT_EQ(service.outbox.Read(0, 10).at(0).traceparent, HeaderOf(response, "traceparent"));
}

TEST(AccountHandlers, VipReadIsAnsweredByTheOutboxWriterAfterTheCommit) {
  const VipService service;
  struct Answer {
    int status = 0;
    std::thread::id thread;
    std::uint64_t appended = 0;  // outbox entries committed when it was answered
  };
  std::promise<Answer> answered;

  service.router.Dispatch(web::Get("/accounts/10000"), web::Responder{[&](web::Response response) {
                            answered.set_value({.status = response.status,
                                                .thread = std::this_thread::get_id(),
                                                .appended = Appended(service.metrics)});
                          }});

  auto result = answered.get_future();
  ASSERT_EQ(result.wait_for(std::chrono::seconds{10}), std::future_status::ready);
  const Answer answer = result.get();
  EXPECT_EQ(answer.status, 200);
  EXPECT_NE(answer.thread, std::this_thread::get_id());  // no HTTP thread waited for it
  EXPECT_EQ(answer.appended, 1U);
}

TEST(AccountHandlers, PlainReadIsAnsweredAtOnce) {
  const VipService service;
  std::optional<web::Response> answered;

  service.router.Dispatch(
      web::Get("/accounts/10001"),
      web::Responder{[&answered](web::Response response) { answered = std::move(response); }});

  ASSERT_TRUE(answered.has_value());
  EXPECT_EQ(answered->status, 200);
}

TEST(AccountHandlers, VipReadWhoseNotificationCannotBeStoredIs503WithRetryAfter) {
  VipService service;
  BreakOutboxAppends(service.accounts);

  const web::Response response = service.router.Dispatch(web::Get("/accounts/10000"));

  EXPECT_EQ(response.status, 503);
  EXPECT_THAT(response.headers, Contains(Pair("Retry-After", "5")));
  EXPECT_THAT(response.body, HasSubstr("VIP notification for account 10000 could not be stored"));
  EXPECT_THAT(response.body, HasSubstr("retry in 5 s"));
  // The service goes on: a plain read still works.
  EXPECT_EQ(service.router.Dispatch(web::Get("/accounts/10001")).status, 200);
}

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// A real write failure: no file may grow past its first byte (RLIMIT_FSIZE), as on a full disk
// (the e2e test fills one). VIP reads and /health say so, and both recover by themselves.
TEST(AccountHandlers, WhileTheOutboxCannotCommitVipReadsAndHealthAre503UntilItCan) {
  VipService service;
  AddOutboxHealthCheck(service.health, service.outbox);
  service.broker = messaging::ConnectionState::kConnected;
  FileWritesRefused refused;

  const web::Response read = service.router.Dispatch(web::Get("/accounts/10000"));
  const web::Response health = service.router.Dispatch(web::Get("/health"));
  refused.Lift();
  // No request needed: the outbox's probe finds that it can commit again.
  const bool recovered =
      WaitUntil([&] { return service.outbox.Status().writable; }, std::chrono::seconds{10});
  const web::Response read_after = service.router.Dispatch(web::Get("/accounts/10000"));
  const web::Response health_after = service.router.Dispatch(web::Get("/health"));

  EXPECT_EQ(read.status, 503);
  EXPECT_THAT(read.headers, Contains(Pair("Retry-After", "5")));
  EXPECT_EQ(health.status, 503);
  EXPECT_THAT(health.body, HasSubstr(R"("status":"Database unaccessible")"));
  EXPECT_THAT(health.body, HasSubstr("outbox: outbox in " + service.dir.path().string()));
  EXPECT_THAT(health.body, HasSubstr("File too large"));
  EXPECT_TRUE(recovered);
  EXPECT_EQ(read_after.status, 200);
  EXPECT_EQ(health_after.status, 200);
  EXPECT_EQ(service.outbox.Size(), 1U);  // only the read that was answered
}

TEST(AccountHandlers, PlainAndUnknownReadsAddNothingToTheOutbox) {
  const VipService service;

  EXPECT_EQ(service.router.Dispatch(web::Get("/accounts/10001")).status, 200);
  EXPECT_EQ(service.router.Dispatch(web::Get("/accounts/99999")).status, 404);

  EXPECT_EQ(service.outbox.Size(), 0U);
}

TEST(AccountHandlers, HealthStaysUpAndShowsTheBrokerState) {
  VipService service;

  const web::Response recovering = service.router.Dispatch(web::Get("/health"));
  service.broker = messaging::ConnectionState::kConnected;
  const web::Response connected = service.router.Dispatch(web::Get("/health"));

  EXPECT_EQ(recovering.status, 200);
  EXPECT_EQ(recovering.body, R"({"status":"UP","broker":"recovering"})");
  EXPECT_EQ(connected.body, R"({"status":"UP","broker":"connected"})");
}

}  // namespace
}  // namespace cppblog::account

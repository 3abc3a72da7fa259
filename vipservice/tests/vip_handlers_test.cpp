#include "vip_handlers.hpp"

#include <atomic>
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "cppblog/storage/temp_dir.hpp"
#include "cppblog/web/request.hpp"

#include "lmdb_offer_store.hpp"

namespace cppblog::vipservice {
namespace {

using namespace std::chrono_literals;
using std::chrono::system_clock;

const system_clock::time_point kReadAt =
    system_clock::time_point{} + std::chrono::seconds{1'487'189'187} + 33'757'223ns;

// Everything the router needs, built the way main builds it, with a broker state to set.
struct Service {
  TempDir dir;
  LmdbOfferStore offers{dir.path()};
  std::atomic<messaging::ConnectionState> broker{messaging::ConnectionState::kConnected};
  SubscriptionStatus subscription;
  health::HealthRegistry health;
  web::Router router = MakeRouterFor(*this);

  static web::Router MakeRouterFor(Service& s) {
    AddHealthChecks(
        s.health, s.offers, [&s] { return s.broker.load(); }, s.subscription);
    return MakeRouter({.offers = s.offers, .health = s.health});
  }
};

TEST(VipHandlers, OffersOfAnAccountAsJson) {
  Service service;
  ASSERT_EQ(
      service.offers.Process("m1", {.account_id = "10000", .read_at = kReadAt}, kReadAt + 1s, 0ms),
      ProcessResult::kOffered);

  const web::Response response = service.router.Dispatch(web::Get("/offers/10000"));

  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(response.body, R"([{"accountId":"10000","messageId":"m1",)"
                           R"("readAt":"2017-02-15 20:06:27.033757223 +0000 UTC",)"
                           R"("offeredAt":"2017-02-15 20:06:28.033757223 +0000 UTC"}])");
}

TEST(VipHandlers, AnOfferShowsTheTraceIdItRecorded) {
  Service service;
  ASSERT_EQ(service.offers.Process("m1", {.account_id = "10000", .read_at = kReadAt}, kReadAt, 0ms,
                                   "4bf92f3577b34da6a3ce929d0e0e4736"),
            ProcessResult::kOffered);

  const web::Response response = service.router.Dispatch(web::Get("/offers/10000"));

  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, R"([{"accountId":"10000","messageId":"m1",)"
                           R"("readAt":"2017-02-15 20:06:27.033757223 +0000 UTC",)"
                           R"("offeredAt":"2017-02-15 20:06:27.033757223 +0000 UTC",)"
                           R"("traceId":"4bf92f3577b34da6a3ce929d0e0e4736"}])");
}

TEST(VipHandlers, AccountWithoutOffersIsAnEmptyList) {
  const Service service;

  const web::Response response = service.router.Dispatch(web::Get("/offers/10001"));

  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "[]");
}

TEST(VipHandlers, OverlongAccountIdIsBadRequest) {
  const Service service;

  EXPECT_EQ(service.router.Dispatch(web::Get("/offers/" + std::string(129, '1'))).status, 400);
}

TEST(VipHandlers, HealthIsPlainOkWhenEverythingWorks) {
  Service service;
  service.subscription.SetActive();

  const web::Response response = service.router.Dispatch(web::Get("/health"));

  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "text/plain");
  EXPECT_EQ(response.body, "OK");
}

TEST(VipHandlers, HealthNamesTheBrokerStateWhenNotConnected) {
  Service service;
  service.subscription.SetActive();
  service.broker = messaging::ConnectionState::kRecovering;

  const web::Response response = service.router.Dispatch(web::Get("/health"));

  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.content_type, "text/plain");
  EXPECT_EQ(response.body, "broker: recovering");
}

TEST(VipHandlers, HealthIsUnavailableUntilConsuming) {
  const Service service;

  const web::Response response = service.router.Dispatch(web::Get("/health"));

  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.body, "consumer: not consuming yet");
}

}  // namespace
}  // namespace cppblog::vipservice

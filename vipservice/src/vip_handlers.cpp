#include "vip_handlers.hpp"

#include <memory>
#include <string_view>
#include <utility>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "cppblog/text/escape.hpp"
#include "cppblog/vip/vip_notification.hpp"
#include "cppblog/web/http_error.hpp"

namespace cppblog::vipservice {

void AddHealthChecks(health::HealthRegistry& health, const OfferStore& offers,
                     std::function<messaging::ConnectionState()> broker_state,
                     const SubscriptionStatus& subscription,
                     std::function<std::string()> broker_node) {
  // A store that cannot be used throws; the registry reports the exception's message.
  health.Add("store", std::function<bool()>{[&offers] {
               offers.Ping();
               return true;
             }});
  health.Add("broker", health::HealthRegistry::Check{[state = std::move(broker_state),
                                                      node = std::move(broker_node)] {
               const messaging::ConnectionState now = state();
               std::string detail = messaging::ToString(now);
               if (node) detail += ", node " + node();
               return health::CheckResult{.healthy = now == messaging::ConnectionState::kConnected,
                                          .detail = std::move(detail)};
             }});
  health.Add("consumer", health::HealthRegistry::Check{[&subscription] {
               const bool active = subscription.IsActive();
               return health::CheckResult{.healthy = active,
                                          .detail = active ? "consuming" : "not consuming yet"};
             }});
}

std::string ToJson(const std::vector<Offer>& offers) {
  boost::json::array array;
  array.reserve(offers.size());
  for (const Offer& offer : offers) {
    boost::json::object object;
    // Both came in a message, in any bytes; Boost.JSON writes strings as they are.
    object.emplace("accountId", text::ToValidUtf8(offer.account_id));
    object.emplace("messageId", text::ToValidUtf8(offer.message_id));
    object.emplace("readAt", vip::FormatGoTime(offer.read_at));
    object.emplace("offeredAt", vip::FormatGoTime(offer.offered_at));
    // The W3C trace that yielded the offer; absent when its message carried none.
    if (!offer.trace_id.empty()) object.emplace("traceId", offer.trace_id);
    array.emplace_back(std::move(object));
  }
  return boost::json::serialize(array);
}

web::Router MakeRouter(HandlerDependencies dependencies) {
  // Shared by the handlers; the router lives as long as the server.
  const auto shared = std::make_shared<const HandlerDependencies>(std::move(dependencies));
  web::Router router;

  router.Get("/offers/{accountId}", [shared](const web::Request& request) {
    const std::string_view id = request.PathParam("accountId");
    if (id.size() > vip::kMaxAccountIdBytes) {
      throw web::BadRequest("account id must be at most " +
                            std::to_string(vip::kMaxAccountIdBytes) + " bytes");
    }
    return web::Response::Json(200, ToJson(shared->offers.OffersFor(id)));
  });

  router.Get("/health", [shared](const web::Request&) {
    const health::HealthReport report = shared->health.Run();
    if (report.healthy) return web::Response::Text(200, "OK");
    std::string body;
    for (const auto& [name, result] : report.checks) {
      if (result.healthy) continue;
      if (!body.empty()) body += "; ";
      body += name + ": " + (result.detail.empty() ? "unusable" : result.detail);
    }
    spdlog::debug("health: {}", body);
    return web::Response::Text(503, body);
  });

  return router;
}

}  // namespace cppblog::vipservice

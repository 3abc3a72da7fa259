#include "account_handlers.hpp"

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include <spdlog/spdlog.h>

#include "cppblog/logging/logging.hpp"
#include "cppblog/text/escape.hpp"
#include "cppblog/trace/trace_context.hpp"
#include "cppblog/web/http_error.hpp"

namespace cppblog::account {
namespace {

constexpr std::size_t kMaxIdDigits = 32;

bool IsAccountId(std::string_view id) {
  return !id.empty() && id.size() <= kMaxIdDigits &&
         id.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

void AddHealthChecks(health::HealthRegistry& health, const AccountStore& accounts,
                     const health::HealthSwitch& health_switch) {
  health.Add("accounts", std::function<bool()>{[&accounts] { return accounts.IsOpen(); }});
  health.Add("healthy_switch",
             std::function<bool()>{[&health_switch] { return health_switch.IsHealthy(); }});
}

void AddOutboxHealthCheck(health::HealthRegistry& health, const outbox::Outbox& outbox) {
  health.Add(
      "outbox", health::HealthRegistry::Check{[&outbox] {
        const outbox::Outbox::WriteStatus status = outbox.Status();
        if (status.writable) return health::CheckResult{};
        return health::CheckResult{
            .healthy = false,
            .detail =
                status.error + " (for " +
                std::to_string(
                    std::chrono::duration_cast<std::chrono::seconds>(status.failing_for).count()) +
                " s; VIP reads answer 503)"};
      }});
}

void AddVipQueueHealthCheck(health::HealthRegistry& health,
                            std::function<std::optional<std::string>()> refusal) {
  health.Add("vip_queue", health::HealthRegistry::Check{[refusal = std::move(refusal)] {
               std::optional<std::string> text = refusal();
               if (!text) return health::CheckResult{};
               return health::CheckResult{.healthy = false, .detail = std::move(*text)};
             }});
}

web::Router MakeRouter(HandlerDependencies dependencies) {
  // Shared by the handlers; the router lives as long as the server.
  const auto shared = std::make_shared<const HandlerDependencies>(std::move(dependencies));
  web::Router router;

  // Async only for a VIP read: it is answered once its notification is durable in the outbox,
  // and no HTTP thread waits meanwhile (the outbox's writer sends the answer). Other reads are
  // answered at once, on the I/O thread.
  router.GetAsync("/accounts/{accountId}", [shared](const web::Request& request,
                                                    web::Responder& responder) {
    const std::string_view id = request.PathParam("accountId");
    if (!IsAccountId(id)) {
      throw web::BadRequest("account id must be 1 to 32 digits");
    }
    const auto account = shared->accounts.FindAccount(id);
    if (!account) throw web::NotFound("no account with id " + std::string(id));
    web::Response response = web::Response::Json(200, ToJson(*account, shared->served_by));
    // W3C Trace Context: this read is a span of the caller's trace, or starts one (a malformed
    // header is ignored); the answer names it, and a VIP notification carries it on.
    const std::optional<trace::TraceContext> incoming = trace::ParseTraceparent(
        request.Header("traceparent").value_or(""), request.Header("tracestate").value_or(""));
    const trace::TraceContext span = incoming ? trace::ChildOf(*incoming) : trace::NewTrace();
    std::string traceparent = trace::FormatTraceparent(span);
    // What this read logs here names its span and account (the values are copied: no
    // allocation); the notifier sets them again where the outbox answers.
    const trace::TraceparentIds ids = trace::IdsOf(traceparent);
    const logging::ScopedFields log_fields(
        {.trace_id = ids.trace_id, .span_id = ids.span_id, .account_id = id});
    response.headers.emplace_back("traceparent", traceparent);
    if (!span.trace_state.empty()) response.headers.emplace_back("tracestate", span.trace_state);
    if (shared->vip_notifier == nullptr || !shared->vip_notifier->IsVip(id)) {
      return responder.Send(std::move(response));
    }
    // The outbox's callback must be copyable; the answer it owes is not.
    struct Owed {
      web::Responder responder;
      web::Response response;
      std::string account_id;
    };
    auto owed =
        std::make_shared<Owed>(Owed{std::move(responder), std::move(response), std::string(id)});
    const bool vip = shared->vip_notifier->OnAccountReadAsync(
        id, std::move(traceparent), span.trace_state, [owed](std::exception_ptr error) {
          if (!error) return owed->responder.Send(std::move(owed->response));
          // The outbox logs its failing commits once; each refused read only at debug.
          try {
            std::rethrow_exception(error);
          } catch (const std::exception& e) {
            spdlog::debug("VIP read not answered: its notification could not be stored: {}",
                          e.what());
          }
          web::Response refused = web::Response::Error(
              503, "the VIP notification for account " + owed->account_id +
                       " could not be stored (the outbox cannot write), so the read was not "
                       "served; retry in " +
                       std::to_string(kVipRetryAfterSeconds) + " s");
          refused.headers.emplace_back("Retry-After", std::to_string(kVipRetryAfterSeconds));
          owed->responder.Send(std::move(refused));
        });
    // The list changed between the two looks (live refresh): no longer a VIP, answer now.
    if (!vip) owed->responder.Send(std::move(owed->response));
  });

  router.Get("/health", [shared](const web::Request&) {
    const health::HealthReport report = shared->health.Run();
    if (report.healthy) {
      if (!shared->broker_state) return web::Response::Json(200, R"({"status":"UP"})");
      // The outbox absorbs a broker outage: its state is shown, never a failure.
      std::string body = std::string(R"({"status":"UP","broker":")") +
                         messaging::ToString(shared->broker_state()) + "\"";
      // CurrentNode() holds no character that needs escaping in JSON (NodeName).
      if (shared->broker_node) body += R"(,"broker_node":")" + shared->broker_node() + "\"";
      return web::Response::Json(200, body + "}");
    }
    std::string reason;
    for (const auto& [name, result] : report.checks) {
      if (result.healthy) continue;
      spdlog::debug("health check failed: check={} detail={}", name, result.detail);
      if (!reason.empty()) reason += "; ";
      reason += name + ": " + (result.detail.empty() ? "unusable" : result.detail);
    }
    // The contract's body, and why.
    std::string body = R"({"status":"Database unaccessible","reason":)";
    text::AppendJsonString(body, reason);
    body += '}';
    return web::Response::Json(503, std::move(body));
  });

  router.Get("/testability/healthy/{state}", [shared](const web::Request& request) {
    const std::string_view state = request.PathParam("state");
    if (state != "true" && state != "false") {
      throw web::BadRequest("state must be true or false");
    }
    const bool healthy = state == "true";
    shared->health_switch.Set(healthy);
    spdlog::info("health switch set: healthy={}", healthy);
    return web::Response::Json(200, healthy ? R"({"healthy":true})" : R"({"healthy":false})");
  });

  return router;
}

}  // namespace cppblog::account

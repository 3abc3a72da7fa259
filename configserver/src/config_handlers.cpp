#include "config_handlers.hpp"

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "cppblog/web/http_error.hpp"

#include "property_path.hpp"

namespace cppblog::configserver {
namespace {

// A boolean query parameter ("resolvePlaceholders=false"); anything but "false" is true.
bool QueryFlag(std::string_view query, std::string_view name, bool fallback) {
  for (std::size_t start = 0; start <= query.size();) {
    const std::size_t end = std::min(query.find('&', start), query.size());
    const std::string_view pair = query.substr(start, end - start);
    start = end + 1;
    if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=') {
      return pair.substr(name.size() + 1) != "false";
    }
  }
  return fallback;
}

class Handlers {
 public:
  explicit Handlers(HandlerDependencies dependencies)
      : deps_(std::move(dependencies)), auth_(deps_.auth) {}

  [[nodiscard]] const RequestAuth& Auth() const { return auth_; }

  // Open to the healthchecker; what failed (paths, errors) only for an authenticated caller.
  web::Response Health(const web::Request& request) const {
    const health::HealthReport report = deps_.health.Run();
    if (report.healthy) return web::Response::Json(200, R"({"status":"UP"})");
    if (!auth_.Authorized(request)) return web::Response::Json(503, R"({"status":"DOWN"})");
    std::string body = R"({"status":"DOWN","checks":{)";
    bool first = true;
    for (const auto& [name, result] : report.checks) {
      if (!first) body += ',';
      first = false;
      body += JsonString(name) + ":" +
              JsonString(std::string(result.healthy ? "UP" : "DOWN") +
                         (result.detail.empty() ? "" : ": " + result.detail));
    }
    body += "}}";
    return web::Response::Json(503, std::move(body));
  }

  web::Response EnvironmentJson(const std::string& application, const std::string& profiles,
                                const std::optional<std::string>& label) const {
    const Environment environment = Find(application, profiles, label);
    web::Response response = web::Response::Json(200, ToJson(environment));
    AddWarnings(response, environment);
    return response;
  }

  web::Response File(const FileRequest& file, const std::optional<std::string>& label,
                     const std::string& query) const {
    const Environment environment = Find(file.application, file.profiles, label);
    FlatProperties merged = Merge(environment);
    if (QueryFlag(query, "resolvePlaceholders", true)) ResolvePlaceholders(merged);
    web::Response response;
    switch (file.form) {
      case FileForm::kProperties:
        response = web::Response::Text(200, ToPropertiesText(merged));
        break;
      case FileForm::kYaml:
        response = web::Response::Text(200, ToNestedYaml(merged));
        break;
      case FileForm::kJson:
        response = web::Response::Json(200, ToNestedJson(merged));
        break;
    }
    AddWarnings(response, environment);
    return response;
  }

  // GET /{a}/{b}: either /{application}/{profile} or /{label}/{application}-{profile}.ext.
  web::Response TwoSegments(const web::Request& request) const {
    const std::string first{request.PathParam("first")};
    const std::string second{request.PathParam("second")};
    if (const auto file = ParseFileName(second)) return File(*file, Unslash(first), request.query);
    return EnvironmentJson(Unslash(first), second, std::nullopt);
  }

  void Monitor(const web::Request& request, web::Responder& responder) const {
    if (auto denied = auth_.CheckWebhook(request)) {
      responder.Send(std::move(*denied));
      return;
    }
    const std::vector<std::string> paths = ExtractChangedPaths(request);
    const std::vector<std::string> services = GuessServiceNames(paths);
    RequireBus("POST /monitor");
    if (services.empty()) {
      responder.Send(web::Response::Json(200, "[]"));
      return;
    }
    const std::vector<std::string> destinations = RefreshDestinations(services);
    const bool broadcast = destinations.size() == 1 && destinations.front() == "**";
    std::string body = "[";
    for (const auto& service : broadcast ? destinations : services) {
      if (body.size() > 1) body += ',';
      body += JsonString(service);
    }
    body += ']';
    spdlog::info("refresh for: {} (POST /monitor, {} changed file(s){})",
                 fmt::join(destinations, ","), paths.size(),
                 broadcast ? ", too many services named: one broadcast" : "");
    Announce(destinations, responder, web::Response::Json(200, std::move(body)));
  }

  void BusRefresh(const std::string& destination, web::Responder& responder) const {
    if (destination.size() > kMaxDestinationBytes) {
      throw web::BadRequest("the destination is " + std::to_string(destination.size()) +
                            " bytes long; at most " + std::to_string(kMaxDestinationBytes) +
                            " are accepted (e.g. accountservice, accountservice:** or **)");
    }
    RequireBus("POST /actuator/busrefresh");
    const std::string normalised = NormalizeDestination(destination);
    spdlog::info("refresh for: {} (POST /actuator/busrefresh)", normalised);
    Announce({normalised}, responder,
             web::Response{
                 .status = 204, .content_type = "application/json", .body = {}, .headers = {}});
  }

 private:
  void RequireBus(const std::string& endpoint) const {
    if (deps_.announcer == nullptr) {
      throw web::HttpError(503, endpoint +
                                    " needs the message bus, which this configserver is not "
                                    "connected to; no refresh event was sent");
    }
    if (deps_.bus_reachable && !deps_.bus_reachable()) {
      throw web::HttpError(503, endpoint +
                                    ": the message broker is not reachable now; no refresh "
                                    "event was sent; retry once it is back");
    }
  }

  // Hands the responder to the announcer: answered with `success`, or 503 with the reason,
  // from the announcer's thread.
  void Announce(std::vector<std::string> destinations, web::Responder& responder,
                web::Response success) const {
    auto pending = std::make_shared<web::Responder>(std::move(responder));
    try {
      deps_.announcer->Announce(
          std::move(destinations),
          [pending, success = std::move(success)](const std::optional<std::string>& error) {
            pending->Send(error ? web::Response::Error(503, *error) : success);
          });
    } catch (const std::exception& e) {
      spdlog::warn("refresh refused: {}", e.what());
      pending->Send(web::Response::Error(503, e.what()));
    }
  }

  Environment Find(const std::string& application, const std::string& profiles,
                   const std::optional<std::string>& label) const {
    if (label && label->size() > kMaxNameBytes) {
      throw web::BadRequest("the label is " + std::to_string(label->size()) +
                            " bytes long; at most " + std::to_string(kMaxNameBytes) +
                            " are accepted");
    }
    Environment environment;
    try {
      environment = deps_.repository.FindOne(application, profiles, label);
    } catch (const NoSuchLabelError& e) {
      throw web::NotFound(e.what());
    } catch (const InvalidRequestError& e) {
      throw web::BadRequest(e.what());
    } catch (const RepositoryError& e) {
      spdlog::error("config repository: {}", e.what());
      throw web::HttpError(500, e.what());
    }
    for (const auto& problem : environment.problems) {
      spdlog::warn("config file skipped: {} (application={} profiles={})", problem, application,
                   profiles);
    }
    if (!deps_.accept_empty && environment.property_sources.empty()) {
      throw web::NotFound("no configuration found for application '" + application +
                          "' and profiles '" + profiles + "'");
    }
    return environment;
  }

  static void AddWarnings(web::Response& response, const Environment& environment) {
    for (const auto& problem : environment.problems) {
      std::string text = problem;
      for (char& c : text) {
        if (c == '"' || c == '\r' || c == '\n') c = '\'';
      }
      response.headers.emplace_back("Warning", "199 configserver \"" + text + "\"");
    }
  }

  HandlerDependencies deps_;
  RequestAuth auth_;
};

// Every route but /health needs the Basic credentials when they are configured.
web::Handler Secured(const std::shared_ptr<const Handlers>& handlers, web::Handler handler) {
  return [handlers, handler = std::move(handler)](const web::Request& request) {
    if (auto denied = handlers->Auth().Check(request)) return std::move(*denied);
    return handler(request);
  };
}

}  // namespace

web::Router MakeRouter(HandlerDependencies dependencies) {
  // Shared by the handlers; the router lives as long as the server.
  auto handlers = std::make_shared<const Handlers>(std::move(dependencies));
  web::Router router;
  router.Get("/health",
             [handlers](const web::Request& request) { return handlers->Health(request); });
  router.Get("/actuator/health",
             [handlers](const web::Request& request) { return handlers->Health(request); });
  router.Get("/{file}", Secured(handlers, [handlers](const web::Request& request) {
               const auto file = ParseFileName(request.PathParam("file"));
               if (!file) {
                 throw web::NotFound(
                     "no such resource; ask for /{application}/{profile}[/{label}] or "
                     "/{application}-{profile}.yml|.properties|.json");
               }
               return handlers->File(*file, std::nullopt, request.query);
             }));
  router.Get("/{first}/{second}", Secured(handlers, [handlers](const web::Request& request) {
               return handlers->TwoSegments(request);
             }));
  router.Get("/{application}/{profile}/{label}",
             Secured(handlers, [handlers](const web::Request& request) {
               return handlers->EnvironmentJson(
                   Unslash(std::string(request.PathParam("application"))),
                   std::string(request.PathParam("profile")),
                   Unslash(std::string(request.PathParam("label"))));
             }));
  // The webhook authenticates itself (CheckWebhook); the others need the Basic credentials.
  router.AddAsync(web::Method::kPost, "/monitor",
                  [handlers](const web::Request& request, web::Responder& responder) {
                    handlers->Monitor(request, responder);
                  });
  router.AddAsync(web::Method::kPost, "/actuator/busrefresh",
                  [handlers](const web::Request& request, web::Responder& responder) {
                    if (auto denied = handlers->Auth().Check(request)) {
                      responder.Send(std::move(*denied));
                      return;
                    }
                    handlers->BusRefresh("", responder);
                  });
  router.AddAsync(web::Method::kPost, "/actuator/busrefresh/{destination}",
                  [handlers](const web::Request& request, web::Responder& responder) {
                    if (auto denied = handlers->Auth().Check(request)) {
                      responder.Send(std::move(*denied));
                      return;
                    }
                    handlers->BusRefresh(std::string(request.PathParam("destination")), responder);
                  });
  return router;
}

}  // namespace cppblog::configserver

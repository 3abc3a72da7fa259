#include "config_handlers.hpp"

#include <optional>
#include <regex>
#include <string>

#include <spdlog/spdlog.h>

#include "cppblog/web/http_error.hpp"

#include "property_path.hpp"

namespace cppblog::configserver {
namespace {

enum class FileForm { kYaml, kProperties, kJson };

struct FileRequest {
  std::string application;
  std::string profiles;
  FileForm form;
};

std::string Unslash(std::string_view text) {
  // "(_)" is how a '/' travels in one path segment (Spring's SLASH_PLACEHOLDER).
  std::string out;
  out.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) {
    if (text.substr(pos, 3) == "(_)") {
      out += '/';
      pos += 3;
    } else {
      out += text[pos++];
    }
  }
  return out;
}

// "{application}-{profiles}.yml" with the last '-' separating them.
std::optional<FileRequest> ParseFileName(const std::string& segment) {
  static const std::regex pattern{R"(^(.+)-([^-]+)\.(yml|yaml|properties|json)$)"};
  std::smatch match;
  if (!std::regex_match(segment, match, pattern)) return std::nullopt;
  const std::string extension = match[3];
  const FileForm form = extension == "properties" ? FileForm::kProperties
                        : extension == "json"     ? FileForm::kJson
                                                  : FileForm::kYaml;
  return FileRequest{.application = Unslash(match[1].str()), .profiles = match[2], .form = form};
}

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
  explicit Handlers(const HandlerDependencies& dependencies) : deps_(dependencies) {}

  web::Response Health() const {
    const health::HealthReport report = deps_.health.Run();
    if (report.healthy) return web::Response::Json(200, R"({"status":"UP"})");
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

  web::Response Monitor(const web::Request& request) const {
    const std::vector<std::string> paths = ExtractChangedPaths(request);
    const std::vector<std::string> services = GuessServiceNames(paths);
    RequireBus("POST /monitor");
    std::string body = "[";
    for (const auto& service : services) {
      spdlog::info("refresh for: {} (POST /monitor)", service);
      Announce(NormalizeDestination(service));
      if (body.size() > 1) body += ',';
      body += JsonString(service);
    }
    body += ']';
    return web::Response::Json(200, std::move(body));
  }

  web::Response BusRefresh(const std::string& destination) const {
    RequireBus("POST /actuator/busrefresh");
    const std::string normalised = NormalizeDestination(destination);
    spdlog::info("refresh for: {} (POST /actuator/busrefresh)", normalised);
    Announce(normalised);
    return web::Response{
        .status = 204, .content_type = "application/json", .body = {}, .headers = {}};
  }

 private:
  void RequireBus(const std::string& endpoint) const {
    if (deps_.announcer == nullptr) {
      throw web::HttpError(503, endpoint +
                                    " needs the message bus, which this configserver is not "
                                    "connected to; no refresh event was sent");
    }
  }

  void Announce(const std::string& destination) const {
    try {
      deps_.announcer->Announce(destination);
    } catch (const std::exception& e) {
      spdlog::error("refresh event for {} not published: {}", destination, e.what());
      throw web::HttpError(
          503, "the refresh event for '" + destination + "' could not be published: " + e.what());
    }
  }

  Environment Find(const std::string& application, const std::string& profiles,
                   const std::optional<std::string>& label) const {
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
};

}  // namespace

web::Router MakeRouter(const HandlerDependencies& dependencies) {
  auto handlers = std::make_shared<const Handlers>(dependencies);
  web::Router router;
  router.Get("/health", [handlers](const web::Request&) { return handlers->Health(); });
  router.Get("/actuator/health", [handlers](const web::Request&) { return handlers->Health(); });
  router.Get("/{file}", [handlers](const web::Request& request) {
    const auto file = ParseFileName(std::string(request.PathParam("file")));
    if (!file) {
      throw web::NotFound(
          "no such resource; ask for /{application}/{profile}[/{label}] or "
          "/{application}-{profile}.yml|.properties|.json");
    }
    return handlers->File(*file, std::nullopt, request.query);
  });
  router.Get("/{first}/{second}",
             [handlers](const web::Request& request) { return handlers->TwoSegments(request); });
  router.Get("/{application}/{profile}/{label}", [handlers](const web::Request& request) {
    return handlers->EnvironmentJson(Unslash(std::string(request.PathParam("application"))),
                                     std::string(request.PathParam("profile")),
                                     Unslash(std::string(request.PathParam("label"))));
  });
  router.Post("/monitor",
              [handlers](const web::Request& request) { return handlers->Monitor(request); });
  router.Post("/actuator/busrefresh",
              [handlers](const web::Request&) { return handlers->BusRefresh(""); });
  router.Post("/actuator/busrefresh/{destination}", [handlers](const web::Request& request) {
    return handlers->BusRefresh(std::string(request.PathParam("destination")));
  });
  return router;
}

}  // namespace cppblog::configserver

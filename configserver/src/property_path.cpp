#include "property_path.hpp"

#include <algorithm>
#include <unordered_set>
#include <utility>

#include <boost/json.hpp>

#include "cppblog/web/http_error.hpp"

namespace cppblog::configserver {
namespace {

namespace json = boost::json;

bool HeaderIs(const web::Request& request, std::string_view name, std::string_view value) {
  const auto header = request.Header(name);
  return header && *header == value;
}

bool HeaderPresent(const web::Request& request, std::string_view name) {
  const auto header = request.Header(name);
  return header && !header->empty();
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string FormDecode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() && HexDigit(text[i + 1]) >= 0 &&
               HexDigit(text[i + 2]) >= 0) {
      out += static_cast<char>(HexDigit(text[i + 1]) * 16 + HexDigit(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::vector<std::string> FormPaths(std::string_view body) {
  std::vector<std::string> paths;
  std::size_t start = 0;
  while (start <= body.size()) {
    const std::size_t end = std::min(body.find('&', start), body.size());
    const std::string_view pair = body.substr(start, end - start);
    start = end + 1;
    const std::size_t equals = pair.find('=');
    if (equals == std::string_view::npos) continue;
    if (FormDecode(pair.substr(0, equals)) != "path") continue;
    // Spring binds a List<String> here, which also splits a comma-separated value.
    const std::string value = FormDecode(pair.substr(equals + 1));
    std::size_t from = 0;
    while (from <= value.size()) {
      const std::size_t comma = std::min(value.find(',', from), value.size());
      if (comma > from) paths.push_back(value.substr(from, comma - from));
      from = comma + 1;
    }
  }
  return paths;
}

json::object ParseObject(const std::string& body) {
  boost::system::error_code error;
  json::value value = json::parse(body, error);
  if (error || !value.is_object()) {
    throw web::BadRequest("the /monitor body is not a JSON object (" +
                          (error ? error.message() : std::string("another JSON value")) +
                          "); send a push webhook or a form 'path=<file>'");
  }
  return std::move(value.as_object());
}

void AddStrings(std::vector<std::string>& out, const json::value* list) {
  if (list == nullptr || !list->is_array()) return;
  for (const auto& item : list->as_array()) {
    if (item.is_string()) out.emplace_back(item.as_string().c_str());
  }
}

std::vector<std::string> CommitPaths(const json::object& body) {
  std::vector<std::string> paths;
  const json::value* commits = body.if_contains("commits");
  if (commits == nullptr || !commits->is_array()) return paths;
  for (const auto& commit : commits->as_array()) {
    if (!commit.is_object()) continue;
    AddStrings(paths, commit.as_object().if_contains("added"));
    AddStrings(paths, commit.as_object().if_contains("removed"));
    AddStrings(paths, commit.as_object().if_contains("modified"));
  }
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  return paths;
}

std::string Stem(std::string_view path) {
  const std::size_t slash = path.find_last_of('/');
  std::string_view file = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const std::size_t dot = file.find_last_of('.');
  if (dot != std::string_view::npos) file = file.substr(0, dot);
  return std::string(file);
}

void AddUnique(std::vector<std::string>& names, std::string name) {
  if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(std::move(name));
}

// Keeps the first of equal strings, in order; a set, so many paths cost O(n), not O(n²).
std::vector<std::string> Deduplicated(std::vector<std::string> items) {
  std::vector<bool> keep(items.size());
  {
    std::unordered_set<std::string_view> seen;
    for (std::size_t i = 0; i < items.size(); ++i) keep[i] = seen.insert(items[i]).second;
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (keep[i]) out.push_back(std::move(items[i]));
  }
  return out;
}

std::vector<std::string> Bounded(std::vector<std::string> paths) {
  std::vector<std::string> unique = Deduplicated(std::move(paths));
  if (unique.size() > kMaxChangedPaths) {
    throw web::BadRequest("the /monitor request names " + std::to_string(unique.size()) +
                          " files; at most " + std::to_string(kMaxChangedPaths) +
                          " are accepted per request; to refresh every service, POST "
                          "/actuator/busrefresh");
  }
  return unique;
}

// Spring's naming: "application" is everyone, other "application…" stems are skipped.
void AddName(std::vector<std::string>& names, const std::string& name, const std::string& suffix) {
  if (name == "application") {
    AddUnique(names, suffix.empty() ? "*" : "*:" + suffix);
  } else if (!name.starts_with("application")) {
    AddUnique(names, suffix.empty() ? name : name + ":" + suffix);
  }
}

}  // namespace

std::string Unslash(std::string_view text) {
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

std::optional<FileRequest> ParseFileName(std::string_view segment) {
  static constexpr std::pair<std::string_view, FileForm> kExtensions[] = {
      {".yml", FileForm::kYaml},
      {".yaml", FileForm::kYaml},
      {".properties", FileForm::kProperties},
      {".json", FileForm::kJson}};
  for (const auto& [extension, form] : kExtensions) {
    if (!segment.ends_with(extension)) continue;
    const std::string_view stem = segment.substr(0, segment.size() - extension.size());
    const auto dash = stem.rfind('-');
    if (dash == std::string_view::npos || dash == 0 || dash + 1 == stem.size()) return std::nullopt;
    const std::string_view application = stem.substr(0, dash);
    if (application.find_first_of("\r\n") != std::string_view::npos) return std::nullopt;
    return FileRequest{.application = Unslash(application),
                       .profiles = std::string(stem.substr(dash + 1)),
                       .form = form};
  }
  return std::nullopt;
}

std::vector<std::string> ExtractChangedPaths(const web::Request& request) {
  const bool gitea = HeaderIs(request, "X-Gitea-Event", "push");
  const bool bitbucket = ((HeaderIs(request, "X-Event-Key", "repo:push") ||
                           HeaderIs(request, "X-Event-Key", "pullrequest:fulfilled")) &&
                          HeaderPresent(request, "X-Hook-UUID")) ||
                         ((HeaderIs(request, "X-Event-Key", "repo:refs_changed") ||
                           HeaderIs(request, "X-Event-Key", "pr:merged")) &&
                          HeaderPresent(request, "X-Request-Id"));
  // These providers do not say which files changed: refresh everyone.
  if (gitea || bitbucket) return {"application.yml"};

  const bool push_webhook = HeaderIs(request, "X-Github-Event", "push") ||
                            HeaderIs(request, "X-Gitlab-Event", "Push Hook") ||
                            HeaderIs(request, "X-Gitee-Event", "Push Hook") ||
                            HeaderIs(request, "X-Gogs-Event", "push");
  const auto content_type = request.Header("Content-Type");
  const bool form = content_type && content_type->starts_with("application/x-www-form-urlencoded");
  if (form && !push_webhook) return Bounded(FormPaths(request.body));

  const json::object body = ParseObject(request.body);
  if (push_webhook) return Bounded(CommitPaths(body));
  std::vector<std::string> paths;
  if (const json::value* path = body.if_contains("path")) {
    if (path->is_string()) {
      paths.emplace_back(path->as_string().c_str());
    } else {
      AddStrings(paths, path);
    }
  }
  return Bounded(std::move(paths));
}

std::vector<std::string> GuessServiceNames(std::string_view path) {
  std::vector<std::string> names;
  const std::string stem = Stem(path);
  if (stem.empty()) return names;
  // Checked before any name is built: every dash makes two names as long as the stem.
  if (stem.size() > kMaxFileStemBytes) {
    throw web::BadRequest("a changed file's name is " + std::to_string(stem.size()) +
                          " bytes long; a file name has at most " +
                          std::to_string(kMaxFileStemBytes));
  }
  if (const auto dashes = static_cast<std::size_t>(std::count(stem.begin(), stem.end(), '-'));
      dashes > kMaxDashesPerStem) {
    throw web::BadRequest("a changed file's name holds " + std::to_string(dashes) +
                          " dashes; at most " + std::to_string(kMaxDashesPerStem) +
                          " are accepted ({application}-{profile}.yml has one)");
  }
  for (std::size_t dash = stem.find('-'); dash != std::string::npos;
       dash = stem.find('-', dash + 1)) {
    const std::string name = stem.substr(0, dash);
    AddName(names, name, stem.substr(dash + 1));
    AddName(names, name, "");
  }
  AddName(names, stem, "");
  return names;
}

std::vector<std::string> GuessServiceNames(const std::vector<std::string>& paths) {
  std::vector<std::string> names;
  for (const auto& path : paths) {
    for (auto& name : GuessServiceNames(path)) names.push_back(std::move(name));
  }
  return Deduplicated(std::move(names));
}

std::vector<std::string> RefreshDestinations(const std::vector<std::string>& services) {
  std::vector<std::string> destinations;
  destinations.reserve(services.size());
  for (const auto& service : services) {
    destinations.push_back(config::NormalizeDestination(service));
  }
  destinations = Deduplicated(std::move(destinations));
  if (destinations.size() > kMaxRefreshDestinations) return {"**"};
  return destinations;
}

}  // namespace cppblog::configserver

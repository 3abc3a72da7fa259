#include "config_repository.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <system_error>

namespace cppblog::configserver {
namespace {

constexpr const char* kExtensions[] = {".properties", ".yml", ".yaml"};

// Rejects what could escape the repository or name no file (CVE-2020-5410 was exactly that).
void CheckSafe(const std::string& what, const std::string& value) {
  if (value.empty()) throw InvalidRequestError(what + " is empty");
  if (value.size() > kMaxNameBytes) {
    throw InvalidRequestError(what + " is " + std::to_string(value.size()) +
                              " bytes long; at most " + std::to_string(kMaxNameBytes) +
                              " are accepted");
  }
  if (value.find('\0') != std::string::npos || value.find('\\') != std::string::npos ||
      value.front() == '/' || value.back() == '/' || value.find("//") != std::string::npos) {
    throw InvalidRequestError(what + " '" + value + "' is not a valid name");
  }
  std::size_t start = 0;
  while (start <= value.size()) {
    const std::size_t end = std::min(value.find('/', start), value.size());
    const std::string segment = value.substr(start, end - start);
    if (segment == "." || segment == "..") {
      throw InvalidRequestError(what + " '" + value + "' must not contain '.' or '..' segments");
    }
    start = end + 1;
  }
}

std::string Trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return {};
  const auto end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

// `spring.config.activate.on-profile` as Spring Boot reads it, simplified: terms separated
// by ',' or '|', each a profile or "!profile"; any matching term activates the document.
bool ProfileExpressionMatches(const std::string& expression,
                              const std::vector<std::string>& profiles) {
  std::size_t start = 0;
  while (start <= expression.size()) {
    std::size_t end = expression.find_first_of(",|", start);
    if (end == std::string::npos) end = expression.size();
    std::string term = Trim(expression.substr(start, end - start));
    start = end + 1;
    if (term.empty()) continue;
    const bool negated = term.front() == '!';
    if (negated) term = Trim(term.substr(1));
    const bool active = std::find(profiles.begin(), profiles.end(), term) != profiles.end();
    if (active != negated) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> SplitProfiles(const std::string& profiles) {
  // Counted before anything is split: the bound is on the work, not only on the result.
  if (const auto commas =
          static_cast<std::size_t>(std::count(profiles.begin(), profiles.end(), ','));
      commas >= kMaxProfiles) {
    throw InvalidRequestError("the request names " + std::to_string(commas + 1) +
                              " profiles; at most " + std::to_string(kMaxProfiles) +
                              " are accepted in one request");
  }
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= profiles.size()) {
    const std::size_t end = std::min(profiles.find(',', start), profiles.size());
    const std::string profile = Trim(profiles.substr(start, end - start));
    start = end + 1;
    if (profile.empty()) continue;
    if (profile.find('/') != std::string::npos) {
      throw InvalidRequestError("profile '" + profile + "' must not contain '/'");
    }
    CheckSafe("profile", profile);
    out.push_back(profile);
  }
  if (out.empty()) throw InvalidRequestError("no profile given ('" + profiles + "')");
  return out;
}

std::vector<std::string> CandidateFiles(const std::string& application,
                                        const std::vector<std::string>& profiles) {
  CheckSafe("application", application);
  std::vector<std::string> stems;
  std::vector<std::string> applications{application};
  if (application != "application") applications.emplace_back("application");
  for (const auto& app : applications) {
    for (auto it = profiles.rbegin(); it != profiles.rend(); ++it) stems.push_back(app + "-" + *it);
    stems.push_back(app);
  }
  std::vector<std::string> files;
  for (const auto& stem : stems) {
    for (const char* extension : kExtensions) {
      std::string file = stem + extension;
      if (std::find(files.begin(), files.end(), file) == files.end())
        files.push_back(std::move(file));
    }
  }
  return files;
}

std::shared_ptr<const ParsedFile> ParsedFileCache::Parse(const std::string& file_name,
                                                         std::string text) {
  const std::string key = file_name + '\0' + std::to_string(std::hash<std::string>{}(text));
  {
    std::lock_guard lock{mutex_};
    const auto [first, last] = entries_.equal_range(key);
    for (auto it = first; it != last; ++it) {
      if (it->second->text == text) return it->second;
    }
  }
  // Parse outside the lock: a slow file must not stall other requests.
  auto parsed = std::make_shared<ParsedFile>();
  try {
    parsed->documents = ParsePropertyFile(text, file_name);
  } catch (const PropertyFileError& e) {
    parsed->error = e.what();
  }
  parsed->text = std::move(text);
  std::lock_guard lock{mutex_};
  if (entries_.size() >= kMaxEntries) entries_.clear();
  entries_.emplace(key, parsed);
  return parsed;
}

Environment BuildEnvironment(const std::string& application, const std::string& profiles,
                             const FileReader& read, const std::string& name_prefix,
                             ParsedFileCache& cache) {
  Environment environment;
  environment.name = application;
  environment.profiles = SplitProfiles(profiles);
  for (const auto& file : CandidateFiles(application, environment.profiles)) {
    std::optional<std::string> text = read(file);
    if (!text) continue;
    const std::string name = name_prefix + file;
    const std::shared_ptr<const ParsedFile> parsed = cache.Parse(file, std::move(*text));
    if (parsed->error) {
      environment.problems.push_back(*parsed->error);
      environment.property_sources.push_back(
          {.name = name, .source = {{kInvalidSourceKey, *parsed->error}}});
      continue;
    }
    const std::vector<PropertyDocument>& documents = parsed->documents;
    // A later document overrides an earlier one, so it is listed first.
    for (std::size_t i = documents.size(); i-- > 0;) {
      const auto& document = documents[i];
      if (!document.activate_on_profile.empty() &&
          !ProfileExpressionMatches(document.activate_on_profile, environment.profiles)) {
        continue;
      }
      std::string source_name = name;
      if (documents.size() != 1) source_name += " (document #" + std::to_string(i) + ")";
      environment.property_sources.push_back({.name = source_name, .source = document.properties});
    }
  }
  return environment;
}

NativeRepository::NativeRepository(std::filesystem::path directory) {
  std::error_code error;
  if (!std::filesystem::is_directory(directory, error)) {
    throw RepositoryError("config_repo '" + directory.string() +
                          "' is not a directory; set config_repo to the configuration repository");
  }
  directory_ = std::filesystem::weakly_canonical(std::filesystem::absolute(directory));
}

Environment NativeRepository::FindOne(const std::string& application, const std::string& profiles,
                                      const std::optional<std::string>& label) const {
  const FileReader read = [this](const std::string& relative) -> std::optional<std::string> {
    const std::filesystem::path path = directory_ / relative;
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error)) return std::nullopt;
    std::ifstream in{path, std::ios::binary};
    if (!in) return std::nullopt;
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
  };
  Environment environment =
      BuildEnvironment(application, profiles, read, "file:" + directory_.string() + "/", cache_);
  environment.label = label;
  return environment;
}

}  // namespace cppblog::configserver

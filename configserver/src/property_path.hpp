#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cppblog/config/refresh_event.hpp"
#include "cppblog/web/request.hpp"

namespace cppblog::configserver {

/// The form GET [/{label}]/{application}-{profile}.ext answers in, by the extension.
enum class FileForm { kYaml, kProperties, kJson };

/// A path segment read as "{application}-{profiles}.{yml|yaml|properties|json}".
struct FileRequest {
  std::string application;  // unslashed
  std::string profiles;
  FileForm form;
};

/// "(_)" in a path segment stands for '/' (Spring's SLASH_PLACEHOLDER): "a(_)b" -> "a/b".
[[nodiscard]] std::string Unslash(std::string_view text);

/// Reads "{application}-{profiles}.ext" with the last '-' separating the two: neither empty,
/// the application without a line break (what Spring's pattern `(.+)-([^-]+)\.(ext)` takes).
/// nullopt for any other segment (the caller reads it as a profile). Linear in the segment:
/// the std::regex it replaces recursed once per character and overflowed the stack of an I/O
/// thread on a segment of some tens of kilobytes.
[[nodiscard]] std::optional<FileRequest> ParseFileName(std::string_view segment);

/// Bounds on what one POST /monitor may ask for. A request beyond the first three is refused
/// (400): no real file name is longer than NAME_MAX, and a repository push naming hundreds of
/// files is better answered by one broadcast. Beyond kMaxRefreshDestinations distinct
/// destinations, RefreshDestinations answers one broadcast instead.
inline constexpr std::size_t kMaxChangedPaths = 256;   // distinct paths per request
inline constexpr std::size_t kMaxFileStemBytes = 255;  // NAME_MAX
inline constexpr std::size_t kMaxDashesPerStem = 16;   // names per file: 2 × dashes + 1
inline constexpr std::size_t kMaxRefreshDestinations = 32;

/// The changed file paths a POST /monitor request names, as spring-cloud-config-monitor's
/// extractors read them:
///  - push webhooks: GitHub (X-Github-Event: push), GitLab (X-Gitlab-Event: Push Hook),
///    Gitee (X-Gitee-Event: Push Hook), Gogs (X-Gogs-Event: push): commits[].added,
///    removed and modified;
///  - Gitea (X-Gitea-Event: push) and Bitbucket (X-Event-Key: repo:push with X-Hook-UUID,
///    repo:refs_changed or pr:merged with X-Request-Id) name no files: "application.yml"
///    (a broadcast);
///  - a form body `path=…` (repeatable) or a JSON body {"path": "…" | ["…"]}.
/// Duplicates are removed, first occurrence kept. An empty result means the request named
/// nothing. Throws web::BadRequest for a body that is not JSON when JSON is expected, and for
/// more than kMaxChangedPaths distinct paths.
[[nodiscard]] std::vector<std::string> ExtractChangedPaths(const web::Request& request);

/// The service names a changed file stands for, in Spring's order (PropertyPathEndpoint.
/// guessServiceName) plus one addition: for every '-' in the file's stem, "<before>:<after>"
/// (Spring) and then "<before>" (ours); then the whole stem. "application" becomes "*";
/// other names starting with "application" are skipped. Examples:
///   "accountservice-test.yml" → accountservice:test, accountservice, accountservice-test
///   "application.yml" → *          "application-test.yml" → *:test, *
/// The bare "<before>" is what reaches services whose bus id is "app:port:uuid"
/// (Spring Cloud Bus today): "accountservice:test:**" cannot match "accountservice:6767:…".
/// Throws web::BadRequest when the stem is longer than kMaxFileStemBytes or holds more than
/// kMaxDashesPerStem dashes: names stay O(1) in number and size per path.
[[nodiscard]] std::vector<std::string> GuessServiceNames(std::string_view path);

/// GuessServiceNames over all paths, duplicates removed, first occurrence kept.
[[nodiscard]] std::vector<std::string> GuessServiceNames(const std::vector<std::string>& paths);

/// Spring Cloud Bus's PathDestinationFactory, as the services read it (refresh_event.hpp).
using config::NormalizeDestination;

/// The bus destinations for `services` (GuessServiceNames' result): each normalised, duplicates
/// removed (first kept); one broadcast {"**"} when that leaves more than
/// kMaxRefreshDestinations, so a request costs at most that many events.
[[nodiscard]] std::vector<std::string> RefreshDestinations(
    const std::vector<std::string>& services);

}  // namespace cppblog::configserver

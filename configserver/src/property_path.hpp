#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cppblog/web/request.hpp"

namespace cppblog::configserver {

/// The changed file paths a POST /monitor request names, as spring-cloud-config-monitor's
/// extractors read them:
///  - push webhooks: GitHub (X-Github-Event: push), GitLab (X-Gitlab-Event: Push Hook),
///    Gitee (X-Gitee-Event: Push Hook), Gogs (X-Gogs-Event: push): commits[].added,
///    removed and modified;
///  - Gitea (X-Gitea-Event: push) and Bitbucket (X-Event-Key: repo:push with X-Hook-UUID,
///    repo:refs_changed or pr:merged with X-Request-Id) name no files: "application.yml"
///    (a broadcast);
///  - a form body `path=…` (repeatable) or a JSON body {"path": "…" | ["…"]}.
/// An empty result means the request named nothing. Throws web::BadRequest for a body
/// that is not JSON when JSON is expected.
[[nodiscard]] std::vector<std::string> ExtractChangedPaths(const web::Request& request);

/// The service names a changed file stands for, in Spring's order (PropertyPathEndpoint.
/// guessServiceName) plus one addition: for every '-' in the file's stem, "<before>:<after>"
/// (Spring) and then "<before>" (ours); then the whole stem. "application" becomes "*";
/// other names starting with "application" are skipped. Examples:
///   "accountservice-test.yml" → accountservice:test, accountservice, accountservice-test
///   "application.yml" → *          "application-test.yml" → *:test, *
/// The bare "<before>" is what reaches services whose bus id is "app:port:uuid"
/// (Spring Cloud Bus today): "accountservice:test:**" cannot match "accountservice:6767:…".
[[nodiscard]] std::vector<std::string> GuessServiceNames(std::string_view path);

/// GuessServiceNames over all paths, duplicates removed, first occurrence kept.
[[nodiscard]] std::vector<std::string> GuessServiceNames(const std::vector<std::string>& paths);

/// Spring Cloud Bus's PathDestinationFactory: empty or "**" → "**"; any other value with at most
/// one ':' that does not end in ":**" gets ":**" appended ("accountservice" → "accountservice:**").
[[nodiscard]] std::string NormalizeDestination(std::string_view destination);

}  // namespace cppblog::configserver

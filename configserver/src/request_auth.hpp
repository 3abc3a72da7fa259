#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "cppblog/web/request.hpp"
#include "cppblog/web/response.hpp"

namespace cppblog::configserver {

/// spring.security.user.name / spring.security.user.password.
struct BasicCredentials {
  std::string user;
  std::string password;
};

struct RequestAuthOptions {
  /// nullopt: no HTTP Basic authentication (every endpoint open, as without Spring Security).
  std::optional<BasicCredentials> basic{};
  /// monitor_webhook_secret; empty: /monitor checks no webhook signature.
  std::string webhook_secret{};
};

/// Who may call the configserver, decided per request. Secrets are compared in constant time.
/// Immutable once built, so thread-safe.
class RequestAuth {
 public:
  explicit RequestAuth(RequestAuthOptions options);

  /// True when HTTP Basic authentication is configured.
  [[nodiscard]] bool BasicRequired() const noexcept { return !expected_token_.empty(); }

  /// True when the request may use the configserver's endpoints: no Basic credentials are
  /// configured, or the request's `Authorization: Basic …` matches them.
  [[nodiscard]] bool Authorized(const web::Request& request) const;

  /// nullopt when Authorized; else the 401 to answer, with `WWW-Authenticate: Basic`.
  [[nodiscard]] std::optional<web::Response> Check(const web::Request& request) const;

  /// The same for POST /monitor, where a webhook authenticates itself. With a webhook secret:
  /// a request carrying `X-Hub-Signature-256` (GitHub, Gitea, Gogs) or `X-Gitlab-Token` is let
  /// in when it is right and refused (401) when it is wrong, whatever else it carries; a
  /// request carrying neither needs the Basic credentials, and is refused when none are
  /// configured. Without a secret: as Check.
  [[nodiscard]] std::optional<web::Response> CheckWebhook(const web::Request& request) const;

 private:
  [[nodiscard]] web::Response Unauthorized(std::string_view message) const;

  std::string expected_token_;  // base64("user:password"); empty: no Basic authentication
  std::string webhook_secret_;
};

/// Lower-case hex of HMAC-SHA256(key, data), as GitHub's X-Hub-Signature-256 carries it.
[[nodiscard]] std::string HmacSha256Hex(std::string_view key, std::string_view data);

/// Equality that takes the same time whatever the contents and lengths (compares SHA-256
/// digests of both with CRYPTO_memcmp), so a secret cannot be guessed byte by byte.
[[nodiscard]] bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace cppblog::configserver

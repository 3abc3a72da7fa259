#include "request_auth.hpp"

#include <array>
#include <cctype>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

namespace cppblog::configserver {
namespace {

constexpr const char* kChallenge = R"(Basic realm="configserver", charset="UTF-8")";

std::string Base64(std::string_view data) {
  std::vector<unsigned char> out(4 * ((data.size() + 2) / 3) + 1);
  const int length =
      EVP_EncodeBlock(out.data(), reinterpret_cast<const unsigned char*>(data.data()),
                      static_cast<int>(data.size()));
  return {reinterpret_cast<const char*>(out.data()), static_cast<std::size_t>(length)};
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::array<unsigned char, SHA256_DIGEST_LENGTH> Sha256(std::string_view text) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

}  // namespace

std::string HmacSha256Hex(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data(), &length);
  static constexpr std::string_view kHex = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4U];
    hex += kHex[digest[i] & 0x0FU];
  }
  return hex;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  const auto left = Sha256(a);
  const auto right = Sha256(b);
  return CRYPTO_memcmp(left.data(), right.data(), left.size()) == 0;
}

RequestAuth::RequestAuth(RequestAuthOptions options)
    : webhook_secret_(std::move(options.webhook_secret)) {
  if (options.basic) expected_token_ = Base64(options.basic->user + ":" + options.basic->password);
}

bool RequestAuth::Authorized(const web::Request& request) const {
  if (!BasicRequired()) return true;
  const auto header = request.Header("Authorization");
  if (!header) return false;
  const std::string_view value = Trim(*header);
  const std::size_t space = value.find(' ');
  if (space == std::string_view::npos || !EqualsIgnoringCase(value.substr(0, space), "Basic")) {
    return false;
  }
  return ConstantTimeEquals(Trim(value.substr(space + 1)), expected_token_);
}

std::optional<web::Response> RequestAuth::Check(const web::Request& request) const {
  if (Authorized(request)) return std::nullopt;
  return Unauthorized(
      "this configserver requires HTTP Basic authentication: send the credentials set in "
      "spring.security.user.name and spring.security.user.password");
}

std::optional<web::Response> RequestAuth::CheckWebhook(const web::Request& request) const {
  if (webhook_secret_.empty()) return Check(request);
  if (const auto signature = request.Header("X-Hub-Signature-256")) {
    std::string received{Trim(*signature)};
    for (char& c : received) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (ConstantTimeEquals(received, "sha256=" + HmacSha256Hex(webhook_secret_, request.body))) {
      return std::nullopt;
    }
    return Unauthorized(
        "X-Hub-Signature-256 does not match the body: the webhook's secret must equal "
        "monitor_webhook_secret");
  }
  if (const auto token = request.Header("X-Gitlab-Token")) {
    if (ConstantTimeEquals(Trim(*token), webhook_secret_)) return std::nullopt;
    return Unauthorized(
        "X-Gitlab-Token does not match: the webhook's secret token must equal "
        "monitor_webhook_secret");
  }
  if (BasicRequired() && Authorized(request)) return std::nullopt;
  return Unauthorized(
      "POST /monitor needs a webhook signature (X-Hub-Signature-256: sha256=<HMAC-SHA256 of the "
      "body with monitor_webhook_secret>, or X-Gitlab-Token)" +
      std::string(BasicRequired() ? " or the configserver's HTTP Basic credentials" : ""));
}

web::Response RequestAuth::Unauthorized(std::string_view message) const {
  web::Response response = web::Response::Error(401, message);
  if (BasicRequired()) response.headers.emplace_back("WWW-Authenticate", kChallenge);
  return response;
}

}  // namespace cppblog::configserver

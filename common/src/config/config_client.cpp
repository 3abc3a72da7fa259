#include "cppblog/config/config_client.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <random>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/system/system_error.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cppblog/config/config_error.hpp"

#include "config/display.hpp"

namespace cppblog::config {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr std::size_t kMaxBody = 16 * 1024 * 1024;
constexpr const char* kFailFastKey = "fail_fast";
// Spring Cloud Config client's credentials, so that they need not sit in -configServerUrl,
// which `ps` shows to every local user.
constexpr const char* kUsernameKey = "spring.cloud.config.username";
constexpr const char* kPasswordKey = "spring.cloud.config.password";

struct ServerAddress {
  std::string host;
  std::string port;
  std::string base_path;  // "" or "/prefix", no trailing '/'
  std::string user;       // the URL's, if any
  std::optional<std::string> authorization;
  std::string display;  // the URL, password masked
};

std::string Base64(std::string_view data) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const auto n = (static_cast<unsigned char>(data[i]) << 16U) |
                   (static_cast<unsigned char>(data[i + 1]) << 8U) |
                   static_cast<unsigned char>(data[i + 2]);
    out += kAlphabet[(n >> 18U) & 63U];
    out += kAlphabet[(n >> 12U) & 63U];
    out += kAlphabet[(n >> 6U) & 63U];
    out += kAlphabet[n & 63U];
  }
  if (i + 1 == data.size()) {
    const auto n = static_cast<unsigned>(static_cast<unsigned char>(data[i])) << 16U;
    out += kAlphabet[(n >> 18U) & 63U];
    out += kAlphabet[(n >> 12U) & 63U];
    out += "==";
  } else if (i + 2 == data.size()) {
    const auto n = (static_cast<unsigned>(static_cast<unsigned char>(data[i])) << 16U) |
                   (static_cast<unsigned>(static_cast<unsigned char>(data[i + 1])) << 8U);
    out += kAlphabet[(n >> 18U) & 63U];
    out += kAlphabet[(n >> 12U) & 63U];
    out += kAlphabet[(n >> 6U) & 63U];
    out += '=';
  }
  return out;
}

ServerAddress ParseServerUrl(std::string_view text) {
  std::string url(text);
  if (url.find("://") == std::string::npos) {
    url = "http://" + url;  // "configserver:8888"
  }
  const std::string shown = DisplayValue("configServerUrl", url);
  const bool has_userinfo = url.find('@') != std::string::npos;
  const auto fail = [&](std::string_view what) -> ConfigError {
    return ConfigError(fmt::format(
        "-configServerUrl: '{}' {}; expected http://host:port, e.g. http://configserver:8888{}",
        shown, what,
        has_userinfo ? "; a '/', '?', '#' or '@' in the user name or password must be "
                       "percent-encoded (%2F, %3F, %23, %40), or pass the credentials in "
                       "SPRING_CLOUD_CONFIG_USERNAME and SPRING_CLOUD_CONFIG_PASSWORD"
                     : ""));
  };
  const auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    throw fail("is not a URL");
  }
  const auto& uri = *parsed;
  if (uri.scheme() == "https") {
    throw fail(
        "uses https, which the config client does not support; use http:// (on a trusted "
        "network, or through a local TLS proxy)");
  }
  if (uri.scheme() != "http") {
    throw fail("is not an http:// URL");
  }
  if (uri.host().empty()) {
    throw fail("names no host");
  }
  if (uri.has_query() || uri.has_fragment()) {
    throw fail("has a query or fragment");
  }
  ServerAddress address;
  address.host = uri.host();
  if (address.host.size() > 2 && address.host.front() == '[') {
    address.host = address.host.substr(1, address.host.size() - 2);  // [::1]
  }
  address.port = uri.has_port() ? std::string(uri.port()) : "80";
  address.base_path = std::string(uri.encoded_path());
  while (!address.base_path.empty() && address.base_path.back() == '/') {
    address.base_path.pop_back();
  }
  if (uri.has_userinfo()) {
    address.user = std::string(uri.user());
    address.authorization = "Basic " + Base64(address.user + ":" + std::string(uri.password()));
  }
  address.display = DisplayValue("configServerUrl", url);
  while (!address.display.empty() && address.display.back() == '/') {
    address.display.pop_back();
  }
  return address;
}

// A path segment as Spring's client writes it: '/' as "(_)", everything outside pchar escaped.
std::string PathSegment(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '/') {
      out += "(_)";
    } else if (std::isalnum(u) != 0 ||
               std::string_view("-._~!$&'()*+,;=:@").find(c) != std::string_view::npos) {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

struct HttpReply {
  unsigned status = 0;
  std::string reason;
  std::string body;
};

asio::awaitable<HttpReply> GetAsync(const ServerAddress& address, const std::string& target) {
  const auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  const auto endpoints =
      co_await resolver.async_resolve(address.host, address.port, asio::use_awaitable);
  beast::tcp_stream stream(executor);
  co_await stream.async_connect(endpoints, asio::use_awaitable);

  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, address.host + ":" + address.port);
  request.set(http::field::accept, "application/json");
  request.set(http::field::user_agent, "cppblog-config-client");
  if (address.authorization) {
    request.set(http::field::authorization, *address.authorization);
  }
  co_await http::async_write(stream, request, asio::use_awaitable);

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxBody);
  co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  auto& response = parser.get();
  co_return HttpReply{.status = response.result_int(),
                      .reason = std::string(response.reason()),
                      .body = std::move(response.body())};
}

// One GET within `timeout`; throws std::runtime_error with the reason (for people).
HttpReply Get(const ServerAddress& address, const std::string& target,
              std::chrono::milliseconds timeout) {
  std::optional<HttpReply> reply;
  std::exception_ptr error;
  bool done = false;
  {
    // Declared after the results: destroying it abandons a request still in flight.
    asio::io_context io;
    asio::co_spawn(io, GetAsync(address, target), [&](std::exception_ptr e, HttpReply r) {
      error = e;
      if (!e) {
        reply = std::move(r);
      }
      done = true;
    });
    io.run_for(timeout);
  }
  if (!done) {
    throw std::runtime_error(fmt::format("no answer within {} ms", timeout.count()));
  }
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (const boost::system::system_error& e) {
      throw std::runtime_error(e.code().message());
    }
  }
  return std::move(*reply);
}

// A failure that another attempt may cure (the server is down, slow or overloaded).
class TransientFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The server could not be asked or refused to answer: fail_fast decides what follows.
class ServerUnreachable : public ConfigError {
 public:
  using ConfigError::ConfigError;
};

std::chrono::milliseconds Jittered(std::chrono::milliseconds interval, double jitter) {
  thread_local std::mt19937 random{std::random_device{}()};
  const double spread = std::clamp(jitter, 0.0, 1.0);
  std::uniform_real_distribution<double> factor(1.0 - spread, 1.0 + spread);
  return std::chrono::milliseconds{static_cast<std::int64_t>(
      std::llround(static_cast<double>(interval.count()) * factor(random)))};
}

}  // namespace

struct ConfigClient::Impl {
  ConfigClientOptions options;
  std::optional<ServerAddress> server;
  std::string target;                        // "/prefix/app/profile/label"
  std::string url;                           // display form of server + target
  std::optional<Properties> local_at_start;  // the local layers, read once at construction

  [[nodiscard]] Properties DefaultsWithClientKeys() const {
    Properties defaults = options.defaults;
    if (!defaults.Has(kFailFastKey)) {
      defaults.Set(kFailFastKey, "false", "default");
    }
    for (const char* key : {kUsernameKey, kPasswordKey}) {
      if (!defaults.Has(key)) {
        defaults.Set(key, "", "default");
      }
    }
    return defaults;
  }

  // spring.cloud.config.password (files, SPRING_CLOUD_CONFIG_PASSWORD or its _FILE, --set)
  // wins over the URL's credentials, as in Spring; the user is the username key, else the
  // URL's user, else "user" (Spring Security's default).
  void UseConfiguredCredentials(const Properties& local, std::string_view url_user) {
    const std::string password = local.GetString(kPasswordKey);
    std::string user = local.GetString(kUsernameKey);
    if (password.empty()) {
      if (!user.empty()) {
        spdlog::warn("configuration: {} is set but {} is not; sending no credentials of those",
                     kUsernameKey, kPasswordKey);
      }
      return;
    }
    if (user.empty()) {
      user = url_user.empty() ? "user" : std::string(url_user);
    }
    server->authorization = "Basic " + Base64(user + ":" + password);
  }

  [[nodiscard]] Properties LoadLayers(const Properties& defaults, const Properties* remote) const {
    return config::Load({.app = options.app,
                         .command_line = options.command_line,
                         .defaults = defaults,
                         .environment = options.environment,
                         .remote = remote});
  }

  // One attempt; TransientFailure when another attempt may succeed, ConfigError otherwise.
  [[nodiscard]] RemoteConfiguration FetchOnce() const {
    HttpReply reply;
    try {
      reply = Get(*server, target, options.request_timeout);
    } catch (const std::runtime_error& e) {
      throw TransientFailure(e.what());
    }
    if (reply.status == 200) {
      RemoteConfiguration remote;
      remote.url = url;
      remote.environment = ParseSpringEnvironment(reply.body, url);
      remote.properties = MergePropertySources(remote.environment);
      return remote;
    }
    const std::string status = fmt::format("HTTP {} {}", reply.status, reply.reason);
    if (reply.status == 404) {
      // Spring's client treats 404 as "no such application": worth retrying when the server
      // is still cloning its repository, and reported like an unreachable server.
      throw TransientFailure(
          fmt::format("{} (the server has no configuration for '{}')", status, options.app));
    }
    if (reply.status >= 500 || reply.status == 429 || reply.status == 408) {
      throw TransientFailure(status);
    }
    throw ServerUnreachable(Unreachable(status));
  }

  [[nodiscard]] std::string Unreachable(std::string_view reason) const {
    return fmt::format(
        "cannot load configuration from {}: {}; is the configserver running? set "
        "-configServerUrl or fail_fast=false",
        url, reason);
  }

  [[nodiscard]] RemoteConfiguration Fetch() const {
    const RetryPolicy& retry = options.retry;
    const int attempts = std::max(1, retry.max_attempts);
    double interval = static_cast<double>(retry.initial_interval.count());
    for (int attempt = 1;; ++attempt) {
      try {
        RemoteConfiguration remote = FetchOnce();
        spdlog::info(
            "configuration: fetched {} (attempt {}): {} property sources, label {}, version {}",
            url, attempt, remote.environment.property_sources.size(),
            remote.environment.label.value_or("(default)"),
            remote.environment.version.value_or("(none)"));
        return remote;
      } catch (const TransientFailure& e) {
        if (attempt >= attempts) {
          throw ServerUnreachable(
              Unreachable(fmt::format("{} (after {} attempts)", e.what(), attempt)));
        }
        const auto capped = std::min(std::chrono::milliseconds{std::llround(interval)},
                                     std::max(retry.max_interval, retry.initial_interval));
        const auto wait = Jittered(capped, retry.jitter);
        spdlog::warn("configuration: {} attempt {}/{} failed: {}; next in {} ms", url, attempt,
                     attempts, e.what(), wait.count());
        std::this_thread::sleep_for(wait);  // backoff between attempts, not a test wait
        interval *= retry.multiplier;
      }
    }
  }
};

ConfigClient::ConfigClient(ConfigClientOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  if (const auto& url = impl_->options.command_line.config_server_url) {
    impl_->server = ParseServerUrl(*url);
    std::string& target = impl_->target;
    target = impl_->server->base_path + "/" + PathSegment(impl_->options.app) + "/" +
             PathSegment(impl_->options.command_line.profile);
    if (!impl_->options.command_line.config_branch.empty()) {
      target += "/" + PathSegment(impl_->options.command_line.config_branch);
    }
    // The display URL keeps the base path the user gave (and masks a password).
    impl_->url = impl_->server->display + target.substr(impl_->server->base_path.size());
    impl_->local_at_start = impl_->LoadLayers(impl_->DefaultsWithClientKeys(), nullptr);
    impl_->UseConfiguredCredentials(*impl_->local_at_start, impl_->server->user);
  }
}

ConfigClient::~ConfigClient() = default;

bool ConfigClient::HasServer() const noexcept { return impl_->server.has_value(); }

const std::string& ConfigClient::Url() const noexcept { return impl_->url; }

RemoteConfiguration ConfigClient::Fetch() const {
  if (!impl_->server) {
    throw ConfigError(
        "no config server to fetch from: start with -configServerUrl http://host:8888");
  }
  return impl_->Fetch();
}

LoadedConfiguration ConfigClient::Load(LoadMode mode) const {
  const Properties defaults = impl_->DefaultsWithClientKeys();
  if (!impl_->server) {
    return {.properties = impl_->LoadLayers(defaults, nullptr), .remote = std::nullopt};
  }
  bool fail_fast = true;
  std::optional<Properties> local;
  if (mode == LoadMode::kStartup) {
    local = impl_->local_at_start;
    fail_fast = impl_->options.fail_fast ? *impl_->options.fail_fast : local->GetBool(kFailFastKey);
  }
  try {
    RemoteConfiguration remote = impl_->Fetch();
    Properties merged = impl_->LoadLayers(defaults, &remote.properties);
    return {.properties = std::move(merged), .remote = std::move(remote)};
  } catch (const ServerUnreachable& e) {
    if (fail_fast) {
      throw;
    }
    spdlog::warn("configuration: {}; starting on the local configuration only (fail_fast=false)",
                 e.what());
    if (!local) {
      local = impl_->LoadLayers(defaults, nullptr);
    }
    return {.properties = std::move(*local), .remote = std::nullopt};
  }
}

}  // namespace cppblog::config

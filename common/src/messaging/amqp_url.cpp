#include "cppblog/messaging/amqp_url.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>
#include <vector>

#include "cppblog/messaging/messaging_error.hpp"
#include "cppblog/text/redact.hpp"

namespace cppblog::messaging {
namespace {

constexpr std::string_view kEncodingHint =
    "; a user name or password holding '/', '?', '#', '@', ':' or ',' must be percent-encoded "
    "(%2F, %3F, %23, %40, %3A, %2C)";

// What an error may show of `url`: the password masked, even when the text is no URL at all
// (`user:secret@host` without a scheme keeps nothing before its last '@').
std::string Displayable(std::string_view url) {
  if (url.find("://") != std::string_view::npos) return MaskPassword(url);
  const auto at = url.rfind('@');
  return at == std::string_view::npos ? std::string(url) : "***" + std::string(url.substr(at));
}

[[noreturn]] void Invalid(std::string_view url, std::string_view why) {
  throw MessagingError(MessagingErrorKind::kInvalidOptions,
                       "invalid AMQP URL '" + Displayable(url) + "': " + std::string(why) +
                           " (expected amqp[s]://user:password@host:port/vhost" +
                           std::string(kEncodingHint) + ")");
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view url, std::string_view part, std::string_view what) {
  std::string out;
  out.reserve(part.size());
  for (std::size_t i = 0; i < part.size(); ++i) {
    if (part[i] != '%') {
      out.push_back(part[i]);
      continue;
    }
    if (i + 2 >= part.size()) Invalid(url, "bad %-escape in " + std::string(what));
    const int hi = HexValue(part[i + 1]);
    const int lo = HexValue(part[i + 2]);
    if (hi < 0 || lo < 0) Invalid(url, "bad %-escape in " + std::string(what));
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

template <typename T>
T ParseNumber(std::string_view url, std::string_view text, std::string_view what) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) {
    Invalid(url, std::string(what) + " '" + std::string(text) + "' is not a number");
  }
  return value;
}

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) ==
                  std::tolower(static_cast<unsigned char>(b));
         });
}

void ApplyQuery(std::string_view url, std::string_view query, AmqpUrl& out) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    const std::string key = PercentDecode(url, pair.substr(0, eq), "query key");
    const std::string value =
        eq == std::string_view::npos ? std::string{} : PercentDecode(url, pair.substr(eq + 1), key);
    if (key == "heartbeat") {
      out.heartbeat = std::chrono::seconds{ParseNumber<std::uint32_t>(url, value, key)};
    } else if (key == "connection_timeout") {
      out.connection_timeout =
          std::chrono::milliseconds{ParseNumber<std::uint32_t>(url, value, key)};
    } else if (key == "cacertfile") {
      out.ca_file = value;
    } else if (key == "certfile") {
      out.cert_file = value;
    } else if (key == "keyfile") {
      out.key_file = value;
    } else if (key == "verify") {
      if (value == "verify_peer") {
        out.verify_peer = true;
      } else if (value == "verify_none") {
        out.verify_peer = false;
      } else {
        Invalid(url, "verify must be verify_peer or verify_none, not '" + value + "'");
      }
    } else if (key == "channel_max" || key == "frame_max" || key == "server_name_indication" ||
               key == "auth_mechanism") {
      // Accepted for compatibility with other clients' URLs; we negotiate our own.
    } else {
      Invalid(url, "unknown query parameter '" + key + "'");
    }
  }
}

}  // namespace

AmqpUrl ParseAmqpUrl(std::string_view url) {
  AmqpUrl out;
  std::string_view rest;
  if (StartsWithNoCase(url, "amqps://")) {
    out.tls = true;
    out.port = 5671;
    rest = url.substr(8);
  } else if (StartsWithNoCase(url, "amqp://")) {
    rest = url.substr(7);
  } else {
    Invalid(url, "the scheme must be amqp:// or amqps://");
  }

  // The userinfo ends at the last '@' (as MaskUrlCredentials takes it). If a '/', '?' or '#'
  // comes before that '@', a password holds one unencoded: refuse it here, before the parts
  // below would take a piece of the password for a host, port or vhost and print it.
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    if (rest.substr(0, at).find_first_of("/?#") != std::string_view::npos) {
      Invalid(url, "the user name or password holds an unencoded '/', '?' or '#'");
    }
  }

  std::string_view query;
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view authority = rest;
  std::optional<std::string_view> path;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }

  std::string_view host_port = authority;
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view user_info = authority.substr(0, at);
    host_port = authority.substr(at + 1);
    const auto colon = user_info.find(':');
    out.user = PercentDecode(url, user_info.substr(0, colon), "user");
    out.password = colon == std::string_view::npos
                       ? std::string{}
                       : PercentDecode(url, user_info.substr(colon + 1), "password");
  }

  std::string_view port_text;
  if (!host_port.empty() && host_port.front() == '[') {
    const auto close = host_port.find(']');
    if (close == std::string_view::npos) Invalid(url, "unterminated [IPv6 address]");
    out.host = std::string(host_port.substr(1, close - 1));
    const std::string_view after = host_port.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') Invalid(url, "junk after the IPv6 address");
      port_text = after.substr(1);
    }
  } else {
    const auto colon = host_port.find(':');
    const std::string_view host = host_port.substr(0, colon);
    if (!host.empty()) out.host = PercentDecode(url, host, "host");
    if (colon != std::string_view::npos) port_text = host_port.substr(colon + 1);
  }
  if (!port_text.empty()) {
    const auto port = ParseNumber<std::uint32_t>(url, port_text, "port");
    if (port == 0 || port > 65535) Invalid(url, "port " + std::string(port_text) + " out of range");
    out.port = static_cast<std::uint16_t>(port);
  }

  if (path) {
    if (path->find('/') != std::string_view::npos) {
      Invalid(url, "a '/' inside the vhost must be written %2F");
    }
    // Empty means the default vhost, as in the Go client (kept as "/" from the defaults).
    if (std::string vhost = PercentDecode(url, *path, "vhost"); !vhost.empty()) {
      out.vhost = std::move(vhost);
    }
  }
  ApplyQuery(url, query, out);
  return out;
}

std::string MaskPassword(std::string_view url) { return text::MaskUrlCredentials(url); }

std::vector<std::string_view> SplitAmqpUrlList(std::string_view list) {
  std::vector<std::string_view> entries;
  std::size_t start = 0;
  for (std::size_t comma = list.find(','); comma != std::string_view::npos;
       comma = list.find(',', comma + 1)) {
    std::string_view after = list.substr(comma + 1);
    while (!after.empty() && (after.front() == ' ' || after.front() == '\t'))
      after.remove_prefix(1);
    // Only a comma before the next URL separates: one inside a password stays in its entry.
    if (StartsWithNoCase(after, "amqp://") || StartsWithNoCase(after, "amqps://") ||
        after.empty() || after.front() == ',') {
      entries.push_back(list.substr(start, comma - start));
      start = comma + 1;
    }
  }
  entries.push_back(list.substr(start));
  for (auto& entry : entries) {
    while (!entry.empty() && (entry.front() == ' ' || entry.front() == '\t'))
      entry.remove_prefix(1);
    while (!entry.empty() && (entry.back() == ' ' || entry.back() == '\t')) entry.remove_suffix(1);
  }
  return entries;
}

std::vector<AmqpUrl> ParseAmqpUrlList(std::string_view list) {
  const std::vector<std::string_view> entries = SplitAmqpUrlList(list);
  const auto fail = [&](const std::string& why) {
    throw MessagingError(MessagingErrorKind::kInvalidOptions,
                         "invalid AMQP URL list '" + Displayable(list) + "': " + why);
  };
  std::vector<AmqpUrl> urls;
  urls.reserve(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const std::string which =
        "entry " + std::to_string(i + 1) + " of " + std::to_string(entries.size());
    if (entries[i].empty()) {
      fail(which + " is empty (expected one amqp[s]:// URL, or several separated by commas)");
    }
    try {
      urls.push_back(ParseAmqpUrl(entries[i]));
    } catch (const MessagingError& e) {
      if (entries.size() == 1) throw;
      throw MessagingError(e.kind(), which + ": " + e.what());
    }
  }
  for (std::size_t i = 1; i < urls.size(); ++i) {
    const char* differs = urls[i].user != urls[0].user           ? "user name"
                          : urls[i].password != urls[0].password ? "password"
                          : urls[i].vhost != urls[0].vhost       ? "vhost"
                                                                 : nullptr;
    if (differs == nullptr) continue;
    fail("entries 1 ('" + MaskPassword(entries[0]) + "') and " + std::to_string(i + 1) + " ('" +
         MaskPassword(entries[i]) + "') differ in their " + differs +
         "; every address of one broker cluster must use the same user, password and vhost");
  }
  return urls;
}

std::string NodeName(const AmqpUrl& url) {
  const bool ipv6 = url.host.find(':') != std::string::npos;
  std::string name = (ipv6 ? "[" + url.host + "]" : url.host) + ":" + std::to_string(url.port);
  // Safe to put in a log line or a JSON string as it is.
  for (char& c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 &&
        std::string_view(".-_:[]%").find(c) == std::string_view::npos) {
      c = '?';
    }
  }
  return name;
}

}  // namespace cppblog::messaging

#include "response_head.hpp"

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdio>
#include <ostream>  // boost/beast/http/status.hpp uses std::ostream without including it

#include <boost/beast/http/status.hpp>

namespace cppblog::web::detail {
namespace {

namespace http = boost::beast::http;

void AppendNumber(std::string& out, std::size_t value) {
  std::array<char, 24> digits{};
  const auto result = std::to_chars(digits.data(), digits.data() + digits.size(), value);
  out.append(digits.data(), result.ptr);
}

// RFC 9110 section 5.6.2: tchar.
bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view text) {
  if (text.empty()) return false;
  for (const char c : text) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

// CR and LF would end the header line early (response splitting); NUL is refused by clients.
bool IsSafeValue(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// The framing headers are the server's: a handler's copy would contradict them.
bool IsFramingHeader(std::string_view name) {
  for (const std::string_view framing :
       {"Content-Length", "Transfer-Encoding", "Connection", "Date"}) {
    if (EqualsIgnoringCase(name, framing)) return true;
  }
  return false;
}

void AppendHeader(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

}  // namespace

int WireStatus(int status) { return status >= 100 && status <= 999 ? status : 500; }

bool BodyAllowed(int status) { return status >= 200 && status != 204 && status != 304; }

void FormatResponseHead(const Response& response, const HeadOptions& options, std::string& out) {
  const int status = WireStatus(response.status);
  out.clear();
  out += "HTTP/1.1 ";
  AppendNumber(out, static_cast<std::size_t>(status));
  out += ' ';
  const auto known = http::int_to_status(static_cast<unsigned>(status));
  out += known == http::status::unknown ? std::string_view("Unknown")
                                        : std::string_view(http::obsolete_reason(known));
  out += "\r\n";
  if (BodyAllowed(status)) {
    if (!response.content_type.empty() && IsSafeValue(response.content_type)) {
      AppendHeader(out, "Content-Type", response.content_type);
    }
    out += "Content-Length: ";
    AppendNumber(out, response.body.size());
    out += "\r\n";
  }
  AppendHeader(out, "Date", options.date);
  for (const auto& [name, value] : response.headers) {
    if (!IsToken(name) || !IsSafeValue(value) || IsFramingHeader(name)) continue;
    AppendHeader(out, name, value);
  }
  if (options.persistence == Persistence::kClose) {
    out += "Connection: close\r\n";
  } else if (options.version == HttpVersion::kHttp10) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
}

std::string FormatClosingResponse(const Response& response) {
  const std::string date = FormatHttpDate(std::time(nullptr));
  std::string wire;
  FormatResponseHead(response, {.persistence = Persistence::kClose, .date = date}, wire);
  if (BodyAllowed(WireStatus(response.status))) wire += response.body;
  return wire;
}

std::string FormatHttpDate(std::time_t time) {
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm utc{};
  gmtime_r(&time, &utc);
  std::array<char, 64> text{};
  const int written = std::snprintf(text.data(), text.size(), "%s, %02d %s %04d %02d:%02d:%02d GMT",
                                    kDays[static_cast<std::size_t>(utc.tm_wday)], utc.tm_mday,
                                    kMonths[static_cast<std::size_t>(utc.tm_mon)],
                                    utc.tm_year + 1900, utc.tm_hour, utc.tm_min, utc.tm_sec);
  return {text.data(), written > 0 ? static_cast<std::size_t>(written) : 0};
}

}  // namespace cppblog::web::detail

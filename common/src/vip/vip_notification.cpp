#include "cppblog/vip/vip_notification.hpp"

#include <array>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <utility>

#include <boost/json.hpp>

#include "cppblog/config/config_error.hpp"

namespace cppblog::vip {
namespace {

namespace json = boost::json;
using std::chrono::system_clock;

constexpr int kMinYear = 1678;
constexpr int kMaxYear = 2261;

// A cursor over the time text; every Expect* throws the one error naming the text.
class TimeText {
 public:
  explicit TimeText(std::string_view text) : text_(text) {}

  [[noreturn]] void Fail() const {
    throw std::invalid_argument(
        "'" + std::string(text_.substr(0, 80)) +
        "' is not a time: expected Go's time.String() form '2017-02-15 20:06:27.033757223 +0000 "
        "UTC' or RFC 3339 '2017-02-15T20:06:27.033757223Z'");
  }
  [[nodiscard]] bool AtEnd() const { return pos_ == text_.size(); }
  [[nodiscard]] char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  char Next() {
    if (AtEnd()) Fail();
    return text_[pos_++];
  }
  void Expect(char c) {
    if (Next() != c) Fail();
  }
  int Digits(int count) {
    int value = 0;
    for (int i = 0; i < count; ++i) {
      const char c = Next();
      if (c < '0' || c > '9') Fail();
      value = value * 10 + (c - '0');
    }
    return value;
  }
  [[nodiscard]] std::string_view Rest() const { return text_.substr(pos_); }
  void Skip(std::size_t n) { pos_ += n; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

// ".d{1,9}" when present, as nanoseconds.
std::int64_t ParseFraction(TimeText& text) {
  if (text.Peek() != '.' && text.Peek() != ',') return 0;
  text.Next();
  std::int64_t nanos = 0;
  int digits = 0;
  while (text.Peek() >= '0' && text.Peek() <= '9') {
    if (++digits > 9) text.Fail();
    nanos = nanos * 10 + (text.Next() - '0');
  }
  if (digits == 0) text.Fail();
  for (int i = digits; i < 9; ++i) nanos *= 10;
  return nanos;
}

// Go's " m=+0.000012345" monotonic clock suffix, which String() adds for times from time.Now().
void SkipMonotonicReading(TimeText& text) {
  if (text.AtEnd()) return;
  const std::string_view rest = text.Rest();
  if (rest.size() < 5 || rest.substr(0, 3) != " m=" || (rest[3] != '+' && rest[3] != '-')) {
    text.Fail();
  }
  for (const char c : rest.substr(4)) {
    if ((c < '0' || c > '9') && c != '.') text.Fail();
  }
  text.Skip(rest.size());
}

}  // namespace

std::string FormatGoTime(system_clock::time_point time) {
  using namespace std::chrono;
  const auto nanos = time_point_cast<nanoseconds>(time);
  const auto day = floor<days>(nanos);
  const year_month_day date{day};
  const hh_mm_ss clock{nanos - day};

  std::array<char, 64> buffer{};
  const int written = std::snprintf(
      buffer.data(), buffer.size(), "%04d-%02u-%02u %02d:%02d:%02d", static_cast<int>(date.year()),
      static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
      static_cast<int>(clock.hours().count()), static_cast<int>(clock.minutes().count()),
      static_cast<int>(clock.seconds().count()));
  std::string out(buffer.data(), static_cast<std::size_t>(written));

  // Go's ".999999999": nine digits with the trailing zeros (and an empty fraction's dot) cut.
  if (const auto fraction = clock.subseconds().count(); fraction != 0) {
    std::array<char, 16> digits{};
    std::snprintf(digits.data(), digits.size(), "%09lld", static_cast<long long>(fraction));
    std::string_view text{digits.data(), 9};
    text = text.substr(0, text.find_last_not_of('0') + 1);
    out += '.';
    out += text;
  }
  out += " +0000 UTC";
  return out;
}

system_clock::time_point ParseGoTime(std::string_view text_in) {
  using namespace std::chrono;
  TimeText text{text_in};
  const int year = text.Digits(4);
  text.Expect('-');
  const int month = text.Digits(2);
  text.Expect('-');
  const int day_of_month = text.Digits(2);
  const char separator = text.Next();
  const bool rfc3339 = separator == 'T' || separator == 't';
  if (!rfc3339 && separator != ' ') text.Fail();
  const int hour = text.Digits(2);
  text.Expect(':');
  const int minute = text.Digits(2);
  text.Expect(':');
  const int second = text.Digits(2);
  const std::int64_t nanos = ParseFraction(text);

  int offset_minutes = 0;
  if (rfc3339) {
    const char zone = text.Next();
    if (zone == '+' || zone == '-') {
      const int hh = text.Digits(2);
      text.Expect(':');
      const int mm = text.Digits(2);
      if (hh > 23 || mm > 59) text.Fail();
      offset_minutes = (zone == '-' ? -1 : 1) * (hh * 60 + mm);
    } else if (zone != 'Z' && zone != 'z') {
      text.Fail();
    }
    if (!text.AtEnd()) text.Fail();
  } else {
    text.Expect(' ');
    const char sign = text.Next();
    if (sign != '+' && sign != '-') text.Fail();
    const int hh = text.Digits(2);
    const int mm = text.Digits(2);
    if (hh > 23 || mm > 59) text.Fail();
    offset_minutes = (sign == '-' ? -1 : 1) * (hh * 60 + mm);
    text.Expect(' ');
    // The zone abbreviation ("UTC", "CET", "+03"): informative only, the offset is the truth.
    int abbreviation = 0;
    while (!text.AtEnd() && text.Peek() != ' ') {
      text.Next();
      ++abbreviation;
    }
    if (abbreviation == 0) text.Fail();
    SkipMonotonicReading(text);
  }

  const year_month_day date{std::chrono::year{year},
                            std::chrono::month{static_cast<unsigned>(month)},
                            std::chrono::day{static_cast<unsigned>(day_of_month)}};
  // Nanoseconds since 1970 in 64 bits reach from 1677 to 2262: stay inside, never overflow.
  if (!date.ok() || year < kMinYear || year > kMaxYear || hour > 23 || minute > 59 || second > 59) {
    text.Fail();
  }
  const auto utc = sys_days{date} + hours{hour} + minutes{minute} + seconds{second} +
                   nanoseconds{nanos} - minutes{offset_minutes};
  return time_point_cast<system_clock::duration>(utc);
}

std::string ToJson(const VipNotification& notification) {
  // json::object keeps insertion order: accountId, then readAt, as the Go struct's fields.
  json::object object;
  object.emplace("accountId", notification.account_id);
  object.emplace("readAt", FormatGoTime(notification.read_at));
  return json::serialize(object);
}

VipNotification ParseVipNotification(std::string_view body) {
  using messaging::PoisonMessage;
  boost::system::error_code ec;
  const json::value value = json::parse(body, ec);
  if (ec) throw PoisonMessage("VIP notification is not JSON: " + ec.message());
  const json::object* object = value.if_object();
  if (object == nullptr) throw PoisonMessage("VIP notification is not a JSON object");

  const json::value* account_id = object->if_contains("accountId");
  if (account_id == nullptr) throw PoisonMessage("VIP notification has no accountId");
  const json::string* account_text = account_id->if_string();
  if (account_text == nullptr) throw PoisonMessage("VIP notification: accountId is not a string");
  if (account_text->empty()) throw PoisonMessage("VIP notification: accountId is empty");
  if (account_text->size() > kMaxAccountIdBytes) {
    throw PoisonMessage("VIP notification: accountId is longer than " +
                        std::to_string(kMaxAccountIdBytes) + " bytes");
  }

  const json::value* read_at = object->if_contains("readAt");
  if (read_at == nullptr) throw PoisonMessage("VIP notification has no readAt");
  const json::string* read_at_text = read_at->if_string();
  if (read_at_text == nullptr) throw PoisonMessage("VIP notification: readAt is not a string");
  try {
    return {.account_id = std::string(*account_text),
            .read_at = ParseGoTime(std::string_view(*read_at_text))};
  } catch (const std::invalid_argument& e) {
    throw PoisonMessage(std::string("VIP notification: readAt ") + e.what());
  }
}

messaging::Message MakeVipMessage(const VipNotification& notification, std::string message_id) {
  messaging::Message message;
  message.body = ToJson(notification);
  message.content_type = "application/json";
  message.message_id = std::move(message_id);
  message.persistent = true;
  return message;
}

std::optional<messaging::QueueType> ParseQueueType(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "classic") return messaging::QueueType::kClassic;
  if (lower == "quorum") return messaging::QueueType::kQuorum;
  return std::nullopt;
}

messaging::QueueType QueueTypeSetting(std::string_view text, std::string_view source,
                                      bool compat_goblog_p9) {
  const auto type = ParseQueueType(text);
  if (!type) {
    throw config::ConfigError("vip_queue_type: '" + std::string(text) + "' (" +
                              std::string(source) + ") must be classic or quorum");
  }
  if (*type == messaging::QueueType::kQuorum && compat_goblog_p9) {
    throw config::ConfigError(
        "vip_queue_type: quorum (" + std::string(source) +
        ") cannot be used with compat_goblog_p9=true: the Go services declare vip_queue as a "
        "non-durable classic queue; set vip_queue_type=classic or compat_goblog_p9=false");
  }
  return *type;
}

std::string QueueNameSetting(std::string_view name, std::string_view source) {
  constexpr std::size_t kMaxQueueName = 200;  // AMQP allows 255; "<name>.dlq" must fit too
  if (name.empty() || name.size() > kMaxQueueName) {
    throw config::ConfigError("vip_queue: '" + std::string(name) + "' (" + std::string(source) +
                              ") must be a queue name of 1 to 200 bytes");
  }
  return std::string(name);
}

messaging::QueueSpec VipQueue(bool compat_goblog_p9, std::string name, messaging::QueueType type) {
  // The Go original: QueueDeclare(name, false, false, false, false, nil) — durable false,
  // autoDelete false, exclusive false, noWait false, no arguments.
  return {.name = std::move(name),
          .durable = !compat_goblog_p9 || type == messaging::QueueType::kQuorum,
          .exclusive = false,
          .auto_delete = false,
          .arguments = {},
          .type = type,
          .type_setting = kVipQueueTypeSetting};
}

std::string VipQueueMismatchHint(std::string_view broker_error) {
  if (broker_error.find("transient_nonexcl_queues") != std::string_view::npos) {
    return "the broker (RabbitMQ 4.3 or later) refuses non-durable non-exclusive queues: add "
           "deprecated_features.permit.transient_nonexcl_queues = true to rabbitmq.conf on every "
           "node and restart them, or set compat_goblog_p9=false (docs/decisions/0003)";
  }
  const auto argument = [&](std::string_view name) {
    return broker_error.find("inequivalent arg '" + std::string(name) + "'") !=
           std::string_view::npos;
  };
  const auto current_pos = broker_error.find("but current is ");
  const std::string_view current = current_pos == std::string_view::npos
                                       ? std::string_view{}
                                       : broker_error.substr(current_pos + 15);
  if (argument("durable")) {
    if (current.starts_with("'false'")) {
      return "set compat_goblog_p9=true: the broker holds the queue non-durable, as the Go "
             "services declare it (docs/decisions/0003)";
    }
    if (current.starts_with("'true'")) {
      return "set compat_goblog_p9=false: the broker holds the queue durable, as our services "
             "declare it by default";
    }
  }
  if (argument("x-queue-type")) {
    if (current.find("'quorum'") != std::string_view::npos) {
      return "set vip_queue_type=quorum: the broker holds a quorum queue (docs/decisions/0011)";
    }
    if (current.starts_with("none") || current.find("'classic'") != std::string_view::npos) {
      return "set vip_queue_type=classic: the broker holds a classic queue";
    }
  }
  return "do compat_goblog_p9 and vip_queue_type match how the other services declare it?";
}

}  // namespace cppblog::vip

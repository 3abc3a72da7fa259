#include "cppblog/config/refresh_event.hpp"

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

#include "cppblog/text/escape.hpp"

namespace cppblog::config {
namespace {

namespace json = boost::json;

constexpr char kSeparator = ':';
constexpr std::string_view kEventPackage = "org.springframework.cloud.bus.event.";

BusEventType KindOf(std::string_view type) {
  if (type == "RefreshRemoteApplicationEvent") {
    return BusEventType::kRefresh;
  }
  if (type == "AckRemoteApplicationEvent") {
    return BusEventType::kAck;
  }
  if (type == "EnvironmentChangeRemoteApplicationEvent") {
    return BusEventType::kEnvironmentChange;
  }
  if (type == "ShutdownRemoteApplicationEvent") {
    return BusEventType::kShutdown;
  }
  return BusEventType::kUnknown;
}

std::string StringField(const json::object& object, std::string_view field) {
  const json::value* value = object.if_contains(field);
  if (value == nullptr || value->is_null()) {
    return {};
  }
  if (!value->is_string()) {
    throw std::invalid_argument("bus event: \"" + std::string(field) + "\" is not a string");
  }
  return std::string(value->get_string());
}

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> segments;
  while (!path.empty()) {
    const auto end = path.find(kSeparator);
    if (end != 0) {
      segments.push_back(path.substr(0, end));
    }
    if (end == std::string_view::npos) {
      break;
    }
    path.remove_prefix(end + 1);
  }
  return segments;
}

// One segment against one pattern segment with '*' (any run) and '?' (one character).
bool MatchSegment(std::string_view pattern, std::string_view text) {
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = std::string_view::npos;
  std::size_t resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') {
    ++p;
  }
  return p == pattern.size();
}

bool MatchSegments(const std::vector<std::string_view>& pattern, std::size_t p,
                   const std::vector<std::string_view>& path, std::size_t t) {
  if (p == pattern.size()) {
    return t == path.size();
  }
  if (pattern[p] == "**") {
    for (std::size_t skip = t; skip <= path.size(); ++skip) {
      if (MatchSegments(pattern, p + 1, path, skip)) {
        return true;
      }
    }
    return false;
  }
  return t < path.size() && MatchSegment(pattern[p], path[t]) &&
         MatchSegments(pattern, p + 1, path, t + 1);
}

}  // namespace

BusEvent ParseBusEvent(std::string_view text) {
  std::error_code error;
  const json::value root = json::parse(text, error);
  if (error) {
    throw std::invalid_argument("bus event: malformed JSON (" + error.message() + ")");
  }
  if (!root.is_object()) {
    throw std::invalid_argument("bus event: not a JSON object");
  }
  const json::object& object = root.get_object();

  BusEvent event;
  event.type = StringField(object, "type");
  event.kind = KindOf(event.type);
  if (const json::value* timestamp = object.if_contains("timestamp"); timestamp != nullptr) {
    if (timestamp->is_int64()) {
      event.timestamp_ms = timestamp->get_int64();
    } else if (timestamp->is_uint64()) {
      event.timestamp_ms = static_cast<std::int64_t>(timestamp->get_uint64());
    } else if (!timestamp->is_null()) {
      throw std::invalid_argument("bus event: \"timestamp\" is not an integer");
    }
  }
  event.origin_service = StringField(object, "originService");
  if (const json::value* destination = object.if_contains("destinationService");
      destination != nullptr && !destination->is_null()) {
    event.destination_service = StringField(object, "destinationService");
  }
  event.id = StringField(object, "id");
  event.ack_id = StringField(object, "ackId");
  event.ack_destination_service = StringField(object, "ackDestinationService");
  event.event = StringField(object, "event");
  return event;
}

std::string NormalizeDestination(const std::optional<std::string>& destination) {
  if (!destination || destination->empty()) {
    return "**";
  }
  std::string normalized = *destination;
  const auto colons = std::count(normalized.begin(), normalized.end(), kSeparator);
  if (normalized != "**" && colons <= 1 && !normalized.ends_with(":**")) {
    normalized += ":**";
  }
  return normalized;
}

bool MatchesAntPath(std::string_view pattern, std::string_view path) {
  // As AntPathMatcher: a leading separator on one side only never matches.
  if (pattern.starts_with(kSeparator) != path.starts_with(kSeparator)) {
    return false;
  }
  return MatchSegments(Segments(pattern), 0, Segments(path), 0);
}

bool MatchesBusId(std::string_view pattern, std::string_view bus_id) {
  if (MatchesAntPath(pattern, bus_id)) {
    return true;
  }
  std::vector<std::string_view> segments = Segments(bus_id);
  if (segments.size() <= 1 || segments[1].find(',') == std::string_view::npos) {
    return false;
  }
  std::string_view profiles = segments[1];
  while (!profiles.empty()) {
    const auto comma = profiles.find(',');
    const std::string_view profile = profiles.substr(0, comma);
    if (!profile.empty()) {
      std::string candidate;
      for (std::size_t i = 0; i < segments.size(); ++i) {
        if (i > 0) {
          candidate += kSeparator;
        }
        candidate += i == 1 ? profile : segments[i];
      }
      if (MatchesAntPath(pattern, candidate)) {
        return true;
      }
    }
    if (comma == std::string_view::npos) {
      break;
    }
    profiles.remove_prefix(comma + 1);
  }
  return false;
}

std::string RandomUuid() {
  // boost's generator is not thread-safe; ids are made rarely, a lock is cheap enough.
  static std::mutex mutex;
  static boost::uuids::random_generator generator;
  const std::lock_guard lock{mutex};
  return boost::uuids::to_string(generator());
}

std::string MakeBusId(std::string_view app, std::uint16_t port) {
  std::string random;
  for (const char c : RandomUuid()) {
    if (c != '-') {
      random += c;
    }
  }
  return std::string(app) + kSeparator + std::to_string(port) + kSeparator + random;
}

const char* ToString(BusEventAction action) noexcept {
  switch (action) {
    case BusEventAction::kRefresh:
      return "refresh";
    case BusEventAction::kIgnoreAck:
      return "ignored (an ack)";
    case BusEventAction::kIgnoreOwn:
      return "ignored (sent by this instance)";
    case BusEventAction::kIgnoreNotForUs:
      return "ignored (destination does not match this instance)";
    case BusEventAction::kIgnoreOtherType:
      return "ignored (not a refresh event)";
  }
  return "ignored";
}

BusEventAction Decide(const BusEvent& event, std::string_view bus_id) {
  if (event.kind == BusEventType::kAck) {
    return BusEventAction::kIgnoreAck;
  }
  if (!event.origin_service.empty() && MatchesBusId(event.origin_service, bus_id)) {
    return BusEventAction::kIgnoreOwn;
  }
  if (!MatchesBusId(NormalizeDestination(event.destination_service), bus_id)) {
    return BusEventAction::kIgnoreNotForUs;
  }
  if (event.kind != BusEventType::kRefresh) {
    return BusEventAction::kIgnoreOtherType;
  }
  return BusEventAction::kRefresh;
}

std::string MakeAckJson(const BusEvent& acked, std::string_view bus_id,
                        std::string_view ack_event_id, std::int64_t timestamp_ms) {
  json::object ack;
  ack["type"] = "AckRemoteApplicationEvent";
  ack["timestamp"] = timestamp_ms;
  ack["originService"] = bus_id;
  ack["destinationService"] = "**";
  ack["id"] = ack_event_id;
  ack["ackId"] = acked.id;
  if (acked.destination_service) {
    ack["ackDestinationService"] = *acked.destination_service;
  } else {
    ack["ackDestinationService"] = nullptr;
  }
  ack["event"] = std::string(kEventPackage) + acked.type;
  return json::serialize(ack);
}

std::string MakeRefreshJson(std::string_view origin_service, std::string_view destination_service,
                            std::string_view event_id, std::int64_t timestamp_ms) {
  // Written by hand with the tree's one escaper, in the field order Spring's Jackson writes.
  return R"({"type":"RefreshRemoteApplicationEvent","timestamp":)" + std::to_string(timestamp_ms) +
         R"(,"originService":)" + text::JsonString(origin_service) + R"(,"destinationService":)" +
         text::JsonString(destination_service) + R"(,"id":)" + text::JsonString(event_id) + "}";
}

}  // namespace cppblog::config

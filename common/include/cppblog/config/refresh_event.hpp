#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cppblog::config {

/// The `type` of the Spring Cloud Bus events a service tells apart.
enum class BusEventType {
  kRefresh,            // RefreshRemoteApplicationEvent: reload the configuration
  kAck,                // AckRemoteApplicationEvent: an instance handled an event; never acted on
  kEnvironmentChange,  // EnvironmentChangeRemoteApplicationEvent (/actuator/busenv)
  kShutdown,           // ShutdownRemoteApplicationEvent (/actuator/busshutdown)
  kUnknown,            // anything else (Spring's UnknownRemoteApplicationEvent)
};

/// A RemoteApplicationEvent as it travels on the bus (a JSON body, `type` naming the class).
struct BusEvent {
  std::string type;  // as received, "RefreshRemoteApplicationEvent"
  BusEventType kind = BusEventType::kUnknown;
  std::int64_t timestamp_ms = 0;  // epoch milliseconds
  std::string origin_service;     // the sender's bus id
  /// As received; nullopt when absent or null (which means "everyone", see NormalizeDestination).
  std::optional<std::string> destination_service;
  std::string id;  // a UUID
  // AckRemoteApplicationEvent only.
  std::string ack_id;                   // the id of the acknowledged event
  std::string ack_destination_service;  // its destination
  std::string event;                    // its Java class name
};

/// Parses a bus event body. Fields other than the ones above are ignored (as Spring's
/// Jackson reader ignores `source`); missing ones stay empty. Pure function. Throws
/// std::invalid_argument for a body that is not a JSON object, or a field of the wrong type.
[[nodiscard]] BusEvent ParseBusEvent(std::string_view text);

/// Spring's PathDestination: null or empty → "**"; "**" stays; a value with at most one ':' that
/// does not end in ":**" gets ":**" appended ("accountservice" → "accountservice:**",
/// "customers:9000" → "customers:9000:**").
[[nodiscard]] std::string NormalizeDestination(const std::optional<std::string>& destination);

/// Spring's AntPathMatcher with ':' as the separator: `*` matches within one segment (also
/// inside a segment, "account*"), `?` one character, `**` (a whole segment) any number of
/// segments, including none. Empty segments are ignored ("a::b" is "a:b").
[[nodiscard]] bool MatchesAntPath(std::string_view pattern, std::string_view path);

/// Spring Cloud Bus's DefaultBusPathMatcher: MatchesAntPath, then, when the id's second
/// segment is a comma-separated list ("app:dev,test:8080"), the match retried with each
/// item alone ("app:dev:8080", "app:test:8080").
[[nodiscard]] bool MatchesBusId(std::string_view pattern, std::string_view bus_id);

/// A unique bus id "app:port:<32 hex digits>", Spring's default form
/// `${spring.application.name}:${server.port}:${random.value}`. Unique per call, so two
/// instances on one host (same port in different containers) never take each other's events
/// for their own. Thread-safe.
[[nodiscard]] std::string MakeBusId(std::string_view app, std::uint16_t port);

/// A random (version 4) UUID, "53e61c71-cbae-4b6d-84bb-d0dcc0aeb4dc". Thread-safe.
[[nodiscard]] std::string RandomUuid();

/// What a service does with an event it received.
enum class BusEventAction {
  kRefresh,          // a refresh addressed to this instance: reload, then ack
  kIgnoreAck,        // an AckRemoteApplicationEvent (from anyone)
  kIgnoreOwn,        // sent by this instance (originService is its bus id)
  kIgnoreNotForUs,   // destinationService does not match this instance's bus id
  kIgnoreOtherType,  // a type this service does not act on (unknown, busenv, busshutdown)
};

[[nodiscard]] const char* ToString(BusEventAction action) noexcept;

/// Decides, as Spring's BusConsumer and PathServiceMatcher do: acks are never acted on, nor
/// events from oneself; the (normalised) destination must match `bus_id` (MatchesBusId); only
/// refresh events lead to an action. Pure function.
[[nodiscard]] BusEventAction Decide(const BusEvent& event, std::string_view bus_id);

/// The AckRemoteApplicationEvent that Spring's BusConsumer sends after handling `acked`:
/// {"type":"AckRemoteApplicationEvent","timestamp":…,"originService":<bus_id>,
///  "destinationService":"**","id":<ack_event_id>,"ackId":<acked.id>,
///  "ackDestinationService":<acked's destination as received>,
///  "event":"org.springframework.cloud.bus.event.RefreshRemoteApplicationEvent"}.
[[nodiscard]] std::string MakeAckJson(const BusEvent& acked, std::string_view bus_id,
                                      std::string_view ack_event_id, std::int64_t timestamp_ms);

/// A RefreshRemoteApplicationEvent body, as the configserver (or /actuator/busrefresh) sends it.
[[nodiscard]] std::string MakeRefreshJson(std::string_view origin_service,
                                          std::string_view destination_service,
                                          std::string_view event_id, std::int64_t timestamp_ms);

}  // namespace cppblog::config

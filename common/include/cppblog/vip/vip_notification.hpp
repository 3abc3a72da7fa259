#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "cppblog/messaging/message.hpp"
#include "cppblog/messaging/topology.hpp"

namespace cppblog::vip {

/// The queue both services use, as the Go original names it.
inline constexpr std::string_view kVipQueueName = "vip_queue";

/// The longest account id a notification, an offer or GET /offers/{accountId} takes, in bytes:
/// longer ones are refused (a poison message, a 400) before they reach a store.
inline constexpr std::size_t kMaxAccountIdBytes = 128;

/// "An account marked VIP was read": what the accountservice sends and the vipservice
/// consumes. On the wire (contract.md): {"accountId":"10000","readAt":"<Go time.String()>"}.
struct VipNotification {
  std::string account_id;
  std::chrono::system_clock::time_point read_at;

  friend bool operator==(const VipNotification&, const VipNotification&) = default;
};

/// The body exactly as the Go original writes it:
/// {"accountId":"10000","readAt":"2017-02-15 20:06:27.033757223 +0000 UTC"}.
/// The account id is JSON-escaped; nothing else varies. Never throws but std::bad_alloc.
[[nodiscard]] std::string ToJson(const VipNotification& notification);

/// A time as Go's time.Time.String() prints a UTC time (layout
/// "2006-01-02 15:04:05.999999999 -0700 MST"): the fraction has trailing zeros trimmed and is
/// left out with its dot when it is zero: "2017-02-15 20:06:27.0337 +0000 UTC",
/// "2017-02-15 20:06:27 +0000 UTC". Nanosecond precision; years 0000..9999.
[[nodiscard]] std::string FormatGoTime(std::chrono::system_clock::time_point time);

/// Parses what FormatGoTime writes, any "+hhmm ABBR" offset (the abbreviation is ignored, the
/// offset applied) and a trailing Go monotonic reading (" m=+0.000012"), and also RFC 3339
/// ("2017-02-15T20:06:27.033757223Z", "…+01:00"). 0 to 9 fraction digits; years 1678..2261
/// (what nanoseconds since 1970 hold in 64 bits).
/// Throws std::invalid_argument naming the text and the expected forms.
[[nodiscard]] std::chrono::system_clock::time_point ParseGoTime(std::string_view text);

/// Parses a notification body. Unknown fields are ignored (a newer producer may add some).
/// Throws messaging::PoisonMessage naming the problem (not JSON, not an object, accountId
/// missing, not a string, empty or longer than 128 bytes, readAt missing or not a time), so a
/// consumer handler that lets it escape dead-letters the message with that reason.
[[nodiscard]] VipNotification ParseVipNotification(std::string_view body);

/// The message to publish: ToJson body, content type application/json, persistent, the given
/// message id (it must be unique per notification: the vipservice deduplicates by it).
[[nodiscard]] messaging::Message MakeVipMessage(const VipNotification& notification,
                                                std::string message_id);

/// The setting that chooses vip_queue's type, as errors name it.
inline constexpr const char* kVipQueueTypeSetting = "vip_queue_type (env VIP_QUEUE_TYPE)";

/// "classic" or "quorum" (any case) → the type; std::nullopt for anything else.
[[nodiscard]] std::optional<messaging::QueueType> ParseQueueType(std::string_view text);

/// The setting vip_queue_type as both services read it: `text` parsed by ParseQueueType, from
/// `source` (for the error). Throws config::ConfigError naming the key, the value and the source
/// for anything but classic or quorum, and for quorum with compat_goblog_p9 (the Go services
/// declare vip_queue as a non-durable classic queue).
[[nodiscard]] messaging::QueueType QueueTypeSetting(std::string_view text, std::string_view source,
                                                    bool compat_goblog_p9);

/// The setting vip_queue as both services read it: `name` from `source` (for the error). Throws
/// config::ConfigError naming the key, the value and the source unless it is 1 to 200 bytes
/// (AMQP allows 255; "<name>.dlq" must fit too).
[[nodiscard]] std::string QueueNameSetting(std::string_view name, std::string_view source);

/// How `vip_queue` (or `name`) is declared. Both services must agree, and so must any Go
/// service sharing the broker, or the second declaration fails with PRECONDITION_FAILED.
///  - ours (compat_goblog_p9 false): durable, not exclusive, not auto-delete, no arguments;
///  - compat (true): exactly the Go original's QueueDeclare("vip_queue", false, false, false,
///    false, nil): non-durable, not auto-delete, not exclusive, no arguments. The queue and the
///    messages in it are lost when the broker restarts (docs/decisions/0003);
///  - `type` quorum (vip_queue_type): x-queue-type=quorum, durable; its dead-letter queue too
///    (docs/decisions/0011). Not with compat_goblog_p9 (the services' settings refuse that).
[[nodiscard]] messaging::QueueSpec VipQueue(
    bool compat_goblog_p9, std::string name = std::string(kVipQueueName),
    messaging::QueueType type = messaging::QueueType::kClassic);

/// The one-line hint for a PRECONDITION_FAILED on `vip_queue`: from the broker's reply
/// ("inequivalent arg 'durable' … received 'true' but current is 'false'"), the setting and the
/// value that match the queue the broker holds: "set compat_goblog_p9=true (…)" for a
/// non-durable queue (the Go declaration), "compat_goblog_p9=false" for a durable one,
/// "vip_queue_type=quorum|classic" for a queue of the other type; for a broker that refuses
/// transient non-exclusive queues (RabbitMQ 4.3+, compat mode), the rabbitmq.conf key that
/// permits them; otherwise a question naming both settings.
[[nodiscard]] std::string VipQueueMismatchHint(std::string_view broker_error);

}  // namespace cppblog::vip

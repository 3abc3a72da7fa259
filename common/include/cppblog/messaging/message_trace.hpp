#pragma once

#include <optional>

#include "cppblog/messaging/message.hpp"
#include "cppblog/trace/trace_context.hpp"

namespace cppblog::messaging {

/// The W3C trace context a message carries (docs/operations.md, "Trace context"): the span its
/// publisher named in the string header `traceparent` (trace::kTraceparentHeader), with the
/// string header `tracestate` (trace::kTracestateHeader) carried along, or none when that is
/// missing, not a string or longer than trace::kMaxTraceStateBytes. nullopt when the message has
/// no `traceparent`, or one that is not a string or that trace::ParseTraceparent refuses: such a
/// message is outside any trace, never in error. A handler runs as trace::ChildOf the result.
/// The one place a received message's trace headers are read. Never throws but std::bad_alloc.
[[nodiscard]] std::optional<trace::TraceContext> TraceContextOf(const Message& message);

}  // namespace cppblog::messaging

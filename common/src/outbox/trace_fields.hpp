#pragma once

#include <string>
#include <string_view>

#include "cppblog/outbox/outbox_store.hpp"
#include "cppblog/trace/trace_context.hpp"

namespace cppblog::outbox {

/// What both outboxes keep of a message's trace (OutboxMessage says it): a traceparent or
/// tracestate holding US (0x1f) or NUL is no valid one, and the LMDB outbox's value format
/// separates its fields with them; a tracestate without a traceparent or over
/// trace::kMaxTraceStateBytes is not kept either.
inline void DropWhatCannotBeKept(OutboxMessage& message) {
  constexpr std::string_view kSeparators{"\x1f\0", 2};
  if (message.traceparent.find_first_of(kSeparators) != std::string::npos) {
    message.traceparent.clear();
  }
  if (message.traceparent.empty() || message.tracestate.size() > trace::kMaxTraceStateBytes ||
      message.tracestate.find_first_of(kSeparators) != std::string::npos) {
    message.tracestate.clear();
  }
}

}  // namespace cppblog::outbox

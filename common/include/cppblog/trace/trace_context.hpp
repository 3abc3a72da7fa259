#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cppblog::trace {

/// W3C Trace Context (https://www.w3.org/TR/trace-context/): where a unit of work sits in a
/// trace. A small value carried with the work (a request, an outbox entry, a message's
/// headers), never through a thread-local.
struct TraceContext {
  std::array<std::uint8_t, 16> trace_id{};
  std::array<std::uint8_t, 8> span_id{};  // the parent-id of the traceparent header
  std::uint8_t flags = 0;                 // bit 0: sampled
  /// The tracestate header as received (vendor entries, passed on unchanged); empty if none.
  std::string trace_state{};

  [[nodiscard]] bool Sampled() const noexcept { return (flags & 0x01U) != 0; }
  friend bool operator==(const TraceContext&, const TraceContext&) = default;
};

/// The names of the headers (HTTP, and AMQP message headers as strings).
inline constexpr std::string_view kTraceparentHeader = "traceparent";
inline constexpr std::string_view kTracestateHeader = "tracestate";

/// The longest tracestate kept (the specification asks to pass on at least 512 characters);
/// a longer one is dropped.
inline constexpr std::size_t kMaxTraceStateBytes = 512;

/// Parses a traceparent header ("00-<32 hex>-<16 hex>-<2 hex>"), and a tracestate header to
/// carry along. nullopt for anything malformed: wrong length or separators, upper-case or
/// non-hex digits, version ff, an all-zero trace or span id, a version 00 header with trailing
/// text. A higher version is read by its first four fields, as the specification says, when
/// what follows them starts with '-'. A malformed header is never an error: the caller starts
/// a new trace. Never throws but std::bad_alloc.
[[nodiscard]] std::optional<TraceContext> ParseTraceparent(std::string_view traceparent,
                                                           std::string_view tracestate = {});

/// "00-<trace id>-<span id>-<flags>", lower-case hex (version 00 whatever was received).
[[nodiscard]] std::string FormatTraceparent(const TraceContext& context);

/// The trace id and span id of a traceparent FormatTraceparent wrote ("00-<32>-<16>-<2>"), as
/// views into it: for log fields, without a copy. Both empty when `traceparent` is not of that
/// shape (it is not validated further: parse what comes from outside with ParseTraceparent).
struct TraceparentIds {
  std::string_view trace_id;
  std::string_view span_id;
};
[[nodiscard]] TraceparentIds IdsOf(std::string_view traceparent) noexcept;

/// A new trace: random trace and span ids (never all zero), sampled. Thread-safe.
[[nodiscard]] TraceContext NewTrace();

/// The next span of the same trace: same trace id, flags and tracestate, a new random span id.
/// Thread-safe.
[[nodiscard]] TraceContext ChildOf(const TraceContext& parent);

/// The ids in lower-case hex, as logs and stored records show them.
[[nodiscard]] std::string TraceIdHex(const TraceContext& context);
[[nodiscard]] std::string SpanIdHex(const TraceContext& context);

}  // namespace cppblog::trace

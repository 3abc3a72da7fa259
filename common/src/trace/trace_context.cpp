#include "cppblog/trace/trace_context.hpp"

#include <algorithm>
#include <random>
#include <span>

namespace cppblog::trace {
namespace {

constexpr std::size_t kVersion00Length = 55;  // 2 + 1 + 32 + 1 + 16 + 1 + 2
constexpr char kHex[] = "0123456789abcdef";

// A lower-case hex digit's value, or -1 (upper case is not allowed by the specification).
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool ParseHex(std::string_view text, std::span<std::uint8_t> out) {
  if (text.size() != out.size() * 2) return false;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int high = HexValue(text[2 * i]);
    const int low = HexValue(text[2 * i + 1]);
    if (high < 0 || low < 0) return false;
    out[i] = static_cast<std::uint8_t>(high * 16 + low);
  }
  return true;
}

std::string ToHex(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const std::uint8_t b : bytes) {
    out += kHex[b >> 4U];
    out += kHex[b & 0x0FU];
  }
  return out;
}

bool AllZero(std::span<const std::uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

void FillRandom(std::span<std::uint8_t> bytes) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  do {
    for (std::size_t i = 0; i < bytes.size(); i += 8) {
      const std::uint64_t value = random();
      for (std::size_t j = 0; j < 8 && i + j < bytes.size(); ++j) {
        bytes[i + j] = static_cast<std::uint8_t>(value >> (8 * j));
      }
    }
  } while (AllZero(bytes));
}

}  // namespace

std::optional<TraceContext> ParseTraceparent(std::string_view traceparent,
                                             std::string_view tracestate) {
  // Surrounding whitespace is allowed in a header value.
  while (!traceparent.empty() && (traceparent.front() == ' ' || traceparent.front() == '\t')) {
    traceparent.remove_prefix(1);
  }
  while (!traceparent.empty() && (traceparent.back() == ' ' || traceparent.back() == '\t')) {
    traceparent.remove_suffix(1);
  }
  if (traceparent.size() < kVersion00Length) return std::nullopt;
  std::uint8_t version = 0;
  if (!ParseHex(traceparent.substr(0, 2), std::span{&version, 1}) || version == 0xFF) {
    return std::nullopt;
  }
  if (version == 0 && traceparent.size() != kVersion00Length) return std::nullopt;
  if (version > 0 && traceparent.size() > kVersion00Length &&
      traceparent[kVersion00Length] != '-') {
    return std::nullopt;
  }
  if (traceparent[2] != '-' || traceparent[35] != '-' || traceparent[52] != '-') {
    return std::nullopt;
  }
  TraceContext context;
  if (!ParseHex(traceparent.substr(3, 32), context.trace_id) ||
      !ParseHex(traceparent.substr(36, 16), context.span_id) ||
      !ParseHex(traceparent.substr(53, 2), std::span{&context.flags, 1})) {
    return std::nullopt;
  }
  if (AllZero(context.trace_id) || AllZero(context.span_id)) return std::nullopt;
  if (tracestate.size() <= kMaxTraceStateBytes) context.trace_state = std::string(tracestate);
  return context;
}

std::string FormatTraceparent(const TraceContext& context) {
  return "00-" + ToHex(context.trace_id) + "-" + ToHex(context.span_id) + "-" +
         ToHex(std::span{&context.flags, 1});
}

TraceparentIds IdsOf(std::string_view traceparent) noexcept {
  constexpr std::size_t kLength = 55;  // 2 + 1 + 32 + 1 + 16 + 1 + 2
  if (traceparent.size() != kLength || traceparent[2] != '-' || traceparent[35] != '-' ||
      traceparent[52] != '-') {
    return {};
  }
  return {.trace_id = traceparent.substr(3, 32), .span_id = traceparent.substr(36, 16)};
}

TraceContext NewTrace() {
  TraceContext context;
  FillRandom(context.trace_id);
  FillRandom(context.span_id);
  context.flags = 0x01;
  return context;
}

TraceContext ChildOf(const TraceContext& parent) {
  TraceContext child = parent;
  FillRandom(child.span_id);
  return child;
}

std::string TraceIdHex(const TraceContext& context) { return ToHex(context.trace_id); }
std::string SpanIdHex(const TraceContext& context) { return ToHex(context.span_id); }

}  // namespace cppblog::trace

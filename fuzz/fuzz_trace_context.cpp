// traceparent and tracestate headers (any HTTP client, any AMQP publisher sets them). The input
// is "<traceparent>\n<tracestate>". What parses must format back to a header that parses to the
// same context.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cppblog/trace/trace_context.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text{reinterpret_cast<const char*>(data), size};
  const auto newline = text.find('\n');
  const std::string_view traceparent = text.substr(0, newline);
  const std::string_view tracestate =
      newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
  using namespace cppblog::trace;
  const auto context = ParseTraceparent(traceparent, tracestate);
  if (!context) return 0;
  const auto again = ParseTraceparent(FormatTraceparent(*context), context->trace_state);
  if (!again || *again != *context) __builtin_trap();  // the round trip lost something
  if (TraceIdHex(*context).size() != 32 || SpanIdHex(*context).size() != 16) __builtin_trap();
  const TraceContext child = ChildOf(*context);
  if (child.trace_id != context->trace_id || child.trace_state != context->trace_state) {
    __builtin_trap();
  }
  return 0;
}

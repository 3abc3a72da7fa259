#include "cppblog/messaging/message_trace.hpp"

#include <string>
#include <string_view>
#include <variant>

namespace cppblog::messaging {
namespace {

// The text of a string header; empty when the header is missing or of another type.
std::string_view StringHeader(const Headers& headers, std::string_view name) {
  const auto header = headers.find(name);
  if (header == headers.end()) return {};
  const auto* text = std::get_if<std::string>(&header->second);
  return text != nullptr ? std::string_view{*text} : std::string_view{};
}

}  // namespace

std::optional<trace::TraceContext> TraceContextOf(const Message& message) {
  return trace::ParseTraceparent(StringHeader(message.headers, trace::kTraceparentHeader),
                                 StringHeader(message.headers, trace::kTracestateHeader));
}

}  // namespace cppblog::messaging

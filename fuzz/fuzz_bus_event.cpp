// Spring Cloud Bus events (anyone who can publish to springCloudBus sends these).
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "cppblog/config/refresh_event.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text{reinterpret_cast<const char*>(data), size};
  using namespace cppblog::config;
  try {
    const BusEvent event = ParseBusEvent(text);
    static_cast<void>(Decide(event, "accountservice:6767:0123456789abcdef0123456789abcdef"));
    static_cast<void>(MakeAckJson(event, "accountservice:6767:x", "id", 1));
    const std::string destination = NormalizeDestination(event.destination_service);
    static_cast<void>(MatchesBusId(destination, event.origin_service));
  } catch (const std::invalid_argument&) {  // the documented refusal
  }
  // The destination as a pattern against the input as an id, without JSON around it.
  const auto half = text.size() / 2;
  static_cast<void>(MatchesBusId(text.substr(0, half), text.substr(half)));
  return 0;
}

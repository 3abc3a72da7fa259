// AMQP URLs (settings, environment variables, AMQP_PASSWORD_FILE contents end up here).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cppblog/messaging/amqp_url.hpp"
#include "cppblog/messaging/messaging_error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text{reinterpret_cast<const char*>(data), size};
  try {
    static_cast<void>(cppblog::messaging::ParseAmqpUrl(text));
  } catch (const cppblog::messaging::MessagingError&) {  // the documented refusal
  }
  try {
    static_cast<void>(cppblog::messaging::ParseAmqpUrlList(text));
  } catch (const cppblog::messaging::MessagingError&) {
  }
  return 0;
}

// VIP notification bodies (vip_queue is shared with the Go services and anyone on the broker).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cppblog/messaging/message.hpp"
#include "cppblog/vip/vip_notification.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text{reinterpret_cast<const char*>(data), size};
  try {
    const auto notification = cppblog::vip::ParseVipNotification(text);
    static_cast<void>(cppblog::vip::ToJson(notification));
  } catch (const cppblog::messaging::PoisonMessage&) {  // the documented refusal
  }
  static_cast<void>(cppblog::vip::VipQueueMismatchHint(text));
  return 0;
}

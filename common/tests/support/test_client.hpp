#pragma once

#include <chrono>
#include <future>

#include <gtest/gtest.h>

#include "cppblog/messaging/amqp_client.hpp"

#include "broker_test_env.hpp"

// What the tests of AmqpClient against the broker of ./dev test share.
namespace cppblog::messaging {

/// A client of the test broker that retries a lost connection within a second.
[[nodiscard]] inline AmqpClientOptions TestOptions() {
  return {.url = TestAmqpUrl(), .reconnect_max = std::chrono::milliseconds{1000}};
}

/// Waits for `future` (a declaration, a subscription, a confirm) and rethrows what it failed
/// with; fails the test when it is not ready within `wait`.
template <typename T>
void Ready(std::future<T>& future, std::chrono::milliseconds wait = std::chrono::seconds{20}) {
  ASSERT_EQ(future.wait_for(wait), std::future_status::ready);
  future.get();
}

}  // namespace cppblog::messaging

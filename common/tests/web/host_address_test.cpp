#include "cppblog/web/host_address.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

namespace cppblog::web {
namespace {

TEST(HostAddress, IsDottedIpv4ThatIsNotLoopbackUnlessFallback) {
  const std::string address = FirstNonLoopbackIpv4();

  in_addr parsed{};
  ASSERT_EQ(inet_pton(AF_INET, address.c_str(), &parsed), 1) << address;
  const bool loopback = (ntohl(parsed.s_addr) >> 24) == 127;
  EXPECT_TRUE(!loopback || address == "127.0.0.1") << address;
}

TEST(HostAddress, IsStableAcrossCalls) {
  EXPECT_EQ(FirstNonLoopbackIpv4(), FirstNonLoopbackIpv4());
}

}  // namespace
}  // namespace cppblog::web

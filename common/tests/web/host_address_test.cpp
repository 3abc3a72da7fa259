#include "cppblog/web/host_address.hpp"

#include <array>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

namespace cppblog::web {
namespace {

TEST(HostAddress, IsDottedIpv4ThatIsNotLoopbackUnlessFallback) {
  const std::string address = FirstNonLoopbackIpv4();

  in_addr parsed{};
  ASSERT_EQ(inet_pton(AF_INET, address.c_str(), &parsed), 1) << address;
  const bool loopback = (ntohl(parsed.s_addr) >> 24) == 127;
  EXPECT_TRUE(!loopback || address == "127.0.0.1") << address;
}

// Every up, non-loopback IPv4 address of the host, read independently of the code under test.
std::set<std::string> HostIpv4Addresses() {
  std::set<std::string> addresses;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return addresses;
  for (const ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr || entry->ifa_addr->sa_family != AF_INET) continue;
    if ((entry->ifa_flags & IFF_UP) == 0 || (entry->ifa_flags & IFF_LOOPBACK) != 0) continue;
    std::array<char, INET_ADDRSTRLEN> text{};
    const auto* address = reinterpret_cast<const sockaddr_in*>(entry->ifa_addr);
    if (inet_ntop(AF_INET, &address->sin_addr, text.data(), text.size()) != nullptr) {
      addresses.insert(text.data());
    }
  }
  freeifaddrs(list);
  return addresses;
}

// Stable: the same one of the host's addresses for every caller, from any thread (servedBy must
// not change between two answers of one instance), and one the host really has.
TEST(HostAddress, IsStableAcrossCalls) {
  EXPECT_EQ(FirstNonLoopbackIpv4(), FirstNonLoopbackIpv4());

  const std::string first = FirstNonLoopbackIpv4();
  const std::set<std::string> host = HostIpv4Addresses();
  if (host.empty()) {
    EXPECT_EQ(first, "127.0.0.1");
  } else {
    EXPECT_TRUE(host.contains(first)) << first << " is not an address of this host";
  }
  constexpr int kThreads = 4;
  constexpr int kCalls = 50;
  std::vector<std::set<std::string>> seen(kThreads);
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&seen, t] {
        for (int i = 0; i < kCalls; ++i) seen[t].insert(FirstNonLoopbackIpv4());
      });
    }
  }
  for (const auto& per_thread : seen) {
    EXPECT_EQ(per_thread, std::set<std::string>{first});
  }
}

}  // namespace
}  // namespace cppblog::web

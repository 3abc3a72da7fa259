#pragma once

#include <string>

namespace cppblog::web {

/// The host's first non-loopback IPv4 address ("10.255.0.11"), or "127.0.0.1"
/// when it has none. Used for the contract's `servedBy`.
[[nodiscard]] std::string FirstNonLoopbackIpv4();

}  // namespace cppblog::web

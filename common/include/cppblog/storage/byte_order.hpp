#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace cppblog::storage {

/// How the stores write times and numbers as bytes: one place for LMDB keys and values and for
/// PostgreSQL's binary parameters.

/// Nanoseconds since the epoch of a system_clock time (saturating is the caller's concern: the
/// range is ±292 years), and back.
[[nodiscard]] std::int64_t ToNanos(std::chrono::system_clock::time_point time) noexcept;
[[nodiscard]] std::chrono::system_clock::time_point FromNanos(std::int64_t nanos) noexcept;

/// `value`'s 8 bytes, most significant first (network byte order: PostgreSQL's binary int8).
[[nodiscard]] std::array<char, 8> BigEndian64(std::int64_t value) noexcept;
/// The 8 bytes at `bytes` read most significant first. `bytes` must hold at least 8.
[[nodiscard]] std::int64_t ReadBigEndian64(const char* bytes) noexcept;

/// A signed number as 8 bytes whose byte order is its numeric order (big-endian with the sign bit
/// flipped), appended to `out`: keys LMDB sorts by time. ReadOrdered64 reads the first 8 bytes of
/// `bytes` back (it must hold at least 8).
void AppendOrdered64(std::string& out, std::int64_t value);
[[nodiscard]] std::int64_t ReadOrdered64(std::string_view bytes) noexcept;

}  // namespace cppblog::storage

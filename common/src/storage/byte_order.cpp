#include "cppblog/storage/byte_order.hpp"

namespace cppblog::storage {
namespace {

constexpr std::uint64_t kSignBit = std::uint64_t{1} << 63;

}  // namespace

std::int64_t ToNanos(std::chrono::system_clock::time_point time) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

std::chrono::system_clock::time_point FromNanos(std::int64_t nanos) noexcept {
  return std::chrono::system_clock::time_point{
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds{nanos})};
}

std::array<char, 8> BigEndian64(std::int64_t value) noexcept {
  std::array<char, 8> bytes{};
  auto bits = static_cast<std::uint64_t>(value);
  for (int i = 7; i >= 0; --i) {
    bytes[static_cast<std::size_t>(i)] = static_cast<char>(bits & 0xff);
    bits >>= 8;
  }
  return bytes;
}

std::int64_t ReadBigEndian64(const char* bytes) noexcept {
  std::uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<unsigned char>(bytes[i]);
  return static_cast<std::int64_t>(bits);
}

void AppendOrdered64(std::string& out, std::int64_t value) {
  const std::array<char, 8> bytes =
      BigEndian64(static_cast<std::int64_t>(static_cast<std::uint64_t>(value) ^ kSignBit));
  out.append(bytes.data(), bytes.size());
}

std::int64_t ReadOrdered64(std::string_view bytes) noexcept {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(ReadBigEndian64(bytes.data())) ^
                                   kSignBit);
}

}  // namespace cppblog::storage

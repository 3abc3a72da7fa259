#include "cppblog/storage/byte_order.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace cppblog::storage {
namespace {

TEST(ByteOrder, BigEndian64WritesTheMostSignificantByteFirstAndReadsItBack) {
  const std::array<char, 8> bytes = BigEndian64(0x0102030405060708);
  EXPECT_EQ(std::string(bytes.data(), bytes.size()),
            std::string("\x01\x02\x03\x04\x05\x06\x07\x08"));
  for (const std::int64_t value :
       {std::int64_t{0}, std::int64_t{-1}, std::int64_t{42},
        std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()}) {
    EXPECT_EQ(ReadBigEndian64(BigEndian64(value).data()), value);
  }
}

TEST(ByteOrder, OrderedBytesSortAsTheNumbersDoNegativesIncluded) {
  const std::vector<std::int64_t> numbers = {
      std::numeric_limits<std::int64_t>::min(), -5'000'000'000, -1, 0, 1, 255, 256, 5'000'000'000,
      std::numeric_limits<std::int64_t>::max()};
  std::vector<std::string> encoded;
  for (const std::int64_t n : numbers) {
    std::string bytes = "prefix";  // appended, as keys are built
    AppendOrdered64(bytes, n);
    ASSERT_EQ(bytes.size(), 6U + 8U);
    EXPECT_EQ(ReadOrdered64(std::string_view(bytes).substr(6)), n);
    encoded.push_back(bytes);
  }
  EXPECT_TRUE(std::is_sorted(encoded.begin(), encoded.end()));  // byte order = numeric order
}

TEST(ByteOrder, TimesRoundTripToTheNanosecond) {
  const auto time =
      std::chrono::system_clock::time_point{std::chrono::nanoseconds{1'765'000'000'123'456'789}};
  EXPECT_EQ(ToNanos(time), 1'765'000'000'123'456'789);
  EXPECT_EQ(FromNanos(ToNanos(time)), time);
  EXPECT_EQ(FromNanos(-1'000),
            std::chrono::system_clock::time_point{} - std::chrono::microseconds{1});
}

}  // namespace
}  // namespace cppblog::storage

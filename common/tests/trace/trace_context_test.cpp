#include "cppblog/trace/trace_context.hpp"

#include <string>

#include <gtest/gtest.h>

namespace cppblog::trace {
namespace {

constexpr const char* kValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceContext, ValidHeaderIsParsedAndFormattedBack) {
  const auto context = ParseTraceparent(kValid, "congo=t61rcWkgMzE");

  ASSERT_TRUE(context.has_value());
  EXPECT_EQ(TraceIdHex(*context), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(SpanIdHex(*context), "00f067aa0ba902b7");
  EXPECT_TRUE(context->Sampled());
  EXPECT_EQ(context->trace_state, "congo=t61rcWkgMzE");
  EXPECT_EQ(FormatTraceparent(*context), kValid);
}

TEST(TraceContext, SurroundingWhitespaceIsAllowed) {
  EXPECT_TRUE(ParseTraceparent(std::string(" ") + kValid + "\t").has_value());
}

TEST(TraceContext, MalformedHeadersAreRefused) {
  for (const std::string bad : {
           "", "00",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",      // no flags
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",  // v00 with more
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   // upper case
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",   // not hex
           "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",   // separators
           "00-4bf92f3577b34da6a3ce929d0e0e47-3600f067aa0ba902b7-01",   // misplaced dash
           "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // version not hex
       }) {
    EXPECT_FALSE(ParseTraceparent(bad).has_value()) << bad;
  }
}

TEST(TraceContext, AllZeroIdsAreRefused) {
  EXPECT_FALSE(
      ParseTraceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01").has_value());
  EXPECT_FALSE(
      ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01").has_value());
}

TEST(TraceContext, VersionFfIsRefusedAndHigherVersionsReadByTheirFirstFields) {
  EXPECT_FALSE(
      ParseTraceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").has_value());

  const auto future =
      ParseTraceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next");
  ASSERT_TRUE(future.has_value());
  EXPECT_EQ(FormatTraceparent(*future), kValid);  // we speak version 00
  EXPECT_FALSE(
      ParseTraceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x").has_value());
}

TEST(TraceContext, OverlongTracestateIsDropped) {
  const auto context = ParseTraceparent(kValid, std::string(kMaxTraceStateBytes + 1, 'a'));

  ASSERT_TRUE(context.has_value());
  EXPECT_TRUE(context->trace_state.empty());
}

TEST(TraceContext, NewTraceAndChildHaveFreshNonZeroIds) {
  const TraceContext root = NewTrace();
  const TraceContext child = ChildOf(root);

  EXPECT_TRUE(root.Sampled());
  EXPECT_NE(TraceIdHex(root), std::string(32, '0'));
  EXPECT_EQ(child.trace_id, root.trace_id);
  EXPECT_NE(child.span_id, root.span_id);
  EXPECT_NE(NewTrace().trace_id, root.trace_id);
  const auto parsed = ParseTraceparent(FormatTraceparent(child));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->trace_id, child.trace_id);
  EXPECT_EQ(parsed->span_id, child.span_id);
  EXPECT_EQ(parsed->flags, child.flags);
}

TEST(TraceContext, IdsOfAFormattedTraceparentAreViewsOfItsTwoIds) {
  const std::string traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const TraceparentIds ids = IdsOf(traceparent);
  EXPECT_EQ(ids.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(ids.span_id, "00f067aa0ba902b7");
  const TraceContext span = NewTrace();
  const std::string formatted = FormatTraceparent(span);
  EXPECT_EQ(IdsOf(formatted).trace_id, TraceIdHex(span));
  EXPECT_EQ(IdsOf(formatted).span_id, SpanIdHex(span));
  for (const std::string_view bad : {"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
                                     "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
                                     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-"}) {
    EXPECT_TRUE(IdsOf(bad).trace_id.empty()) << bad;
    EXPECT_TRUE(IdsOf(bad).span_id.empty()) << bad;
  }
}

}  // namespace
}  // namespace cppblog::trace

#include "cppblog/messaging/message_trace.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <gtest/gtest.h>

namespace cppblog::messaging {
namespace {

constexpr const char* kTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

Message WithHeaders(Headers headers) {
  Message message;
  message.body = "{}";
  message.headers = std::move(headers);
  return message;
}

TEST(MessageTrace, IsThePublishersSpanWithItsTracestate) {
  const auto context = TraceContextOf(WithHeaders(
      {{"traceparent", kTraceparent}, {"tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"}}));

  ASSERT_TRUE(context.has_value());
  EXPECT_EQ(trace::TraceIdHex(*context), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(trace::SpanIdHex(*context), "00f067aa0ba902b7");  // the publisher's, not a new one
  EXPECT_TRUE(context->Sampled());
  EXPECT_EQ(context->trace_state, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
  EXPECT_EQ(trace::FormatTraceparent(*context), kTraceparent);
}

TEST(MessageTrace, ATraceparentWithoutTracestateHasNone) {
  const auto context = TraceContextOf(WithHeaders({{"traceparent", kTraceparent}}));

  ASSERT_TRUE(context.has_value());
  EXPECT_EQ(trace::TraceIdHex(*context), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(context->trace_state, "");
}

TEST(MessageTrace, ATracestateThatIsNoStringOrOverItsBoundIsDropped) {
  const auto not_text =
      TraceContextOf(WithHeaders({{"traceparent", kTraceparent}, {"tracestate", true}}));
  const auto overlong = TraceContextOf(
      WithHeaders({{"traceparent", kTraceparent},
                   {"tracestate", "k=" + std::string(trace::kMaxTraceStateBytes - 1, 'v')}}));

  ASSERT_TRUE(not_text.has_value());
  EXPECT_EQ(not_text->trace_state, "");
  ASSERT_TRUE(overlong.has_value());
  EXPECT_EQ(overlong->trace_state, "");
}

TEST(MessageTrace, NoneWithoutATraceparentHeader) {
  EXPECT_FALSE(TraceContextOf(WithHeaders({})).has_value());
  EXPECT_FALSE(TraceContextOf(WithHeaders({{"tracestate", "congo=t61rcWkgMzE"}})).has_value());
  // Header names are case-sensitive, as the tree writes them (trace::kTraceparentHeader).
  EXPECT_FALSE(TraceContextOf(WithHeaders({{"Traceparent", kTraceparent}})).has_value());
}

TEST(MessageTrace, NoneForAMalformedTraceparent) {
  for (const char* bad :
       {"", "00-not-a-trace-01", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}) {
    EXPECT_FALSE(
        TraceContextOf(WithHeaders({{"traceparent", bad}, {"tracestate", "congo=t61rcWkgMzE"}}))
            .has_value())
        << bad;
  }
}

TEST(MessageTrace, NoneForATraceparentThatIsNoString) {
  for (const HeaderValue& value : {HeaderValue{std::int64_t{1}}, HeaderValue{true},
                                   HeaderValue{0.5}, HeaderValue{HeaderTimestamp{1'700'000'000}},
                                   HeaderValue{Headers{{"traceparent", kTraceparent}}},
                                   HeaderValue{HeaderArray{kTraceparent}}}) {
    EXPECT_FALSE(TraceContextOf(WithHeaders({{"traceparent", value}})).has_value())
        << value.index();
  }
}

}  // namespace
}  // namespace cppblog::messaging

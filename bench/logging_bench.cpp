// What a log line costs with and without structured fields (logging::ScopedFields), in text
// and JSON: the line is formatted as the services format it and then dropped, so the numbers
// are the formatting, not the write to stderr. Also counts heap allocations per iteration.
//   logging_bench [--benchmark_filter=…]
#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <string>

#include <benchmark/benchmark.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "cppblog/logging/logging.hpp"

// GCC sees the replaced operator new's malloc meet its free through inlining and warns of a
// mismatch that is not one: both are ours.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {

std::atomic<std::size_t> allocations{0};

}  // namespace

// Counted for the "allocs" column; every other allocation goes through here too.
void* operator new(std::size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t /*size*/) noexcept { std::free(p); }

namespace cppblog::logging {
namespace {

// Formats every line as the services' stderr sink does (into a buffer kept between lines),
// then forgets it.
class DiscardingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::size_t bytes = 0;

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    buffer_.clear();
    formatter_->format(msg, buffer_);
    bytes += buffer_.size();
  }
  void flush_() override {}

 private:
  spdlog::memory_buf_t buffer_;
};

std::shared_ptr<spdlog::logger> MakeLogger(LogFormat format) {
  auto sink = std::make_shared<DiscardingSink>();
  sink->set_formatter(MakeFormatter("vipservice", format));
  return std::make_shared<spdlog::logger>("bench", std::move(sink));
}

constexpr Fields kDeliveryFields{.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
                                 .span_id = "00f067aa0ba902b7",
                                 .message_id = "9f0c6b1e2d3a4f5061728394a5b6c7d8",
                                 .queue = "vip_queue",
                                 .account_id = "10000"};
constexpr std::string_view kBody =
    R"({"accountId":"10000","readAt":"2026-12-07 02:40:00.123456789 +0000 UTC"})";

void CountAllocations(benchmark::State& state, std::size_t before) {
  state.counters["allocs"] = benchmark::Counter(static_cast<double>(allocations.load() - before),
                                                benchmark::Counter::kAvgIterations);
}

// "Got a message: <body>" with no field set.
void BM_LineWithoutFields(benchmark::State& state) {
  const auto logger = MakeLogger(static_cast<LogFormat>(state.range(0)));
  logger->info("warm-up {}", kBody);
  const std::size_t before = allocations.load();
  for (auto _ : state) logger->info("Got a message: {}", kBody);
  CountAllocations(state, before);
}
BENCHMARK(BM_LineWithoutFields)->Arg(0)->Arg(1)->ArgName("json");

// The same line with the five fields set (the scope made once).
void BM_LineWithFields(benchmark::State& state) {
  const auto logger = MakeLogger(static_cast<LogFormat>(state.range(0)));
  const ScopedFields fields(kDeliveryFields);
  logger->info("warm-up {}", kBody);
  const std::size_t before = allocations.load();
  for (auto _ : state) logger->info("Got a message: {}", kBody);
  CountAllocations(state, before);
}
BENCHMARK(BM_LineWithFields)->Arg(0)->Arg(1)->ArgName("json");

// What a delivery does: a scope with the five fields, one line, the scope's end.
void BM_ScopeAndLine(benchmark::State& state) {
  const auto logger = MakeLogger(static_cast<LogFormat>(state.range(0)));
  logger->info("warm-up {}", kBody);
  const std::size_t before = allocations.load();
  for (auto _ : state) {
    const ScopedFields fields(kDeliveryFields);
    logger->info("Got a message: {}", kBody);
  }
  CountAllocations(state, before);
}
BENCHMARK(BM_ScopeAndLine)->Arg(0)->Arg(1)->ArgName("json");

// A scope alone, nothing logged (a line below the level costs no formatting).
void BM_ScopeOnly(benchmark::State& state) {
  for (auto _ : state) {
    const ScopedFields fields(kDeliveryFields);
    benchmark::DoNotOptimize(&fields);
  }
}
BENCHMARK(BM_ScopeOnly);

}  // namespace
}  // namespace cppblog::logging

BENCHMARK_MAIN();

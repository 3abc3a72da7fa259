#pragma once

// What the two AMQP benchmarks (amqp_raw_bench, amqp_client_bench) share so that they measure
// the same thing: the command line, the message body and the result line. Bench-only code.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>

#include <sys/resource.h>

namespace cppblog::bench {

struct Args {
  std::string mode;  // publish | consume | delete (and pipeline: amqp_raw_bench only)
  std::string url = "amqp://guest:guest@127.0.0.1:5672/%2F";
  std::string queue = "bench";
  std::uint32_t count = 100'000;
  std::uint16_t prefetch = 100;
  std::uint32_t window = 1000;  // unconfirmed publishes in flight
  // amqp_raw_bench only (amqp_client_bench refuses them):
  std::string consume_url;             // pipeline: the consumer's broker node (default: --url)
  std::string queue_type = "classic";  // classic | quorum (x-queue-type)
  std::uint32_t body_bytes = 0;        // pipeline: body size; 0: JsonBody's 120 bytes
};

inline std::uint32_t ParseNumber(std::string_view flag, const char* text, std::uint32_t max) {
  try {
    std::size_t used = 0;
    const unsigned long value = std::stoul(text, &used);
    if (used == std::string_view(text).size() && value > 0 && value <= max) {
      return static_cast<std::uint32_t>(value);
    }
  } catch (const std::exception&) {
  }
  throw std::runtime_error(std::string(flag) + " needs a number from 1 to " + std::to_string(max) +
                           ", not '" + text + "'");
}

/// MODE [--url URL] [--queue Q] [--count N] [--prefetch P] [--window W] [--consume-url URL]
/// [--queue-type classic|quorum] [--body-bytes B]; throws with a usage line on anything else.
inline Args ParseArgs(int argc, char* argv[], const char* program) {
  const std::string usage =
      std::string("usage: ") + program +
      " publish|consume|pipeline|delete --url URL --queue Q --count N [--prefetch P] [--window W]"
      " [--consume-url URL] [--queue-type classic|quorum] [--body-bytes B]";
  if (argc < 2) throw std::runtime_error(usage);
  Args args;
  args.mode = argv[1];
  for (int i = 2; i < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) throw std::runtime_error(std::string(flag) + " needs a value; " + usage);
    const char* value = argv[i + 1];
    if (flag == "--url") {
      args.url = value;
    } else if (flag == "--queue") {
      args.queue = value;
    } else if (flag == "--count") {
      args.count = ParseNumber(flag, value, 100'000'000);
    } else if (flag == "--prefetch") {
      args.prefetch = static_cast<std::uint16_t>(ParseNumber(flag, value, 65'535));
    } else if (flag == "--window") {
      args.window = ParseNumber(flag, value, 1'000'000);
    } else if (flag == "--consume-url") {
      args.consume_url = value;
    } else if (flag == "--queue-type") {
      args.queue_type = value;
      if (args.queue_type != "classic" && args.queue_type != "quorum") {
        throw std::runtime_error("--queue-type is classic or quorum, not '" + args.queue_type +
                                 "'");
      }
    } else if (flag == "--body-bytes") {
      args.body_bytes = ParseNumber(flag, value, 1'000'000);
    } else {
      throw std::runtime_error("unknown option '" + std::string(flag) + "'; " + usage);
    }
  }
  return args;
}

/// A ~120-byte JSON body (the size of the VIP notification), different for each message.
inline std::string JsonBody(std::uint64_t seq) {
  std::string body = R"({"accountId":")" + std::to_string(10'000'000 + seq) +
                     R"(","name":"Person_)" + std::to_string(seq) +
                     R"(","event":"vip","servedBy":"127.0.0.1","pad":")";
  constexpr std::size_t kSize = 120;
  const std::size_t tail = 2;  // closing quote and brace
  if (body.size() + tail < kSize) body.append(kSize - tail - body.size(), 'x');
  body += "\"}";
  return body;
}

inline double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// User + system CPU seconds of this process so far, all threads.
inline double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

/// One machine-readable line; the rate is the field before "msg/s", the process's CPU time
/// the field before "cpu-s":
///   raw publish 100000 msgs 3.41 s 29300 msg/s 0.52 cpu-s
///   raw consume prefetch 100 100000 msgs 2.58 s 38700 msg/s 0.61 cpu-s
inline void PrintResult(const char* client, const Args& args, double seconds) {
  const double rate = seconds > 0 ? args.count / seconds : 0;
  const double cpu = CpuSeconds();
  if (args.mode == "consume") {
    std::printf("%s consume prefetch %u %u msgs %.2f s %.0f msg/s %.2f cpu-s\n", client,
                static_cast<unsigned>(args.prefetch), args.count, seconds, rate, cpu);
  } else {
    std::printf("%s %s %u msgs %.2f s %.0f msg/s %.2f cpu-s\n", client, args.mode.c_str(),
                args.count, seconds, rate, cpu);
  }
  std::fflush(stdout);
}

}  // namespace cppblog::bench

// What the disk under a directory does with synced writes: N writers, each on a file of its
// own, each looping "pwrite K kB over a written block, then fdatasync" for S seconds.
//
//   disk_sync_probe --dir .run --writers 3 --kb 4 --seconds 2
//
// prints one line:
//   writers=3 kb=4 syncs_per_s=… p50_ms=… p99_ms=… max_ms=… stalls=… stall_gap_ms=…
// (stalls: syncs over 4 ms; stall_gap_ms: the median time between the starts of two stall
// episodes, 0 when fewer than two). bench/vip_end_to_end.sh runs it to show what bounds the
// latency tail of every synced commit on the machine.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string dir = ".";
  int writers = 1;
  int kb = 4;
  double seconds = 2;
};

struct Sample {
  double at_ms;       // since the start
  double latency_ms;  // of the fdatasync
};

bool Parse(int argc, char** argv, Options& options) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--dir") {
      options.dir = value;
    } else if (flag == "--writers") {
      options.writers = std::atoi(value);
    } else if (flag == "--kb") {
      options.kb = std::atoi(value);
    } else if (flag == "--seconds") {
      options.seconds = std::atof(value);
    } else {
      return false;
    }
  }
  return argc % 2 == 1 && options.writers >= 1 && options.writers <= 64 && options.kb >= 1 &&
         options.kb <= 4096 && options.seconds > 0;
}

double Millis(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!Parse(argc, argv, options)) {
    std::fprintf(stderr, "usage: disk_sync_probe [--dir .] [--writers 1] [--kb 4] [--seconds 2]\n");
    return 2;
  }
  const std::size_t block = static_cast<std::size_t>(options.kb) * 1024;
  constexpr int kBlocks = 64;
  std::mutex mutex;
  std::vector<Sample> samples;
  std::vector<std::string> paths;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(options.seconds));
  std::vector<std::thread> threads;
  bool failed = false;
  for (int w = 0; w < options.writers; ++w) {
    paths.push_back(options.dir + "/disk_sync_probe." + std::to_string(getpid()) + "." +
                    std::to_string(w));
  }
  for (int w = 0; w < options.writers; ++w) {
    threads.emplace_back([&, w] {
      const int fd =
          ::open(paths[static_cast<std::size_t>(w)].c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
      std::vector<char> data(block, 1);
      bool ok = fd >= 0;
      // Written and synced first: the loop overwrites, as LMDB does with a reserved file.
      for (int b = 0; ok && b < kBlocks; ++b) {
        ok = ::pwrite(fd, data.data(), block, static_cast<off_t>(b * block)) ==
             static_cast<ssize_t>(block);
      }
      ok = ok && ::fsync(fd) == 0;
      std::vector<Sample> mine;
      for (int i = 0; ok && Clock::now() < end; ++i) {
        ok = ::pwrite(fd, data.data(), block, static_cast<off_t>((i % kBlocks) * block)) ==
             static_cast<ssize_t>(block);
        const auto before = Clock::now();
        ok = ok && ::fdatasync(fd) == 0;
        mine.push_back({Millis(before - start), Millis(Clock::now() - before)});
      }
      if (fd >= 0) ::close(fd);
      const std::lock_guard lock{mutex};
      if (!ok) failed = true;
      samples.insert(samples.end(), mine.begin(), mine.end());
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& path : paths) ::unlink(path.c_str());
  if (failed || samples.empty()) {
    std::fprintf(stderr, "disk_sync_probe: writing in %s failed: %s\n", options.dir.c_str(),
                 std::strerror(errno));
    return 1;
  }
  const double elapsed_s = Millis(Clock::now() - start) / 1000.0;

  std::vector<double> latencies;
  latencies.reserve(samples.size());
  for (const auto& s : samples) latencies.push_back(s.latency_ms);
  std::sort(latencies.begin(), latencies.end());
  auto percentile = [&](double p) {
    return latencies[static_cast<std::size_t>(p / 100.0 *
                                              static_cast<double>(latencies.size() - 1))];
  };

  // Stall episodes: syncs over 4 ms whose starts lie more than 10 ms after the previous one's.
  constexpr double kStallMs = 4;
  std::sort(samples.begin(), samples.end(),
            [](const Sample& a, const Sample& b) { return a.at_ms < b.at_ms; });
  std::vector<double> episodes;
  int stalls = 0;
  for (const auto& s : samples) {
    if (s.latency_ms <= kStallMs) continue;
    ++stalls;
    if (episodes.empty() || s.at_ms - episodes.back() > 10) episodes.push_back(s.at_ms);
  }
  std::vector<double> gaps;
  for (std::size_t i = 1; i < episodes.size(); ++i) gaps.push_back(episodes[i] - episodes[i - 1]);
  std::sort(gaps.begin(), gaps.end());
  const double gap = gaps.empty() ? 0 : gaps[gaps.size() / 2];

  std::printf(
      "writers=%d kb=%d syncs_per_s=%.0f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f stalls=%d "
      "stall_gap_ms=%.0f\n",
      options.writers, options.kb, static_cast<double>(samples.size()) / elapsed_s, percentile(50),
      percentile(99), latencies.back(), stalls, gap);
  return 0;
}

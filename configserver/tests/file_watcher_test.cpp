#include "file_watcher.hpp"

#include <condition_variable>
#include <mutex>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cppblog/storage/temp_dir.hpp"

namespace cppblog::configserver {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;

constexpr auto kMaxTestWait = std::chrono::seconds(10);

// Collects reported names; WaitFor blocks until `name` was reported or the deadline passes.
class Collector {
 public:
  void Add(std::vector<std::string> names) {
    std::lock_guard lock{mutex_};
    ++calls_;
    seen_.insert(names.begin(), names.end());
    changed_.notify_all();
  }
  bool WaitFor(const std::string& name) {
    std::unique_lock lock{mutex_};
    return changed_.wait_for(lock, kMaxTestWait, [&] { return seen_.contains(name); });
  }
  std::set<std::string> Seen() {
    std::lock_guard lock{mutex_};
    return seen_;
  }
  int Calls() {
    std::lock_guard lock{mutex_};
    return calls_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::set<std::string> seen_;
  int calls_ = 0;
};

FileWatcherOptions Options(const TempDir& dir, Collector& collector,
                           std::chrono::milliseconds debounce) {
  return {.directory = dir.path(),
          .debounce = debounce,
          .on_change = [&collector](std::vector<std::string> names) {
            collector.Add(std::move(names));
          }};
}

TEST(FileWatcher, ReportsAWrittenFileByRelativeName) {
  TempDir dir;
  Collector collector;
  const FileWatcher watcher{Options(dir, collector, std::chrono::milliseconds(20))};

  dir.Write("accountservice-test.yml", "server_port: 6767\n");

  ASSERT_TRUE(collector.WaitFor("accountservice-test.yml"));
}

TEST(FileWatcher, IgnoresHiddenBackupAndOtherFiles) {
  TempDir dir;
  Collector collector;
  const FileWatcher watcher{Options(dir, collector, std::chrono::milliseconds(20))};

  dir.Write(".accountservice-test.yml.swp", "x");
  dir.Write("accountservice-test.yml~", "x");
  dir.Write("notes.txt", "x");
  dir.Write(".git/config", "x");
  dir.Write("vipservice-test.yml", "x");  // written last: once seen, the others were processed

  ASSERT_TRUE(collector.WaitFor("vipservice-test.yml"));
  EXPECT_THAT(collector.Seen(), ElementsAre("vipservice-test.yml"));
}

TEST(FileWatcher, DebouncesABurstIntoOneCall) {
  TempDir dir;
  Collector collector;
  // A long quiet period: the three writes below land well within it.
  const FileWatcher watcher{Options(dir, collector, std::chrono::milliseconds(500))};

  dir.Write("a.yml", "1");
  dir.Write("b.yml", "2");
  dir.Write("a.yml", "3");
  dir.Write("c.properties", "4");

  ASSERT_TRUE(collector.WaitFor("c.properties"));
  EXPECT_THAT(collector.Seen(), ElementsAre("a.yml", "b.yml", "c.properties"));
  EXPECT_EQ(collector.Calls(), 1);
}

TEST(FileWatcher, WatchesNewSubdirectories) {
  TempDir dir;
  Collector collector;
  const FileWatcher watcher{Options(dir, collector, std::chrono::milliseconds(20))};

  dir.Write("team/foo-dev.yml", "a: 1\n");

  ASSERT_TRUE(collector.WaitFor("team/foo-dev.yml"));
}

TEST(FileWatcher, ReportsDeletedFiles) {
  TempDir dir;
  const auto file = dir.Write("gone.yml", "a: 1\n");
  Collector collector;
  const FileWatcher watcher{Options(dir, collector, std::chrono::milliseconds(20))};

  std::filesystem::remove(file);

  ASSERT_TRUE(collector.WaitFor("gone.yml"));
}

TEST(FileWatcher, MissingDirectoryThrows) {
  Collector collector;
  EXPECT_THROW(FileWatcher({.directory = "/nonexistent/dir",
                            .debounce = std::chrono::milliseconds(10),
                            .on_change = [](std::vector<std::string>) {}}),
               std::system_error);
  EXPECT_EQ(collector.Calls(), 0);
}

TEST(FileWatcher, WatchedNamesAreConfigFilesOnly) {
  EXPECT_TRUE(IsWatchedFileName("a.yml"));
  EXPECT_TRUE(IsWatchedFileName("a.yaml"));
  EXPECT_TRUE(IsWatchedFileName("a.properties"));
  EXPECT_FALSE(IsWatchedFileName(".a.yml"));
  EXPECT_FALSE(IsWatchedFileName("#a.yml#"));
  EXPECT_FALSE(IsWatchedFileName("a.yml~"));
  EXPECT_FALSE(IsWatchedFileName("4913"));
}

}  // namespace
}  // namespace cppblog::configserver

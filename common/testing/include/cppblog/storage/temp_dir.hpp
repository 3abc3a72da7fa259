#pragma once

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

namespace cppblog {

/// For tests: a fresh directory `<prefix>-XXXXXX` under the system's temp dir, removed with
/// everything in it. The one TempDir of this tree's tests (common, the services, tests/e2e).
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "cppblog-test") {
    std::string pattern =
        (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;  // best effort: a leftover temp dir is no test failure
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

  /// Writes `content` to `relative` (creating its directories), replacing what was there, and
  /// returns the file's full path.
  std::filesystem::path Write(const std::filesystem::path& relative,
                              std::string_view content) const {
    const auto file = path_ / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream out{file, std::ios::binary | std::ios::trunc};
    out << content;
    return file;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace cppblog

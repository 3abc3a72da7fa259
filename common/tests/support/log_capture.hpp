#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "cppblog/logging/logging.hpp"

namespace cppblog::messaging {

/// Keeps every line, formatted on the thread that logs it (where the log fields are set).
class LineSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  [[nodiscard]] std::vector<std::string> Lines() {
    const std::lock_guard lock(mutex_);
    return lines_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    lines_.emplace_back(formatted.data(), formatted.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;  // guarded by mutex_ (base_sink locks it around sink_it_)
};

/// The default logger's lines while it lives, formatted as the services write them (text, with
/// the log fields at the end). Make it before any client starts and let it go after they are
/// gone: spdlog's default logger must not change while other threads log.
class LogCapture {
 public:
  LogCapture() {
    sink_->set_formatter(logging::MakeFormatter("test", logging::LogFormat::kText));
    auto logger = std::make_shared<spdlog::logger>("capture", sink_);
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(std::move(logger));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  [[nodiscard]] std::vector<std::string> Lines() const { return sink_->Lines(); }

  /// How many lines hold `text`.
  [[nodiscard]] std::size_t Count(const std::string& text) const {
    std::size_t n = 0;
    for (const std::string& line : Lines()) n += line.find(text) != std::string::npos;
    return n;
  }

  /// The first line that holds `text`; empty when none does.
  [[nodiscard]] std::string Find(const std::string& text) const {
    for (const std::string& line : Lines()) {
      if (line.find(text) != std::string::npos) return line;
    }
    return {};
  }

 private:
  std::shared_ptr<spdlog::logger> previous_ = spdlog::default_logger();
  std::shared_ptr<LineSink> sink_ = std::make_shared<LineSink>();
};

}  // namespace cppblog::messaging

#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cppblog/metrics/instruments.hpp"

namespace cppblog::metrics {

/// Label names and values of one series, e.g. {{"http_route", "/accounts/{accountId}"}}.
/// Values must come from a bounded set (a route template, a status code, a queue name, a
/// reason from a fixed list), never an id.
using Labels = std::vector<std::pair<std::string, std::string>>;

/// The Prometheus text format's content type.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

class Registry;

struct RegistryOptions {
  /// False: the registry collects nothing (the services' metrics_enabled setting). Add*
  /// return inert instruments (shared, updates write nothing, values stay 0), callback gauges
  /// are not kept, Serialize is empty and HttpServerMetrics times no request. Names are still
  /// checked, so a bad one fails the same way either way.
  bool enabled = true;
};

/// Keeps a callback gauge registered; destroying it removes the series (waiting for a scrape
/// that runs it to end). Move-only.
class CallbackRegistration {
 public:
  CallbackRegistration() = default;
  ~CallbackRegistration();
  CallbackRegistration(CallbackRegistration&& other) noexcept;
  CallbackRegistration& operator=(CallbackRegistration&& other) noexcept;
  CallbackRegistration(const CallbackRegistration&) = delete;
  CallbackRegistration& operator=(const CallbackRegistration&) = delete;

 private:
  friend class Registry;
  CallbackRegistration(Registry* registry, std::uint64_t id) : registry_(registry), id_(id) {}
  Registry* registry_ = nullptr;
  std::uint64_t id_ = 0;
};

/// The metrics of one process: families of series, serialized in the Prometheus text format
/// (by prometheus-cpp's TextSerializer). One per process, built in main and passed by
/// reference (docs/operations.md lists what each component registers).
///
/// Add* return the instrument of (name, labels), creating it the first time: asking again
/// returns the same one, so components may resolve their series independently. They throw
/// std::invalid_argument for a name or label name Prometheus refuses, and for a name already
/// registered with another type, help text or bucket bounds. Instruments live as long as the
/// registry. Registering takes a lock; updating an instrument never does. Thread-safe.
/// Disabled (RegistryOptions::enabled false), it keeps no series at all.
class Registry {
 public:
  explicit Registry(RegistryOptions options = {});
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter& AddCounter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& AddGauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& AddHistogram(std::string_view name, std::string_view help, const Labels& labels = {},
                          std::span<const double> bounds = kDurationBuckets);

  /// A gauge whose value `read` computes at each scrape (on the scraping thread, under the
  /// registry's lock: keep it short, do not call back into the registry). A `read` that throws
  /// leaves the series out of that scrape (logged). Registered until the returned object is
  /// destroyed.
  [[nodiscard]] CallbackRegistration AddCallbackGauge(std::string_view name, std::string_view help,
                                                      const Labels& labels,
                                                      std::function<double()> read);

  /// Every family, sorted by name, in the text format (version 0.0.4); empty when disabled.
  [[nodiscard]] std::string Serialize() const;

  /// False when built with RegistryOptions::enabled false.
  [[nodiscard]] bool Enabled() const noexcept { return enabled_; }

 private:
  friend class CallbackRegistration;
  void RemoveCallback(std::uint64_t id) noexcept;

  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool enabled_ = true;
};

}  // namespace cppblog::metrics

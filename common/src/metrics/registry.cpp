#include "cppblog/metrics/registry.hpp"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <stdexcept>
#include <variant>

#include <prometheus/check_names.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

namespace cppblog::metrics {
namespace {

struct Callback {
  std::uint64_t id = 0;
  std::function<double()> read;
};

struct Series {
  Labels labels;
  std::variant<std::unique_ptr<Counter>, std::unique_ptr<Gauge>, std::unique_ptr<Histogram>,
               Callback>
      instrument;
};

struct Family {
  prometheus::MetricType type = prometheus::MetricType::Untyped;
  std::string help;
  std::vector<double> bounds;  // histograms
  std::vector<Series> series;
};

const char* TypeName(prometheus::MetricType type) {
  switch (type) {
    case prometheus::MetricType::Counter:
      return "counter";
    case prometheus::MetricType::Gauge:
      return "gauge";
    case prometheus::MetricType::Histogram:
      return "histogram";
    default:
      return "untyped";
  }
}

std::vector<prometheus::ClientMetric::Label> ToLabels(const Labels& labels) {
  std::vector<prometheus::ClientMetric::Label> out;
  out.reserve(labels.size());
  for (const auto& [name, value] : labels) out.push_back({name, value});
  return out;
}

// Throws std::invalid_argument for a name, label name or bucket bounds Prometheus refuses.
void CheckNames(std::string_view name, prometheus::MetricType type, const Labels& labels,
                std::span<const double> bounds) {
  const std::string metric{name};
  if (!prometheus::CheckMetricName(metric)) {
    throw std::invalid_argument("metric name '" + metric +
                                "' is not a valid Prometheus name ([a-zA-Z_:][a-zA-Z0-9_:]*)");
  }
  for (const auto& [label, value] : labels) {
    if (!prometheus::CheckLabelName(label) ||
        (type == prometheus::MetricType::Histogram && label == "le")) {
      throw std::invalid_argument("metric '" + metric + "': label name '" + label +
                                  "' is not valid for Prometheus");
    }
  }
  if (type == prometheus::MetricType::Histogram &&
      (bounds.empty() || !std::is_sorted(bounds.begin(), bounds.end()) ||
       std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end())) {
    throw std::invalid_argument("histogram '" + metric +
                                "': bucket bounds must be strictly ascending and not empty");
  }
}

}  // namespace

struct Registry::Impl {
  // Returns the series of (name, labels) in a family of `type`, or null when it is new (the
  // caller adds it). Checks names and that the family agrees. mutex held.
  Series* Find(std::string_view name, std::string_view help, prometheus::MetricType type,
               const Labels& labels, std::span<const double> bounds, Family*& family_out);

  mutable std::mutex mutex;
  std::map<std::string, Family, std::less<>> families;
  std::uint64_t next_callback_id = 1;

  // What a disabled registry hands out, to every caller.
  Counter inert_counter{Counter::Inert{}};
  Gauge inert_gauge{Gauge::Inert{}};
  Histogram inert_histogram{Histogram::Inert{}};
};

Series* Registry::Impl::Find(std::string_view name, std::string_view help,
                             prometheus::MetricType type, const Labels& labels,
                             std::span<const double> bounds, Family*& family_out) {
  const std::string metric{name};
  CheckNames(name, type, labels, bounds);
  auto it = families.find(name);
  if (it == families.end()) {
    it = families.emplace(metric, Family{type, std::string(help), {}, {}}).first;
    it->second.bounds.assign(bounds.begin(), bounds.end());
  } else if (it->second.type != type || it->second.help != help ||
             !std::equal(it->second.bounds.begin(), it->second.bounds.end(), bounds.begin(),
                         bounds.end())) {
    throw std::invalid_argument("metric '" + metric + "' is already registered as a " +
                                TypeName(it->second.type) +
                                " with other help text or buckets; one name, one definition");
  }
  family_out = &it->second;
  for (Series& series : it->second.series) {
    if (series.labels == labels) return &series;
  }
  return nullptr;
}

Registry::Registry(RegistryOptions options)
    : impl_(std::make_unique<Impl>()), enabled_(options.enabled) {}
Registry::~Registry() = default;

Counter& Registry::AddCounter(std::string_view name, std::string_view help, const Labels& labels) {
  if (!enabled_) {
    CheckNames(name, prometheus::MetricType::Counter, labels, {});
    return impl_->inert_counter;
  }
  const std::lock_guard lock{impl_->mutex};
  Family* family = nullptr;
  if (Series* found =
          impl_->Find(name, help, prometheus::MetricType::Counter, labels, {}, family)) {
    return *std::get<std::unique_ptr<Counter>>(found->instrument);
  }
  auto& series = family->series.emplace_back(Series{labels, std::make_unique<Counter>()});
  return *std::get<std::unique_ptr<Counter>>(series.instrument);
}

Gauge& Registry::AddGauge(std::string_view name, std::string_view help, const Labels& labels) {
  if (!enabled_) {
    CheckNames(name, prometheus::MetricType::Gauge, labels, {});
    return impl_->inert_gauge;
  }
  const std::lock_guard lock{impl_->mutex};
  Family* family = nullptr;
  if (Series* found = impl_->Find(name, help, prometheus::MetricType::Gauge, labels, {}, family)) {
    if (auto* gauge = std::get_if<std::unique_ptr<Gauge>>(&found->instrument)) return **gauge;
    throw std::invalid_argument("metric '" + std::string(name) +
                                "': these labels are a callback gauge already");
  }
  auto& series = family->series.emplace_back(Series{labels, std::make_unique<Gauge>()});
  return *std::get<std::unique_ptr<Gauge>>(series.instrument);
}

Histogram& Registry::AddHistogram(std::string_view name, std::string_view help,
                                  const Labels& labels, std::span<const double> bounds) {
  if (!enabled_) {
    CheckNames(name, prometheus::MetricType::Histogram, labels, bounds);
    return impl_->inert_histogram;
  }
  const std::lock_guard lock{impl_->mutex};
  Family* family = nullptr;
  if (Series* found =
          impl_->Find(name, help, prometheus::MetricType::Histogram, labels, bounds, family)) {
    return *std::get<std::unique_ptr<Histogram>>(found->instrument);
  }
  auto& series = family->series.emplace_back(Series{labels, std::make_unique<Histogram>(bounds)});
  return *std::get<std::unique_ptr<Histogram>>(series.instrument);
}

CallbackRegistration Registry::AddCallbackGauge(std::string_view name, std::string_view help,
                                                const Labels& labels,
                                                std::function<double()> read) {
  if (!enabled_) {
    CheckNames(name, prometheus::MetricType::Gauge, labels, {});
    return {};  // never read
  }
  const std::lock_guard lock{impl_->mutex};
  Family* family = nullptr;
  if (impl_->Find(name, help, prometheus::MetricType::Gauge, labels, {}, family) != nullptr) {
    throw std::invalid_argument("metric '" + std::string(name) +
                                "': a series with these labels is registered already");
  }
  const std::uint64_t id = impl_->next_callback_id++;
  family->series.push_back(Series{labels, Callback{id, std::move(read)}});
  return CallbackRegistration{this, id};
}

void Registry::RemoveCallback(std::uint64_t id) noexcept {
  const std::lock_guard lock{impl_->mutex};
  for (auto& [name, family] : impl_->families) {
    std::erase_if(family.series, [id](const Series& series) {
      const auto* callback = std::get_if<Callback>(&series.instrument);
      return callback != nullptr && callback->id == id;
    });
  }
}

std::string Registry::Serialize() const {
  if (!enabled_) return {};
  std::vector<prometheus::MetricFamily> out;
  {
    const std::lock_guard lock{impl_->mutex};
    out.reserve(impl_->families.size());
    for (const auto& [name, family] : impl_->families) {
      prometheus::MetricFamily& f = out.emplace_back();
      f.name = name;
      f.help = family.help;
      f.type = family.type;
      for (const Series& series : family.series) {
        prometheus::ClientMetric metric;
        metric.label = ToLabels(series.labels);
        if (const auto* counter = std::get_if<std::unique_ptr<Counter>>(&series.instrument)) {
          metric.counter.value = static_cast<double>((*counter)->Value());
        } else if (const auto* gauge = std::get_if<std::unique_ptr<Gauge>>(&series.instrument)) {
          metric.gauge.value = (*gauge)->Value();
        } else if (const auto* callback = std::get_if<Callback>(&series.instrument)) {
          try {
            metric.gauge.value = callback->read();
          } catch (const std::exception& e) {
            spdlog::warn("metrics: {} left out of this scrape: {}", name, e.what());
            continue;
          }
        } else {
          const Histogram& h = *std::get<std::unique_ptr<Histogram>>(series.instrument);
          std::uint64_t cumulative = 0;
          const auto& bounds = h.Bounds();
          for (std::size_t i = 0; i <= bounds.size(); ++i) {
            cumulative += h.BucketCount(i);
            metric.histogram.bucket.push_back(
                {cumulative,
                 i < bounds.size() ? bounds[i] : std::numeric_limits<double>::infinity()});
          }
          metric.histogram.sample_count = cumulative;
          metric.histogram.sample_sum = h.Sum();
        }
        f.metric.push_back(std::move(metric));
      }
      if (f.metric.empty()) out.pop_back();  // a family with no series says nothing
    }
  }
  return prometheus::TextSerializer{}.Serialize(out);
}

CallbackRegistration::~CallbackRegistration() {
  if (registry_ != nullptr) registry_->RemoveCallback(id_);
}

CallbackRegistration::CallbackRegistration(CallbackRegistration&& other) noexcept
    : registry_(std::exchange(other.registry_, nullptr)), id_(other.id_) {}

CallbackRegistration& CallbackRegistration::operator=(CallbackRegistration&& other) noexcept {
  if (this != &other) {
    if (registry_ != nullptr) registry_->RemoveCallback(id_);
    registry_ = std::exchange(other.registry_, nullptr);
    id_ = other.id_;
  }
  return *this;
}

}  // namespace cppblog::metrics

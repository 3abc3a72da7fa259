#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cppblog/config/properties.hpp"

namespace cppblog::config {

/// An immutable configuration snapshot; share it, never change it.
using PropertiesSnapshot = std::shared_ptr<const Properties>;

/// The keys whose values differ between `before` and `after` (added, removed or another
/// text; a change of source alone is no change), sorted. A list counts as one key by its base
/// name ("vip_accounts" when any "vip_accounts[i]" differs). Pure function.
[[nodiscard]] std::vector<std::string> ChangedKeys(const Properties& before,
                                                   const Properties& after);

/// The configuration of a running service, replaced as a whole when a refresh brings new
/// values: readers take the current snapshot (one std::shared_ptr copy under a short lock)
/// and keep reading it while a refresh swaps in the next one, so a reader never sees half
/// of a refresh. Thread-safe.
class LiveProperties {
 public:
  /// Called after a swap with the new snapshot and the changed keys (see ChangedKeys), on the
  /// thread that called Replace; calls are serialised. Keep it short; it must not call Replace.
  using ChangeCallback = std::function<void(const PropertiesSnapshot& current,
                                            const std::vector<std::string>& changed)>;

  explicit LiveProperties(Properties initial);
  ~LiveProperties() = default;
  LiveProperties(const LiveProperties&) = delete;
  LiveProperties& operator=(const LiveProperties&) = delete;
  LiveProperties(LiveProperties&&) = delete;
  LiveProperties& operator=(LiveProperties&&) = delete;

  /// The current snapshot, never null.
  [[nodiscard]] PropertiesSnapshot Get() const;

  /// Registers a callback for every later change. Returns nothing to unregister with: register
  /// callbacks during wiring, with objects that outlive this one.
  void OnChange(ChangeCallback callback);

  /// Swaps in `next` when it differs from the current snapshot (ChangedKeys not empty), then
  /// runs the callbacks; returns the changed keys (empty: nothing swapped, no callback run).
  /// A callback that throws is logged and does not stop the others.
  std::vector<std::string> Replace(Properties next);

 private:
  mutable std::mutex mutex_;  // guards current_
  std::mutex replace_mutex_;  // serialises Replace and the callbacks
  PropertiesSnapshot current_;
  std::vector<ChangeCallback> callbacks_;  // guarded by replace_mutex_
};

}  // namespace cppblog::config

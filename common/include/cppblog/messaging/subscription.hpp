#pragma once

#include <future>
#include <memory>
#include <utility>

namespace cppblog::messaging {

/// A handle to one subscription of a MessageSubscriber (SubscribeHandle, SubscribeToQueueHandle;
/// AmqpClient implements them), to pause, resume or cancel it on its own. Copies act on the same
/// subscription; thread-safe; may outlive its client (every call then fails with kClosed).
/// Must not be waited on from a handler of the same client (the futures complete on its I/O
/// thread, which may wait for that handler).
class Subscription {
 public:
  /// What a handle acts through; implemented inside the client (and by cppblog::testing's
  /// MockSubscriptionControl for tests).
  class Control {
   public:
    virtual ~Control() = default;
    virtual std::future<void> Pause() = 0;
    virtual std::future<void> Resume() = 0;
    virtual std::future<void> Cancel() = 0;
  };

  /// An empty handle: Valid() is false and every call fails with kInvalidOptions.
  Subscription() = default;
  Subscription(std::shared_ptr<Control> control, std::shared_future<void> ready)
      : control_(std::move(control)), ready_(std::move(ready)) {}

  [[nodiscard]] bool Valid() const noexcept { return control_ != nullptr; }

  /// Completes once the broker has registered the consumer the first time, and fails with
  /// MessagingError when it refused a declaration (what Subscribe's future reports), or when
  /// the subscription was cancelled or the client closed before.
  [[nodiscard]] std::shared_future<void> Ready() const { return ready_; }

  /// Stops deliveries (basic.cancel) but keeps the subscription's channel: handlers still
  /// running finish and their acks, retries and dead letters go out as usual. Completes once the
  /// broker confirmed the cancel (at once while disconnected: recovery then declares but does
  /// not consume). Idempotent. Fails with kClosed after Cancel() or Close().
  std::future<void> Pause();

  /// Consumes again on the same channel, after Pause(); deliveries unacked from before keep
  /// their bookkeeping. Completes once the broker registered the consumer (at once while
  /// disconnected: recovery consumes). Idempotent. Fails with kClosed after Cancel() or Close().
  std::future<void> Resume();

  /// Ends the subscription: stops deliveries, waits for its running handlers and their acks and
  /// republishes (retries still waiting for their backoff are left to the broker, which
  /// redelivers them), then closes its channel; recovery no longer replays it. Completes then
  /// (at once while disconnected: the broker redelivers what was unacked). Idempotent.
  std::future<void> Cancel();

 private:
  std::shared_ptr<Control> control_;
  std::shared_future<void> ready_;
};

}  // namespace cppblog::messaging

#include "cppblog/messaging/subscription.hpp"

#include <exception>

#include "cppblog/messaging/messaging_error.hpp"

namespace cppblog::messaging {
namespace {

std::future<void> Empty() {
  std::promise<void> failed;
  failed.set_exception(std::make_exception_ptr(
      MessagingError(MessagingErrorKind::kInvalidOptions,
                     "subscription: the handle is empty (use the one SubscribeHandle returned)")));
  return failed.get_future();
}

}  // namespace

std::future<void> Subscription::Pause() { return control_ ? control_->Pause() : Empty(); }

std::future<void> Subscription::Resume() { return control_ ? control_->Resume() : Empty(); }

std::future<void> Subscription::Cancel() { return control_ ? control_->Cancel() : Empty(); }

}  // namespace cppblog::messaging

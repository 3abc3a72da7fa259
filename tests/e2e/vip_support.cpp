#include "vip_support.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>
#include <utility>

#include "cppblog/vip/vip_notification.hpp"

#include "broker_test_env.hpp"
#include "http_client.hpp"

namespace cppblog::e2e {
namespace {

struct OffersResponse {
  int status = 0;
  std::string body;
  std::vector<std::string> ids;
};

// GET /offers/{account} and the message ids in its body ("messageId":"…" of each offer).
OffersResponse GetOffers(std::uint16_t port, std::string_view account) {
  HttpResponse response = HttpGet(port, "/offers/" + std::string(account));
  OffersResponse offers{.status = response.status, .body = std::move(response.body), .ids = {}};
  constexpr std::string_view kKey = R"("messageId":")";
  const std::string& body = offers.body;
  for (auto at = body.find(kKey); at != std::string::npos; at = body.find(kKey, at)) {
    at += kKey.size();
    const auto end = body.find('"', at);
    offers.ids.push_back(body.substr(at, end - at));
  }
  return offers;
}

}  // namespace

std::vector<std::string> OfferedIds(std::uint16_t port, std::string_view account) {
  OffersResponse offers = GetOffers(port, account);
  if (offers.status != 200) {
    throw std::runtime_error("GET /offers/" + std::string(account) +
                             " on :" + std::to_string(port) + " answered " +
                             std::to_string(offers.status) + ": " + offers.body);
  }
  return std::move(offers.ids);
}

std::size_t OffersServed(std::uint16_t port, std::string_view account) {
  const OffersResponse offers = GetOffers(port, account);
  return offers.status == 200 ? offers.ids.size() : 0;
}

Offers OffersAcross(std::initializer_list<std::uint16_t> ports) {
  Offers offers;
  std::set<std::string> ids;
  for (const std::uint16_t port : ports) {
    const std::vector<std::string> offered = OfferedIds(port);
    offers.per_instance.push_back(offered.size());
    offers.total += offered.size();
    ids.insert(offered.begin(), offered.end());
  }
  offers.distinct = ids.size();
  return offers;
}

std::string Describe(const Offers& offers) {
  std::string text = "offers " + std::to_string(offers.total) + " (distinct ids " +
                     std::to_string(offers.distinct) + "; per instance";
  for (const std::size_t count : offers.per_instance) text += " " + std::to_string(count);
  return text + ")";
}

VipInstance::VipInstance(Settings settings, Settings env,
                         std::optional<std::filesystem::path> data_dir)
    : settings_(std::move(settings)), env_(std::move(env)) {
  if (data_dir) {
    data_dir_ = std::move(*data_dir);
  } else {
    data_dir_ = own_data_dir_.emplace("cppblog-e2e-vip").path();
  }
  const bool cooldown_set =
      std::any_of(settings_.begin(), settings_.end(),
                  [](const auto& setting) { return setting.first == "offer_cooldown"; });
  if (!cooldown_set) settings_.emplace_back("offer_cooldown", "0");
  Start();
}

void VipInstance::Restart() {
  earlier_messages_ += CountOccurrences(process_->Output(), kGotAMessage);
  process_.reset();  // kills it if it still runs
  Start();
}

void VipInstance::Start() {
  port_ = FreePort();
  ServiceOptions options = ServiceOptionsFor(
      BinaryPath("CPPBLOG_VIPSERVICE_BIN", CPPBLOG_VIPSERVICE_BIN), data_dir_, port_, settings_);
  options.env = env_;
  process_.emplace(std::move(options));
}

std::size_t VipInstance::MessagesLogged() const {
  return earlier_messages_ + CountOccurrences(process_->Output(), kGotAMessage);
}

VipQueueCollector::VipQueueCollector(const std::string& queue)
    : client_({.url = messaging::TestAmqpUrl()}) {
  client_
      .SubscribeToQueue(vip::VipQueue(false, queue),
                        [this](const messaging::Message& message) {
                          const std::lock_guard lock{mutex_};
                          messages_.push_back(message);
                          return messaging::Outcome::kAck;
                        },
                        {})
      .get();
}

std::size_t VipQueueCollector::Count() {
  const std::lock_guard lock{mutex_};
  return messages_.size();
}

std::vector<messaging::Message> VipQueueCollector::Messages() {
  const std::lock_guard lock{mutex_};
  return messages_;
}

}  // namespace cppblog::e2e

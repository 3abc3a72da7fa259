#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/messaging/message.hpp"
#include "cppblog/storage/temp_dir.hpp"

#include "service_process.hpp"

// What the tests of the VIP flow count with, written once: the vipservice's log line for each
// delivery, the offers a vipservice serves, a vipservice that can be started again on its store,
// and a consumer that records what reaches a queue.
namespace cppblog::e2e {

/// Settings (`--set key=value`) or environment variables, in order.
using Settings = std::vector<std::pair<std::string, std::string>>;

/// A read of the VIP account: each one answered 200 is one notification through the outbox.
inline constexpr std::string_view kVipRead = "/accounts/10000";
/// The vipservice's log line for each delivery handed to it.
inline constexpr std::string_view kGotAMessage = "Got a message: ";

/// The message ids of the offers a vipservice on `port` serves for `account`
/// (GET /offers/{account}). Throws std::runtime_error when it answers other than 200.
[[nodiscard]] std::vector<std::string> OfferedIds(std::uint16_t port,
                                                  std::string_view account = "10000");

/// How many offers a vipservice on `port` serves for `account`; 0 while it answers other than
/// 200 (still starting, its store unavailable).
[[nodiscard]] std::size_t OffersServed(std::uint16_t port, std::string_view account = "10000");

/// The VIP account's offers across vipservices. With offer_cooldown 0 each notification is one
/// offer: a lost one is missing from `total`, a duplicate effect is an id offered twice.
struct Offers {
  std::size_t total = 0;
  std::size_t distinct = 0;
  std::vector<std::size_t> per_instance;
};

/// The offers of the vipservices on `ports`, by OfferedIds (which throws when one answers
/// other than 200).
[[nodiscard]] Offers OffersAcross(std::initializer_list<std::uint16_t> ports);

[[nodiscard]] std::string Describe(const Offers& offers);

/// A vipservice process on a free port with `settings` (vip_queue, amqp_server_url …; and
/// offer_cooldown 0, every distinct notification one offer, unless they name another), `env`
/// added to its environment.
/// Its store, in `data_dir`/store (a temporary directory of its own when none is given),
/// outlives the process: Restart() starts it again on it. The binary is
/// CPPBLOG_VIPSERVICE_BIN (environment) or the one built with the tests.
class VipInstance {
 public:
  explicit VipInstance(Settings settings, Settings env = {},
                       std::optional<std::filesystem::path> data_dir = std::nullopt);

  /// Kills (SIGKILL) the process if it still runs, then starts it again on a new free port.
  void Restart();

  [[nodiscard]] bool WaitHealthy(std::chrono::milliseconds timeout = 20s) {
    return process_->WaitHealthy(port_, timeout);
  }
  [[nodiscard]] ServiceProcess& Process() { return *process_; }
  [[nodiscard]] std::uint16_t Port() const { return port_; }
  [[nodiscard]] std::string Output() const { return process_->Output(); }
  /// The kGotAMessage lines of this process and of those before Restart(): the deliveries
  /// handed to it.
  [[nodiscard]] std::size_t MessagesLogged() const;

 private:
  void Start();

  std::optional<TempDir> own_data_dir_;
  std::filesystem::path data_dir_;
  Settings settings_;
  Settings env_;
  std::uint16_t port_ = 0;
  std::optional<ServiceProcess> process_;
  std::size_t earlier_messages_ = 0;
};

/// Consumes `queue` (declared as the services declare vip_queue) on the broker of the tests
/// (CPPBLOG_TEST_AMQP_URL) and records every message that arrives, acked.
class VipQueueCollector {
 public:
  explicit VipQueueCollector(const std::string& queue);
  VipQueueCollector(const VipQueueCollector&) = delete;
  VipQueueCollector& operator=(const VipQueueCollector&) = delete;

  [[nodiscard]] std::size_t Count();
  [[nodiscard]] std::vector<messaging::Message> Messages();

 private:
  std::mutex mutex_;
  std::vector<messaging::Message> messages_;
  // Last, so it is destroyed first: no delivery lands in a destroyed vector.
  messaging::AmqpClient client_;
};

}  // namespace cppblog::e2e

#include "own_broker.hpp"

#include <cstdint>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker_test_env.hpp"

namespace cppblog::messaging {
namespace {

bool PortFree(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return free;
}

std::string ReadFirstLine(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

int FreePortBlock() {
  std::mt19937 random{std::random_device{}()};
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int base = 20000 + static_cast<int>(random() % 30000);
    bool all = true;
    for (int p = base; p < base + 16 && all; ++p) all = PortFree(p);
    if (all) return base;
  }
  throw std::runtime_error("no block of 16 free ports on 127.0.0.1");
}

OwnBroker::OwnBroker(std::filesystem::path dir, int base, const std::string& extra_conf)
    : OwnBroker(nullptr, std::move(dir), base, extra_conf) {}

OwnBroker::OwnBroker()
    : OwnBroker(std::make_unique<TempDir>("cppblog-broker"), {}, FreePortBlock(), {}) {}

// A node of a directory of its own (`own_dir`) removes it after stopping, also when it did not
// start: the members are destroyed then too.
OwnBroker::OwnBroker(std::unique_ptr<TempDir> own_dir, std::filesystem::path dir, int base,
                     const std::string& extra_conf)
    : own_dir_(std::move(own_dir)),
      dir_(own_dir_ ? own_dir_->path() : std::move(dir)),
      base_(base) {
  std::string conf_setting;
  if (!extra_conf.empty()) {
    const auto conf = dir_ / "extra.conf";
    std::ofstream(conf) << extra_conf;
    conf_setting = " RABBIT_EXTRA_CONF='" + conf.string() + "'";
  }
  const int status = Shell(Env() + " RABBIT_MANAGEMENT=0 RABBIT_PORT=" + std::to_string(base_) +
                           conf_setting + " '" + RequiredEnv("CPPBLOG_DEV") + "' rabbit start >'" +
                           (dir_ / "start.log").string() + "' 2>&1");
  if (status != 0) {
    Shell(Env() + " '" + RequiredEnv("CPPBLOG_DEV") + "' rabbit stop >/dev/null 2>&1");
    throw std::runtime_error("a RabbitMQ node of the test's own did not start; see " +
                             (dir_ / "start.log").string() + " and " +
                             (dir_ / "node" / "log").string());
  }
}

OwnBroker::~OwnBroker() {
  Shell(Env() + " '" + RequiredEnv("CPPBLOG_DEV") + "' rabbit stop >/dev/null 2>&1");
}  // then own_dir_, if any, is removed

std::string OwnBroker::Url() const {
  return "amqp://guest:guest@127.0.0.1:" + std::to_string(base_) + "/%2F";
}

pid_t OwnBroker::VmPid() const {
  const std::string pid = ReadFirstLine(dir_ / "node" / "node.pid");
  if (pid.empty()) throw std::runtime_error("no pid in " + (dir_ / "node" / "node.pid").string());
  return static_cast<pid_t>(std::stol(pid));
}

std::string OwnBroker::Env() const { return "RABBIT_DIR='" + (dir_ / "node").string() + "'"; }

}  // namespace cppblog::messaging

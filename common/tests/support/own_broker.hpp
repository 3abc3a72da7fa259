#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include <sys/types.h>

#include "cppblog/storage/temp_dir.hpp"

// A RabbitMQ node of a test's own, for tests that would disturb the shared test broker (stop
// its VM, give it a TLS listener): started through `$CPPBLOG_DEV rabbit start` on free ports
// in a temporary directory, stopped and removed on destruction.
namespace cppblog::messaging {

/// The first of 16 free ports on 127.0.0.1: ./dev uses base .. base+13 for a node (base+14 only
/// for the metrics of the management plugin, which OwnBroker leaves off), so base+14 and
/// base+15 are free for listeners of the test's own.
[[nodiscard]] int FreePortBlock();

class OwnBroker {
 public:
  /// Starts a node (no management plugin) in `dir`/node on ports from `base`, with
  /// `extra_conf` (rabbitmq.conf lines) appended to its configuration. Throws when it does
  /// not start; then nothing is left running.
  OwnBroker(std::filesystem::path dir, int base, const std::string& extra_conf = {});
  /// The same in a temporary directory of its own, removed on destruction.
  OwnBroker();
  ~OwnBroker();
  OwnBroker(const OwnBroker&) = delete;
  OwnBroker& operator=(const OwnBroker&) = delete;

  /// amqp://guest:guest@127.0.0.1:<port>/%2F
  [[nodiscard]] std::string Url() const;
  /// The OS process id of the node's Erlang VM (beam.smp).
  [[nodiscard]] pid_t VmPid() const;

 private:
  OwnBroker(std::unique_ptr<TempDir> own_dir, std::filesystem::path dir, int base,
            const std::string& extra_conf);
  [[nodiscard]] std::string Env() const;

  std::unique_ptr<TempDir> own_dir_;  // when the node has a directory of its own
  std::filesystem::path dir_;
  int base_ = 0;
};

}  // namespace cppblog::messaging

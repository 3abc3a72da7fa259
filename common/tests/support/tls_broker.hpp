#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "cppblog/storage/temp_dir.hpp"

#include "own_broker.hpp"

namespace cppblog::messaging {

/// A RabbitMQ node of the test's own with a TLS listener that requires a client certificate
/// (mutual TLS), and the files to talk to it, made with the openssl CLI in a temporary
/// directory: ca.pem (signs server.pem and client.pem), other-ca.pem (signs nothing here),
/// client.pem and client.key. Stopped and removed on destruction.
class TlsBroker {
 public:
  TlsBroker();
  ~TlsBroker() = default;
  TlsBroker(const TlsBroker&) = delete;
  TlsBroker& operator=(const TlsBroker&) = delete;

  /// amqps://guest:guest@localhost:<port>/%2F (the server certificate is for localhost).
  [[nodiscard]] std::string Url() const;
  /// A file of the directory, e.g. File("ca.pem").
  [[nodiscard]] std::string File(const char* name) const;

 private:
  TempDir dir_{"cppblog-tls"};
  int tls_port_ = 0;
  std::unique_ptr<OwnBroker> node_;  // stopped before dir_ is removed
};

/// One TlsBroker for every test of the process that asks (starting a node costs tens of
/// seconds of CPU), started on first use and stopped after the last test. CTest runs each
/// test in a process of its own: there, one node per test.
[[nodiscard]] const TlsBroker& SharedTlsBroker();

}  // namespace cppblog::messaging

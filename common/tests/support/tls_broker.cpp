#include "tls_broker.hpp"

#include <sstream>
#include <stdexcept>
#include <system_error>

#include <gtest/gtest.h>

#include "broker_test_env.hpp"

namespace cppblog::messaging {
namespace {

void Run(const std::string& command) {
  if (Shell(command) != 0) throw std::runtime_error("failed: " + command);
}

// A CA, a server certificate (CN and SAN localhost) and a client certificate, in `dir`.
void MakeCertificates(const std::filesystem::path& dir) {
  const std::string d = dir.string();
  const std::string quiet = " >/dev/null 2>&1";
  Run("cd '" + d + "' && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem" +
      " -days 2 -subj '/CN=cppblog test CA'" + quiet);
  Run("cd '" + d + "' && openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key" +
      " -out other-ca.pem -days 2 -subj '/CN=some other CA'" + quiet);
  Run("cd '" + d + "' && openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr" +
      " -subj '/CN=localhost'" + quiet);
  Run("cd '" + d + "' && printf 'subjectAltName=DNS:localhost\\nextendedKeyUsage=serverAuth\\n'" +
      " > server.ext && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key" +
      " -CAcreateserial -out server.pem -days 2 -extfile server.ext" + quiet);
  Run("cd '" + d + "' && openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr" +
      " -subj '/CN=cppblog-client'" + quiet);
  Run("cd '" + d + "' && printf 'extendedKeyUsage=clientAuth\\n' > client.ext &&" +
      " openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial" +
      " -out client.pem -days 2 -extfile client.ext" + quiet);
}

}  // namespace

TlsBroker::TlsBroker() {
  const std::filesystem::path& dir = dir_.path();
  MakeCertificates(dir);
  const int base = FreePortBlock();
  tls_port_ = base + 14;
  std::ostringstream conf;
  conf << "listeners.ssl.default = " << tls_port_ << "\n"
       << "ssl_options.cacertfile = " << (dir / "ca.pem").string() << "\n"
       << "ssl_options.certfile = " << (dir / "server.pem").string() << "\n"
       << "ssl_options.keyfile = " << (dir / "server.key").string() << "\n"
       << "ssl_options.verify = verify_peer\n"
       << "ssl_options.fail_if_no_peer_cert = true\n";  // mutual TLS
  node_ = std::make_unique<OwnBroker>(dir, base, conf.str());
}

std::string TlsBroker::Url() const {
  return "amqps://guest:guest@localhost:" + std::to_string(tls_port_) + "/%2F";
}

std::string TlsBroker::File(const char* name) const { return (dir_.path() / name).string(); }

namespace {

std::unique_ptr<TlsBroker> shared_broker;

// Stops the shared broker after the last test (not at exit, when the environment may be gone).
class SharedTlsBrokerEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { shared_broker.reset(); }
};

[[maybe_unused]] const auto* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new SharedTlsBrokerEnvironment);

}  // namespace

const TlsBroker& SharedTlsBroker() {
  if (!shared_broker) shared_broker = std::make_unique<TlsBroker>();
  return *shared_broker;
}

}  // namespace cppblog::messaging

// (g) TLS: the test makes a CA, a server certificate for localhost and a client certificate
// with the openssl CLI, starts its own RabbitMQ node with a TLS listener (peer verification
// on), and talks to it over amqps://.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/messaging/messaging_error.hpp"

#include "broker_test_env.hpp"
#include "inbox.hpp"

namespace cppblog::messaging {
namespace {

constexpr auto kWait = std::chrono::seconds{30};

bool PortFree(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return free;
}

// ./dev uses base .. base+13 for a node; base+14 is our TLS listener.
int FreePortBlock() {
  std::mt19937 random{std::random_device{}()};
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int base = 20000 + static_cast<int>(random() % 30000);
    bool all = true;
    for (int p = base; p < base + 16 && all; ++p) all = PortFree(p);
    if (all) return base;
  }
  throw std::runtime_error("no block of 16 free ports");
}

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

// A RabbitMQ node of our own with a TLS listener; stopped and removed on destruction.
class TlsBroker {
 public:
  TlsBroker() : dir_(MakeTempDir()) {
    MakeCertificates(dir_);
    const int base = FreePortBlock();
    tls_port_ = base + 14;
    const auto conf = dir_ / "tls.conf";
    std::ofstream(conf) << "listeners.ssl.default = " << tls_port_ << "\n"
                        << "ssl_options.cacertfile = " << (dir_ / "ca.pem").string() << "\n"
                        << "ssl_options.certfile = " << (dir_ / "server.pem").string() << "\n"
                        << "ssl_options.keyfile = " << (dir_ / "server.key").string() << "\n"
                        << "ssl_options.verify = verify_peer\n"
                        << "ssl_options.fail_if_no_peer_cert = true\n";  // mutual TLS
    Run(Env() + " RABBIT_MANAGEMENT=0 RABBIT_PORT=" + std::to_string(base) +
        " RABBIT_EXTRA_CONF='" + conf.string() + "' '" + RequiredEnv("CPPBLOG_DEV") +
        "' rabbit start >/dev/null 2>&1");
    started_ = true;
  }
  ~TlsBroker() {
    if (started_)
      Shell(Env() + " '" + RequiredEnv("CPPBLOG_DEV") + "' rabbit stop >/dev/null 2>&1");
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  TlsBroker(const TlsBroker&) = delete;
  TlsBroker& operator=(const TlsBroker&) = delete;

  [[nodiscard]] std::string Url() const {
    return "amqps://guest:guest@localhost:" + std::to_string(tls_port_) + "/%2F";
  }
  [[nodiscard]] std::string File(const char* name) const { return (dir_ / name).string(); }

 private:
  static std::filesystem::path MakeTempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "cppblog-tls-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    return pattern;
  }
  [[nodiscard]] std::string Env() const { return "RABBIT_DIR='" + (dir_ / "node").string() + "'"; }

  std::filesystem::path dir_;
  int tls_port_ = 0;
  bool started_ = false;
};

TEST(AmqpClientTls, VerifiesTheBrokerAndRefusesAnUntrustedOne) {
  ASSERT_FALSE(RequiredEnv("CPPBLOG_DEV").empty());
  const TlsBroker broker;

  // Trusted CA and a client certificate: a full round trip over TLS.
  Inbox inbox;
  AmqpClient client{{.url = broker.Url(),
                     .tls = {.ca_file = broker.File("ca.pem"),
                             .cert_file = broker.File("client.pem"),
                             .key_file = broker.File("client.key")}}};
  const std::string queue = UniqueName("tls");
  auto subscribed = client.SubscribeToQueue({.name = queue}, inbox.Recorder(), {});
  ASSERT_EQ(subscribed.wait_for(kWait), std::future_status::ready);
  subscribed.get();
  auto published = client.PublishToQueue({.name = queue}, {.body = "over TLS"});
  ASSERT_EQ(published.wait_for(kWait), std::future_status::ready);
  published.get();
  ASSERT_TRUE(inbox.WaitFor(1, kWait));
  EXPECT_EQ(inbox.Messages().front().body, "over TLS");
  EXPECT_EQ(client.State(), ConnectionState::kConnected);

  // A CA that did not sign the broker's certificate: never connects, the publish times out.
  AmqpClient untrusting{{.url = broker.Url(),
                         .tls = {.ca_file = broker.File("other-ca.pem")},
                         .publish_timeout = std::chrono::milliseconds{1500}}};
  auto refused = untrusting.PublishToQueue({.name = queue}, {.body = "never"});
  ASSERT_EQ(refused.wait_for(kWait), std::future_status::ready);
  try {
    refused.get();
    ADD_FAILURE() << "expected MessagingError";
  } catch (const MessagingError& e) {
    EXPECT_EQ(e.kind(), MessagingErrorKind::kTimeout) << e.what();
  }
  EXPECT_EQ(untrusting.State(), ConnectionState::kRecovering);

  // Mutual TLS: the broker requires a client certificate, so a client that trusts the broker
  // but presents none never connects either.
  AmqpClient anonymous{{.url = broker.Url(),
                        .tls = {.ca_file = broker.File("ca.pem")},
                        .publish_timeout = std::chrono::milliseconds{1500}}};
  auto unauthenticated = anonymous.PublishToQueue({.name = queue}, {.body = "never"});
  ASSERT_EQ(unauthenticated.wait_for(kWait), std::future_status::ready);
  try {
    unauthenticated.get();
    ADD_FAILURE() << "a client without a certificate was let in by a broker that requires one";
  } catch (const MessagingError& e) {
    EXPECT_EQ(e.kind(), MessagingErrorKind::kTimeout) << e.what();
  }
  EXPECT_EQ(anonymous.State(), ConnectionState::kRecovering);
}

}  // namespace
}  // namespace cppblog::messaging

// TLS with the CA given as a trust store rather than one CA file: a bundle of several CAs as
// `ca_file`, and (without `ca_file`) the system trust store, pointed at a bundle file
// (SSL_CERT_FILE) or a hashed certificate directory (SSL_CERT_DIR, as /etc/ssl/certs) the way
// OpenSSL lets an operator do it. Each is accepted when it holds the CA that signed the broker's
// certificate and refused when it does not. On the TLS node of the test binary's own
// (SharedTlsBroker).
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "cppblog/messaging/amqp_client.hpp"
#include "cppblog/messaging/messaging_error.hpp"

#include "broker_test_env.hpp"
#include "tls_broker.hpp"

namespace cppblog::messaging {
namespace {

using namespace std::chrono_literals;

constexpr auto kWait = 30s;
constexpr auto kRefusedWithin = 1500ms;

// Sets an environment variable for the life of this object, and puts back what was there.
// Only while no client runs: OpenSSL reads it on the clients' I/O threads.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) previous_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (previous_) {
      ::setenv(name_, previous_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> previous_;
};

class AmqpClientTrustStore : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { broker_ = &SharedTlsBroker(); }

  // `files` concatenated into `name` in the broker's directory; returns its path.
  static std::string Bundle(const std::string& name, std::initializer_list<const char*> files) {
    const std::string path = broker_->File(name.c_str());
    std::ofstream out(path);
    for (const char* file : files) out << std::ifstream(broker_->File(file)).rdbuf();
    return path;
  }
  // A directory holding `files` under OpenSSL's hashed names (openssl rehash).
  static std::string HashedDirectory(const std::string& name,
                                     std::initializer_list<const char*> files) {
    const std::filesystem::path dir = broker_->File(name.c_str());
    std::filesystem::create_directories(dir);
    for (const char* file : files) {
      std::filesystem::copy_file(broker_->File(file), dir / file,
                                 std::filesystem::copy_options::overwrite_existing);
    }
    if (Shell("openssl rehash '" + dir.string() + "' >/dev/null 2>&1") != 0) {
      throw std::runtime_error("openssl rehash " + dir.string() + " failed");
    }
    return dir.string();
  }

  // Connects with `ca_file` (empty: the system trust store) and the client certificate; true
  // once a publish over TLS is confirmed, false when none is within kRefusedWithin.
  static bool Connects(const std::string& ca_file) {
    AmqpClient client{{.url = broker_->Url(),
                       .tls = {.ca_file = ca_file,
                               .cert_file = broker_->File("client.pem"),
                               .key_file = broker_->File("client.key")},
                       .publish_timeout = kRefusedWithin}};
    auto published = client.PublishToQueue(
        {.name = UniqueName("trust-store"), .durable = false, .auto_delete = true},
        {.body = "over TLS"});
    EXPECT_EQ(published.wait_for(kWait), std::future_status::ready);
    try {
      published.get();
      return client.State() == ConnectionState::kConnected;
    } catch (const MessagingError& e) {
      EXPECT_EQ(e.kind(), MessagingErrorKind::kTimeout) << e.what();
      EXPECT_EQ(client.State(), ConnectionState::kRecovering);
      return false;
    }
  }

  static const TlsBroker* broker_;
};

const TlsBroker* AmqpClientTrustStore::broker_ = nullptr;

// One test, so that CTest (a process per test) starts one TLS node for all of it.
TEST_F(AmqpClientTrustStore, EachFormOfTrustStoreIsAcceptedOnlyWithTheBrokersCa) {
  {
    SCOPED_TRACE("a CA bundle as ca_file");
    EXPECT_TRUE(Connects(Bundle("bundle.pem", {"other-ca.pem", "ca.pem"})))
        << "a bundle with the broker's CA after another one was refused";
    EXPECT_FALSE(Connects(Bundle("wrong-bundle.pem", {"other-ca.pem", "client.pem"})))
        << "a bundle without the broker's CA was accepted";
  }
  {
    // /etc/ssl/certs is what many operators will write.
    SCOPED_TRACE("a hashed certificate directory as ca_file");
    EXPECT_TRUE(Connects(HashedDirectory("ca-dir", {"other-ca.pem", "ca.pem"})))
        << "a hashed directory with the broker's CA, given as ca_file, was refused";
    EXPECT_FALSE(Connects(HashedDirectory("other-ca-dir", {"other-ca.pem"})))
        << "a hashed directory without the broker's CA, given as ca_file, was accepted";
  }
  // Without ca_file, the system trust store: nothing but what the two variables name (no
  // directory besides the file, no file besides the directory).
  const std::string empty_dir = HashedDirectory("empty-dir", {});
  const std::string no_file = broker_->File("no-such-bundle.pem");
  {
    SCOPED_TRACE("the system trust store: SSL_CERT_FILE");
    {
      const ScopedEnv file{"SSL_CERT_FILE", Bundle("system.pem", {"other-ca.pem", "ca.pem"})};
      const ScopedEnv dir{"SSL_CERT_DIR", empty_dir};
      EXPECT_TRUE(Connects("")) << "the system trust store (SSL_CERT_FILE) was not used";
    }
    const ScopedEnv file{"SSL_CERT_FILE", broker_->File("other-ca.pem")};
    const ScopedEnv dir{"SSL_CERT_DIR", empty_dir};
    EXPECT_FALSE(Connects("")) << "a system trust store without the broker's CA was accepted";
  }
  {
    SCOPED_TRACE("the system trust store: SSL_CERT_DIR");
    {
      const ScopedEnv file{"SSL_CERT_FILE", no_file};
      const ScopedEnv dir{"SSL_CERT_DIR", HashedDirectory("certs", {"other-ca.pem", "ca.pem"})};
      EXPECT_TRUE(Connects("")) << "a hashed directory with the broker's CA was refused";
    }
    const ScopedEnv file{"SSL_CERT_FILE", no_file};
    const ScopedEnv dir{"SSL_CERT_DIR", HashedDirectory("other-certs", {"other-ca.pem"})};
    EXPECT_FALSE(Connects("")) << "a hashed directory without the broker's CA was accepted";
  }
}

}  // namespace
}  // namespace cppblog::messaging

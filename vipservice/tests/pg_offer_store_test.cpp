#include "pg_offer_store.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "offer_store_test.hpp"
#include "pg_test_env.hpp"

namespace cppblog::vipservice {
namespace {

using namespace std::chrono_literals;
using std::chrono::system_clock;

std::size_t CountOffers(const TestPgSchema& schema) {
  return std::stoul(schema.Query("SELECT count(*) FROM vip_offers"));
}

std::size_t CountProcessed(const TestPgSchema& schema) {
  return std::stoul(schema.Query("SELECT count(*) FROM vip_processed"));
}

PgOfferStore Open(const TestPgSchema& schema) { return PgOfferStore{{.url = schema.Url()}}; }

// The PostgreSQL store in a schema of its own.
class PgPlace final : public OfferStorePlace {
 public:
  std::unique_ptr<OfferStore> Open() override {
    return std::make_unique<PgOfferStore>(PgOfferStore::Options{.url = schema_.Url()});
  }
  std::size_t CountOffers(const OfferStore& /*store*/) const override {
    return vipservice::CountOffers(schema_);
  }
  std::size_t CountProcessed(const OfferStore& /*store*/) const override {
    return vipservice::CountProcessed(schema_);
  }

 private:
  TestPgSchema schema_;
};

std::unique_ptr<OfferStorePlace> MakePgPlace() { return std::make_unique<PgPlace>(); }

// The suite every offer store passes (offer_store_test.cpp).
INSTANTIATE_TEST_SUITE_P(PgOfferStore, OfferStoreTest,
                         ::testing::Values(OfferStoreKind{"postgresql", &MakePgPlace}));

std::string ErrorOf(const std::function<void()>& action) {
  try {
    action();
  } catch (const StoreError& e) {
    return e.what();
  }
  return "(no StoreError)";
}

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(10ms);  // a poll interval, not a wait
  }
  return true;
}

// What a vipservice of schema version 1 made, with one offer of account 10000 (readAt 1000 ns,
// offered at 2000 ns) in it.
void MakeVersion1Schema(const TestPgSchema& schema) {
  static_cast<void>(schema.Query(R"sql(
CREATE TABLE cppblog_schema_version (component text PRIMARY KEY, version integer NOT NULL);
INSERT INTO cppblog_schema_version VALUES ('vipservice', 1);
CREATE TABLE vip_processed (
  message_id bytea PRIMARY KEY,
  processed_at_ns bigint NOT NULL,
  offered boolean NOT NULL);
CREATE INDEX vip_processed_by_time ON vip_processed (processed_at_ns);
CREATE TABLE vip_offers (
  account_id bytea NOT NULL,
  read_at_ns bigint NOT NULL,
  message_id bytea NOT NULL,
  offered_at_ns bigint NOT NULL,
  PRIMARY KEY (account_id, read_at_ns, message_id));
INSERT INTO vip_processed VALUES ('\x6f6c64', 2000, true);
INSERT INTO vip_offers VALUES ('\x3130303030', 1000, '\x6f6c64', 2000);
)sql"));
}

TEST(PgOfferStore, ANewDatabaseIsAtTheCurrentVersionAndStaysThereOnReopen) {
  const TestPgSchema schema;
  {
    PgOfferStore store = Open(schema);
    ASSERT_EQ(store.Process("m1", Notification("10000", kT0), kT0, 24h), ProcessResult::kOffered);
  }
  const PgOfferStore reopened = Open(schema);

  EXPECT_EQ(reopened.OffersFor("10000").size(), 1U);
  EXPECT_EQ(
      schema.Query("SELECT version FROM cppblog_schema_version WHERE component = 'vipservice'"),
      "2");
}

TEST(PgOfferStore, ATraceIdIsStoredAsItsBytesAndNoneAsNull) {
  const TestPgSchema schema;
  PgOfferStore store = Open(schema);

  ASSERT_EQ(store.Process("m1", Notification("10000", kT0), kT0 + 1ms, 0ms, kTraceId),
            ProcessResult::kOffered);
  ASSERT_EQ(store.Process("m2", Notification("10000", kT0 + 1h), kT0 + 1h, 0ms),
            ProcessResult::kOffered);

  EXPECT_EQ(schema.Query("SELECT encode(trace_id, 'hex') FROM vip_offers WHERE message_id = 'm1'"),
            kTraceId);
  EXPECT_EQ(schema.Query("SELECT count(*) FROM vip_offers WHERE trace_id IS NULL"), "1");
}

TEST(PgOfferStore, Version1DatabaseIsMigratedAndItsOffersRead) {
  const TestPgSchema schema;
  MakeVersion1Schema(schema);

  PgOfferStore store = Open(schema);

  EXPECT_EQ(
      schema.Query("SELECT version FROM cppblog_schema_version WHERE component = 'vipservice'"),
      "2");
  const system_clock::time_point epoch{};
  EXPECT_EQ(store.OffersFor("10000"), (std::vector<Offer>{{.account_id = "10000",
                                                           .message_id = "old",
                                                           .read_at = epoch + 1000ns,
                                                           .offered_at = epoch + 2000ns}}));
  EXPECT_EQ(store.Process("old", Notification("10000", kT0), kT0, 0ms, kTraceId),
            ProcessResult::kDuplicate);
  ASSERT_EQ(store.Process("new", Notification("10000", kT0), kT0, 0ms, kTraceId),
            ProcessResult::kOffered);
  EXPECT_EQ(store.OffersFor("10000").at(1).trace_id, kTraceId);
}

TEST(PgOfferStore, InstancesStartingTogetherMigrateAVersion1DatabaseOnce) {
  const TestPgSchema schema;
  MakeVersion1Schema(schema);
  std::vector<std::future<std::size_t>> opened;

  for (int i = 0; i < 6; ++i) {
    opened.push_back(std::async(std::launch::async, [&schema] {
      PgOfferStore store = Open(schema);
      return store.OffersFor("10000").size();
    }));
  }

  for (auto& store : opened) EXPECT_EQ(store.get(), 1U);
  EXPECT_EQ(
      schema.Query("SELECT version FROM cppblog_schema_version WHERE component = 'vipservice'"),
      "2");
  EXPECT_EQ(schema.Query("SELECT count(*) FROM information_schema.columns WHERE table_schema = '" +
                         schema.Name() +
                         "' AND table_name = 'vip_offers' AND column_name = "
                         "'trace_id'"),
            "1");
}

TEST(PgOfferStore, MigrationToVersion2IsIdempotent) {
  // A version 1 database that has the column already (added by hand, say): the step runs again
  // without failing, and reopening a migrated database runs none.
  const TestPgSchema schema;
  MakeVersion1Schema(schema);
  static_cast<void>(schema.Query("ALTER TABLE vip_offers ADD COLUMN trace_id bytea"));
  { const PgOfferStore store = Open(schema); }

  PgOfferStore reopened = Open(schema);

  EXPECT_EQ(
      schema.Query("SELECT version FROM cppblog_schema_version WHERE component = 'vipservice'"),
      "2");
  EXPECT_EQ(reopened.OffersFor("10000").size(), 1U);
}

TEST(PgOfferStore, InstancesStartingTogetherCreateTheSchemaOnce) {
  const TestPgSchema schema;
  std::vector<std::future<std::size_t>> opened;

  for (int i = 0; i < 6; ++i) {
    opened.push_back(std::async(std::launch::async, [&schema] {
      PgOfferStore store = Open(schema);
      return CountOffers(schema);
    }));
  }

  for (auto& store : opened) EXPECT_EQ(store.get(), 0U);
  // One row for the vipservice's tables, one for its inbox (vip_processed).
  EXPECT_EQ(schema.Query("SELECT count(*) FROM cppblog_schema_version "
                         "WHERE component = 'vipservice'"),
            "1");
  EXPECT_EQ(schema.Query("SELECT count(*) FROM cppblog_schema_version"), "2");
}

TEST(PgOfferStore, NewerSchemaIsRefusedWithWhatToDo) {
  const TestPgSchema schema;
  { const PgOfferStore store = Open(schema); }
  static_cast<void>(schema.Query(
      "UPDATE cppblog_schema_version SET version = 99 WHERE component = 'vipservice'"));

  const std::string error = ErrorOf([&schema] { const PgOfferStore store = Open(schema); });

  EXPECT_NE(error.find("offer_store_url"), std::string::npos) << error;
  EXPECT_NE(error.find("version 99"), std::string::npos) << error;
}

// Issue 11 (e): instances on different hosts share the database; each store object here has
// connections of its own, as another process would.
TEST(PgOfferStore, ConcurrentInstancesWithCooldownMakeExactlyOneOffer) {
  const TestPgSchema schema;
  constexpr int kInstances = 4;
  constexpr int kThreadsEach = 8;
  constexpr int kMessagesEach = 10;
  std::vector<std::unique_ptr<PgOfferStore>> instances;
  for (int i = 0; i < kInstances; ++i) {
    instances.push_back(std::make_unique<PgOfferStore>(PgOfferStore::Options{.url = schema.Url()}));
  }
  std::vector<std::future<int>> workers;

  for (int i = 0; i < kInstances; ++i) {
    for (int t = 0; t < kThreadsEach; ++t) {
      workers.push_back(std::async(std::launch::async, [&store = *instances[i], i, t] {
        int offered = 0;
        for (int m = 0; m < kMessagesEach; ++m) {
          const std::string id =
              "i" + std::to_string(i) + "-t" + std::to_string(t) + "-m" + std::to_string(m);
          const auto read_at = kT0 + std::chrono::seconds{m * 7 + t};
          offered += store.Process(id, Notification("10000", read_at), read_at, 24h) ==
                             ProcessResult::kOffered
                         ? 1
                         : 0;
        }
        return offered;
      }));
    }
  }

  int offered = 0;
  for (auto& worker : workers) offered += worker.get();
  EXPECT_EQ(offered, 1);
  EXPECT_EQ(instances[0]->OffersFor("10000").size(), 1U);
  EXPECT_EQ(CountProcessed(schema),
            static_cast<std::size_t>(kInstances * kThreadsEach * kMessagesEach));
}

// A batch takes the locks of all its accounts in one statement, in one order: instances whose
// batches share accounts wait for each other but never deadlock (which would fail a whole batch
// with "deadlock detected" after deadlock_timeout), and the rule holds per account.
TEST(PgOfferStore, ConcurrentInstancesOnManyAccountsNeverDeadlockAndOfferOncePerAccount) {
  const TestPgSchema schema;
  constexpr int kInstances = 3;
  constexpr int kThreadsEach = 8;
  constexpr int kMessagesEach = 15;
  constexpr int kAccounts = 13;
  std::vector<std::unique_ptr<PgOfferStore>> instances;
  for (int i = 0; i < kInstances; ++i) {
    instances.push_back(std::make_unique<PgOfferStore>(PgOfferStore::Options{.url = schema.Url()}));
  }
  std::vector<std::future<int>> workers;

  for (int i = 0; i < kInstances; ++i) {
    for (int t = 0; t < kThreadsEach; ++t) {
      workers.push_back(std::async(std::launch::async, [&store = *instances[i], i, t] {
        int offered = 0;
        for (int m = 0; m < kMessagesEach; ++m) {
          const std::string id =
              "i" + std::to_string(i) + "-t" + std::to_string(t) + "-m" + std::to_string(m);
          // Each thread walks the accounts in another order.
          const std::string account = std::to_string(10000 + (m * (t + 1) + i * 5) % kAccounts);
          offered +=
              store.Process(id, Notification(account, kT0), kT0, 24h) == ProcessResult::kOffered
                  ? 1
                  : 0;
        }
        return offered;
      }));
    }
  }

  int offered = 0;
  for (auto& worker : workers) offered += worker.get();  // a StoreError would rethrow here
  EXPECT_EQ(offered, kAccounts);  // every account is read (thread 0 walks them all), once offered
  for (int a = 0; a < kAccounts; ++a) {
    EXPECT_EQ(instances[0]->OffersFor(std::to_string(10000 + a)).size(), 1U) << 10000 + a;
  }
  EXPECT_EQ(CountProcessed(schema),
            static_cast<std::size_t>(kInstances * kThreadsEach * kMessagesEach));
}

TEST(PgOfferStore, DeleteProcessedBeforeWorksInChunks) {
  const TestPgSchema schema;
  PgOfferStore store = Open(schema);
  static_cast<void>(
      schema.Query("INSERT INTO vip_processed SELECT convert_to('bulk' || n, 'UTF8'), 0, false "
                   "FROM generate_series(1, 25000) n"));
  ASSERT_EQ(store.Process("kept", Notification("10000", kT0), kT0, 0ms), ProcessResult::kOffered);

  EXPECT_EQ(store.DeleteProcessedBefore(kT0), 25'000U);
  EXPECT_EQ(CountProcessed(schema), 1U);
}

TEST(PgOfferStore, LostConnectionFailsOneCallThenReconnects) {
  const TestPgSchema schema;
  PgOfferStore store = Open(schema);
  ASSERT_EQ(store.Process("m1", Notification("10000", kT0), kT0, 0ms), ProcessResult::kOffered);
  const std::string mine = "FROM pg_stat_activity WHERE application_name = '" + schema.Name() + "'";
  static_cast<void>(TestPgSchema{}.Query("SELECT pg_terminate_backend(pid) " + mine));
  ASSERT_TRUE(
      WaitUntil([&] { return TestPgSchema{}.Query("SELECT count(*) " + mine) == "0"; }, 10s));

  const std::string error =
      ErrorOf([&] { static_cast<void>(store.Process("m2", Notification("1", kT0), kT0, 0ms)); });
  const std::string read_error = ErrorOf([&] { store.Ping(); });

  EXPECT_NE(error.find("offer store PostgreSQL"), std::string::npos) << error;
  EXPECT_NE(read_error.find("offer store PostgreSQL"), std::string::npos) << read_error;
  // On the new connection the group commit's statements are prepared again.
  EXPECT_EQ(store.Process("m2", Notification("1", kT0), kT0, 0ms), ProcessResult::kOffered);
  EXPECT_EQ(CountOffers(schema), 2U);
}

TEST(PgOfferStore, NotAUrlIsAnErrorNamingTheSetting) {
  const std::string error =
      ErrorOf([] { const PgOfferStore store{{.url = "host=db password=hunter2"}}; });

  EXPECT_NE(error.find("offer_store_url"), std::string::npos) << error;
  EXPECT_NE(error.find("postgresql://user:password@host:port/database"), std::string::npos)
      << error;
  EXPECT_EQ(error.find("hunter2"), std::string::npos) << error;
}

TEST(PgOfferStore, WrongPasswordIsAnErrorNamingHostAndNotThePassword) {
  std::string url = TestPgUrl();
  const auto colon = url.find(':', url.find("://") + 3);
  const auto at = url.rfind('@');
  ASSERT_NE(colon, std::string::npos);
  ASSERT_NE(at, std::string::npos);
  url.replace(colon + 1, at - colon - 1, "Wr0ng-Pa55");

  const std::string error = ErrorOf([&url] { const PgOfferStore store{{.url = url}}; });

  EXPECT_NE(error.find("offer_store_url"), std::string::npos) << error;
  EXPECT_NE(error.find("127.0.0.1"), std::string::npos) << error;
  EXPECT_NE(error.find("password"), std::string::npos) << error;
  EXPECT_EQ(error.find("Wr0ng-Pa55"), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
}

TEST(PgOfferStore, PasswordOptionReplacesTheUrls) {
  std::string url = TestPgUrl();
  const auto colon = url.find(':', url.find("://") + 3);
  const auto at = url.rfind('@');
  const std::string password = url.substr(colon + 1, at - colon - 1);
  url.replace(colon + 1, at - colon - 1, "not-this-one");
  const TestPgSchema schema;  // the server is up

  const PgOfferStore store{{.url = url, .password = password}};

  EXPECT_NO_THROW(store.Ping());
}

}  // namespace
}  // namespace cppblog::vipservice

#include "account_store.hpp"

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cppblog/storage/temp_dir.hpp"

namespace cppblog::account {
namespace {

TEST(AccountStore, SeedsTheContractsHundredAccounts) {
  const TempDir dir;
  const AccountStore store{dir.path()};

  EXPECT_EQ(store.CountAccounts(), 100U);
  EXPECT_EQ(store.FindAccount("10000"), (Account{.id = "10000", .name = "Person_0"}));
  EXPECT_EQ(store.FindAccount("10099"), (Account{.id = "10099", .name = "Person_99"}));
}

TEST(AccountStore, UnknownIdIsAbsent) {
  const TempDir dir;
  const AccountStore store{dir.path()};

  EXPECT_EQ(store.FindAccount("10100"), std::nullopt);
  EXPECT_EQ(store.FindAccount("9999"), std::nullopt);
}

TEST(AccountStore, CreatesAMissingDataDirectory) {
  const TempDir dir;
  const auto nested = dir.path() / "a" / "b";

  const AccountStore store{nested};

  EXPECT_TRUE(std::filesystem::exists(nested / "data.mdb"));
  EXPECT_EQ(store.Path(), nested);
}

TEST(AccountStore, ReopeningNeitherDuplicatesNorClobbers) {
  const TempDir dir;
  {
    AccountStore store{dir.path()};
    store.PutAccount({.id = "10005", .name = "Renamed"});
  }

  const AccountStore reopened{dir.path()};

  EXPECT_EQ(reopened.CountAccounts(), 100U);
  EXPECT_EQ(reopened.FindAccount("10005"), (Account{.id = "10005", .name = "Renamed"}));
}

TEST(AccountStore, PutAddsANewAccount) {
  const TempDir dir;
  AccountStore store{dir.path()};

  store.PutAccount({.id = "20000", .name = "Newcomer"});

  EXPECT_EQ(store.FindAccount("20000"), (Account{.id = "20000", .name = "Newcomer"}));
  EXPECT_EQ(store.CountAccounts(), 101U);
}

TEST(AccountStore, IsOpenWhenReadable) {
  const TempDir dir;
  const AccountStore store{dir.path()};

  EXPECT_TRUE(store.IsOpen());
}

TEST(AccountStore, ConcurrentReadersAllSeeTheAccounts) {
  const TempDir dir;
  const AccountStore store{dir.path()};
  constexpr int kThreads = 8;
  std::vector<int> found(kThreads, 0);

  {
    std::vector<std::jthread> readers;
    for (int t = 0; t < kThreads; ++t) {
      readers.emplace_back([&store, &found, t] {
        for (int i = 0; i < 1000; ++i) {
          if (store.FindAccount(std::to_string(10000 + i % 100))) ++found[t];
        }
      });
    }
  }

  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(found[t], 1000) << "thread " << t;
}

TEST(AccountStore, OneThreadReadingTwoStoresSeesEachOnesData) {
  const TempDir dir_a;
  const TempDir dir_b;
  AccountStore a{dir_a.path()};
  AccountStore b{dir_b.path()};
  a.PutAccount({.id = "10001", .name = "In A"});
  b.PutAccount({.id = "10001", .name = "In B"});

  EXPECT_EQ(a.FindAccount("10001")->name, "In A");
  EXPECT_EQ(b.FindAccount("10001")->name, "In B");
  EXPECT_EQ(a.FindAccount("10001")->name, "In A");
}

TEST(AccountStore, ReadAfterWriteSeesTheWrite) {
  const TempDir dir;
  AccountStore store{dir.path()};
  ASSERT_EQ(store.FindAccount("10002")->name, "Person_2");

  store.PutAccount({.id = "10002", .name = "Changed"});

  EXPECT_EQ(store.FindAccount("10002")->name, "Changed");
}

TEST(AccountStore, StoreReopenedOnTheSameThreadReadsItsOwnData) {
  const TempDir dir;
  {
    AccountStore first{dir.path()};
    ASSERT_TRUE(first.FindAccount("10000"));
    first.PutAccount({.id = "10003", .name = "Kept"});
  }

  const AccountStore second{dir.path()};

  EXPECT_EQ(second.FindAccount("10003")->name, "Kept");
}

TEST(AccountStore, UnusableDirectoryThrowsNamingThePath) {
  const TempDir dir;
  const auto file = dir.path() / "not-a-dir";
  std::ofstream{file} << "x";

  try {
    const AccountStore store{file};
    FAIL() << "expected StoreError";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cppblog::account

#include "account.hpp"

#include <string>

#include <gtest/gtest.h>

namespace cppblog::account {
namespace {

TEST(Account, SerialisesContractJsonInFieldOrder) {
  const Account account{.id = "10000", .name = "Person_0"};

  EXPECT_EQ(ToJson(account, "10.255.0.11"),
            R"({"id":"10000","name":"Person_0","servedBy":"10.255.0.11"})");
}

TEST(Account, EscapesQuotesBackslashesAndControlCharacters) {
  const Account account{.id = "1", .name = std::string("a\"b\\c\nd\x01")};

  EXPECT_EQ(ToJson(account, "127.0.0.1"),
            R"({"id":"1","name":"a\"b\\c\nd\u0001","servedBy":"127.0.0.1"})");
}

TEST(Account, KeepsUtf8AsIsAndReplacesBytesThatAreNot) {
  const Account account{.id = "1", .name = std::string("J\xc3\xb6rg \xff")};

  EXPECT_EQ(ToJson(account, "127.0.0.1"),
            "{\"id\":\"1\",\"name\":\"J\xc3\xb6rg \\ufffd\",\"servedBy\":\"127.0.0.1\"}");
}

}  // namespace
}  // namespace cppblog::account

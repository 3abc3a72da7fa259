#pragma once

#include <string>
#include <string_view>

namespace cppblog::account {

/// An account as stored: the contract's id and name.
struct Account {
  std::string id;
  std::string name;

  friend bool operator==(const Account&, const Account&) = default;
};

/// The contract's JSON, fields in this order:
/// {"id":"10000","name":"Person_0","servedBy":"10.255.0.11"}. Strings are JSON-escaped.
[[nodiscard]] std::string ToJson(const Account& account, std::string_view served_by);

}  // namespace cppblog::account

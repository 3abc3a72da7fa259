#include "account.hpp"

#include "cppblog/text/escape.hpp"

namespace cppblog::account {
std::string ToJson(const Account& account, std::string_view served_by) {
  static constexpr std::string_view kIdKey = R"({"id":)";
  static constexpr std::string_view kNameKey = R"(,"name":)";
  static constexpr std::string_view kServedByKey = R"(,"servedBy":)";
  std::string json;
  // Six quotes and the closing brace besides the keys; escapes only ever grow it.
  json.reserve(kIdKey.size() + kNameKey.size() + kServedByKey.size() + 7 + account.id.size() +
               account.name.size() + served_by.size());
  json.append(kIdKey);
  text::AppendJsonString(json, account.id);
  json.append(kNameKey);
  text::AppendJsonString(json, account.name);
  json.append(kServedByKey);
  text::AppendJsonString(json, served_by);
  json.push_back('}');
  return json;
}

}  // namespace cppblog::account

#include "account.hpp"

#include <algorithm>

namespace cppblog::account {
namespace {

constexpr char kHex[] = "0123456789abcdef";

bool NeedsEscape(char c) { return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20; }

}  // namespace

void AppendJsonString(std::string& out, std::string_view text) {
  out.push_back('"');
  // Ids, names and addresses almost never need escaping: one scan, one copy.
  const auto first = std::find_if(text.begin(), text.end(), NeedsEscape);
  if (first == text.end()) {
    out.append(text);
    out.push_back('"');
    return;
  }
  std::size_t run_start = 0;
  for (std::size_t i = static_cast<std::size_t>(first - text.begin()); i < text.size(); ++i) {
    const char c = text[i];
    if (!NeedsEscape(c)) continue;
    out.append(text.substr(run_start, i - run_start));
    run_start = i + 1;
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default: {
        const auto byte = static_cast<unsigned char>(c);
        const char escape[] = {'\\', 'u', '0', '0', kHex[byte >> 4], kHex[byte & 0xF]};
        out.append(escape, sizeof escape);
      }
    }
  }
  out.append(text.substr(run_start));
  out.push_back('"');
}

std::string ToJson(const Account& account, std::string_view served_by) {
  static constexpr std::string_view kIdKey = R"({"id":)";
  static constexpr std::string_view kNameKey = R"(,"name":)";
  static constexpr std::string_view kServedByKey = R"(,"servedBy":)";
  std::string json;
  // Six quotes and the closing brace besides the keys; escapes only ever grow it.
  json.reserve(kIdKey.size() + kNameKey.size() + kServedByKey.size() + 7 + account.id.size() +
               account.name.size() + served_by.size());
  json.append(kIdKey);
  AppendJsonString(json, account.id);
  json.append(kNameKey);
  AppendJsonString(json, account.name);
  json.append(kServedByKey);
  AppendJsonString(json, served_by);
  json.push_back('}');
  return json;
}

}  // namespace cppblog::account

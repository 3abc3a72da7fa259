#include "offer_store.hpp"

#include <fstream>
#include <iterator>
#include <optional>
#include <utility>

#include "lmdb_offer_store.hpp"
#include "pg_offer_store.hpp"
#include "settings.hpp"

namespace cppblog::vipservice {
namespace {

std::string ReadPasswordFile(const std::filesystem::path& path) {
  std::ifstream file{path, std::ios::binary};
  if (!file.is_open()) {
    throw StoreError("offer_store_password_file: cannot open " + path.string() +
                     ": give a readable file that holds the PostgreSQL password");
  }
  std::string password{std::istreambuf_iterator<char>{file}, std::istreambuf_iterator<char>{}};
  if (file.bad()) {
    throw StoreError("offer_store_password_file: cannot read " + path.string() +
                     ": give a readable file that holds the PostgreSQL password");
  }
  // Files written by editors and `echo` end with a newline that is no part of the password.
  while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
    password.pop_back();
  }
  return password;
}

constexpr std::size_t kTraceIdBytes = 16;
constexpr std::string_view kHexDigits = "0123456789abcdef";

}  // namespace

bool IsTraceId(std::string_view text) noexcept {
  return text.size() == 2 * kTraceIdBytes &&
         text.find_first_not_of(kHexDigits) == std::string_view::npos &&
         text.find_first_not_of('0') != std::string_view::npos;
}

std::string TraceIdBytes(std::string_view trace_id) {
  std::string bytes;
  bytes.reserve(trace_id.size() / 2);
  for (std::size_t i = 0; i + 1 < trace_id.size(); i += 2) {
    bytes.push_back(
        static_cast<char>(kHexDigits.find(trace_id[i]) * 16 + kHexDigits.find(trace_id[i + 1])));
  }
  return bytes;
}

std::string TraceIdFromBytes(std::string_view bytes) {
  std::string hex;
  if (bytes.size() != kTraceIdBytes) return hex;
  hex.reserve(2 * kTraceIdBytes);
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    hex.push_back(kHexDigits[byte >> 4]);
    hex.push_back(kHexDigits[byte & 0x0F]);
  }
  return hex;
}

const char* ToString(ProcessResult result) noexcept {
  switch (result) {
    case ProcessResult::kOffered:
      return "offered";
    case ProcessResult::kCooldown:
      return "cooldown";
    case ProcessResult::kDuplicate:
      return "duplicate";
  }
  return "unknown";
}

std::unique_ptr<OfferStore> MakeOfferStore(const Settings& settings) {
  if (settings.offer_store_url.empty()) {
    return std::make_unique<LmdbOfferStore>(settings.data_dir);
  }
  std::optional<std::string> password;
  if (!settings.offer_store_password_file.empty()) {
    password = ReadPasswordFile(settings.offer_store_password_file);
  }
  return std::make_unique<PgOfferStore>(
      PgOfferStore::Options{.url = settings.offer_store_url, .password = std::move(password)});
}

}  // namespace cppblog::vipservice

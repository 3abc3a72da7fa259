#include "offer_store.hpp"

#include <fstream>
#include <iterator>
#include <optional>
#include <utility>

#include "lmdb_offer_store.hpp"
#include "pg_offer_store.hpp"
#include "settings.hpp"

namespace cppblog::vip {
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

}  // namespace

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

}  // namespace cppblog::vip

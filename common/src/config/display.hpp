#pragma once

#include <string>
#include <string_view>

namespace cppblog::config {

/// `text` as it may appear in a log line or an error message: masked entirely when
/// `key` names a secret (password, secret, token, credential), a URL's password
/// masked ("amqp://guest:***@host"), long values shortened.
[[nodiscard]] std::string DisplayValue(std::string_view key, std::string_view text);

}  // namespace cppblog::config

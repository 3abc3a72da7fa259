#pragma once

#include <string>
#include <string_view>

namespace cppblog::web::detail {

/// Splits a request target ("/a%20b?x=1") into its percent-decoded path and its raw
/// query. Accepts origin-form and absolute-form ("http://host/path?q"). Returns false
/// for a target that is neither, or for a malformed percent escape; `path` and `query`
/// reuse their capacity.
[[nodiscard]] bool ParseTarget(std::string_view target, std::string& path, std::string& query);

}  // namespace cppblog::web::detail

#pragma once

#include <string>
#include <string_view>

namespace cppblog::text {

/// `text` with the password of every URL in it replaced by "***", before anything tries to
/// parse it: `amqp://guest:S3c/r3t?x@host/%2F` → `amqp://guest:***@host/%2F`. A URL's
/// userinfo is taken to run from its "://" to the last '@' before the next "://" (or the end),
/// so a password holding an unencoded '/', '?', '#', '@' or ',' is masked whole, and a
/// comma-separated list of URLs is masked URL by URL. When in doubt it masks more, never less.
/// A userinfo without ':' (a user name alone) is kept. Never throws but std::bad_alloc.
[[nodiscard]] std::string MaskUrlCredentials(std::string_view text);

}  // namespace cppblog::text

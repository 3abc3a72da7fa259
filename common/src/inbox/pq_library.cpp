#include "cppblog/inbox/pq_library.hpp"

#include <string>

#include <dlfcn.h>

#include "cppblog/storage/store_error.hpp"

namespace cppblog::inbox {
namespace {

constexpr const char* kLibPq = "libpq.so.5";

LibPq Load() {
  void* handle = dlopen(kLibPq, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    throw storage::StoreError(std::string("cannot load ") + kLibPq + " (" +
                              (why != nullptr ? why : "unknown error") +
                              "), which the PostgreSQL store needs: install the Debian package "
                              "libpq5");
  }
  LibPq pq;
#define CPPBLOG_LIBPQ_LOAD(name)                                                                  \
  pq.name = reinterpret_cast<decltype(&::name)>(dlsym(handle, #name));                            \
  if (pq.name == nullptr) {                                                                       \
    throw storage::StoreError(std::string(kLibPq) + " has no " #name                              \
                                                    ": install libpq5 of PostgreSQL 14 or later " \
                                                    "(pipeline mode)");                           \
  }
  CPPBLOG_LIBPQ_FUNCTIONS(CPPBLOG_LIBPQ_LOAD)
#undef CPPBLOG_LIBPQ_LOAD
  return pq;
}

}  // namespace

std::string OneLineMessage(std::string_view message) {
  std::string line;
  for (const char c : message) {
    if (c == '\n' || c == '\r' || c == '\t') {
      if (!line.empty() && line.back() != ' ') line.push_back(' ');
    } else {
      line.push_back(c);
    }
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

const LibPq& Pq() {
  static const LibPq loaded = Load();
  return loaded;
}

}  // namespace cppblog::inbox

// The Spring Environment JSON the config client fetches (GET /{application}/{profile}): whoever
// answers at the configured URL, a proxy in between, chooses these bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cppblog/config/config_error.hpp"
#include "cppblog/config/spring_environment.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text{reinterpret_cast<const char*>(data), size};
  try {
    const auto environment = cppblog::config::ParseSpringEnvironment(text, "http://fuzz/app/test");
    static_cast<void>(cppblog::config::MergePropertySources(environment));
  } catch (const cppblog::config::ConfigError&) {  // the documented refusal
  }
  return 0;
}

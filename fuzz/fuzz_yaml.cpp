// YAML configuration files: the one flattener, both modes, and the loader's checks on top.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cppblog/config/config_error.hpp"
#include "cppblog/config/loader.hpp"
#include "cppblog/config/yaml.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text{reinterpret_cast<const char*>(data), size};
  using cppblog::config::YamlScalars;
  try {
    for (const auto& document : cppblog::config::FlattenYaml(text, YamlScalars::kTyped)) {
      for (const auto& [key, value] : document.properties) {
        static_cast<void>(cppblog::config::ToText(value));
      }
    }
  } catch (const cppblog::config::ConfigError&) {  // YamlError: the documented refusal
  }
  try {
    static_cast<void>(cppblog::config::ParseYaml(text, "fuzz.yml"));
  } catch (const cppblog::config::ConfigError&) {
  }
  return 0;
}

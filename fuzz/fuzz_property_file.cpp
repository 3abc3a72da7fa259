// The configserver's property files (.properties and YAML): anyone who can push to the config
// repository, or write to its native directory, chooses these bytes. The first byte picks the
// format, the rest is the file.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "property_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool yaml = (data[0] & 1U) != 0;
  const std::string_view text{reinterpret_cast<const char*>(data) + 1, size - 1};
  using namespace cppblog::configserver;
  try {
    const auto documents =
        yaml ? ParsePropertyFile(text, "fuzz.yml") : ParsePropertyFile(text, "fuzz.properties");
    for (const auto& document : documents) {
      for (const auto& [key, value] : document.properties) static_cast<void>(ToText(value));
    }
  } catch (const PropertyFileError&) {  // the documented refusal
  }
  return 0;
}

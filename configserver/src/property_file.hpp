#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "cppblog/config/yaml.hpp"

namespace cppblog::configserver {

/// Flattened values, typed for YAML (see cppblog/config/yaml.hpp, the tree's one YAML
/// flattener); `.properties` values are always strings.
using config::FlatProperties;
using config::kMaxExpandedBytes;
using config::kMaxExpandedValues;
using config::ResolvePlainScalar;
using config::ScalarValue;
using config::ToText;

/// One document of a property file. `activate_on_profile` holds the document's
/// `spring.config.activate.on-profile` (or legacy `spring.profiles`) value when it has one.
struct PropertyDocument {
  FlatProperties properties;
  std::string activate_on_profile;
};

/// A property file that cannot be parsed; what() names the file, line and problem.
class PropertyFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class PropertyFormat { kYaml, kProperties };

/// The format by file extension (".yml"/".yaml" → YAML, ".properties" → properties).
[[nodiscard]] PropertyFormat FormatOf(std::string_view file_name);

/// Parses a YAML text (several documents allowed) into flattened, typed documents
/// (config::FlattenYaml with YamlScalars::kTyped), empty documents dropped.
/// Throws PropertyFileError naming `file_name`, the line and column, also when the file
/// expands beyond kMaxExpandedValues or kMaxExpandedBytes.
[[nodiscard]] std::vector<PropertyDocument> ParseYamlDocuments(std::string_view text,
                                                               std::string_view file_name);

/// Parses a Java .properties text (`key=value`, `key: value`, `#`/`!` comments,
/// backslash continuations and escapes) into one document of string values.
[[nodiscard]] std::vector<PropertyDocument> ParsePropertiesDocument(std::string_view text);

/// Dispatches on FormatOf(file_name).
[[nodiscard]] std::vector<PropertyDocument> ParsePropertyFile(std::string_view text,
                                                              std::string_view file_name);

}  // namespace cppblog::configserver

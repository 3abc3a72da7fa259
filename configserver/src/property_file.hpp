#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace cppblog::configserver {

/// A flattened value typed the way Spring's YAML loader (SnakeYAML, YAML 1.1 rules,
/// timestamps left as text) types it, so the Environment JSON shows numbers as numbers
/// and booleans as booleans. `.properties` values are always strings.
using ScalarValue = std::variant<std::string, bool, std::int64_t, double>;

/// Keys in file order, flattened like Spring: nested maps → "a.b", lists → "a[0]",
/// null → "", an empty list → "", an empty map → nothing.
using FlatProperties = std::vector<std::pair<std::string, ScalarValue>>;

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

/// What one YAML file may expand to once its aliases and merge keys are followed: a few lines
/// of anchors can describe 10⁹ values ("billion laughs"). Beyond either bound the file is
/// refused with PropertyFileError (served as an invalid source, like a syntax error).
inline constexpr std::size_t kMaxExpandedValues = 100'000;
inline constexpr std::size_t kMaxExpandedBytes = std::size_t{16} * 1024 * 1024;  // keys and values

/// The format by file extension (".yml"/".yaml" → YAML, ".properties" → properties).
[[nodiscard]] PropertyFormat FormatOf(std::string_view file_name);

/// Parses a YAML text (several documents allowed) into flattened, typed documents.
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

/// Resolves a plain (unquoted, untagged) YAML scalar as YAML 1.1 does: booleans
/// (true/yes/on…), integers (decimal, 0x, 0b, leading-0 octal, '_' separators),
/// floats (incl. .inf/.nan); anything else stays text. Null is handled by the caller.
[[nodiscard]] ScalarValue ResolvePlainScalar(const std::string& text);

/// The value as Java's String.valueOf would print it ("true", "6767", "1.5", "1.0E7").
[[nodiscard]] std::string ToText(const ScalarValue& value);

}  // namespace cppblog::configserver

#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "cppblog/config/config_error.hpp"

namespace cppblog::config {

/// A flattened YAML value. Typed (YamlScalars::kTyped) the way Spring's YAML loader (SnakeYAML,
/// YAML 1.1 rules, timestamps left as text) types it; with YamlScalars::kText always a string.
using ScalarValue = std::variant<std::string, bool, std::int64_t, double>;

/// Keys in file order, flattened like Spring's YamlProcessor: nested maps → "a.b", lists →
/// "a[0]", null → "", an empty list → "", an empty map → nothing, merge keys ("<<") followed
/// (explicit keys win), a repeated key an error, a non-string key written "[value]".
using FlatProperties = std::vector<std::pair<std::string, ScalarValue>>;

/// How plain scalars come out. The configserver serves typed values (numbers as JSON numbers);
/// a service reading its own file keeps each scalar's text ("0.50" stays "0.50").
enum class YamlScalars { kText, kTyped };

/// One document of a YAML text.
struct YamlDocument {
  FlatProperties properties;
  bool empty = false;    // an empty document ("---" alone, only comments): no properties
  bool is_map = false;   // false: the root was a scalar or list, flattened as Spring does,
                         // under the key "document"
  std::size_t line = 0;  // where the document starts, 1-based
  std::size_t column = 0;
};

/// A YAML text that cannot be read: invalid syntax, a repeated key, a bad merge key, a scalar
/// not of its explicit tag's type, or an expansion beyond the bounds below. what() is
/// "line L, column C: problem"; callers prefix the file name.
class YamlError : public ConfigError {
 public:
  YamlError(bool syntax, std::size_t line, std::size_t column, std::string problem);

  [[nodiscard]] bool Syntax() const { return syntax_; }     // yaml-cpp could not parse the text
  [[nodiscard]] std::size_t Line() const { return line_; }  // 1-based
  [[nodiscard]] std::size_t Column() const { return column_; }
  [[nodiscard]] const std::string& Problem() const { return problem_; }

 private:
  bool syntax_;
  std::size_t line_;
  std::size_t column_;
  std::string problem_;
};

/// What one YAML text may expand to once its aliases and merge keys are followed: a few lines
/// of anchors can describe 10⁹ values ("billion laughs"). Beyond either bound the text is
/// refused with YamlError.
inline constexpr std::size_t kMaxExpandedValues = 100'000;
inline constexpr std::size_t kMaxExpandedBytes = std::size_t{16} * 1024 * 1024;  // keys and values
/// How deep maps, lists and merge keys may nest, aliases followed. An alias inside the map it
/// names (`a: &x {b: *x}`, or `<<: *x` in the map anchored x) makes the structure a cycle: it
/// is refused here instead of being followed until the stack runs out (SnakeYAML, which Spring
/// uses, allows 50 levels).
inline constexpr std::size_t kMaxNestingDepth = 100;

/// Parses and flattens every document of `text`. Throws YamlError. The one YAML flattener of
/// the tree: the loader (a service's own files) and the configserver (what it serves) both
/// call it, so a file reads the same either way.
[[nodiscard]] std::vector<YamlDocument> FlattenYaml(std::string_view text, YamlScalars scalars);

/// Resolves a plain (unquoted, untagged) YAML scalar as YAML 1.1 does: booleans
/// (true/yes/on…), integers (decimal, 0x, 0b, leading-0 octal, '_' separators),
/// floats (incl. .inf/.nan); anything else stays text. Null is handled by the caller.
[[nodiscard]] ScalarValue ResolvePlainScalar(const std::string& text);

/// The value as Java's String.valueOf would print it ("true", "6767", "1.5", "1.0E7").
[[nodiscard]] std::string ToText(const ScalarValue& value);

}  // namespace cppblog::config

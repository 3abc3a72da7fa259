#include "cppblog/config/yaml.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <system_error>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

namespace cppblog::config {
namespace {

// Events are not needed to count documents.
class IgnoreEvents final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// yaml-cpp 0.7 (Debian 12) yields empty documents forever for some malformed texts (found by
// fuzz/fuzz_yaml: ",:`\xb4`s"), so YAML::LoadAll never returns. A document takes at least
// three bytes ("---") after the first: more than that many is that loop, refused.
void CheckDocumentCount(const std::string& text) {
  std::istringstream in{text};
  YAML::Parser parser{in};
  IgnoreEvents ignore;
  const std::size_t most = text.size() / 3 + 2;
  for (std::size_t documents = 0; parser.HandleNextDocument(ignore);) {
    if (++documents > most) {
      throw YamlError(true, 0, 0,
                      "the YAML reader does not come to an end on this text (malformed YAML "
                      "it cannot recover from); check the file's syntax");
    }
  }
}

std::size_t Line(const YAML::Mark& mark) {
  return mark.is_null() ? 0 : static_cast<std::size_t>(mark.line) + 1;
}
std::size_t Column(const YAML::Mark& mark) {
  return mark.is_null() ? 0 : static_cast<std::size_t>(mark.column) + 1;
}

// The YAML 1.1 implicit-type patterns SnakeYAML's Resolver uses (Spring Boot drops
// the timestamp resolver, so dates stay text).
const std::regex& BoolPattern() {
  static const std::regex pattern{
      "yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"};
  return pattern;
}
const std::regex& IntPattern() {
  static const std::regex pattern{
      "[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
      "|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+"};
  return pattern;
}
const std::regex& FloatPattern() {
  static const std::regex pattern{
      "[-+]?(?:\\.[0-9]+|[0-9_]+(?:\\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
      "|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN)"};
  return pattern;
}

std::string WithoutUnderscores(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c != '_') out += c;
  }
  return out;
}

// Splits a leading sign off; returns true for '-'.
bool TakeSign(std::string& digits) {
  bool negative = false;
  if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) {
    negative = digits[0] == '-';
    digits.erase(0, 1);
  }
  return negative;
}

std::optional<ScalarValue> ResolveInt(const std::string& text) {
  std::string digits = WithoutUnderscores(text);
  const bool negative = TakeSign(digits);
  std::int64_t value = 0;
  if (digits.find(':') != std::string::npos) {
    // Sexagesimal (base 60) as YAML 1.1 has it: "1:30" is 90.
    std::size_t start = 0;
    while (start <= digits.size()) {
      const std::size_t end = std::min(digits.find(':', start), digits.size());
      std::int64_t part = 0;
      const auto [ptr, ec] = std::from_chars(digits.data() + start, digits.data() + end, part);
      if (ec != std::errc{} || ptr != digits.data() + end) return std::nullopt;
      // Too large for an int64 (as from_chars says of one part): not an integer, kept as text.
      if (__builtin_mul_overflow(value, 60, &value) ||
          __builtin_add_overflow(value, part, &value)) {
        return std::nullopt;
      }
      start = end + 1;
    }
    return negative ? -value : value;
  }
  int base = 10;
  std::size_t offset = 0;
  if (digits.rfind("0b", 0) == 0) {
    base = 2;
    offset = 2;
  } else if (digits.rfind("0x", 0) == 0) {
    base = 16;
    offset = 2;
  } else if (digits.size() > 1 && digits[0] == '0') {
    base = 8;
    offset = 1;
  }
  const char* first = digits.data() + offset;
  const char* last = digits.data() + digits.size();
  std::uint64_t magnitude = 0;
  const auto [ptr, ec] = std::from_chars(first, last, magnitude, base);
  if (ec != std::errc{} || ptr != last) return std::nullopt;  // too big: kept as text
  const auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (magnitude > max + (negative ? 1U : 0U)) return std::nullopt;
  if (negative) return static_cast<std::int64_t>(0 - magnitude);
  return static_cast<std::int64_t>(magnitude);
}

std::optional<ScalarValue> ResolveFloat(const std::string& text) {
  std::string digits = WithoutUnderscores(text);
  for (char& c : digits) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const bool negative = TakeSign(digits);
  const double sign = negative ? -1.0 : 1.0;
  if (digits == ".inf") return sign * std::numeric_limits<double>::infinity();
  if (digits == ".nan") return std::numeric_limits<double>::quiet_NaN();
  double value = 0;
  if (digits.find(':') != std::string::npos) {
    std::size_t start = 0;
    double result = 0;
    while (start <= digits.size()) {
      const std::size_t end = std::min(digits.find(':', start), digits.size());
      const auto [ptr, ec] = std::from_chars(digits.data() + start, digits.data() + end, value);
      if (ec != std::errc{} || ptr != digits.data() + end) return std::nullopt;
      result = result * 60 + value;
      start = end + 1;
    }
    return sign * result;
  }
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc{} || ptr != digits.data() + digits.size()) return std::nullopt;
  return sign * value;
}

class YamlFlattener {
 public:
  explicit YamlFlattener(YamlScalars scalars) : scalars_(scalars) {}

  FlatProperties Flatten(const YAML::Node& root) {
    FlatProperties out;
    if (root.IsMap()) {
      FlattenMap(root, "", out);
    } else {
      // Spring wraps a document that is not a map as {"document": …}.
      FlattenValue(root, "document", out);
    }
    return out;
  }

 private:
  static std::string Join(const std::string& path, const std::string& key) {
    if (path.empty()) return key;
    if (!key.empty() && key[0] == '[') return path + key;
    return path + "." + key;
  }

  [[noreturn]] static void Fail(const YAML::Mark& mark, const std::string& problem) {
    throw YamlError(false, Line(mark), Column(mark), problem);
  }

  std::string KeyText(const YAML::Node& key) const {
    if (!key.IsScalar()) Fail(key.Mark(), "a key must be a plain value, not a map or list");
    const std::string& text = key.Scalar();
    if (key.Tag() != "?") return text;
    // Spring keeps string keys and writes any other key as "[value]".
    const ScalarValue resolved = ResolvePlainScalar(text);
    if (std::holds_alternative<std::string>(resolved)) return text;
    return "[" + ToText(resolved) + "]";
  }

  // Collects the entries of a map, applying YAML merge keys ("<<") the way SnakeYAML
  // does: explicit keys win over merged ones.
  void CollectEntries(const YAML::Node& map, std::vector<std::pair<std::string, YAML::Node>>& out,
                      std::set<std::string>& seen, bool merged) {
    std::vector<YAML::Node> merges;
    for (const auto& entry : map) {
      if (entry.first.IsScalar() && entry.first.Tag() == "?" && entry.first.Scalar() == "<<") {
        merges.push_back(entry.second);
        continue;
      }
      const std::string key = KeyText(entry.first);
      if (merged) Count(entry.first, key.size());
      if (!seen.insert(key).second) {
        if (merged) continue;
        Fail(entry.first.Mark(), "duplicate key '" + key + "'");
      }
      out.emplace_back(key, entry.second);
    }
    const Nested nested(*this, map);
    for (const auto& merge : merges) {
      if (merge.IsMap()) {
        CollectEntries(merge, out, seen, true);
      } else if (merge.IsSequence()) {
        for (const auto& item : merge) {
          if (!item.IsMap()) Fail(item.Mark(), "a merge key ('<<') must refer to maps");
          CollectEntries(item, out, seen, true);
        }
      } else {
        Fail(merge.Mark(), "a merge key ('<<') must refer to a map");
      }
    }
  }

  void FlattenMap(const YAML::Node& map, const std::string& path, FlatProperties& out) {
    std::vector<std::pair<std::string, YAML::Node>> entries;
    std::set<std::string> seen;
    CollectEntries(map, entries, seen, false);
    for (const auto& [key, value] : entries) FlattenValue(value, Join(path, key), out);
  }

  // Aliases share nodes, so the walk below can be exponential in the file's size: count it.
  void Count(const YAML::Node& node, std::size_t bytes) {
    ++values_;
    bytes_ += bytes;
    if (values_ > kMaxExpandedValues || bytes_ > kMaxExpandedBytes) {
      Fail(node.Mark(), "the file expands to more than " + std::to_string(kMaxExpandedValues) +
                            " values or " + std::to_string(kMaxExpandedBytes >> 20U) +
                            " MiB once its aliases (*name) and merge keys (<<) are followed; "
                            "it is refused (a YAML 'billion laughs'?): write the values out");
    }
  }

  // One level deeper while it lives; beyond kMaxNestingDepth the file is refused (a cycle
  // through an alias, or a file nested beyond reason).
  class Nested {
   public:
    Nested(YamlFlattener& flattener, const YAML::Node& node) : flattener_(flattener) {
      if (++flattener_.depth_ > kMaxNestingDepth) {
        Fail(node.Mark(), "maps, lists and merge keys ('<<') nest deeper than " +
                              std::to_string(kMaxNestingDepth) +
                              " levels once aliases (*name) are followed: an alias inside the "
                              "map or list it names is a cycle; write the values out");
      }
    }
    ~Nested() { --flattener_.depth_; }
    Nested(const Nested&) = delete;
    Nested& operator=(const Nested&) = delete;

   private:
    YamlFlattener& flattener_;
  };

  void FlattenValue(const YAML::Node& node, const std::string& key, FlatProperties& out) {
    Count(node, key.size() + (node.IsScalar() ? node.Scalar().size() : 0));
    const Nested nested(*this, node);
    switch (node.Type()) {
      case YAML::NodeType::Map:
        FlattenMap(node, key, out);
        return;
      case YAML::NodeType::Sequence:
        if (node.size() == 0) {
          out.emplace_back(key, std::string{});
          return;
        }
        for (std::size_t i = 0; i < node.size(); ++i) {
          FlattenValue(node[i], key + "[" + std::to_string(i) + "]", out);
        }
        return;
      case YAML::NodeType::Scalar:
        out.emplace_back(key, ScalarOf(node));
        return;
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        out.emplace_back(key, std::string{});
        return;
    }
  }

  // An explicit tag is checked in both modes, so a file is refused (or not) either way.
  ScalarValue ScalarOf(const YAML::Node& node) const {
    const std::string& tag = node.Tag();
    const std::string& text = node.Scalar();
    const bool typed = scalars_ == YamlScalars::kTyped;
    if (tag == "?") return typed ? ResolvePlainScalar(text) : ScalarValue{text};
    if (tag == "tag:yaml.org,2002:int") {
      if (auto value = ResolveInt(text)) return typed ? *value : ScalarValue{text};
      Fail(node.Mark(), "'" + text + "' is not an integer");
    }
    if (tag == "tag:yaml.org,2002:float") {
      if (auto value = ResolveFloat(text)) return typed ? *value : ScalarValue{text};
      Fail(node.Mark(), "'" + text + "' is not a float");
    }
    if (tag == "tag:yaml.org,2002:bool") {
      const ScalarValue value = ResolvePlainScalar(text);
      if (std::holds_alternative<bool>(value)) return typed ? value : ScalarValue{text};
      Fail(node.Mark(), "'" + text + "' is not a boolean");
    }
    return text;  // quoted, !!str or an application tag
  }

  YamlScalars scalars_;
  std::size_t depth_ = 0;   // maps, lists and merges being walked now
  std::size_t values_ = 0;  // for the whole file, all its documents
  std::size_t bytes_ = 0;
};

}  // namespace

YamlError::YamlError(bool syntax, std::size_t line, std::size_t column, std::string problem)
    : ConfigError("line " + std::to_string(line) + ", column " + std::to_string(column) + ": " +
                  problem),
      syntax_(syntax),
      line_(line),
      column_(column),
      problem_(std::move(problem)) {}

std::vector<YamlDocument> FlattenYaml(std::string_view text, YamlScalars scalars) {
  std::vector<YAML::Node> roots;
  try {
    const std::string copy{text};
    CheckDocumentCount(copy);
    roots = YAML::LoadAll(copy);
  } catch (const YAML::Exception& e) {
    throw YamlError(true, Line(e.mark), Column(e.mark), e.msg);
  }
  std::vector<YamlDocument> documents;
  YamlFlattener flattener{scalars};  // one for all documents: the bound is per text
  for (const auto& root : roots) {
    YamlDocument document;
    document.line = Line(root.Mark());
    document.column = Column(root.Mark());
    document.empty = root.IsNull();
    document.is_map = root.IsMap();
    if (!document.empty) document.properties = flattener.Flatten(root);
    documents.push_back(std::move(document));
  }
  return documents;
}

ScalarValue ResolvePlainScalar(const std::string& text) {
  if (std::regex_match(text, BoolPattern())) {
    const char first = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
    return first == 'y' || first == 't' || (first == 'o' && text.size() == 2);
  }
  if (std::regex_match(text, IntPattern())) {
    if (auto value = ResolveInt(text)) return *value;
    return text;
  }
  if (std::regex_match(text, FloatPattern())) {
    if (auto value = ResolveFloat(text)) return *value;
  }
  return text;
}

std::string ToText(const ScalarValue& value) {
  if (const auto* text = std::get_if<std::string>(&value)) return *text;
  if (const auto* flag = std::get_if<bool>(&value)) return *flag ? "true" : "false";
  if (const auto* number = std::get_if<std::int64_t>(&value)) return std::to_string(*number);
  const double number = std::get<double>(value);
  if (std::isnan(number)) return "NaN";
  if (std::isinf(number)) return number > 0 ? "Infinity" : "-Infinity";
  char buffer[64];
  const double magnitude = std::fabs(number);
  if (number == 0 || (magnitude >= 1e-3 && magnitude < 1e7)) {
    const auto result =
        std::to_chars(buffer, buffer + sizeof buffer, number, std::chars_format::fixed);
    std::string text(buffer, result.ptr);
    if (text.find('.') == std::string::npos) text += ".0";
    return text;
  }
  // Java's computerized scientific notation: "1.0E7", "1.5E-4".
  const auto result =
      std::to_chars(buffer, buffer + sizeof buffer, number, std::chars_format::scientific);
  std::string text(buffer, result.ptr);
  const std::size_t e = text.find('e');
  std::string mantissa = text.substr(0, e);
  if (mantissa.find('.') == std::string::npos) mantissa += ".0";
  int exponent = 0;
  std::from_chars(text.data() + e + (text[e + 1] == '+' ? 2 : 1), text.data() + text.size(),
                  exponent);
  return mantissa + "E" + std::to_string(exponent);
}

}  // namespace cppblog::config

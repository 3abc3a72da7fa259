#include "environment.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <yaml-cpp/yaml.h>

namespace cppblog::configserver {
namespace {

using text::AppendJsonString;

void AppendJsonValue(std::string& out, const ScalarValue& value) {
  if (const auto* text = std::get_if<std::string>(&value)) {
    AppendJsonString(out, *text);
  } else if (const auto* number = std::get_if<double>(&value); number && !std::isfinite(*number)) {
    AppendJsonString(out, ToText(value));  // Jackson writes NaN/Infinity as strings
  } else {
    out += ToText(value);
  }
}

void AppendOptional(std::string& out, const std::optional<std::string>& value) {
  if (value) {
    AppendJsonString(out, *value);
  } else {
    out += "null";
  }
}

// A tree rebuilt from flattened keys ("a.b[0].c").
struct Node {
  enum class Kind { kEmpty, kScalar, kMap, kList };
  Kind kind = Kind::kEmpty;
  ScalarValue scalar;
  std::vector<std::string> keys;  // kMap, in insertion order
  std::vector<Node> children;     // kMap values (parallel to keys) or kList items

  Node& Child(const std::string& key) {
    if (kind != Kind::kMap)
      *this = Node{.kind = Kind::kMap, .scalar = {}, .keys = {}, .children = {}};
    const auto it = std::find(keys.begin(), keys.end(), key);
    if (it != keys.end()) return children[static_cast<std::size_t>(it - keys.begin())];
    keys.push_back(key);
    children.emplace_back();
    return children.back();
  }

  Node& Item(std::size_t index) {
    if (kind != Kind::kList)
      *this = Node{.kind = Kind::kList, .scalar = {}, .keys = {}, .children = {}};
    while (children.size() <= index) {
      // Gaps in a list read as empty strings, as Spring fills them.
      children.push_back(
          Node{.kind = Kind::kScalar, .scalar = std::string{}, .keys = {}, .children = {}});
    }
    return children[index];
  }
};

Node BuildTree(const FlatProperties& merged) {
  Node root{.kind = Node::Kind::kMap, .scalar = {}, .keys = {}, .children = {}};
  for (const auto& [key, value] : merged) {
    Node* node = &root;
    std::size_t pos = 0;
    while (pos < key.size()) {
      if (key[pos] == '[') {
        const std::size_t close = key.find(']', pos);
        const std::string inner =
            key.substr(pos + 1, (close == std::string::npos ? key.size() : close) - pos - 1);
        const bool numeric = !inner.empty() && std::all_of(inner.begin(), inner.end(), [](char c) {
          return c >= '0' && c <= '9';
        });
        node = numeric ? &node->Item(std::stoul(inner)) : &node->Child(inner);
        pos = close == std::string::npos ? key.size() : close + 1;
        if (pos < key.size() && key[pos] == '.') ++pos;
        continue;
      }
      std::size_t end = key.find_first_of(".[", pos);
      if (end == std::string::npos) end = key.size();
      node = &node->Child(key.substr(pos, end - pos));
      pos = end;
      if (pos < key.size() && key[pos] == '.') ++pos;
    }
    // A deeper key already made this a map or list: keep the structure.
    if (node->kind == Node::Kind::kEmpty || node->kind == Node::Kind::kScalar) {
      node->kind = Node::Kind::kScalar;
      node->scalar = value;
    }
  }
  return root;
}

void AppendJsonNode(std::string& out, const Node& node) {
  switch (node.kind) {
    case Node::Kind::kEmpty:
      out += "\"\"";
      return;
    case Node::Kind::kScalar:
      AppendJsonValue(out, node.scalar);
      return;
    case Node::Kind::kMap:
      out += '{';
      for (std::size_t i = 0; i < node.keys.size(); ++i) {
        if (i > 0) out += ',';
        AppendJsonString(out, node.keys[i]);
        out += ':';
        AppendJsonNode(out, node.children[i]);
      }
      out += '}';
      return;
    case Node::Kind::kList:
      out += '[';
      for (std::size_t i = 0; i < node.children.size(); ++i) {
        if (i > 0) out += ',';
        AppendJsonNode(out, node.children[i]);
      }
      out += ']';
      return;
  }
}

void EmitYamlScalar(YAML::Emitter& out, const ScalarValue& value) {
  if (const auto* text = std::get_if<std::string>(&value)) {
    // Quote strings a YAML reader would otherwise type ("6767", "true", "~", "").
    const bool looks_typed = !std::holds_alternative<std::string>(ResolvePlainScalar(*text));
    const bool looks_null =
        text->empty() || *text == "~" || *text == "null" || *text == "Null" || *text == "NULL";
    if (looks_typed || looks_null) out << YAML::DoubleQuoted;
    out << *text;
    return;
  }
  if (const auto* number = std::get_if<double>(&value)) {
    if (std::isnan(*number)) {
      out << ".NaN";
    } else if (std::isinf(*number)) {
      out << (*number > 0 ? ".inf" : "-.inf");
    } else {
      out << ToText(value);
    }
    return;
  }
  out << ToText(value);
}

void EmitYamlNode(YAML::Emitter& out, const Node& node) {
  switch (node.kind) {
    case Node::Kind::kEmpty:
      out << YAML::DoubleQuoted << "";
      return;
    case Node::Kind::kScalar:
      EmitYamlScalar(out, node.scalar);
      return;
    case Node::Kind::kMap:
      out << YAML::BeginMap;
      for (std::size_t i = 0; i < node.keys.size(); ++i) {
        out << YAML::Key << node.keys[i] << YAML::Value;
        EmitYamlNode(out, node.children[i]);
      }
      out << YAML::EndMap;
      return;
    case Node::Kind::kList:
      out << YAML::BeginSeq;
      for (const auto& child : node.children) EmitYamlNode(out, child);
      out << YAML::EndSeq;
      return;
  }
}

}  // namespace

std::string ToJson(const Environment& environment) {
  std::string out = "{\"name\":";
  AppendJsonString(out, environment.name);
  out += ",\"profiles\":[";
  for (std::size_t i = 0; i < environment.profiles.size(); ++i) {
    if (i > 0) out += ',';
    AppendJsonString(out, environment.profiles[i]);
  }
  out += "],\"label\":";
  AppendOptional(out, environment.label);
  out += ",\"version\":";
  AppendOptional(out, environment.version);
  out += ",\"state\":";
  AppendOptional(out, environment.state);
  out += ",\"propertySources\":[";
  for (std::size_t i = 0; i < environment.property_sources.size(); ++i) {
    const auto& source = environment.property_sources[i];
    if (i > 0) out += ',';
    out += "{\"name\":";
    AppendJsonString(out, source.name);
    out += ",\"source\":{";
    for (std::size_t k = 0; k < source.source.size(); ++k) {
      if (k > 0) out += ',';
      AppendJsonString(out, source.source[k].first);
      out += ':';
      AppendJsonValue(out, source.source[k].second);
    }
    out += "}}";
  }
  out += "]}";
  return out;
}

FlatProperties Merge(const Environment& environment) {
  std::map<std::string, ScalarValue> merged;
  std::set<std::string> owned_lists;  // list stems already set by a higher source
  for (const auto& source : environment.property_sources) {
    std::set<std::string> lists_here;
    for (const auto& [key, value] : source.source) {
      if (key == "spring.profiles") continue;
      const std::size_t bracket = key.find('[');
      if (bracket != std::string::npos && bracket > 0) {
        const std::string stem = key.substr(0, bracket);
        if (owned_lists.contains(stem)) continue;
        lists_here.insert(stem);
      }
      merged.emplace(key, value);  // first (most specific) source wins
    }
    owned_lists.insert(lists_here.begin(), lists_here.end());
  }
  return {merged.begin(), merged.end()};
}

namespace {

std::string ResolveText(const std::string& text, const std::map<std::string, std::string>& values,
                        int depth) {
  if (depth > 8) return text;  // a cycle ("a: ${b}", "b: ${a}") stops here
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t open = text.find("${", pos);
    if (open == std::string::npos) break;
    // Find the matching '}' (placeholders may nest in defaults).
    std::size_t close = open + 2;
    int level = 1;
    for (; close < text.size() && level > 0; ++close) {
      if (text.compare(close, 2, "${") == 0) {
        ++level;
        ++close;
      } else if (text[close] == '}') {
        --level;
      }
    }
    if (level != 0) break;
    const std::string inner = text.substr(open + 2, close - open - 3);
    const std::size_t colon = inner.find(':');
    const std::string key = inner.substr(0, colon);
    out += text.substr(pos, open - pos);
    if (const auto it = values.find(key); it != values.end()) {
      out += ResolveText(it->second, values, depth + 1);
    } else if (colon != std::string::npos) {
      out += ResolveText(inner.substr(colon + 1), values, depth + 1);
    } else {
      out += text.substr(open, close - open);
    }
    pos = close;
  }
  out += text.substr(std::min(pos, text.size()));
  return out;
}

}  // namespace

void ResolvePlaceholders(FlatProperties& merged) {
  std::map<std::string, std::string> values;
  for (const auto& [key, value] : merged) values.emplace(key, ToText(value));
  for (auto& [key, value] : merged) {
    if (auto* text = std::get_if<std::string>(&value);
        text && text->find("${") != std::string::npos) {
      *text = ResolveText(*text, values, 0);
    }
  }
}

std::string ToPropertiesText(const FlatProperties& merged) {
  std::string out;
  for (const auto& [key, value] : merged) {
    if (!out.empty()) out += '\n';
    out += key + ": " + ToText(value);
  }
  return out;
}

std::string ToNestedJson(const FlatProperties& merged) {
  std::string out;
  AppendJsonNode(out, BuildTree(merged));
  return out;
}

std::string ToNestedYaml(const FlatProperties& merged) {
  const Node root = BuildTree(merged);
  if (root.keys.empty()) return "{}\n";
  YAML::Emitter out;
  EmitYamlNode(out, root);
  return std::string(out.c_str()) + "\n";
}

}  // namespace cppblog::configserver

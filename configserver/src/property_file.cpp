#include "property_file.hpp"

#include <algorithm>
#include <utility>

namespace cppblog::configserver {
namespace {

char32_t HexValue(std::string_view hex) {
  char32_t value = 0;
  for (const char c : hex) {
    value <<= 4;
    if (c >= '0' && c <= '9') {
      value |= static_cast<char32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      value |= static_cast<char32_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      value |= static_cast<char32_t>(c - 'A' + 10);
    } else {
      return U'\uFFFD';
    }
  }
  return value;
}

void AppendUtf8(std::string& out, char32_t code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
}

// Java's Properties.load rules for one logical line's key or value.
std::string Unescape(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    const char c = text[++i];
    switch (c) {
      case 't':
        out += '\t';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 'f':
        out += '\f';
        break;
      case 'u':
        if (i + 4 < text.size()) {
          AppendUtf8(out, HexValue(text.substr(i + 1, 4)));
          i += 4;
        } else {
          out += 'u';
        }
        break;
      default:
        out += c;
    }
  }
  return out;
}

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\f'; }

}  // namespace

PropertyFormat FormatOf(std::string_view file_name) {
  return file_name.ends_with(".properties") ? PropertyFormat::kProperties : PropertyFormat::kYaml;
}

std::vector<PropertyDocument> ParseYamlDocuments(std::string_view text,
                                                 std::string_view file_name) {
  std::vector<config::YamlDocument> flattened;
  try {
    flattened = config::FlattenYaml(text, config::YamlScalars::kTyped);
  } catch (const config::YamlError& e) {
    throw PropertyFileError(std::string(file_name) + ": " + e.what());
  }
  std::vector<PropertyDocument> documents;
  for (auto& flat : flattened) {
    if (flat.empty) continue;  // an empty document adds nothing, as in Spring
    PropertyDocument document{.properties = std::move(flat.properties), .activate_on_profile = {}};
    for (const auto& [key, value] : document.properties) {
      if (key == "spring.config.activate.on-profile" || key == "spring.profiles") {
        document.activate_on_profile = ToText(value);
      }
    }
    documents.push_back(std::move(document));
  }
  return documents;
}

std::vector<PropertyDocument> ParsePropertiesDocument(std::string_view text) {
  PropertyDocument document;
  std::size_t pos = 0;
  while (pos < text.size()) {
    // Build one logical line: a line ending in an odd number of backslashes continues.
    std::string logical;
    bool continued = true;
    bool first = true;
    while (continued && pos < text.size()) {
      std::size_t end = text.find('\n', pos);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = text.substr(pos, end - pos);
      pos = end + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      std::size_t start = 0;
      while (start < line.size() && IsBlank(line[start])) ++start;
      line.remove_prefix(start);
      if (first && (line.empty() || line[0] == '#' || line[0] == '!')) {
        continued = false;
        logical.clear();
        break;
      }
      first = false;
      std::size_t backslashes = 0;
      while (backslashes < line.size() && line[line.size() - 1 - backslashes] == '\\') {
        ++backslashes;
      }
      continued = backslashes % 2 == 1;
      if (continued) line.remove_suffix(1);
      logical += line;
    }
    if (logical.empty()) continue;
    std::size_t key_end = 0;
    while (key_end < logical.size()) {
      const char c = logical[key_end];
      if (c == '\\') {
        key_end += 2;
        continue;
      }
      if (c == '=' || c == ':' || IsBlank(c)) break;
      ++key_end;
    }
    key_end = std::min(key_end, logical.size());
    std::size_t value_start = key_end;
    while (value_start < logical.size() && IsBlank(logical[value_start])) ++value_start;
    if (value_start < logical.size() &&
        (logical[value_start] == '=' || logical[value_start] == ':')) {
      ++value_start;
      while (value_start < logical.size() && IsBlank(logical[value_start])) ++value_start;
    }
    const std::string_view view{logical};
    document.properties.emplace_back(Unescape(view.substr(0, key_end)),
                                     Unescape(view.substr(value_start)));
  }
  for (const auto& [key, value] : document.properties) {
    if (key == "spring.config.activate.on-profile" || key == "spring.profiles") {
      document.activate_on_profile = ToText(value);
    }
  }
  std::vector<PropertyDocument> documents;
  documents.push_back(std::move(document));
  return documents;
}

std::vector<PropertyDocument> ParsePropertyFile(std::string_view text, std::string_view file_name) {
  if (FormatOf(file_name) == PropertyFormat::kProperties) return ParsePropertiesDocument(text);
  return ParseYamlDocuments(text, file_name);
}

}  // namespace cppblog::configserver

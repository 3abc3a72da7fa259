#include "cppblog/config/command_line.hpp"

#include <array>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cppblog/config/config_error.hpp"
#include "cppblog/text/redact.hpp"

#include "config/display.hpp"

#ifndef CPPBLOG_VERSION
#error "CPPBLOG_VERSION must be defined by the build"
#endif

namespace cppblog::config {
namespace {

struct FlagAlias {
  std::string_view original;  // as the Go original (and Go's flag package) spells it
  std::string_view long_form;
};

// Go's flag package takes -name and --name alike; CLI11 takes multi-letter names only
// after "--", so the original spellings are rewritten before CLI11 sees them.
constexpr std::array kAliases{
    FlagAlias{"-profile", "--profile"},
    FlagAlias{"--profile", "--profile"},
    FlagAlias{"-configServerUrl", "--config-server-url"},
    FlagAlias{"--configServerUrl", "--config-server-url"},
    FlagAlias{"-configBranch", "--config-branch"},
    FlagAlias{"--configBranch", "--config-branch"},
    FlagAlias{"-help", "--help"},
    FlagAlias{"-version", "--version"},
};

std::string Rewrite(std::string_view arg) {
  for (const FlagAlias& alias : kAliases) {
    if (arg == alias.original) {
      return std::string(alias.long_form);
    }
    if (arg.starts_with(alias.original) && arg.size() > alias.original.size() &&
        arg[alias.original.size()] == '=') {
      return std::string(alias.long_form) + std::string(arg.substr(alias.original.size()));
    }
  }
  return std::string(arg);
}

[[noreturn]] void ThrowUsage(std::string_view app, std::string_view message) {
  throw ConfigError(fmt::format("{}: {}; run {} --help", app, message, app));
}

std::pair<std::string, std::string> ParseOverride(std::string_view app, std::string_view arg) {
  const auto equals = arg.find('=');
  std::string_view key = arg.substr(0, equals);
  while (!key.empty() && key.front() == ' ') {
    key.remove_prefix(1);
  }
  while (!key.empty() && key.back() == ' ') {
    key.remove_suffix(1);
  }
  if (equals == std::string_view::npos || key.empty()) {
    ThrowUsage(app, fmt::format("--set: '{}' is not key=value", DisplayValue("", arg)));
  }
  return {std::string(key), std::string(arg.substr(equals + 1))};
}

}  // namespace

std::optional<CommandLine> ParseCommandLine(int argc, const char* const* argv,
                                            std::string_view app_name, std::ostream& out) {
  const std::string app_text(app_name);
  CommandLine result;
  std::string config_server_url;
  std::string config_dir = result.config_dir.string();
  std::string log_format = "text";
  std::vector<std::string> overrides;

  CLI::App app{fmt::format("{} (cppblog {})", app_text, CPPBLOG_VERSION), app_text};
  app.set_help_flag("-h,--help", "Print this help and exit");
  app.set_version_flag("--version", fmt::format("{} {}", app_text, CPPBLOG_VERSION),
                       "Print the version and exit");
  app.add_option("--profile", result.profile,
                 "Configuration profile; several separated by ',' (also -profile)")
      ->capture_default_str()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  auto* server_url = app.add_option("--config-server-url", config_server_url,
                                    "Spring Cloud Config server URL; none: local files only (also "
                                    "-configServerUrl)")
                         ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--config-branch", result.config_branch,
                 "Label (branch, tag or commit) to ask the config server for (also "
                 "-configBranch)")
      ->capture_default_str()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  auto* config_dir_option =
      app.add_option("--config-dir", config_dir, "Directory of {app}.yml and {app}-{profile}.yml")
          ->capture_default_str()
          ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--log-format", log_format, "Log lines as 'text' or 'json'")
      ->capture_default_str()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--set", overrides,
                 "Set a configuration key, above every other layer (repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  app.footer(fmt::format(
      "Configuration layers, lowest first: defaults, {{config-dir}}/{0}.yml,\n"
      "{{config-dir}}/{0}-{{profile}}.yml, the config server, the environment (the key\n"
      "upper-cased: SERVER_PORT), --set. See docs/configuration.md.",
      app_text));

  std::vector<std::string> args;
  bool options_ended = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    args.push_back(options_ended ? std::string(arg) : Rewrite(arg));
    options_ended = options_ended || arg == "--";
  }
  std::vector<const char*> rewritten{argv[0] != nullptr ? argv[0] : app_text.c_str()};
  for (const std::string& arg : args) {
    rewritten.push_back(arg.c_str());
  }

  try {
    app.parse(static_cast<int>(rewritten.size()), rewritten.data());
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return std::nullopt;
  } catch (const CLI::CallForVersion& e) {
    out << e.what() << '\n';
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    // CLI11 may quote an argument: a URL's password must not be printed with it.
    ThrowUsage(app_text, text::MaskUrlCredentials(e.what()));
  }

  if (server_url->count() > 0) {
    if (config_server_url.empty()) {
      ThrowUsage(app_text, "--config-server-url: the URL is empty");
    }
    result.config_server_url = config_server_url;
  }
  result.config_dir = config_dir;
  // A mistyped directory would silently leave the service on its defaults.
  if (config_dir_option->count() > 0) {
    std::error_code error;
    if (!std::filesystem::is_directory(result.config_dir, error)) {
      ThrowUsage(app_text,
                 fmt::format("--config-dir: '{}' is not a directory{}; name the directory that "
                             "holds {}.yml, or leave the flag out to use ./config",
                             config_dir, error ? " (" + error.message() + ")" : "", app_text));
    }
  }
  if (const auto format = logging::ParseLogFormat(log_format)) {
    result.log_format = *format;
  } else {
    ThrowUsage(app_text,
               fmt::format("--log-format: '{}' is not a log format (text or json)", log_format));
  }
  for (const std::string& arg : overrides) {
    result.overrides.push_back(ParseOverride(app_text, arg));
  }
  return result;
}

}  // namespace cppblog::config

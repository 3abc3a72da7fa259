#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "environment.hpp"

namespace cppblog::configserver {

/// The label names no branch, tag or commit of the repository (→ 404).
class NoSuchLabelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The application, profile or label is not acceptable, e.g. it would leave the
/// repository ("..", an absolute path) (→ 400).
class InvalidRequestError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// The repository itself cannot be read (missing directory, broken git repository) (→ 500).
class RepositoryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Where configuration files live. Implementations are thread-safe: FindOne may be
/// called concurrently from the HTTP server's threads.
class ConfigRepository {
 public:
  virtual ~ConfigRepository() = default;

  /// The Environment for `application` (a '/' in it selects a subdirectory) and
  /// `profiles` (comma-separated, the last one most specific) at `label` (nullopt:
  /// the default label). Malformed files do not fail the call: each is reported in
  /// Environment::problems and as a placeholder source. Throws NoSuchLabelError,
  /// InvalidRequestError or RepositoryError.
  [[nodiscard]] virtual Environment FindOne(const std::string& application,
                                            const std::string& profiles,
                                            const std::optional<std::string>& label) const = 0;
};

/// Bounds on one request: the work of a fetch grows with the profiles named (each adds files
/// to look for and documents to match), so a GET naming more is refused (→ 400).
inline constexpr std::size_t kMaxProfiles = 32;
/// Longest application, profile or label accepted, in bytes (NAME_MAX).
inline constexpr std::size_t kMaxNameBytes = 255;

/// Reads one file of a repository by its relative path ("accountservice-test.yml");
/// nullopt when there is no such file.
using FileReader = std::function<std::optional<std::string>(const std::string& relative_path)>;

/// The files Spring consults, most specific first, for one application and its profiles:
/// {app}-{profile} (last profile first), {app}, application-{profile}, application, each
/// as .properties, .yml, .yaml. Throws InvalidRequestError for unsafe names.
[[nodiscard]] std::vector<std::string> CandidateFiles(const std::string& application,
                                                      const std::vector<std::string>& profiles);

/// Splits "dev,db" into {"dev", "db"}; throws InvalidRequestError when empty or unsafe, or
/// when it names more than kMaxProfiles profiles.
[[nodiscard]] std::vector<std::string> SplitProfiles(const std::string& profiles);

/// One file's parse result: its documents, or why it could not be parsed.
struct ParsedFile {
  std::string text;
  std::vector<PropertyDocument> documents;
  std::optional<std::string> error;  // PropertyFileError::what()
};

/// Parse results reused while a file's content is unchanged (compared byte for byte), so a
/// request costs a read, not a YAML parse. Keeps several versions per name (git labels).
/// Thread-safe.
class ParsedFileCache {
 public:
  [[nodiscard]] std::shared_ptr<const ParsedFile> Parse(const std::string& file_name,
                                                        std::string text);

 private:
  static constexpr std::size_t kMaxEntries = 1024;  // then start over; config repos are small
  std::mutex mutex_;
  std::unordered_multimap<std::string, std::shared_ptr<const ParsedFile>> entries_;
};

/// Builds the property sources from the candidate files `read` finds, naming each
/// `name_prefix + relative path` (plus " (document #i)" for multi-document files).
/// Sets name, profiles, property_sources and problems; label and version are the caller's.
[[nodiscard]] Environment BuildEnvironment(const std::string& application,
                                           const std::string& profiles, const FileReader& read,
                                           const std::string& name_prefix, ParsedFileCache& cache);

/// Spring's native backend: a plain directory. Sources are named "file:<dir>/<file>";
/// the label is echoed but selects nothing, version is null.
class NativeRepository final : public ConfigRepository {
 public:
  /// Throws RepositoryError when `directory` is not a directory.
  explicit NativeRepository(std::filesystem::path directory);

  [[nodiscard]] Environment FindOne(const std::string& application, const std::string& profiles,
                                    const std::optional<std::string>& label) const override;

  [[nodiscard]] const std::filesystem::path& Directory() const { return directory_; }

 private:
  std::filesystem::path directory_;
  mutable ParsedFileCache cache_;
};

}  // namespace cppblog::configserver

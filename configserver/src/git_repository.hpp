#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "config_repository.hpp"

namespace cppblog::configserver {

struct GitRepositoryOptions {
  std::filesystem::path path;  // a local repository: a working tree or a bare repository
  /// Prefix of property source names, "<uri>/<file>" as Spring names them; empty:
  /// "file://<absolute path>". Its userinfo is masked there, user name and all
  /// ("https://***@github.com/org/repo").
  std::string uri;
  /// The label used when a request names none; empty: "main", falling back to "master"
  /// (Spring's tryMasterBranch).
  std::string default_label;
};

/// Spring's git backend read with libgit2: the label is a branch (local, else
/// remote-tracking of origin), a tag, or a commit id (full or abbreviated); files are
/// read from that commit's tree without a checkout; `version` is the commit id.
/// Nothing is fetched: the repository is read as it is on disk. Thread-safe (each call
/// opens the repository itself, as libgit2 objects must not be shared across threads).
class GitRepository final : public ConfigRepository {
 public:
  /// Throws RepositoryError when `options.path` is not a git repository.
  explicit GitRepository(GitRepositoryOptions options);
  ~GitRepository() override;
  GitRepository(const GitRepository&) = delete;
  GitRepository& operator=(const GitRepository&) = delete;

  [[nodiscard]] Environment FindOne(const std::string& application, const std::string& profiles,
                                    const std::optional<std::string>& label) const override;

 private:
  GitRepositoryOptions options_;
  mutable ParsedFileCache cache_;
};

}  // namespace cppblog::configserver

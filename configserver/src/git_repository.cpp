#include "git_repository.hpp"

#include <algorithm>
#include <memory>
#include <vector>

#include <git2.h>

#include "cppblog/text/redact.hpp"

namespace cppblog::configserver {
namespace {

template <typename T, void (*Free)(T*)>
struct GitDeleter {
  void operator()(T* object) const { Free(object); }
};
using RepositoryPtr =
    std::unique_ptr<git_repository, GitDeleter<git_repository, git_repository_free>>;
using ReferencePtr = std::unique_ptr<git_reference, GitDeleter<git_reference, git_reference_free>>;
using ObjectPtr = std::unique_ptr<git_object, GitDeleter<git_object, git_object_free>>;
using TreePtr = std::unique_ptr<git_tree, GitDeleter<git_tree, git_tree_free>>;
using TreeEntryPtr =
    std::unique_ptr<git_tree_entry, GitDeleter<git_tree_entry, git_tree_entry_free>>;
using BlobPtr = std::unique_ptr<git_blob, GitDeleter<git_blob, git_blob_free>>;

std::string LastError() {
  const git_error* error = git_error_last();
  return error != nullptr && error->message != nullptr ? error->message : "unknown libgit2 error";
}

RepositoryPtr Open(const std::filesystem::path& path) {
  git_repository* raw = nullptr;
  if (git_repository_open_ext(&raw, path.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr) != 0) {
    throw RepositoryError("config_repo '" + path.string() + "' is not a git repository (" +
                          LastError() +
                          "); set config_repo to a repository or use config_backend native");
  }
  return RepositoryPtr{raw};
}

ObjectPtr PeelReference(git_repository* repo, const std::string& name) {
  git_reference* raw_ref = nullptr;
  if (git_reference_lookup(&raw_ref, repo, name.c_str()) != 0) return nullptr;
  const ReferencePtr ref{raw_ref};
  git_object* commit = nullptr;
  if (git_reference_peel(&commit, ref.get(), GIT_OBJECT_COMMIT) != 0) return nullptr;
  return ObjectPtr{commit};
}

bool IsHex(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

ObjectPtr ResolveLabel(git_repository* repo, const std::string& label) {
  for (const std::string& ref :
       {"refs/heads/" + label, "refs/remotes/origin/" + label, "refs/tags/" + label}) {
    if (auto commit = PeelReference(repo, ref)) return commit;
  }
  if (label.size() >= 4 && label.size() <= GIT_OID_HEXSZ && IsHex(label)) {
    git_oid oid;
    if (git_oid_fromstrn(&oid, label.data(), label.size()) == 0) {
      git_object* commit = nullptr;
      if (git_object_lookup_prefix(&commit, repo, &oid, label.size(), GIT_OBJECT_COMMIT) == 0) {
        return ObjectPtr{commit};
      }
    }
  }
  return nullptr;
}

std::optional<std::string> ReadBlob(git_repository* repo, git_tree* tree, const std::string& path) {
  git_tree_entry* raw_entry = nullptr;
  if (git_tree_entry_bypath(&raw_entry, tree, path.c_str()) != 0) return std::nullopt;
  const TreeEntryPtr entry{raw_entry};
  if (git_tree_entry_type(entry.get()) != GIT_OBJECT_BLOB) return std::nullopt;
  git_blob* raw_blob = nullptr;
  if (git_blob_lookup(&raw_blob, repo, git_tree_entry_id(entry.get())) != 0) {
    throw RepositoryError("cannot read " + path + " from the git repository: " + LastError());
  }
  const BlobPtr blob{raw_blob};
  const auto* data = static_cast<const char*>(git_blob_rawcontent(blob.get()));
  return std::string(data, static_cast<std::size_t>(git_blob_rawsize(blob.get())));
}

// The URI as every client may see it in source names: the whole userinfo masked, since a user
// name alone is often a token (https://TOKEN@github.com/…), and a password with an unencoded
// '/' or '?' is masked before anything tries to parse it.
std::string PublicUri(std::string_view uri) {
  std::string masked = text::MaskUrlCredentials(uri);
  const std::size_t scheme = masked.find("://");
  if (scheme == std::string::npos) return masked;
  const std::size_t at = masked.rfind('@');
  if (at == std::string::npos || at < scheme) return masked;
  return masked.substr(0, scheme + 3) + "***" + masked.substr(at);
}

}  // namespace

GitRepository::GitRepository(GitRepositoryOptions options) : options_(std::move(options)) {
  git_libgit2_init();
  try {
    std::error_code error;
    options_.path =
        std::filesystem::weakly_canonical(std::filesystem::absolute(options_.path), error);
    Open(options_.path);  // fail at start-up, not on the first request
  } catch (...) {
    git_libgit2_shutdown();
    throw;
  }
  if (options_.uri.empty()) options_.uri = "file://" + options_.path.string();
  options_.uri = PublicUri(options_.uri);
  while (!options_.uri.empty() && options_.uri.back() == '/') options_.uri.pop_back();
}

GitRepository::~GitRepository() { git_libgit2_shutdown(); }

Environment GitRepository::FindOne(const std::string& application, const std::string& profiles,
                                   const std::optional<std::string>& label) const {
  const RepositoryPtr repo = Open(options_.path);
  ObjectPtr commit;
  if (label) {
    commit = ResolveLabel(repo.get(), *label);
    if (!commit) throw NoSuchLabelError("No such label: " + *label);
  } else if (!options_.default_label.empty()) {
    commit = ResolveLabel(repo.get(), options_.default_label);
    if (!commit)
      throw NoSuchLabelError("No such label: " + options_.default_label + " (the default label)");
  } else {
    commit = ResolveLabel(repo.get(), "main");
    if (!commit) commit = ResolveLabel(repo.get(), "master");
    if (!commit) throw NoSuchLabelError("No such label: neither 'main' nor 'master' exists");
  }
  git_tree* raw_tree = nullptr;
  if (git_commit_tree(&raw_tree, reinterpret_cast<git_commit*>(commit.get())) != 0) {
    throw RepositoryError("cannot read the tree of a commit: " + LastError());
  }
  const TreePtr tree{raw_tree};
  const FileReader read = [&](const std::string& relative) {
    return ReadBlob(repo.get(), tree.get(), relative);
  };
  Environment environment =
      BuildEnvironment(application, profiles, read, options_.uri + "/", cache_);
  environment.label = label;
  char id[GIT_OID_HEXSZ + 1];
  git_oid_tostr(id, sizeof id, git_object_id(commit.get()));
  environment.version = id;
  return environment;
}

}  // namespace cppblog::configserver

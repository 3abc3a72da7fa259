#pragma once

#include <array>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include <stdio.h>

#include "cppblog/storage/temp_dir.hpp"

namespace cppblog::configserver {

// Runs git in `dir` and returns its trimmed standard output; fails the test on error.
inline std::string Git(const std::filesystem::path& dir, const std::string& args) {
  const std::string command = "git -C '" + dir.string() +
                              "' -c user.name=test -c user.email=test@example.com "
                              "-c init.defaultBranch=master -c commit.gpgsign=false " +
                              args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed: " + command);
  std::string output;
  std::array<char, 256> buffer{};
  while (fgets(buffer.data(), buffer.size(), pipe) != nullptr) output += buffer.data();
  const int status = pclose(pipe);
  if (status != 0) throw std::runtime_error(command + " failed: " + output);
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
  return output;
}

struct SampleRepo {
  TempDir dir;
  std::string master_commit;
  std::string p9_commit;
};

// master: accountservice-test.yml (port 6767) + application.yml, tagged v1;
// branch P9: accountservice-test.yml (port 9999) + vipservice-test.yml.
inline std::unique_ptr<SampleRepo> MakeSampleRepo() {
  auto repo = std::make_unique<SampleRepo>();
  const auto& path = repo->dir.path();
  Git(path, "init -q");
  repo->dir.Write("accountservice-test.yml", "server_port: 6767\n");
  repo->dir.Write("application.yml", "config_event_bus: springCloudBus\n");
  Git(path, "add -A");
  Git(path, "commit -q -m master");
  Git(path, "tag v1");
  repo->master_commit = Git(path, "rev-parse HEAD");
  Git(path, "checkout -q -b P9");
  repo->dir.Write("accountservice-test.yml", "server_port: 9999\n");
  repo->dir.Write("vipservice-test.yml", "server_port: 6868\n");
  Git(path, "add -A");
  Git(path, "commit -q -m p9");
  repo->p9_commit = Git(path, "rev-parse HEAD");
  Git(path, "checkout -q master");
  return repo;
}

}  // namespace cppblog::configserver

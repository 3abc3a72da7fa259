#include "cppblog/process/working_set.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <exception>
#include <fstream>
#include <limits>
#include <sstream>
#include <string_view>
#include <utility>

#include <link.h>
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <unistd.h>

namespace cppblog::process {
namespace {

std::uint64_t ParseKb(std::string_view value) {
  std::uint64_t kb = 0;
  std::istringstream in{std::string(value)};
  in >> kb;
  return kb;
}

// "00400000-00452000 r-xp 00000000 08:02 173521   /usr/bin/x": a mapping's first line.
bool ParseHeader(const std::string& line, Mapping& mapping) {
  std::istringstream in{line};
  std::string range;
  std::string offset;
  std::string device;
  if (!(in >> range >> mapping.permissions >> offset >> device >> mapping.inode)) return false;
  const auto dash = range.find('-');
  if (dash == std::string::npos) return false;
  try {
    mapping.start = static_cast<std::uintptr_t>(std::stoull(range.substr(0, dash), nullptr, 16));
    mapping.end = static_cast<std::uintptr_t>(std::stoull(range.substr(dash + 1), nullptr, 16));
  } catch (const std::exception&) {
    return false;
  }
  std::getline(in >> std::ws, mapping.path);
  return true;
}

bool HasFlag(const Mapping& mapping, std::string_view flag) {
  return std::find(mapping.vm_flags.begin(), mapping.vm_flags.end(), flag) !=
         mapping.vm_flags.end();
}

std::uint64_t ReadRssKb() {
  std::ifstream status{"/proc/self/status"};
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      std::uint64_t kb = 0;
      status >> kb;
      return kb;
    }
    status.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return 0;
}

struct TrimPass {
  std::vector<Mapping> mappings;  // read at the first callback, with the loader's lock held
  bool smaps_read = false;
  std::vector<Mapping> released;
  std::size_t failed = 0;
};

// Called by dl_iterate_phdr once per loaded object (the executable, each library), all under
// the dynamic loader's lock: while it is held no object is unloaded (dlclose unmaps under it),
// the guarantee the unwinder relies on when it reads an object's unwind tables. So a mapping
// found inside an object's PT_LOAD segment is still that file's mapping when madvise reaches
// it, and no other thread can have mapped something else there. Mappings outside any loaded
// object (a file another thread maps and unmaps as it pleases) are left alone.
int ReleaseObject(dl_phdr_info* info, std::size_t /*size*/, void* data) {
  auto& pass = *static_cast<TrimPass*>(data);
  if (!pass.smaps_read) {
    pass.smaps_read = true;
    try {  // no exception may cross dl_iterate_phdr: it would leave the loader's lock held
      std::ifstream smaps{"/proc/self/smaps"};
      pass.mappings = ParseSmaps(smaps);
      pass.released.reserve(pass.mappings.size());  // push_back below cannot throw
    } catch (const std::exception&) {
      return 1;  // out of memory: release nothing
    }
  }
  const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& header = info->dlpi_phdr[i];
    if (header.p_type != PT_LOAD) continue;
    const std::uintptr_t begin = (info->dlpi_addr + header.p_vaddr) & ~(page - 1);
    const std::uintptr_t end =
        (info->dlpi_addr + header.p_vaddr + header.p_memsz + page - 1) & ~(page - 1);
    for (const Mapping& mapping : pass.mappings) {
      if (mapping.start < begin || mapping.end > end) continue;
      if (mapping.rss_kb == 0 || !IsReleasable(mapping)) continue;
      // NOLINTNEXTLINE(performance-no-int-to-ptr): the address comes from the kernel's list
      void* address = reinterpret_cast<void*>(mapping.start);
      if (madvise(address, mapping.end - mapping.start, MADV_DONTNEED) == 0) {
        pass.released.push_back(mapping);
      } else {
        ++pass.failed;
      }
    }
  }
  return 0;
}

}  // namespace

std::vector<Mapping> ParseSmaps(std::istream& smaps) {
  std::vector<Mapping> mappings;
  std::string line;
  while (std::getline(smaps, line)) {
    const auto colon = line.find(':');
    const auto space = line.find(' ');
    const bool is_field =
        colon != std::string::npos && (space == std::string::npos || colon < space);
    if (!is_field) {
      Mapping mapping;
      if (ParseHeader(line, mapping)) mappings.push_back(std::move(mapping));
      continue;
    }
    if (mappings.empty()) continue;
    Mapping& mapping = mappings.back();
    const std::string_view key = std::string_view{line}.substr(0, colon);
    const std::string_view value = std::string_view{line}.substr(colon + 1);
    if (key == "Rss") {
      mapping.rss_kb = ParseKb(value);
    } else if (key == "Private_Dirty") {
      mapping.private_dirty_kb = ParseKb(value);
    } else if (key == "Anonymous") {
      mapping.anonymous_kb = ParseKb(value);
    } else if (key == "Swap") {
      mapping.swap_kb = ParseKb(value);
    } else if (key == "VmFlags") {
      std::istringstream flags{std::string(value)};
      std::string flag;
      while (flags >> flag) mapping.vm_flags.push_back(flag);
    }
  }
  return mappings;
}

bool IsReleasable(const Mapping& mapping) {
  const std::string& p = mapping.permissions;
  if (p.size() < 4 || p[1] == 'w' || p[3] != 'p') return false;  // writable or shared
  if (mapping.path.empty() || mapping.path.front() != '/' || mapping.inode == 0) return false;
  // Pages of its own (relocated, RELRO, written by a debugger) are anonymous, or swapped.
  // Private_Dirty is no sign: it also counts page cache pages not yet written back (a binary
  // just built, a file on tmpfs), which are the file's content all the same.
  if (mapping.anonymous_kb != 0 || mapping.swap_kb != 0) return false;
  // Writable, shared, locked, I/O or PFN, huge TLB, userfaultfd: madvise would refuse or
  // would lose something.
  constexpr std::array<std::string_view, 8> kRefused{"wr", "sh", "lo", "io",
                                                     "pf", "ht", "um", "uw"};
  return std::none_of(kRefused.begin(), kRefused.end(),
                      [&mapping](std::string_view flag) { return HasFlag(mapping, flag); });
}

TrimReport TrimWorkingSet() {
  const auto start = std::chrono::steady_clock::now();
  TrimReport report;
  report.rss_before_kb = ReadRssKb();
  TrimPass pass;
  dl_iterate_phdr(ReleaseObject, &pass);
#ifdef __GLIBC__
  malloc_trim(0);
#endif
  report.released = std::move(pass.released);
  report.mappings_failed = pass.failed;
  report.rss_after_kb = ReadRssKb();
  report.took = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start);
  spdlog::info(
      "working set trimmed: VmRSS {} kB -> {} kB ({} mappings of code and constants "
      "released{}) in {} us",
      report.rss_before_kb, report.rss_after_kb, report.released.size(),
      report.mappings_failed == 0 ? std::string{}
                                  : ", " + std::to_string(report.mappings_failed) + " refused",
      report.took.count());
  return report;
}

}  // namespace cppblog::process

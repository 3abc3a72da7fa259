#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace cppblog::process {

/// One mapping of a process as /proc/PID/smaps describes it; sizes in kB.
struct Mapping {
  std::uintptr_t start = 0;
  std::uintptr_t end = 0;
  std::string permissions;  // "r-xp": read, write, execute, private (p) or shared (s)
  std::uint64_t inode = 0;
  std::string path;  // empty for anonymous memory; "[heap]", "[vdso]"… for the kernel's own
  std::uint64_t rss_kb = 0;
  std::uint64_t private_dirty_kb = 0;
  std::uint64_t anonymous_kb = 0;
  std::uint64_t swap_kb = 0;
  std::vector<std::string> vm_flags;  // "rd", "ex", "mr", …
};

/// Parses the text of /proc/PID/smaps; fields not listed in Mapping are skipped.
[[nodiscard]] std::vector<Mapping> ParseSmaps(std::istream& smaps);

/// True when dropping the mapping's resident pages loses nothing: a private mapping of a file,
/// neither writable nor locked, with no page of its own (no anonymous or swapped page: a
/// relocated, RELRO or debugger-patched page is a private anonymous copy). Every resident page
/// is then the page cache's page of the file, which a later access maps again (a minor fault).
/// Private_Dirty alone does not count against it: page cache pages not yet written back show
/// there too, and they are the file's content.
[[nodiscard]] bool IsReleasable(const Mapping& mapping);

struct TrimReport {
  std::uint64_t rss_before_kb = 0;  // VmRSS before and after; 0 when /proc is not readable
  std::uint64_t rss_after_kb = 0;
  std::vector<Mapping> released;    // as /proc/self/smaps showed them just before
  std::size_t mappings_failed = 0;  // madvise refused (counted in the log line)
  std::chrono::microseconds took{0};
};

/// Drops the resident pages that start-up touched and steady state may not need: every
/// releasable mapping (IsReleasable) inside the executable's or a loaded library's segments is
/// madvise(MADV_DONTNEED)-ed, then malloc_trim(0) returns free heap to the kernel. Call once
/// start-up is done (listening, consuming); safe while other threads run: pages they use come
/// back from the page cache as minor faults. Mappings outside loaded objects (files mapped at
/// run time) are left alone. Logs one info line with VmRSS before and after. Throws nothing but
/// std::bad_alloc; without /proc it only trims the heap.
TrimReport TrimWorkingSet();

}  // namespace cppblog::process

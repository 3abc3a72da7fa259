#include "cppblog/process/working_set.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <numeric>
#include <optional>
#include <sstream>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

namespace cppblog::process {
namespace {

constexpr std::size_t kPage = 4096;

// Pages of constants in the test executable's read-only segment, never written.
constexpr std::size_t kTablePages = 48;  // 192 kB; a constexpr loop stays under GCC's limit
constexpr std::array<std::uint8_t, kTablePages * kPage> MakeTable() {
  std::array<std::uint8_t, kTablePages * kPage> table{};
  for (std::size_t i = 0; i < table.size(); ++i) table[i] = static_cast<std::uint8_t>(i * 31 + 7);
  return table;
}
alignas(kPage) constexpr std::array<std::uint8_t, kTablePages* kPage> kTable = MakeTable();

// Relocated at start-up in a position-independent executable, then made read-only (RELRO):
// the pages hold pointers the file does not.
const char* const kRelocated[] = {"relocated", "at", "start-up"};

std::uint64_t Checksum(const volatile std::uint8_t* bytes, std::size_t size) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < size; ++i) sum = sum * 131 + bytes[i];
  return sum;
}

// Whether the page at `address` is mapped into this process (/proc/self/pagemap bit 63).
bool IsResident(const void* address) {
  const int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::uint64_t entry = 0;
  const auto offset = static_cast<off_t>(reinterpret_cast<std::uintptr_t>(address) / kPage * 8);
  const auto n = pread(fd, &entry, sizeof entry, offset);
  close(fd);
  return n == sizeof entry && ((entry >> 63) & 1U) != 0;
}

std::optional<Mapping> FindMapping(const void* address) {
  std::ifstream smaps{"/proc/self/smaps"};
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  for (Mapping& mapping : ParseSmaps(smaps)) {
    if (mapping.start <= at && at < mapping.end) return mapping;
  }
  return std::nullopt;
}

bool Contains(const std::vector<Mapping>& mappings, const void* address) {
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  return std::any_of(mappings.begin(), mappings.end(),
                     [at](const Mapping& m) { return m.start <= at && at < m.end; });
}

// A temporary file of `pages` pages filled with 'f', unlinked once mapped.
class TempFile {
 public:
  explicit TempFile(std::size_t pages) {
    char path[] = "/tmp/working_set_test.XXXXXX";
    fd_ = mkstemp(path);
    unlink(path);
    const std::string content(pages * kPage, 'f');
    EXPECT_EQ(write(fd_, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  }
  ~TempFile() { close(fd_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  [[nodiscard]] int Fd() const { return fd_; }

 private:
  int fd_ = -1;
};

constexpr const char* kSmaps =
    "00400000-00452000 r-xp 00001000 08:02 173521                     /usr/bin/service\n"
    "Size:                328 kB\n"
    "Rss:                 300 kB\n"
    "Private_Dirty:         0 kB\n"
    "Anonymous:             0 kB\n"
    "Swap:                  0 kB\n"
    "VmFlags: rd ex mr mw me dw\n"
    "00651000-00652000 r--p 00051000 08:02 173521                     /usr/bin/service\n"
    "Rss:                   4 kB\n"
    "Private_Dirty:         4 kB\n"
    "Anonymous:             4 kB\n"
    "VmFlags: rd mr mw me dw ac\n"
    "00652000-00655000 rw-p 00052000 08:02 173521                     /usr/bin/service\n"
    "Rss:                  12 kB\n"
    "Private_Dirty:         0 kB\n"
    "Anonymous:             0 kB\n"
    "VmFlags: rd wr mr mw me dw ac\n"
    "01e9a000-01ebb000 rw-p 00000000 00:00 0                          [heap]\n"
    "Rss:                  24 kB\n"
    "VmFlags: rd wr mr mw me ac\n"
    "7f0000000000-7f0000001000 r--s 00000000 08:02 99                 /data/data mdb.mdb\n"
    "Rss:                   4 kB\n"
    "VmFlags: rd sh mr me ms\n"
    "7f0000002000-7f0000003000 r-xp 00000000 08:02 98                 /lib/locked.so\n"
    "Rss:                   4 kB\n"
    "VmFlags: rd ex mr mw me lo\n"
    "7ffd0000-7ffd2000 r-xp 00000000 00:00 0                          [vdso]\n"
    "Rss:                   8 kB\n"
    "VmFlags: rd ex mr mw me de\n";

TEST(WorkingSet, ParseSmapsReadsHeadersAndFields) {
  std::istringstream in{kSmaps};
  const auto mappings = ParseSmaps(in);
  ASSERT_EQ(mappings.size(), 7U);
  EXPECT_EQ(mappings[0].start, 0x400000U);
  EXPECT_EQ(mappings[0].end, 0x452000U);
  EXPECT_EQ(mappings[0].permissions, "r-xp");
  EXPECT_EQ(mappings[0].inode, 173521U);
  EXPECT_EQ(mappings[0].path, "/usr/bin/service");
  EXPECT_EQ(mappings[0].rss_kb, 300U);
  EXPECT_EQ(mappings[0].vm_flags, (std::vector<std::string>{"rd", "ex", "mr", "mw", "me", "dw"}));
  EXPECT_EQ(mappings[1].anonymous_kb, 4U);
  EXPECT_EQ(mappings[1].private_dirty_kb, 4U);
  EXPECT_EQ(mappings[3].path, "[heap]");
  EXPECT_EQ(mappings[4].path, "/data/data mdb.mdb");
  EXPECT_EQ(mappings[4].start, 0x7f0000000000U);
}

TEST(WorkingSet, OnlyCleanPrivateReadOnlyFileMappingsAreReleasable) {
  std::istringstream in{kSmaps};
  const auto mappings = ParseSmaps(in);
  std::vector<bool> releasable;
  std::transform(mappings.begin(), mappings.end(), std::back_inserter(releasable), IsReleasable);
  // text | RELRO (relocated) | data | heap | shared | locked | vdso
  EXPECT_EQ(releasable, (std::vector<bool>{true, false, false, false, false, false, false}));
}

TEST(WorkingSet, AnonymousOrSwappedPagesMakeAMappingUnreleasable) {
  Mapping text;
  text.start = 0x1000;
  text.end = 0x2000;
  text.permissions = "r--p";
  text.inode = 7;
  text.path = "/lib/x.so";
  text.rss_kb = 4;
  EXPECT_TRUE(IsReleasable(text));
  Mapping swapped = text;
  swapped.swap_kb = 4;
  EXPECT_FALSE(IsReleasable(swapped));
  Mapping copied = text;  // a page written through ptrace: an anonymous copy
  copied.private_dirty_kb = 4;
  copied.anonymous_kb = 4;
  EXPECT_FALSE(IsReleasable(copied));
  Mapping unwritten = text;  // page cache not yet written back (a binary just built)
  unwritten.private_dirty_kb = 4;
  EXPECT_TRUE(IsReleasable(unwritten));
}

TEST(WorkingSet, TrimReleasesTouchedConstantsAndKeepsTheirContents) {
  const auto expected = Checksum(kTable.data(), kTable.size());  // touches every page
  const std::uint8_t* middle = kTable.data() + kTable.size() / 2;
  ASSERT_TRUE(IsResident(middle));
  const auto mapping = FindMapping(middle);
  ASSERT_TRUE(mapping.has_value());
  ASSERT_TRUE(IsReleasable(*mapping)) << mapping->permissions << " " << mapping->path;

  const TrimReport report = TrimWorkingSet();

  EXPECT_EQ(report.mappings_failed, 0U);
  EXPECT_GT(report.rss_before_kb, 0U);
  EXPECT_LT(report.rss_after_kb, report.rss_before_kb);
  // The table's mapping was released. (Whether its pages are still out by now depends on the
  // page cache: a touch of a neighbour maps a whole large folio, which may hold the table.)
  EXPECT_TRUE(Contains(report.released, middle));
  EXPECT_EQ(Checksum(kTable.data(), kTable.size()), expected);  // read back from the file
}

TEST(WorkingSet, TrimKeepsRelocatedReadOnlyPages) {
  const auto mapping = FindMapping(static_cast<const void*>(kRelocated));
  ASSERT_TRUE(mapping.has_value());
  // The test executable is position-independent: the table's page is a relocated copy.
  EXPECT_FALSE(IsReleasable(*mapping)) << mapping->permissions << " " << mapping->path;
  const TrimReport report = TrimWorkingSet();
  EXPECT_FALSE(Contains(report.released, static_cast<const void*>(kRelocated)));
  const char* const* volatile table = kRelocated;  // read from memory, not folded
  EXPECT_STREQ(table[0], "relocated");
  EXPECT_STREQ(table[2], "start-up");
}

TEST(WorkingSet, TrimKeepsPrivateDirtyMappingsOfFiles) {
  const TempFile file{4};
  void* mapped = mmap(nullptr, 4 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, file.Fd(), 0);
  ASSERT_NE(mapped, MAP_FAILED);
  auto* bytes = static_cast<char*>(mapped);
  bytes[0] = 'x';
  bytes[kPage] = 'y';
  // Read-only again, as a RELRO segment after relocation: dirty pages in an r--p mapping.
  ASSERT_EQ(mprotect(bytes + kPage, 3 * kPage, PROT_READ), 0);
  const auto relro = FindMapping(bytes + kPage);
  ASSERT_TRUE(relro.has_value());
  EXPECT_EQ(relro->permissions, "r--p");
  EXPECT_FALSE(IsReleasable(*relro));

  const TrimReport report = TrimWorkingSet();

  EXPECT_FALSE(Contains(report.released, bytes));
  EXPECT_FALSE(Contains(report.released, bytes + kPage));
  EXPECT_EQ(bytes[0], 'x');
  EXPECT_EQ(bytes[kPage], 'y');
  EXPECT_EQ(bytes[2 * kPage], 'f');
  munmap(mapped, 4 * kPage);
}

TEST(WorkingSet, TrimLeavesFilesMappedAtRunTimeResident) {
  const TempFile file{4};
  void* mapped = mmap(nullptr, 4 * kPage, PROT_READ, MAP_PRIVATE, file.Fd(), 0);
  ASSERT_NE(mapped, MAP_FAILED);
  const auto* bytes = static_cast<const volatile char*>(mapped);
  ASSERT_EQ(bytes[0], 'f');
  const auto mapping = FindMapping(mapped);
  ASSERT_TRUE(mapping.has_value());
  EXPECT_TRUE(IsReleasable(*mapping));  // clean, but no loaded object's: another owner's file

  const TrimReport report = TrimWorkingSet();

  EXPECT_FALSE(Contains(report.released, mapped));
  EXPECT_TRUE(IsResident(mapped));
  munmap(mapped, 4 * kPage);
}

}  // namespace
}  // namespace cppblog::process

// The supervisor's resident-set reader keeps /proc/PID/statm open and reads it again at every
// poll: each read must be the process's resident set now, not the one the file showed when it
// was opened (a reader that cached the first answer would never see a plugin's memory grow).
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include <gtest/gtest.h>

#include "supervisor/memory_limit.hpp"

namespace qsc::agent {
namespace {

constexpr std::size_t kTouchedBytes = 64u << 20;

TEST(ResidentSetReader, EachReadIsTheResidentSetNow) {
  ResidentSetReader reader(::getpid());
  const auto before = reader.bytes();
  ASSERT_TRUE(before.has_value());
  ASSERT_GT(*before, 0u);
  // Anonymous pages become resident when touched (no allocator in between to reuse or return
  // them), so the resident set must grow by about that much.
  void* block =
      ::mmap(nullptr, kTouchedBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(block, MAP_FAILED);
  std::memset(block, 1, kTouchedBytes);
  const auto grown = reader.bytes();
  ASSERT_TRUE(grown.has_value());
  EXPECT_GE(*grown, *before + kTouchedBytes - (4u << 20)) << *before << " -> " << *grown;
  ::munmap(block, kTouchedBytes);
  const auto released = reader.bytes();
  ASSERT_TRUE(released.has_value());
  EXPECT_LT(*released, *grown - kTouchedBytes / 2) << *grown << " -> " << *released;
}

TEST(ResidentSetReader, AProcessThatIsGoneReadsAsUnreadable) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  ResidentSetReader reader(child);
  EXPECT_TRUE(reader.bytes().has_value());
  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_FALSE(reader.bytes().has_value());
}

}  // namespace
}  // namespace qsc::agent

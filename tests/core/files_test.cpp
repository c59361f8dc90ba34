// Durable files, the audit log, the lock and the process runner.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "core/audit_log.hpp"
#include "core/files.hpp"
#include "core/lock.hpp"
#include "qsc/process.hpp"

namespace qsc::agent {
namespace {

namespace fs = std::filesystem;

class Files : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("qsc_files_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

// A full disk cuts a line short. Found by tests/soak/run (logs/ on a full tmpfs): the partial
// line stayed, the next entry was appended to it, and both became one unparseable line.
// RLIMIT_FSIZE makes the same short write without a full disk (or root to mount one).
TEST_F(Files, AShortAppendLeavesNoPartialLine) {
  const auto path = dir_ / "audit.jsonl";
  ASSERT_TRUE(append_line_synced(path, R"({"n":1})").ok());
  const auto size = fs::file_size(path);
  struct rlimit old {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = size + 10;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const auto cut = append_line_synced(path, R"({"n":2,"padding":"more than ten bytes"})");
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
  ::signal(SIGXFSZ, old_handler);
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.error().message.find("short write"), std::string::npos) << cut.error().message;
  EXPECT_EQ(fs::file_size(path), size);
  ASSERT_TRUE(append_line_synced(path, R"({"n":3})").ok());
  EXPECT_EQ(*read_file(path), "{\"n\":1}\n{\"n\":3}\n");
}

TEST_F(Files, AtomicWriteReplacesAndLeavesNoTemporary) {
  const auto path = dir_ / "a" / "b" / "weights.json";
  ASSERT_TRUE(write_file_atomic(path, "one\n").ok());
  ASSERT_TRUE(write_file_atomic(path, "two\n", 0600).ok());
  EXPECT_EQ(*read_file(path), "two\n");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(path.parent_path())) ++entries;
  EXPECT_EQ(entries, 1u);
}

TEST_F(Files, AtomicWriteIntoAFileParentFailsNamingIt) {
  ASSERT_TRUE(write_file_atomic(dir_ / "plain", "x").ok());
  auto s = write_file_atomic(dir_ / "plain" / "child.json", "x");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("plain"), std::string::npos);
}

TEST_F(Files, ReadMissingNamesThePath) {
  auto r = read_file(dir_ / "missing.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("missing.json: No such file or directory"), std::string::npos);
}

TEST_F(Files, RemoveIsIdempotent) {
  ASSERT_TRUE(write_file_atomic(dir_ / "x", "x").ok());
  EXPECT_TRUE(remove_file_durable(dir_ / "x").ok());
  EXPECT_TRUE(remove_file_durable(dir_ / "x").ok());
  EXPECT_FALSE(fs::exists(dir_ / "x"));
}

TEST_F(Files, AuditLogLinesAreWholeUnderConcurrentWriters) {
  const auto path = dir_ / "logs" / "qsc_canary.jsonl";
  constexpr int kWriters = 4;
  constexpr int kEntries = 50;
  std::vector<pid_t> children;
  for (int w = 0; w < kWriters; ++w) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      AuditLog log(path, "");
      for (int i = 0; i < kEntries; ++i) {
        // A long field makes a torn or interleaved line visible as invalid JSON.
        if (!log.append("check", {{"writer", w}, {"i", i}, {"pad", std::string(3000, 'x')}})) {
          ::_exit(1);
        }
      }
      ::_exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  auto entries = AuditLog(path, "").read_all();
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), static_cast<std::size_t>(kWriters * kEntries));
  const auto& first = entries->front();
  EXPECT_EQ(first["action"], "check");
  const auto ts = first["timestamp"].get<std::string>();
  EXPECT_EQ(ts.size(), 20u);
  EXPECT_EQ(ts.back(), 'Z');
  // timestamp and action come first in each line, as the runbook's jq queries show them.
  auto text = read_file(path);
  EXPECT_EQ(text->rfind("{\"timestamp\":", 0), 0u);
}

TEST_F(Files, LockIsExclusiveAndReleasedWithItsHolder) {
  const auto path = dir_ / ".qsc.lock";
  auto first = FileLock::acquire(path, std::chrono::milliseconds(100));
  ASSERT_TRUE(first.ok());
  // flock locks belong to the open file description: a second process must be refused.
  const pid_t pid = ::fork();
  if (pid == 0) {
    auto second = FileLock::acquire(path, std::chrono::milliseconds(100));
    ::_exit(second.ok()                                                             ? 1
            : second.error().message.find("another qsc holds") != std::string::npos ? 0
                                                                                    : 2);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  { auto moved = std::move(first).value(); }
  EXPECT_TRUE(FileLock::acquire(path, std::chrono::milliseconds(100)).ok());
}

// The monitor's watch lock (`qsc state` says NOT WATCHED when no one holds it): shared holders
// coexist (two monitors are not refused by it), the probe sees any of them, and a missing file is
// held by no one and is not created by the probe (`qsc state` writes nothing).
TEST_F(Files, SharedLocksCoexistAndTheProbeSeesAnyHolder) {
  const auto path = dir_ / ".qsc.monitor.lock";
  auto probe = FileLock::held_by_anyone(path);
  ASSERT_TRUE(probe.ok()) << probe.error().message;
  EXPECT_FALSE(*probe);
  EXPECT_FALSE(fs::exists(path));
  auto first = FileLock::acquire_shared(path, std::chrono::milliseconds(100));
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto second = FileLock::acquire_shared(path, std::chrono::milliseconds(100));
  ASSERT_TRUE(second.ok()) << second.error().message;
  probe = FileLock::held_by_anyone(path);
  ASSERT_TRUE(probe.ok());
  EXPECT_TRUE(*probe);
  { auto released = std::move(first).value(); }
  EXPECT_TRUE(*FileLock::held_by_anyone(path)) << "the second holder still holds it";
  { auto released = std::move(second).value(); }
  EXPECT_FALSE(*FileLock::held_by_anyone(path));
}

TEST(Process, CapturesOutputAndExitCode) {
  auto r = qsc::run_program({"sh", "-c", "echo out; echo err >&2; exit 3"}, "", 5000);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_FALSE(r.succeeded());
  EXPECT_NE(r.output.find("out"), std::string::npos);
  EXPECT_NE(r.output.find("err"), std::string::npos);
  auto cat = qsc::run_program({"cat"}, "incident json", 5000);
  ASSERT_TRUE(cat.succeeded()) << qsc::describe(cat);
  EXPECT_EQ(cat.output, "incident json");
}

TEST(Process, KillsAtTheTimeoutAndNamesAMissingProgram) {
  const auto start = std::chrono::steady_clock::now();
  auto r = qsc::run_program({"sleep", "10"}, "", 200);
  EXPECT_TRUE(r.started);
  EXPECT_TRUE(r.timed_out);
  // Killed, not waited out: `sleep 10`. (Not a speed bound.)
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  auto missing = qsc::run_program({"/nonexistent/systemctl"}, "", 1000);
  EXPECT_FALSE(missing.started);
  EXPECT_NE(missing.error.find("/nonexistent/systemctl"), std::string::npos) << missing.error;
}

}  // namespace
}  // namespace qsc::agent

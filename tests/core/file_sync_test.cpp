// What the durable writes sync, counted: this executable is linked with -Wl,--wrap=fsync, so
// every fsync(2) of the agent's and the SDK's code (static libraries linked in here) passes
// through __wrap_fsync below, which counts it as a file's or a directory's and then syncs for
// real. The monitor rewrites the scoreboard at every check; its three files share one directory
// fsync (write_files_atomic) where each used to take its own, and these tests hold that and the
// atomic replacement it must keep (docs/PERFORMANCE.md, "Session 16: the worker's cost per
// check and per event (worker16)").
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <string>

#include "core/files.hpp"
#include "lifecycle/scoreboard.hpp"

namespace {

std::atomic<int> file_fsyncs{0};
std::atomic<int> directory_fsyncs{0};

}  // namespace

extern "C" int __real_fsync(int fd);  // NOLINT: the linker's name for the real fsync

extern "C" int __wrap_fsync(int fd) {  // NOLINT: the linker's name for the wrapper
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ++directory_fsyncs;
  } else {
    ++file_fsyncs;
  }
  return __real_fsync(fd);
}

namespace qsc::agent {
namespace {

namespace fs = std::filesystem;

class FileSync : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("qsc_file_sync_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    file_fsyncs = 0;
    directory_fsyncs = 0;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::size_t entries() const {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_)) ++n;
    return n;
  }

  fs::path dir_;
};

Scoreboard board_of(const std::string& overall) {
  Scoreboard b;
  b.generated_ms = 1768023795000;
  b.source = "shm ring test";
  b.canary_model = "patchtst";
  b.config_sha256 = std::string(64, 'a');
  b.overall = overall;
  b.rows.push_back({"patchtst", overall == "ALL-GO" ? "GO" : "WAIT", {"a reason"}});
  return b;
}

// The monitor's check: each of the three files synced before its rename (3 file fsyncs) and one
// directory fsync for the three renames. The code before this session synced the directory
// after each file (3 directory fsyncs): this test fails on it.
TEST_F(FileSync, TheScoreboardsThreeFilesShareOneDirectorySync) {
  const auto board = board_of("ALL-GO");
  auto written = write_scoreboard(board, dir_.string());
  ASSERT_TRUE(written.ok()) << written.error().message;
  EXPECT_EQ(file_fsyncs.load(), 3);
  EXPECT_EQ(directory_fsyncs.load(), 1);
  EXPECT_EQ(*written, (dir_ / "scoreboard_latest.md").string());
  // The same bytes as each render: nothing of the content changed with the batching.
  EXPECT_EQ(*read_file(dir_ / "scoreboard_latest.md"), scoreboard_markdown(board));
  EXPECT_EQ(nlohmann::ordered_json::parse(*read_file(dir_ / "scoreboard_latest.json")),
            scoreboard_json(board));
  EXPECT_FALSE(read_file(dir_ / "scoreboard_latest.html")->empty());
  EXPECT_EQ(entries(), 3u);  // no temporary left
}

// A single file keeps its own directory fsync: nothing else would make its rename durable.
TEST_F(FileSync, AnAtomicWriteSyncsItsFileAndItsDirectory) {
  ASSERT_TRUE(write_file_atomic(dir_ / "state.json", "{}\n").ok());
  EXPECT_EQ(file_fsyncs.load(), 1);
  EXPECT_EQ(directory_fsyncs.load(), 1);
}

// A failure in the middle: the files before it are replaced and their renames synced, the
// failing one and those after it are untouched, no temporary is left, the error names the file.
TEST_F(FileSync, AFailureLeavesTheFilesAfterItUntouchedAndTheOnesBeforeSynced) {
  ASSERT_TRUE(write_file_atomic(dir_ / "c.txt", "old c\n").ok());
  fs::create_directories(dir_ / "b.txt" / "occupied");  // rename(2) over a directory fails
  file_fsyncs = 0;
  directory_fsyncs = 0;
  const std::array<qsc::FileToWrite, 3> files{
      {{"a.txt", "new a\n"}, {"b.txt", "new b\n"}, {"c.txt", "new c\n"}}};
  const auto s = agent::write_files_atomic(dir_, files);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("b.txt"), std::string::npos) << s.error().message;
  EXPECT_EQ(*read_file(dir_ / "a.txt"), "new a\n");
  EXPECT_TRUE(fs::is_directory(dir_ / "b.txt"));
  EXPECT_EQ(*read_file(dir_ / "c.txt"), "old c\n");
  EXPECT_EQ(directory_fsyncs.load(), 1);  // a.txt's rename made durable
  EXPECT_EQ(entries(), 3u);               // a.txt, b.txt/, c.txt: no temporary
}

// Nothing replaced (the first file fails): nothing to make durable, the directory not synced.
TEST_F(FileSync, AFailureAtTheFirstFileSyncsNothing) {
  fs::create_directories(dir_ / "a.txt" / "occupied");
  const std::array<qsc::FileToWrite, 1> files{{{"a.txt", "new a\n"}}};
  ASSERT_FALSE(agent::write_files_atomic(dir_, files).ok());
  EXPECT_EQ(directory_fsyncs.load(), 0);
  EXPECT_EQ(entries(), 1u);
}

// A reader of the scoreboard never sees a torn file: a child rewrites the three files with two
// alternating boards while this process reads them until the child is done; every read must be
// one of the two whole renders.
TEST_F(FileSync, AReaderSeesAWholeOldOrNewFileNeverAMix) {
  const auto go = board_of("ALL-GO");
  auto wait = board_of("WAIT");
  // Long enough that a torn write could not hide in one page.
  wait.rows.front().reasons.assign(400, "a reason long enough to span pages of the file");
  const std::string md_go = scoreboard_markdown(go);
  const std::string md_wait = scoreboard_markdown(wait);
  ASSERT_TRUE(write_scoreboard(go, dir_.string()).ok());
  constexpr int kRewrites = 60;
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    for (int i = 0; i < kRewrites; ++i) {
      if (!write_scoreboard(i % 2 == 0 ? wait : go, dir_.string()).ok()) ::_exit(1);
    }
    ::_exit(0);
  }
  const auto md = dir_ / "scoreboard_latest.md";
  int reads = 0;
  int status = 0;
  for (;;) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    auto text = read_file(md);
    ASSERT_TRUE(text.ok()) << text.error().message;
    ASSERT_TRUE(*text == md_go || *text == md_wait)
        << "a torn read of " << text->size() << " bytes after " << reads << " reads";
    ++reads;
    if (done == pid) break;
  }
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(*read_file(md), md_go);  // the last rewrite's (kRewrites - 1 is odd: go)
}

}  // namespace
}  // namespace qsc::agent

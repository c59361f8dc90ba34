// `qsc demo` and `qsc demo --scenario healthy`, as the README's first command: each in an empty
// directory, exit 0 in under a minute, no shared-memory segment and no process left behind.
#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "e2e_harness.hpp"

namespace qsc::monitor_test {
namespace {

using std::chrono::seconds;

// Live processes whose parent is this process (orphans come here: we are a subreaper).
std::vector<pid_t> live_children() {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return out;
  while (auto* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto stat = read_text(fs::path("/proc") / name / "stat");
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream in(stat.substr(close + 2));
    char st = 0;
    pid_t ppid = 0;
    in >> st >> ppid;
    if (ppid == ::getpid() && st != 'Z') out.push_back(std::stoi(name));
  }
  ::closedir(d);
  return out;
}

std::vector<std::string> demo_segments() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/dev/shm", ec)) {
    const auto n = e.path().filename().string();
    if (n.rfind("qsc_demo_", 0) == 0) out.push_back(n);
  }
  return out;
}

class Demo : public ::testing::TestWithParam<std::vector<std::string>> {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "qsc-demo-e2e-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    // Anything the demo leaves running is re-parented to us when it exits.
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  }
  void TearDown() override {
    std::error_code ec;
    if (HasFailure()) {
      std::cerr << "[ kept ] " << dir_ << "\n";
    } else {
      fs::remove_all(dir_, ec);
    }
  }
  fs::path dir_;
};

TEST_P(Demo, RunsInAnEmptyDirectoryAndLeavesNothingBehind) {
  const auto args = GetParam();
  const bool healthy = args.size() > 1;
  // The output files go beside, not into, the empty directory.
  const fs::path work = dir_ / "empty";
  fs::create_directories(work);
  std::vector<std::string> argv{QSC_BINARY, "demo"};
  argv.insert(argv.end(), args.begin() + 1, args.end());
  Child demo = spawn(argv, work, "../demo");
  // A generous deadline: the demo's own pace is a product promise (docs), not this test's.
  ASSERT_TRUE(demo.wait(seconds(400))) << "qsc demo did not finish\n" << demo.stdout_text();
  // Right away: nothing the demo started is still running, and its ring is gone.
  const auto left = live_children();
  const auto segment = "qsc_demo_" + std::to_string(demo.pid);
  EXPECT_FALSE(fs::exists(fs::path("/dev/shm") / segment)) << segment << " left behind";

  const auto out = demo.stdout_text();
  EXPECT_EQ(demo.exit_code, 0) << out << demo.stderr_text();
  EXPECT_TRUE(left.empty()) << left.size() << " process(es) left behind, e.g. pid " << left[0];
  for (const auto pid : left) ::kill(pid, SIGKILL);
  EXPECT_NE(out.find("✅ QUALITY GATE: PASS"), std::string::npos) << out;
  EXPECT_NE(out.find("[ACTIVATED] CANARY ACTIVATED"), std::string::npos) << out;
  EXPECT_NE(out.find("Demo finished as expected."), std::string::npos) << out;

  // Everything it wrote is under ./qsc-demo.
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(work)) names.push_back(e.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{"qsc-demo"});
  const auto entries = read_jsonl(work / "qsc-demo/logs/qsc_canary.jsonl");
  ASSERT_FALSE(entries.empty());
  if (healthy) {
    EXPECT_NE(out.find("✅ MONITORING COMPLETED - NO VIOLATIONS"), std::string::npos) << out;
    EXPECT_EQ(out.find("VIOLATION DETECTED"), std::string::npos) << out;
    EXPECT_EQ(entries.back().value("action", ""), "monitoring_completed");
    EXPECT_EQ(entries.back().value("result", ""), "safe");
  } else {
    EXPECT_NE(out.find("🚨 VIOLATION DETECTED - EXECUTING ROLLBACK"), std::string::npos) << out;
    EXPECT_NE(out.find("❌ Action collapse: HOLD="), std::string::npos) << out;
    EXPECT_NE(out.find("Detection latency:"), std::string::npos) << out;
    EXPECT_EQ(entries.back().value("action", ""), "rollback_executed");
    EXPECT_EQ(entries.back().value("trigger", ""), "qsc_monitor_violation");
    // The live weights are back to the defaults the demo started from.
    const auto live =
        nlohmann::json::parse(read_text(work / "qsc-demo/data/live_model_weights.json"));
    EXPECT_DOUBLE_EQ(live.value("patchtst", 0.0), 0.20) << live.dump();
  }
  // No demo segment of this run anywhere (another demo test may run in parallel: only ours).
  for (const auto& s : demo_segments()) EXPECT_NE(s, segment);
}

INSTANTIATE_TEST_SUITE_P(Monitor, Demo,
                         ::testing::Values(std::vector<std::string>{"collapse"},
                                           std::vector<std::string>{"healthy", "--scenario",
                                                                    "healthy"}),
                         [](const ::testing::TestParamInfo<std::vector<std::string>>& info) {
                           return info.param.front();
                         });

}  // namespace
}  // namespace qsc::monitor_test

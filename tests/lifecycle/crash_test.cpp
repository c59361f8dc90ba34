// `qsc activate` killed with SIGKILL at each step leaves either no canary or a complete one,
// and the lock keeps a second activation from interleaving with a first.
#include <signal.h>
#include <sys/wait.h>

#include <cctype>
#include <thread>

#include "lifecycle/lifecycle_harness.hpp"

namespace qsc::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::string kCrashLive =
    "{\"xgb\": 0.25, \"lgbm\": 0.25, \"nhits\": 0.30, \"patchtst\": 0.20}\n";

std::vector<std::string> activate_args(const std::string& model) {
  return {"activate", "--model", model, "--cutover", kRecentCutoverIso};
}

struct FaultPoint {
  const char* name;
  bool committed;  ///< the state was recorded before the kill: the canary exists
};

// True once process `pid` holds a descriptor on a file named `name` (read from /proc/PID/fd).
bool has_open_file(pid_t pid, const std::string& name) {
  std::error_code ec;
  for (const auto& fd : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::error_code link_ec;
    if (fs::read_symlink(fd.path(), link_ec).filename() == name) return true;
  }
  return false;
}

void PrintTo(const FaultPoint& point, std::ostream* os) {
  *os << point.name;
}

const FaultPoint kFaultPoints[] = {
    {"activate:before_backup", false},        {"activate:after_backup", false},
    {"activate:after_canary_weights", false}, {"activate:after_dropin", false},
    {"activate:after_state", true},           {"activate:after_actions", true}};

class KilledActivation : public LifecycleTest, public ::testing::WithParamInterface<FaultPoint> {
 protected:
  void SetUp() override {
    LifecycleTest::SetUp();
    if (IsSkipped()) return;
    live_ = ws.use_live_weights(kCrashLive);
    ws.publish(0, 250, kRecentCutoverMs, 1000, Flaw::kHealthy);
  }
  void expect_no_canary_files() {
    EXPECT_FALSE(ws.exists("data/qsc_canary_weights.json"));
    EXPECT_FALSE(ws.exists("data/systemd_overrides/qsc_canary.conf"));
    EXPECT_FALSE(fs::exists(ws.installed_dropin()));
  }
  fs::path live_;
};

TEST_P(KilledActivation, LeavesNoCanaryOrACompleteOneAndRollbackRestoresTheBaseline) {
  const auto& point = GetParam();
  auto killed = ws.run(activate_args("patchtst"), {std::string("QSC_FAULT_INJECT=") + point.name});
  ASSERT_EQ(killed.signal, SIGKILL) << "exit " << killed.exit_code << ": " << killed.all();
  EXPECT_FALSE(killed.has("CANARY ACTIVATED"));
  EXPECT_EQ(slurp(live_), kCrashLive);

  const auto st = ws.state();
  if (point.committed) {
    // Complete: the state says active and every file is there, with the right contents.
    ASSERT_TRUE(st);
    EXPECT_EQ((*st)["phase"], "canary_active");
    EXPECT_EQ((*st)["canary_model"], "patchtst");
    EXPECT_EQ(ws.read("data/baseline_model_weights.json"), kCrashLive);
    const auto canary = json::parse(ws.read("data/qsc_canary_weights.json"), nullptr, false);
    ASSERT_TRUE(canary.is_object());
    EXPECT_DOUBLE_EQ(canary.value("patchtst", 0.0), 0.10);
    EXPECT_NE(ws.read("data/systemd_overrides/qsc_canary.conf")
                  .find("Environment=QSC_CANARY_MODEL=patchtst\n"),
              std::string::npos);
    // A second activation is refused: the canary exists.
    EXPECT_EQ(ws.run(activate_args("xgb")).exit_code, 2);
  } else {
    // None: no state says a canary is active...
    EXPECT_TRUE(!st || (*st)["phase"] == "idle") << (st ? st->dump() : "");
    // ...and after the next qsc command no canary file is left over.
    auto next = ws.run({"rollback"});
    EXPECT_EQ(next.exit_code, 0) << next.all();
    // The log holds the interrupted activation, and a rollback of its files names its model.
    EXPECT_EQ(ws.audit("canary_activation_started").size(), 1u);
    for (const auto& e : ws.audit("rollback_executed")) {
      EXPECT_EQ(e["canary_model"], "patchtst") << e.dump();
    }
    expect_no_canary_files();
    auto after = ws.state();
    EXPECT_TRUE(!after || (*after)["phase"] != "canary_active");
    EXPECT_EQ(slurp(live_), kCrashLive);
    // Activating afterwards works as if nothing had happened.
    auto again = ws.run(activate_args("patchtst"));
    ASSERT_EQ(again.exit_code, 0) << again.all();
  }
  // Either way a later qsc rollback restores the baseline byte for byte.
  spit(live_, ws.read("data/qsc_canary_weights.json"));
  auto rb = ws.run({"rollback"});
  EXPECT_EQ(rb.exit_code, 0) << rb.all();
  EXPECT_TRUE(rb.has("Rollback completed successfully")) << rb.all();
  EXPECT_EQ(slurp(live_), kCrashLive);
  expect_no_canary_files();
  EXPECT_EQ((*ws.state())["phase"], "rolled_back");
}

INSTANTIATE_TEST_SUITE_P(EachStep, KilledActivation, ::testing::ValuesIn(kFaultPoints),
                         [](const auto& info) {
                           std::string name = info.param.name;
                           for (auto& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST_F(LifecycleTest, ActivationAfterAKilledOneRemovesItsLeftovers) {
  ws.publish(0, 250, kRecentCutoverMs, 1000, Flaw::kHealthy);
  auto killed = ws.run(activate_args("xgb"), {"QSC_FAULT_INJECT=activate:after_dropin"});
  ASSERT_EQ(killed.signal, SIGKILL) << killed.all();
  ASSERT_TRUE(ws.exists("data/qsc_canary_weights.json"));  // the stray files the kill left
  auto r = ws.run(activate_args("patchtst"));
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(ws.audit("activation_abandoned").size(), 1u);
  const auto canary = json::parse(ws.read("data/qsc_canary_weights.json"));
  EXPECT_DOUBLE_EQ(canary.value("patchtst", 0.0), 0.10);
  EXPECT_NE(ws.read("data/systemd_overrides/qsc_canary.conf")
                .find("Environment=QSC_CANARY_MODEL=patchtst\n"),
            std::string::npos);
}

TEST_F(LifecycleTest, ASecondActivationWaitsForTheLockAndNeverInterleaves) {
  ws.use_live_weights(kCrashLive);
  ws.publish(0, 250, kRecentCutoverMs, 1000, Flaw::kHealthy);
  // The first stops itself right after backing up the baseline, holding the lock.
  auto first =
      ws.spawn(activate_args("patchtst"), {"QSC_FAULT_INJECT=activate:pause_after_backup"});
  // Should an assertion end the test early, no stopped qsc is left behind.
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      if (pid > 0 && ::kill(pid, SIGKILL) == 0) ::waitpid(pid, nullptr, 0);
    }
  } reaper{first.pid};
  int status = 0;
  ASSERT_EQ(::waitpid(first.pid, &status, WUNTRACED), first.pid);
  ASSERT_TRUE(WIFSTOPPED(status)) << "status " << status;
  EXPECT_TRUE(ws.exists("data/baseline_model_weights.json"));
  EXPECT_FALSE(ws.exists("data/qsc_canary_weights.json"));

  auto second = ws.spawn(activate_args("xgb"));
  // The second has reached the lock (it opens the lock file, then tries it until the first
  // lets go): a condition with a generous deadline, not a guess at how long start-up takes.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!has_open_file(second.pid, ".qsc.lock") && ::waitpid(second.pid, &status, WNOHANG) == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(has_open_file(second.pid, ".qsc.lock")) << "the second never reached the lock";
  // The second waits: it has neither finished nor written anything.
  EXPECT_EQ(::waitpid(second.pid, &status, WNOHANG), 0) << "the second did not wait";
  EXPECT_FALSE(ws.exists("data/qsc_canary_weights.json"));
  EXPECT_FALSE(ws.exists("data/qsc_state.json"));

  ::kill(first.pid, SIGCONT);
  auto r1 = ws.wait(first);
  reaper.pid = -1;
  auto r2 = ws.wait(second);
  EXPECT_EQ(r1.exit_code, 0) << r1.all();
  EXPECT_TRUE(r1.has("CANARY ACTIVATED")) << r1.all();
  EXPECT_EQ(r2.exit_code, 2) << r2.all();
  EXPECT_TRUE(r2.has("a canary is already active: patchtst")) << r2.all();
  // Exactly the first's canary, whole.
  EXPECT_EQ(ws.read("data/baseline_model_weights.json"), kCrashLive);
  const auto canary = json::parse(ws.read("data/qsc_canary_weights.json"));
  EXPECT_DOUBLE_EQ(canary.value("patchtst", 0.0), 0.10);
  EXPECT_NE(ws.read("data/systemd_overrides/qsc_canary.conf").find("QSC_CANARY_MODEL=patchtst\n"),
            std::string::npos);
  EXPECT_EQ((*ws.state())["canary_model"], "patchtst");
  EXPECT_EQ(ws.audit("canary_activated").size(), 1u);
}

}  // namespace
}  // namespace qsc::test

// The agent names no action: what it does with one comes from its descriptor flags. A failing
// action called "pager" (a name the agent has never heard of) that declares QSC_FLAG_BEST_EFFORT
// is reported and never fails a transition, and in a rollback it runs after the postconditions
// with notify; the same action without the flag is essential and its failure undoes the
// activation. The built `qsc` over a copy of the built plugin directory, a real redis-server.
#include <sys/stat.h>

#include "lifecycle/lifecycle_harness.hpp"

namespace qsc::test {
namespace {

using nlohmann::json;

const std::string kLive = "{\"xgb\": 0.25, \"lgbm\": 0.25, \"nhits\": 0.3, \"patchtst\": 0.2}\n";

class ActionFlags : public LifecycleTest {
 protected:
  // The built plugins plus `pager`, configured as plugins.dir, with pager after notify.
  void use_plugins_with_pager(const fs::path& pager) {
    const auto dir = ws.side() / "plugins";
    fs::create_directories(dir);
    ::chmod(dir.c_str(), 0755);
    const auto built = fs::path(QSC_BINARY).parent_path().parent_path() / "lib/qsc/plugins";
    for (const auto& e : fs::directory_iterator(built)) {
      if (e.path().extension() == ".so") fs::copy_file(e.path(), dir / e.path().filename());
    }
    fs::copy_file(pager, dir / "pager.so");
    ws.config["plugins"]["dir"] = dir.string();
    ws.config["plugins"]["actions"] = {"rollback", "systemd", "notify", "pager"};
    ws.use_live_weights(kLive);
    ws.publish(0, 250, kRecentCutoverMs, 1000, Flaw::kHealthy);
  }
};

TEST_F(ActionFlags, ABestEffortActionsFailureIsReportedNeverFatalAndRunsAfterTheCheck) {
  use_plugins_with_pager(QSC_TEST_PAGER_BEST_EFFORT);
  auto r = ws.run({"activate", "--model", "patchtst", "--cutover", kRecentCutoverIso});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(r.has("cannot reach the pager")) << r.all();
  ASSERT_TRUE(ws.exists("data/qsc_canary_weights.json"));

  r = ws.run({"rollback", "--reason", "flags test"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const auto entries = ws.audit("rollback_executed");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["result"], "ok") << entries[0].dump();
  std::vector<std::string> order;
  for (const auto& a : entries[0]["actions"]) order.push_back(a["action"]);
  // The best-effort actions last, in their configured order, after the postconditions.
  EXPECT_EQ(order, (std::vector<std::string>{"rollback", "systemd", "notify", "pager"}));
  EXPECT_EQ(entries[0]["actions"][3]["result"], "failed") << entries[0].dump();
}

TEST_F(ActionFlags, TheSameActionWithoutTheFlagIsEssentialAndItsFailureUndoesTheActivation) {
  use_plugins_with_pager(QSC_TEST_PAGER_ESSENTIAL);
  auto r = ws.run({"activate", "--model", "patchtst", "--cutover", kRecentCutoverIso});
  EXPECT_NE(r.exit_code, 0) << r.all();
  EXPECT_TRUE(r.has("pager: action error: cannot reach the pager")) << r.all();
  EXPECT_FALSE(ws.exists("data/qsc_canary_weights.json")) << r.all();
}

}  // namespace
}  // namespace qsc::test

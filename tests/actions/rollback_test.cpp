// The rollback action: byte-identical restore, idempotence, refusal without a usable baseline.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "action_harness.hpp"

namespace qsc::test {
namespace {

namespace fs = std::filesystem;

// Unusual but valid formatting: the restore must copy bytes, not re-serialise JSON.
const std::string kBaseline =
    "{\n  \"xgb\": 0.25,\n  \"lgbm\": 0.25,\n  \"nhits\": 0.30,\n  \"patchtst\": 0.20\n}\n";

class RollbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host_ = {{"paths",
              {{"live_weights", (dir_ / "live.json").string()},
               {"baseline_weights", (dir_ / "data/baseline_model_weights.json").string()},
               {"canary_weights", (dir_ / "data/qsc_canary_weights.json").string()},
               {"override_dir", (dir_ / "data/systemd_overrides").string()}}}};
  }

  void activate() {
    write_text(dir_ / "data/baseline_model_weights.json", kBaseline);
    write_text(dir_ / "live.json", R"({"patchtst":0.1,"xgb":0.281,"lgbm":0.281,"nhits":0.338})",
               0640);
    write_text(dir_ / "data/qsc_canary_weights.json", R"({"patchtst":0.1})");
    write_text(dir_ / "data/systemd_overrides/qsc_canary.conf", "[Service]\n");
  }

  std::unique_ptr<LoadedAction> load() {
    auto a = LoadedAction::load("rollback", nlohmann::json::object(), host_);
    EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.error().message);
    return a.ok() ? std::move(a).value() : nullptr;
  }

  TempDir dir_;
  nlohmann::json host_;
};

TEST_F(RollbackTest, RestoresTheBaselineByteForByteAndRemovesTheCanaryFiles) {
  activate();
  auto action = load();
  ASSERT_TRUE(action);
  const auto out = action->run(sample_incident());
  EXPECT_TRUE(out.ok) << out.detail;
  EXPECT_EQ(out.action, "rollback");
  EXPECT_EQ(read_text(dir_ / "live.json"), kBaseline);
  EXPECT_FALSE(fs::exists(dir_ / "data/qsc_canary_weights.json"));
  EXPECT_FALSE(fs::exists(dir_ / "data/systemd_overrides/qsc_canary.conf"));
  EXPECT_NE(out.detail.find("restored " + (dir_ / "live.json").string()), std::string::npos)
      << out.detail;
  EXPECT_NE(out.detail.find("patchtst 0.2"), std::string::npos) << out.detail;
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "live.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u) << "the live weights keep their permissions";
  // No temporary file is left beside the live weights.
  for (const auto& e : fs::directory_iterator(dir_.path())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  }
}

TEST_F(RollbackTest, RunningTwiceIsHarmless) {
  activate();
  auto action = load();
  ASSERT_TRUE(action);
  ASSERT_TRUE(action->run(sample_incident()).ok);
  const auto second = action->run(sample_incident());
  EXPECT_TRUE(second.ok) << second.detail;
  EXPECT_NE(second.detail.find("nothing to roll back"), std::string::npos) << second.detail;
  EXPECT_EQ(read_text(dir_ / "live.json"), kBaseline);
}

TEST_F(RollbackTest, NothingActiveIsNothingToRollBack) {
  auto action = load();
  ASSERT_TRUE(action);
  const auto out = action->run(sample_incident());
  EXPECT_TRUE(out.ok);
  EXPECT_NE(out.detail.find("nothing to roll back"), std::string::npos) << out.detail;
  EXPECT_FALSE(fs::exists(dir_ / "live.json"));
}

TEST_F(RollbackTest, MissingBaselineIsRefusedAndNothingIsTouched) {
  activate();
  fs::remove(dir_ / "data/baseline_model_weights.json");
  auto action = load();
  ASSERT_TRUE(action);
  const auto out = action->run(sample_incident());
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.detail.find((dir_ / "data/baseline_model_weights.json").string() +
                            " is missing or unreadable"),
            std::string::npos)
      << out.detail;
  EXPECT_NE(out.detail.find("No such file or directory"), std::string::npos) << out.detail;
  EXPECT_NE(out.detail.find("paths.baseline_weights"), std::string::npos) << out.detail;
  EXPECT_TRUE(fs::exists(dir_ / "data/qsc_canary_weights.json"));
  EXPECT_TRUE(fs::exists(dir_ / "data/systemd_overrides/qsc_canary.conf"));
  EXPECT_NE(read_text(dir_ / "live.json"), kBaseline);
}

TEST_F(RollbackTest, GarbageBaselineIsRefusedWithItsReason) {
  struct Case {
    std::string content;
    std::string reason;
  };
  const Case cases[] = {
      {"not json at all", "not valid JSON"},
      {"[0.25, 0.75]", "expected a JSON object, got array"},
      {"{}", "names no model"},
      {R"({"xgb": "0.25"})", "the weight of \"xgb\" is \"0.25\""},
      {R"({"xgb": -1})", "the weight of \"xgb\" is -1"},
  };
  for (const auto& c : cases) {
    activate();
    write_text(dir_ / "data/baseline_model_weights.json", c.content);
    auto action = load();
    ASSERT_TRUE(action);
    const auto out = action->run(sample_incident());
    EXPECT_FALSE(out.ok) << c.content;
    EXPECT_NE(out.detail.find("the baseline backup " +
                              (dir_ / "data/baseline_model_weights.json").string() +
                              " is not a JSON object of model -> weight"),
              std::string::npos)
        << out.detail;
    EXPECT_NE(out.detail.find(c.reason), std::string::npos) << out.detail;
    EXPECT_TRUE(fs::exists(dir_ / "data/qsc_canary_weights.json"));
  }
}

TEST_F(RollbackTest, WithoutLiveWeightsFileOnlyTheCanaryFilesGo) {
  host_["paths"]["live_weights"] = "";
  activate();
  auto action = load();
  ASSERT_TRUE(action);
  const auto out = action->run(sample_incident());
  EXPECT_TRUE(out.ok) << out.detail;
  EXPECT_NE(out.detail.find("no live weights file configured"), std::string::npos) << out.detail;
  EXPECT_FALSE(fs::exists(dir_ / "data/qsc_canary_weights.json"));
}

TEST_F(RollbackTest, FinalizeRemovesTheCanaryFilesButKeepsTheLiveWeights) {
  activate();
  const std::string live = read_text(dir_ / "live.json");
  auto action = load();
  ASSERT_TRUE(action);
  const auto out = action->run(sample_incident(IncidentKind::kFinalize));
  EXPECT_TRUE(out.ok) << out.detail;
  EXPECT_EQ(read_text(dir_ / "live.json"), live);
  EXPECT_FALSE(fs::exists(dir_ / "data/qsc_canary_weights.json"));
  EXPECT_FALSE(fs::exists(dir_ / "data/systemd_overrides/qsc_canary.conf"));
}

TEST_F(RollbackTest, OtherKindsHaveNothingToDo) {
  activate();
  auto action = load();
  ASSERT_TRUE(action);
  for (auto kind : {IncidentKind::kActivate, IncidentKind::kPromote, IncidentKind::kResolved}) {
    const auto out = action->run(sample_incident(kind));
    EXPECT_TRUE(out.ok);
    EXPECT_NE(out.detail.find("nothing to do"), std::string::npos) << out.detail;
  }
  EXPECT_TRUE(fs::exists(dir_ / "data/qsc_canary_weights.json"));
}

TEST_F(RollbackTest, UnknownSectionKeyIsRefused) {
  auto a = LoadedAction::load("rollback", {{"baseline", "x"}}, host_);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find("unknown key \"baseline\""), std::string::npos)
      << a.error().message;
}

}  // namespace
}  // namespace qsc::test

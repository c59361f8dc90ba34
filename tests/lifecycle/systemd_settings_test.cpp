// Issue 15 section 2: the systemd action's settings (unit, dropin_dir, systemctl) live in
// plugins.config.systemd like every plugin's; the top-level "systemd" section still works for
// one release as a deprecated alias with a warning on stderr, and a file with both is refused.
// Driven through the built qsc: the settings must reach the systemd action (the stub systemctl
// it runs, the drop-in directory it installs into) and the agent's own checks alike.
#include "lifecycle/lifecycle_harness.hpp"

namespace qsc::test {
namespace {

using nlohmann::json;

const char* const kMovedKeys[] = {"unit", "dropin_dir", "systemctl"};

class SystemdSettings : public LifecycleTest {
 protected:
  /// Moves the harness's unit, dropin_dir and systemctl to the deprecated top-level section.
  void use_deprecated_section() {
    auto& section = ws.config["plugins"]["config"]["systemd"];
    for (const char* key : kMovedKeys) {
      ws.config["systemd"][key] = section[key];
      section.erase(key);
    }
  }
  /// `qsc config`'s JSON (after its two comment lines).
  static json effective(const QscRun& run) {
    const auto brace = run.out.find('{');
    if (brace == std::string::npos) return json();
    return json::parse(run.out.substr(brace), nullptr, false);
  }
  /// Activates patchtst on healthy telemetry, which runs the systemd action.
  QscRun activate() {
    ws.publish(0, 300, kRecentCutoverMs + 500, 1000, Flaw::kHealthy);
    return ws.run({"activate", "--model", "patchtst", "--cutover", kRecentCutoverIso});
  }
  void expect_systemd_action_used_the_settings() {
    EXPECT_TRUE(fs::exists(ws.installed_dropin())) << ws.installed_dropin();
    EXPECT_EQ(ws.systemctl_calls(),
              (std::vector<std::string>{"daemon-reload", std::string("restart ") + kUnit,
                                        std::string("is-active ") + kUnit}));
  }
};

TEST_F(SystemdSettings, ThePluginSectionIsTheirPlace) {
  const auto shown = ws.run({"config"});
  ASSERT_EQ(shown.exit_code, 0) << shown.all();
  EXPECT_FALSE(shown.has("deprecated")) << shown.err;
  const auto doc = effective(shown);
  ASSERT_TRUE(doc.is_object()) << shown.out;
  EXPECT_FALSE(doc.contains("systemd")) << "no top-level systemd section in the effective one";
  const auto& section = doc["plugins"]["config"]["systemd"];
  for (const char* key : kMovedKeys) {
    EXPECT_EQ(section[key], ws.config["plugins"]["config"]["systemd"][key]) << key;
  }
  const auto r = activate();
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_FALSE(r.has("deprecated")) << r.err;
  expect_systemd_action_used_the_settings();
}

TEST_F(SystemdSettings, TheTopLevelSectionStillWorksAndWarnsPerKey) {
  const auto configured = ws.config["plugins"]["config"]["systemd"];
  use_deprecated_section();
  const auto shown = ws.run({"config"});
  ASSERT_EQ(shown.exit_code, 0) << shown.all();
  for (const char* key : kMovedKeys) {
    EXPECT_NE(shown.err.find(std::string("qsc: warning: configuration key \"systemd.") + key +
                             "\" is deprecated: move it to \"plugins.config.systemd." + key + "\""),
              std::string::npos)
        << shown.err;
  }
  EXPECT_EQ(shown.out.find("deprecated"), std::string::npos) << "warnings go to stderr only";
  const auto doc = effective(shown);
  ASSERT_TRUE(doc.is_object()) << shown.out;
  EXPECT_FALSE(doc.contains("systemd"));
  for (const char* key : kMovedKeys) {
    EXPECT_EQ(doc["plugins"]["config"]["systemd"][key], configured[key]) << key;
  }
  const auto r = activate();
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(r.has("\"systemd.dropin_dir\" is deprecated")) << r.err;
  // installed_dropin() reads the harness's configuration: point it at the old place's value.
  ws.config["plugins"]["config"]["systemd"]["dropin_dir"] = configured["dropin_dir"];
  expect_systemd_action_used_the_settings();
}

TEST_F(SystemdSettings, BothPlacesAtOnceAreRefusedWithExitTwo) {
  ws.config["systemd"] = {{"unit", kUnit}};
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"config"},
        std::vector<std::string>{"activate", "--model", "patchtst", "--cutover",
                                 kRecentCutoverIso}}) {
    const auto r = ws.run(args);
    EXPECT_EQ(r.exit_code, 2) << r.all();
    EXPECT_TRUE(
        r.has("the deprecated top-level \"systemd\" section and "
              "plugins.config.systemd.unit, plugins.config.systemd.dropin_dir, "
              "plugins.config.systemd.systemctl are both set: keep only "
              "plugins.config.systemd"))
        << r.err;
  }
  EXPECT_FALSE(ws.exists("data/qsc_canary_weights.json"));
  EXPECT_TRUE(ws.systemctl_calls().empty());
}

}  // namespace
}  // namespace qsc::test

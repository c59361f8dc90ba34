// The plain C plugin (tests/plugins/test_plugins/c_conf_floor.c) as a user meets it: built as C
// with no C++ runtime, dropped into the plugin directory beside the built-in plugins, its section
// checked by `qsc config` against its schema, listed with the schema by `qsc plugins list
// --json`, and firing in `qsc replay` over a recording, where it names the rollback.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "monitor/e2e_harness.hpp"
#include "qsc/plugin_abi.h"
#include "qsc/process.hpp"
#include "replay/recording.hpp"

namespace qsc::c_plugin_test {
namespace {

namespace fs = std::filesystem;
using agent::CanaryBehaviour;
using monitor_test::Child;
using monitor_test::read_text;

class CPlugin : public monitor_test::MonitorE2E {
 protected:
  // A plugin directory with every built plugin and the C one, the configuration pointing at it.
  fs::path plugins() {
    const auto dir = dir_ / "plugins";
    fs::create_directories(dir);
    ::chmod(dir.c_str(), 0755);
    for (const auto& e : fs::directory_iterator(QSC_TEST_BUILD_PLUGIN_DIR)) {
      if (e.path().extension() == ".so") {
        fs::copy_file(e.path(), dir / e.path().filename(), fs::copy_options::overwrite_existing);
      }
    }
    fs::copy_file(QSC_TEST_C_PLUGIN, dir / "c_conf_floor.so", fs::copy_options::overwrite_existing);
    return dir;
  }
  // A recording of healthy events one hour ago, 100 ms apart, for 70 s.
  fs::path healthy_recording() {
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    replay_test::RecordingWriter writer(dir_ / "rec.jsonl", 23);
    writer.append(CanaryBehaviour::kHealthy, 700, (now_ms / 1000) * 1000 - 3'600'000, 100);
    return dir_ / "rec.jsonl";
  }
  Child replay() {
    return run_qsc({"replay", "--file", healthy_recording().string(), "--model", "patchtst",
                    "--duration", "60s", "--interval", "10s", "--json",
                    (dir_ / "replay.json").string()});
  }
  void configure(const nlohmann::json& section) {
    write_config(
        {{"plugins", {{"dir", plugins().string()}, {"config", {{"c_conf_floor", section}}}}}});
  }
};

// Compiled as C and linked as C: the library needs no C++ runtime.
TEST_F(CPlugin, IsLinkedWithoutTheCxxRuntime) {
  const auto run = run_program({"readelf", "-d", QSC_TEST_C_PLUGIN}, "", 30'000);
  ASSERT_TRUE(run.succeeded()) << run.output;
  EXPECT_NE(run.output.find("(NEEDED)"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("libstdc++"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("libqsc"), std::string::npos) << run.output;
}

TEST_F(CPlugin, FiresInReplayAndNamesTheRollback) {
  configure({{"min_conf_mean", 0.99}});
  auto c = replay();
  ASSERT_EQ(c.exit_code, 1) << c.stdout_text() << c.stderr_text();
  const auto report = nlohmann::json::parse(read_text(dir_ / "replay.json"));
  bool named = false;
  for (const auto& f : report["first_violations"]) {
    if (f["detector"] != "c_conf_floor") continue;
    named = true;
    ASSERT_FALSE(f["violations"].empty()) << f.dump();
    EXPECT_NE(f["violations"][0].get<std::string>().find("C conf floor: conf_mean="),
              std::string::npos)
        << f.dump();
  }
  EXPECT_TRUE(named) << report.dump(2);
}

TEST_F(CPlugin, AtItsDefaultItStaysQuietOnAHealthyRecording) {
  configure(nlohmann::json::object());
  auto c = replay();
  EXPECT_EQ(c.exit_code, 0) << c.stdout_text() << c.stderr_text();
}

TEST_F(CPlugin, QscConfigChecksItsSectionAgainstItsSchema) {
  configure({{"min_conf_mean", 1.5}});
  auto c = run_qsc({"config"});
  EXPECT_EQ(c.exit_code, 2) << c.stdout_text() << c.stderr_text();
  EXPECT_NE(c.stderr_text().find("plugins.config.c_conf_floor.min_conf_mean: must be a number "
                                 "from 0 to 1, got 1.5"),
            std::string::npos)
      << c.stderr_text();

  configure({{"min_conf_mean", 0.5}, {"min_conf_man", 0.5}});
  c = run_qsc({"config"});
  EXPECT_EQ(c.exit_code, 2) << c.stdout_text() << c.stderr_text();
  EXPECT_NE(c.stderr_text().find("plugins.config.c_conf_floor: unknown key \"min_conf_man\" "
                                 "(allowed: min_conf_mean)"),
            std::string::npos)
      << c.stderr_text();

  configure({{"min_conf_mean", "high"}});
  c = run_qsc({"config"});
  EXPECT_EQ(c.exit_code, 2);
  EXPECT_NE(c.stderr_text().find("plugins.config.c_conf_floor.min_conf_mean: must be a number"),
            std::string::npos)
      << c.stderr_text();

  configure({{"min_conf_mean", 0.5}});
  c = run_qsc({"config"});
  EXPECT_EQ(c.exit_code, 0) << c.stdout_text() << c.stderr_text();
}

TEST_F(CPlugin, PluginsListShowsItsSchemaAndFlags) {
  configure(nlohmann::json::object());
  auto c = run_qsc({"plugins", "list", "--json"});
  ASSERT_EQ(c.exit_code, 0) << c.stdout_text() << c.stderr_text();
  const auto doc = nlohmann::json::parse(c.stdout_text());
  bool listed = false;
  for (const auto& p : doc["plugins"]) {
    if (p["name"] != "c_conf_floor") continue;
    listed = true;
    EXPECT_EQ(p["status"], "loaded") << p.dump();
    // Built against this tree's qsc/plugin_abi.h, so it declares that ABI.
    EXPECT_EQ(p["abi"],
              std::to_string(QSC_PLUGIN_ABI_MAJOR) + "." + std::to_string(QSC_PLUGIN_ABI_MINOR));
    EXPECT_EQ(p["config_schema"]["min_conf_mean"]["default"], 0.3) << p.dump();
    EXPECT_EQ(p["flags"], nlohmann::json::array()) << p.dump();
  }
  EXPECT_TRUE(listed) << c.stdout_text();
}

}  // namespace
}  // namespace qsc::c_plugin_test

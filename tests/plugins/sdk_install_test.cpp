// The SDK as a plugin author gets it: `cmake --install` into a temporary prefix, the example
// detector configured and built out of tree with nothing but find_package(QscSdk), dropped into
// a plugin directory beside the in-tree detectors, then loaded and firing.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "plugin_test_support.hpp"

namespace qsc::test {
namespace {

namespace fs = std::filesystem;

TEST(SdkInstall, AnOutOfTreeDetectorBuildsWithFindPackageLoadsAndFires) {
  TempDir work;
  const auto prefix = work / "prefix";
  const std::string cmake = shell_quote(QSC_TEST_CMAKE);
  auto run = run_program(cmake + " --install " + shell_quote(QSC_TEST_BINARY_DIR) + " --prefix " +
                             shell_quote(prefix.string()) + " --component qsc_sdk",
                         true);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(fs::exists(prefix / "include/qsc/plugin.hpp"));
  EXPECT_TRUE(fs::exists(prefix / "include/qsc/plugin_abi.h"));
  EXPECT_TRUE(fs::exists(prefix / "lib/libqsc_sdk.a"));
  EXPECT_TRUE(fs::exists(prefix / "lib/cmake/QscSdk/QscSdkConfig.cmake"));
  EXPECT_TRUE(fs::exists(prefix / "lib/cmake/QscSdk/QscPlugin.cmake"));

  // The installed libqsc_sdk.a carries the sanitizers of this build; the plugin must match.
  std::string flags;
  if (std::string(QSC_TEST_SANITIZE).size() > 0) {
    const std::string f = "-fsanitize=" + std::string(QSC_TEST_SANITIZE);
    flags =
        " -DCMAKE_CXX_FLAGS=" + shell_quote(f) + " -DCMAKE_MODULE_LINKER_FLAGS=" + shell_quote(f);
  }
  const auto build = work / "build";
  run = run_program(
      cmake + " -S " +
          shell_quote(std::string(QSC_TEST_SOURCE_DIR) + "/sdk/examples/example_detector") +
          " -B " + shell_quote(build.string()) +
          " -DCMAKE_PREFIX_PATH=" + shell_quote(prefix.string()) + " -DCMAKE_BUILD_TYPE=Release" +
          " -DCMAKE_CXX_COMPILER=" + shell_quote(QSC_TEST_CXX_COMPILER) + flags,
      true);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  run = run_program(cmake + " --build " + shell_quote(build.string()), true);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto library = build / "plugins/low_confidence.so";
  ASSERT_TRUE(fs::exists(library)) << run.output;

  const auto plugins = work / "plugins";
  fs::create_directory(plugins);
  ::chmod(plugins.c_str(), 0755);
  for (const auto& d : detector_names()) install_plugin(detector_library(d), plugins, d + ".so");
  // The required set is complete (plugins list exits 2 otherwise).
  install_plugin(fs::path(QSC_TEST_BUILD_PLUGIN_DIR) / "rollback.so", plugins, "rollback.so");
  install_plugin(library, plugins, "low_confidence.so", 0644);

  {
    auto opened = agent::PluginHost::open(plugins, host_config());
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    auto& host = opened.value();
    ASSERT_TRUE(host.has("low_confidence")) << record_named(host, "low_confidence").reason;
    EXPECT_EQ(host.detector_names().size(), 12u);
    Scenario s;
    s.canary().conf_mean = 0.41;
    bool fired = false;
    for (const auto& c : host.check_all(s.input())) {
      if (c.detector != "low_confidence") continue;
      fired = true;
      EXPECT_EQ(c.result.verdict, Verdict::kViolation);
      EXPECT_EQ(c.result.message, "Low confidence: conf_mean=0.4100 (<0.55)");
    }
    EXPECT_TRUE(fired);
  }

  std::ofstream(work / "qsc.json")
      << nlohmann::json{{"plugins", {{"dir", plugins.string()}}}}.dump();
  run = run_program(shell_quote(QSC_TEST_QSC) + " --config " +
                    shell_quote((work / "qsc.json").string()) + " plugins list --json");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  auto doc = nlohmann::json::parse(run.output);
  bool listed = false;
  for (const auto& p : doc["plugins"]) {
    if (p["name"] != "low_confidence") continue;
    listed = true;
    EXPECT_EQ(p["status"], "loaded") << p.dump();
    EXPECT_EQ(p["effective_config"], (nlohmann::json{{"min_conf_mean", 0.55}}));
  }
  EXPECT_TRUE(listed) << run.output;
}

}  // namespace
}  // namespace qsc::test

// `qsc plugins list` and `qsc plugins reload`, run as a user runs them: the built qsc with a
// configuration file naming a plugin directory.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "core/sha256.hpp"
#include "plugin_test_support.hpp"
#include "qsc/version.hpp"

namespace qsc::test {
namespace {

namespace fs = std::filesystem;

/// A plugin directory with the required set (the eleven detectors and the rollback action) and a
/// configuration file pointing at it.
struct CliFixture {
  TempDir work;
  fs::path plugins = work / "plugins";
  fs::path config = work / "qsc.json";

  explicit CliFixture(const nlohmann::json& sections = nlohmann::json::object()) {
    fs::create_directory(plugins);
    ::chmod(plugins.c_str(), 0755);
    for (const auto& d : detector_names()) install_plugin(detector_library(d), plugins, d + ".so");
    install_plugin(fs::path(QSC_TEST_BUILD_PLUGIN_DIR) / "rollback.so", plugins, "rollback.so");
    write_config(sections);
  }
  void write_config(const nlohmann::json& sections) {
    std::ofstream(config)
        << nlohmann::json{{"plugins", {{"dir", plugins.string()}, {"config", sections}}}}.dump();
  }
  ProgramResult qsc(const std::string& args, bool merge_stderr = false) {
    return run_program(
        shell_quote(QSC_TEST_QSC) + " --config " + shell_quote(config.string()) + " " + args,
        merge_stderr);
  }
};

TEST(QscPlugins, ListJsonShowsTheElevenDetectorsWithTheirThresholds) {
  CliFixture f;
  fs::remove(f.plugins / "rollback.so");
  install_plugin(fs::path(QSC_TEST_BUILD_PLUGIN_DIR) / "rollback.so", f.plugins, "zz_rollback.so");
  auto run = f.qsc("plugins list --json");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  auto doc = nlohmann::json::parse(run.output);
  EXPECT_EQ(doc["dir"], f.plugins.string());
  EXPECT_EQ(doc["startup_errors"], nlohmann::json::array());
  EXPECT_EQ(doc["required_missing"], nlohmann::json::array());
  ASSERT_EQ(doc["plugins"].size(), 12u);
  EXPECT_EQ(doc["plugins"][11]["name"], "rollback");
  EXPECT_EQ(doc["plugins"][11]["kind"], "action");
  doc["plugins"].erase(11);
  std::vector<std::string> names;
  for (const auto& p : doc["plugins"]) {
    names.push_back(p["name"]);
    EXPECT_EQ(p["status"], "loaded") << p.dump();
    EXPECT_EQ(p["kind"], "detector");
    // The listing digests what it loads (the monitor's period record shows the same digest).
    {
      std::ifstream in(f.plugins / (p["name"].get<std::string>() + ".so"), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
      EXPECT_EQ(p["sha256"], agent::sha256_hex(bytes)) << p["name"];
    }
    EXPECT_EQ(p["version"], "1.0.0");
    EXPECT_EQ(p["abi"], std::to_string(QSC_ABI_MAJOR) + "." + std::to_string(QSC_ABI_MINOR));
    EXPECT_EQ(p["file"], (f.plugins / (p["name"].get<std::string>() + ".so")).string());
    EXPECT_FALSE(p["description"].get<std::string>().empty());
  }
  EXPECT_EQ(names, detector_names());
  EXPECT_EQ(doc["plugins"][0]["effective_config"],
            (nlohmann::json{{"max_share_pct", 70.0}, {"attribution", "canary"}}));
}

TEST(QscPlugins, ListTextShowsStatusReasonAndThresholds) {
  CliFixture f(nlohmann::json{{"dead_zone", {{"max_hold_pct", 90}}}});
  std::ofstream(f.plugins / "broken.so") << "not a library";
  ::chmod((f.plugins / "broken.so").c_str(), 0644);
  auto run = f.qsc("plugins list");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("Plugin directory: " + f.plugins.string()), std::string::npos);
  EXPECT_NE(run.output.find("    rejected: not a shared library: no ELF header"), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("    thresholds: {\"attribution\":\"canary\",\"max_hold_pct\":90.0}"),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("12 loaded, 1 rejected"), std::string::npos) << run.output;
}

// A required plugin missing (the rollback action) or rejected (a group-writable detector, as
// an install under umask 002 leaves it) makes the list exit 2, each named with its reason.
TEST(QscPlugins, ARequiredPluginNotLoadedExits2NamingItAndWhy) {
  CliFixture f;
  fs::remove(f.plugins / "rollback.so");
  ::chmod((f.plugins / "telemetry_stale.so").c_str(), 0775);
  auto run = f.qsc("plugins list", true);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("required plugins not loaded from " + f.plugins.string()),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("  - rollback (no rollback.so in the plugin directory)"),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("  - telemetry_stale (" + (f.plugins / "telemetry_stale.so").string() +
                            " rejected: "),
            std::string::npos)
      << run.output;
  run = f.qsc("plugins list --json");
  EXPECT_EQ(run.exit_code, 2) << run.output;
  auto doc = nlohmann::json::parse(run.output);
  ASSERT_EQ(doc["required_missing"].size(), 2u) << run.output;
  EXPECT_EQ(doc["required_missing"][0].get<std::string>().rfind("telemetry_stale (", 0), 0u);
  EXPECT_EQ(doc["required_missing"][1], "rollback (no rollback.so in the plugin directory)");
}

TEST(QscPlugins, AMissingPluginDirectoryExits2) {
  CliFixture f;
  fs::remove_all(f.plugins);
  auto run = f.qsc("plugins list", true);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.output.find("plugin directory " + f.plugins.string() + " cannot be read"),
            std::string::npos)
      << run.output;
}

TEST(QscPlugins, ReloadShowsTheSetAndARefusedSectionExits1) {
  CliFixture f;
  auto run = f.qsc("plugins reload");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("12 loaded, 0 rejected"), std::string::npos) << run.output;
  f.write_config(nlohmann::json{{"model_chaos", {{"max_hard_disagree_pct", -1}}}});
  run = f.qsc("plugins reload");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("plugin model_chaos: configuration refused: "
                            "plugins.config.model_chaos.max_hard_disagree_pct: must be a number "
                            "from 0 and below 100 (at 100 the check could never fire), got -1"),
            std::string::npos)
      << run.output;
}

}  // namespace
}  // namespace qsc::test

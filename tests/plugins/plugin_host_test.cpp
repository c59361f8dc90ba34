// The loader with real libraries: every rejection case asserts its reason text; a detector that
// throws or errs counts as a violation and the host keeps running; actions run in order; reload
// swaps the plugin set and keeps unchanged instances.
#include <gtest/gtest.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <fstream>
#include <map>

#include "core/sha256.hpp"
#include "plugin_test_support.hpp"
#include "qsc/plugin.hpp"

namespace qsc::test {
namespace {

namespace fs = std::filesystem;
using agent::PluginHost;

PluginHost open_host(const TempDir& dir, const nlohmann::json& config = host_config()) {
  auto host = PluginHost::open(dir.path(), config);
  if (!host) throw std::runtime_error(host.error().message);
  return std::move(host).value();
}

/// Installs one library alone as plugin.so and returns why it was rejected (fails the test if
/// it was loaded).
std::string rejection_of(const fs::path& library) {
  TempDir dir;
  install_plugin(library, dir.path(), "plugin.so");
  auto host = open_host(dir);
  const auto& r = record_of_file(host, "plugin.so");
  EXPECT_EQ(r.status, "rejected");
  EXPECT_TRUE(host.detector_names().empty());
  return r.reason;
}

std::string abi_text() {
  return "ABI " + std::to_string(QSC_ABI_MAJOR) + "." + std::to_string(QSC_ABI_MINOR);
}

TEST(PluginHost, LoadsTheElevenDetectorsInNameOrderWithTheirThresholds) {
  TempDir dir;
  for (const auto& d : detector_names()) install_plugin(detector_library(d), dir.path(), d + ".so");
  auto host = open_host(dir);
  ASSERT_TRUE(host.startup_status().ok()) << host.startup_status().error().message;
  ASSERT_EQ(host.records().size(), 11u);
  EXPECT_EQ(host.detector_names(), detector_names());
  for (const auto& r : host.records()) {
    EXPECT_EQ(r.status, "loaded") << r.file << ": " << r.reason;
    EXPECT_EQ(r.kind, "detector");
    EXPECT_EQ(r.version, "1.0.0");
    EXPECT_EQ(r.abi_major, static_cast<std::uint32_t>(QSC_ABI_MAJOR));
    EXPECT_FALSE(r.description.empty());
    EXPECT_TRUE(r.effective_config.is_object());
    EXPECT_TRUE(host.has(r.name));
  }
  EXPECT_EQ(record_named(host, "action_collapse").effective_config,
            (nlohmann::json{{"max_share_pct", 70.0}, {"attribution", "canary"}}));
  EXPECT_EQ(record_named(host, "telemetry_stale").effective_config,
            (nlohmann::json{{"stale_after", 300.0},
                            {"max_lost_events", 0.0},
                            {"max_rejected_pct", 1.0},
                            {"canary_silent_after", 300.0}}));
  EXPECT_EQ(record_named(host, "quality_gate").effective_config["min_p10_p90"], 0.12);
  Scenario healthy;
  for (const auto& c : host.check_all(healthy.input())) {
    // distribution_shift judges the period since activation (the events a monitor feeds it): a
    // window alone brings no event, and too little data is never called healthy.
    const auto want = c.detector == "distribution_shift" ? Verdict::kInsufficient : Verdict::kPass;
    EXPECT_EQ(c.result.verdict, want) << c.detector << ": " << c.result.message;
    EXPECT_FALSE(c.result.figures.empty()) << c.detector << " reported no figure";
  }
}

// What each built-in detector judges decides where the gate and the scoreboard run it; a 1.0
// plugin (no scope field) would judge each model.
TEST(PluginHost, EachDetectorSaysWhatItJudgesAndCheckScopeRunsOnlyThose) {
  TempDir dir;
  for (const auto& d : detector_names()) install_plugin(detector_library(d), dir.path(), d + ".so");
  auto host = open_host(dir);
  ASSERT_TRUE(host.startup_status().ok()) << host.startup_status().error().message;
  const std::map<std::string, std::string> want{
      {"action_collapse", "each_model"},    {"constant_output", "each_model"},
      {"dead_zone", "each_model"},          {"distribution_shift", "canary_only"},
      {"ensemble_dysfunction", "ensemble"}, {"flat_predictions", "each_model"},
      {"inactive_canary", "canary_only"},   {"model_chaos", "ensemble"},
      {"narrow_range", "each_model"},       {"quality_gate", "each_model"},
      {"telemetry_stale", "canary_only"}};
  for (const auto& [name, scope] : want) EXPECT_EQ(record_named(host, name).scope, scope) << name;
  Scenario healthy;
  const auto names = [&](DetectorScope scope) {
    std::vector<std::string> out;
    for (const auto& c : host.check_scope(healthy.input(), scope)) out.push_back(c.detector);
    return out;
  };
  EXPECT_EQ(names(DetectorScope::kEachModel),
            (std::vector<std::string>{"action_collapse", "constant_output", "dead_zone",
                                      "flat_predictions", "narrow_range", "quality_gate"}));
  EXPECT_EQ(names(DetectorScope::kEnsemble),
            (std::vector<std::string>{"ensemble_dysfunction", "model_chaos"}));
  EXPECT_EQ(names(DetectorScope::kCanaryOnly),
            (std::vector<std::string>{"distribution_shift", "inactive_canary", "telemetry_stale"}));
}

TEST(PluginHost, RejectsAMajorAbiMismatch) {
  TempDir dir;
  install_plugin(QSC_TEST_ABI_MAJOR, dir.path(), "other.so");
  auto host = open_host(dir);
  const auto& r = record_of_file(host, "other.so");
  EXPECT_EQ(r.status, "rejected");
  EXPECT_EQ(r.abi_major, 3u);
  // The variant keeps the SDK's minor with major 3.
  EXPECT_EQ(r.reason, "plugin ABI 3." + std::to_string(QSC_ABI_MINOR) +
                          " is incompatible with this host's " + abi_text() +
                          ": rebuild it against SDK 2 (qsc/plugin_abi.h; "
                          "docs/writing-a-detector.md)");
  EXPECT_FALSE(host.has("abi_variant"));
}

// A plugin built against SDK 1 (C++ types across dlopen) is refused from its ABI block alone,
// with the fix: rebuild against SDK 2. (Its create would have made the reason "configuration
// refused: the host called create on an ABI 1 plugin".)
TEST(PluginHost, RejectsAnAbi1PluginAskingToRebuildAgainstSdk2) {
  TempDir dir;
  install_plugin(QSC_TEST_ABI_V1, dir.path(), "abi_v1.so");
  auto host = open_host(dir);
  const auto& r = record_of_file(host, "abi_v1.so");
  EXPECT_EQ(r.status, "rejected");
  EXPECT_EQ(r.abi_major, 1u);
  EXPECT_EQ(r.abi_minor, 1u);
  EXPECT_EQ(r.reason, "plugin ABI 1.1 is incompatible with this host's " + abi_text() +
                          ": rebuild it against SDK 2 (qsc/plugin_abi.h; "
                          "docs/writing-a-detector.md)");
  EXPECT_FALSE(host.has("abi_v1"));
  EXPECT_TRUE(host.startup_status().ok());
}

// A plugin of a later 2.x minor, with a descriptor larger than this host's (a field appended
// later), loads: this host reads the fields it knows and ignores the rest.
TEST(PluginHost, LoadsANewerMinorWithALargerDescriptor) {
  TempDir dir;
  install_plugin(QSC_TEST_ABI_NEWER_LARGER, dir.path(), "newer.so");
  auto host = open_host(dir);
  const auto& r = record_of_file(host, "newer.so");
  ASSERT_EQ(r.status, "loaded") << r.reason;
  EXPECT_EQ(r.abi_minor, static_cast<std::uint32_t>(QSC_ABI_MINOR + 1));
  EXPECT_EQ(r.scope, "ensemble");
  EXPECT_EQ(r.flags, QSC_FLAG_BEST_EFFORT);
  Scenario healthy;
  const auto checks = host.check_all(healthy.input());
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].result.verdict, Verdict::kPass) << checks[0].result.message;
  EXPECT_EQ(checks[0].result.message,
            "abi variant saw " + std::to_string(healthy.window.models.size()) + " models");
}

// A descriptor that ends where this SDK's optional fields begin loads, and the fields it does
// not cover read as their defaults, though the plugin's memory holds other values past its end.
TEST(PluginHost, ASmallerDescriptorLoadsWithItsMissingFieldsAsDefaults) {
  TempDir dir;
  install_plugin(QSC_TEST_MINIMAL_DESCRIPTOR, dir.path(), "minimal.so");
  auto host = open_host(dir);
  const auto& r = record_of_file(host, "minimal.so");
  ASSERT_EQ(r.status, "loaded") << r.reason;
  EXPECT_EQ(r.scope, "each_model");
  EXPECT_EQ(r.flags, QSC_FLAG_ESSENTIAL);
  EXPECT_TRUE(r.config_schema.is_null()) << r.config_schema.dump();
  EXPECT_EQ(host.flags_of("abi_variant"), std::optional<std::uint64_t>(QSC_FLAG_ESSENTIAL));
  Scenario healthy;
  EXPECT_EQ(host.check_scope(healthy.input(), DetectorScope::kEachModel).size(), 1u);
}

TEST(PluginHost, RejectsATooSmallDescriptor) {
  EXPECT_EQ(rejection_of(QSC_TEST_SMALL_DESCRIPTOR),
            "descriptor of 8 bytes is too small for " + abi_text() + " (needs at least " +
                std::to_string(QSC_PLUGIN_DESCRIPTOR_MIN_SIZE) +
                "): rebuild it against the installed SDK");
}

TEST(PluginHost, RejectsUnknownDescriptorFlags) {
  EXPECT_EQ(rejection_of(QSC_TEST_UNKNOWN_FLAGS),
            "unknown descriptor flags 0x10000000000 (this host knows " + abi_text() +
                "'s flags): upgrade qsc");
}

// The plain C plugin (no C++ runtime) loads through the host, reads its section, declares its
// schema and fires.
TEST(PluginHost, APluginInPlainCLoadsReadsItsSectionAndFires) {
  TempDir dir;
  install_plugin(QSC_TEST_C_PLUGIN, dir.path(), "c_conf_floor.so");
  auto host = open_host(dir, host_config({{"c_conf_floor", {{"min_conf_mean", 0.9}}}}));
  ASSERT_TRUE(host.startup_status().ok()) << host.startup_status().error().message;
  const auto& r = record_named(host, "c_conf_floor");
  ASSERT_EQ(r.status, "loaded") << r.reason;
  EXPECT_EQ(r.effective_config, (nlohmann::json{{"min_conf_mean", 0.9}}));
  EXPECT_EQ(r.config_schema["min_conf_mean"]["max"], 1);
  Scenario s;
  s.canary().conf_mean = 0.5;
  const auto checks = host.check_all(s.input());
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].result.verdict, Verdict::kViolation);
  EXPECT_EQ(checks[0].result.message, "C conf floor: conf_mean=0.5000 (<0.9)");
  ASSERT_EQ(checks[0].result.figures.size(), 2u);
  EXPECT_EQ(checks[0].result.figures[0].name, "conf_mean");
  EXPECT_DOUBLE_EQ(checks[0].result.figures[0].value, 0.5);
  s.canary().conf_mean = 0.95;
  EXPECT_EQ(host.check_all(s.input())[0].result.verdict, Verdict::kPass);

  TempDir refused;
  install_plugin(QSC_TEST_C_PLUGIN, refused.path(), "c_conf_floor.so");
  auto bad = open_host(refused, host_config({{"c_conf_floor", {{"min_conf_mean", 7}}}}));
  ASSERT_FALSE(bad.startup_status().ok());
  EXPECT_EQ(bad.startup_status().error().message,
            "plugin c_conf_floor: configuration refused: "
            "plugins.config.c_conf_floor.min_conf_mean: must be a number from 0 to 1");
}

TEST(PluginHost, RejectsGarbageNamedSo) {
  TempDir dir;
  std::ofstream(dir / "garbage.so") << "this is not a library\n";
  ::chmod((dir / "garbage.so").c_str(), 0644);
  auto host = open_host(dir);
  const auto& r = record_of_file(host, "garbage.so");
  EXPECT_EQ(r.status, "rejected");
  EXPECT_EQ(r.name, "garbage");
  EXPECT_EQ(r.reason, "not a shared library: no ELF header");
}

TEST(PluginHost, RejectsATruncatedLibraryWithTheLoadersReason) {
  TempDir dir;
  std::ofstream(dir / "truncated.so", std::ios::binary) << "\x7f"
                                                           "ELF and then nothing useful";
  ::chmod((dir / "truncated.so").c_str(), 0644);
  auto host = open_host(dir);
  const auto& reason = record_of_file(host, "truncated.so").reason;
  EXPECT_EQ(reason.rfind("cannot be loaded: ", 0), 0u) << reason;
  EXPECT_NE(reason.find("truncated.so"), std::string::npos) << reason;
}

TEST(PluginHost, RejectsALibraryWithoutTheAbiSymbol) {
  EXPECT_EQ(rejection_of(QSC_TEST_NOT_A_PLUGIN),
            "missing symbol qsc_plugin_abi: not a QSC plugin (export it with "
            "QSC_DETECTOR_PLUGIN or QSC_ACTION_PLUGIN, or see qsc/plugin_abi.h)");
}

TEST(PluginHost, RejectsALibraryWithoutTheDescriptor) {
  EXPECT_EQ(rejection_of(QSC_TEST_NO_DESCRIPTOR),
            "missing symbol qsc_plugin_descriptor (export it with QSC_DETECTOR_PLUGIN or "
            "QSC_ACTION_PLUGIN, or see qsc/plugin_abi.h)");
}

TEST(PluginHost, RejectsAnUnknownKind) {
  EXPECT_EQ(rejection_of(QSC_TEST_BAD_KIND), "unknown plugin kind 9 (1 = detector, 2 = action)");
}

TEST(PluginHost, RejectsADuplicateNameKeepingTheFirstInFileOrder) {
  TempDir dir;
  install_plugin(detector_library("dead_zone"), dir.path(), "a_dead_zone.so");
  install_plugin(detector_library("dead_zone"), dir.path(), "b_dead_zone.so");
  auto host = open_host(dir);
  EXPECT_EQ(record_of_file(host, "a_dead_zone.so").status, "loaded");
  const auto& second = record_of_file(host, "b_dead_zone.so");
  EXPECT_EQ(second.status, "rejected");
  EXPECT_EQ(second.reason, "duplicate plugin name \"dead_zone\": already loaded from " +
                               (dir / "a_dead_zone.so").string());
  EXPECT_EQ(host.detector_names(), std::vector<std::string>{"dead_zone"});
}

TEST(PluginHost, RejectsAGroupWritableFile) {
  TempDir dir;
  const auto file = install_plugin(detector_library("dead_zone"), dir.path(), "dead_zone.so", 0775);
  install_plugin(detector_library("model_chaos"), dir.path(), "model_chaos.so", 0757);
  auto host = open_host(dir);
  EXPECT_EQ(record_of_file(host, "dead_zone.so").reason,
            "file is writable by group or others (mode 0775): chmod go-w " + file.string());
  EXPECT_EQ(record_of_file(host, "model_chaos.so").reason,
            "file is writable by group or others (mode 0757): chmod go-w " +
                (dir / "model_chaos.so").string());
  EXPECT_FALSE(host.has("dead_zone"));
}

TEST(PluginHost, RejectsEveryPluginOfAGroupWritableDirectory) {
  TempDir dir;
  install_plugin(detector_library("dead_zone"), dir.path(), "dead_zone.so");
  ::chmod(dir.path().c_str(), 0775);
  auto host = open_host(dir);
  const std::string reason = "plugin directory " + dir.path().string() +
                             " is writable by group or others (mode 0775): chmod go-w " +
                             dir.path().string();
  EXPECT_EQ(record_of_file(host, "dead_zone.so").reason, reason);
  ASSERT_FALSE(host.startup_status().ok());
  EXPECT_EQ(host.startup_status().error().message, reason);
}

TEST(PluginHost, RejectsAFileOwnedByAnotherUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file away";
  TempDir dir;
  const auto file = install_plugin(detector_library("dead_zone"), dir.path(), "dead_zone.so");
  ASSERT_EQ(::chown(file.c_str(), 65534, 65534), 0);
  auto host = open_host(dir);
  EXPECT_EQ(record_of_file(host, "dead_zone.so").reason,
            "file is owned by uid 65534, neither root nor this agent's user (uid 0): chown 0 " +
                file.string());
}

// A symlink's target lives wherever its owner chose, here a directory anyone may write: the
// target passes the file checks, but it could be swapped at any time. Links are refused.
TEST(PluginHost, RefusesASymlinkIntoAWorldWritableDirectory) {
  TempDir dir;
  TempDir open_dir;
  ASSERT_EQ(::chmod(open_dir.path().c_str(), 0777), 0);
  const auto target = install_plugin(detector_library("dead_zone"), open_dir.path(), "dz.so");
  const auto link = dir / "dead_zone.so";
  fs::create_symlink(target, link);
  auto host = open_host(dir);
  EXPECT_EQ(record_of_file(host, "dead_zone.so").status, "rejected");
  EXPECT_EQ(record_of_file(host, "dead_zone.so").reason,
            "is a symbolic link: refused, since its target is not checked; copy the library into "
            "the plugin directory instead (install -m 0755 TARGET " +
                link.string() + ")");
  EXPECT_FALSE(host.has("dead_zone"));
}

// Whoever may write a directory above the plugin directory can rename the plugin directory
// away and put their own in its place; a sticky one (/tmp) cannot be used that way.
TEST(PluginHost, RejectsEveryPluginBelowADirectoryWritableByOthers) {
  TempDir base;
  const auto plugins = base / "plugins";
  fs::create_directory(plugins);
  ASSERT_EQ(::chmod(plugins.c_str(), 0755), 0);
  install_plugin(detector_library("dead_zone"), plugins, "dead_zone.so");
  ASSERT_EQ(::chmod(base.path().c_str(), 0777), 0);
  auto host = PluginHost::open(plugins, host_config());
  ASSERT_TRUE(host.ok()) << host.error().message;
  const std::string reason = "directory " + base.path().string() +
                             " above the plugin directory is writable by group or others (mode "
                             "0777): chmod go-w " +
                             base.path().string();
  EXPECT_EQ(record_of_file(*host, "dead_zone.so").reason, reason);
  EXPECT_FALSE(host->has("dead_zone"));
  ASSERT_FALSE(host->startup_status().ok());
  EXPECT_EQ(host->startup_status().error().message, reason);

  ASSERT_EQ(::chmod(base.path().c_str(), 01777), 0);
  auto sticky = PluginHost::open(plugins, host_config());
  ASSERT_TRUE(sticky.ok()) << sticky.error().message;
  EXPECT_TRUE(sticky->has("dead_zone")) << record_of_file(*sticky, "dead_zone.so").reason;
}

// The library is loaded through the descriptor its checks read (/proc/self/fd/N), never by its
// path again: the dynamic loader's own list of loaded objects shows the name dlopen was given.
TEST(PluginHost, LoadsEachPluginThroughTheDescriptorItChecked) {
  TempDir dir;
  install_plugin(detector_library("dead_zone"), dir.path(), "dead_zone.so");
  auto host = open_host(dir);
  ASSERT_TRUE(host.has("dead_zone")) << record_of_file(host, "dead_zone.so").reason;
  std::vector<std::string> names;
  ::dl_iterate_phdr(
      [](struct dl_phdr_info* info, std::size_t, void* out) {
        if (info->dlpi_name != nullptr) {
          static_cast<std::vector<std::string>*>(out)->push_back(info->dlpi_name);
        }
        return 0;
      },
      &names);
  const auto by_path = std::count_if(names.begin(), names.end(), [&](const std::string& n) {
    return n.find(dir.path().string()) != std::string::npos;
  });
  const auto by_descriptor = std::count_if(names.begin(), names.end(), [](const std::string& n) {
    return n.rfind("/proc/self/fd/", 0) == 0;
  });
  EXPECT_EQ(by_path, 0);
  EXPECT_GE(by_descriptor, 1);
}

// Descriptor numbers are reused as soon as a host has loaded its plugins, while the libraries
// stay loaded under their /proc/self/fd/N names; dlopen matches names first, so a second host
// reusing a number must still get its own library, never the first host's.
TEST(PluginHost, TwoHostsLoadTheirOwnLibrariesThoughDescriptorNumbersAreReused) {
  TempDir first_dir;
  TempDir second_dir;
  install_plugin(detector_library("dead_zone"), first_dir.path(), "plugin.so");
  install_plugin(detector_library("model_chaos"), second_dir.path(), "plugin.so");
  auto first = open_host(first_dir);
  auto second = open_host(second_dir);
  EXPECT_EQ(first.detector_names(), std::vector<std::string>{"dead_zone"});
  EXPECT_EQ(second.detector_names(), std::vector<std::string>{"model_chaos"});
}

TEST(PluginHost, AMissingDirectoryIsAnError) {
  auto host = PluginHost::open("/nonexistent/qsc/plugins", host_config());
  ASSERT_FALSE(host.ok());
  EXPECT_EQ(host.error().message,
            "plugin directory /nonexistent/qsc/plugins cannot be read (No such file or directory): "
            "set plugins.dir in the configuration or install the plugins");
}

TEST(PluginHost, ARefusedConfigurationSectionIsAStartupError) {
  TempDir dir;
  install_plugin(detector_library("action_collapse"), dir.path(), "action_collapse.so");
  install_plugin(detector_library("dead_zone"), dir.path(), "dead_zone.so");
  auto host = open_host(dir, host_config({{"action_collapse", {{"max_share_pct", 150}}},
                                          {"dead_zone", {{"max_hold", 90}}}}));
  const std::string collapse =
      "configuration refused: plugins.config.action_collapse.max_share_pct: must be a number "
      "from 0 and below 100 (at 100 the check could never fire), got 150";
  const std::string dead_zone =
      "configuration refused: plugins.config.dead_zone: unknown key \"max_hold\" (allowed: "
      "max_hold_pct)";
  EXPECT_EQ(record_named(host, "action_collapse").reason, collapse);
  EXPECT_EQ(record_named(host, "dead_zone").reason, dead_zone);
  EXPECT_FALSE(host.has("action_collapse"));
  ASSERT_FALSE(host.startup_status().ok());
  EXPECT_EQ(host.startup_status().error().message,
            "plugin action_collapse: " + collapse + "; plugin dead_zone: " + dead_zone);
}

TEST(PluginHost, ASectionNamingNoPluginIsAStartupError) {
  TempDir dir;
  install_plugin(detector_library("action_collapse"), dir.path(), "action_collapse.so");
  auto host = open_host(dir, host_config({{"action_colapse", {{"max_share_pct", 60}}}}));
  EXPECT_TRUE(host.has("action_collapse"));
  ASSERT_FALSE(host.startup_status().ok());
  EXPECT_EQ(host.startup_status().error().message,
            "plugins.config.action_colapse: no plugin named \"action_colapse\" in " +
                dir.path().string() + " (a misspelt section would silently keep the defaults)");
}

TEST(PluginHost, AConfiguredSectionReachesThePlugin) {
  TempDir dir;
  install_plugin(detector_library("action_collapse"), dir.path(), "action_collapse.so");
  auto host = open_host(dir, host_config({{"action_collapse", {{"max_share_pct", 80}}}}));
  EXPECT_EQ(record_named(host, "action_collapse").effective_config["max_share_pct"], 80.0);
  Scenario s;
  s.set_shares(10.0, 15.0, 75.0);
  auto checks = host.check_all(s.input());
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].result.verdict, Verdict::kPass) << checks[0].result.message;
}

TEST(PluginHost, AThrowingDetectorCountsAsAViolationAndTheHostKeepsRunning) {
  TempDir dir;
  install_plugin(QSC_TEST_THROWER, dir.path(), "thrower.so");
  install_plugin(QSC_TEST_ERRORER, dir.path(), "errorer.so");
  install_plugin(detector_library("dead_zone"), dir.path(), "dead_zone.so");
  auto host = open_host(dir);
  Scenario s;
  for (int round = 0; round < 3; ++round) {
    auto checks = host.check_all(s.input());
    ASSERT_EQ(checks.size(), 3u);
    EXPECT_EQ(checks[0].detector, "dead_zone");
    EXPECT_EQ(checks[0].result.verdict, Verdict::kPass);
    EXPECT_EQ(checks[1].detector, "errorer");
    EXPECT_EQ(checks[1].result.verdict, Verdict::kError);
    EXPECT_EQ(checks[1].result.message, "errorer: cannot read the window");
    EXPECT_TRUE(checks[1].acts());
    EXPECT_EQ(checks[2].detector, "thrower");
    EXPECT_EQ(checks[2].result.verdict, Verdict::kError);
    EXPECT_EQ(checks[2].result.message, "thrower: detector error: boom");
    EXPECT_TRUE(checks[2].acts());
    EXPECT_FALSE(checks[0].acts());
  }
}

// The monitor checks at every event into results kept from the previous check (and each C++
// detector reads its input over the previous one): a kept result must come out exactly as a fresh
// one, whatever the previous check left in it (more figures, a violation's message, another
// verdict, a canary the window no longer holds, a source error).
TEST(PluginHost, ResultsWrittenOverThePreviousCheckEqualFreshOnes) {
  DetectorHost kept(detector_names());
  std::vector<agent::NamedCheck> out;
  std::vector<Scenario> steps(7);
  steps[1].set_shares(5.0, 5.0, 90.0);  // dead zone, action collapse, quality gate fire
  steps[1].canary().confidence_violations = 3;
  steps[1].canary().by_status[static_cast<std::size_t>(ConfidenceStatus::kNaN)] = 3;
  steps[2].canary().predictions = 10;  // insufficient
  steps[3].canary_present = false;
  steps[4].telemetry.source_ok = false;
  steps[4].telemetry.source_error = "connection refused by the stream's host at the last read";
  steps[5].window.models.push_back(steps[5].canary());
  steps[5].window.models.back().model = "a-model-with-a-name-longer-than-fifteen";
  steps[5].canary().conf_std = 0.0;  // flat, constant output
  steps[5].window.ensemble.agreement_pct = 95.0;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const CheckInput in = steps[i].input();
    kept.host.check_all(in, out);
    DetectorHost fresh(detector_names());
    const auto expected = fresh.host.check_all(in);
    ASSERT_EQ(out.size(), expected.size()) << "step " << i;
    for (std::size_t c = 0; c < out.size(); ++c) {
      SCOPED_TRACE("step " + std::to_string(i) + ", " + expected[c].detector);
      EXPECT_EQ(out[c].detector, expected[c].detector);
      EXPECT_EQ(out[c].result.verdict, expected[c].result.verdict);
      EXPECT_EQ(out[c].result.message, expected[c].result.message);
      ASSERT_EQ(out[c].result.figures.size(), expected[c].result.figures.size());
      for (std::size_t f = 0; f < out[c].result.figures.size(); ++f) {
        EXPECT_EQ(out[c].result.figures[f].name, expected[c].result.figures[f].name);
        EXPECT_EQ(std::bit_cast<std::uint64_t>(out[c].result.figures[f].value),
                  std::bit_cast<std::uint64_t>(expected[c].result.figures[f].value));
      }
    }
  }
  // The steps above do fire and change verdicts, so the comparison covered rewritten results.
  EXPECT_EQ(kept.check("dead_zone", steps[1]).verdict, Verdict::kViolation);
  EXPECT_EQ(kept.check("dead_zone", steps[2]).verdict, Verdict::kInsufficient);
}

TEST(PluginHost, ActionsRunInOrderAndAFailureDoesNotSkipTheRest) {
  TempDir dir;
  install_plugin(QSC_TEST_ACTION_OK, dir.path(), "test_ok.so");
  install_plugin(QSC_TEST_ACTION_FAILS, dir.path(), "test_fails.so");
  install_plugin(detector_library("dead_zone"), dir.path(), "dead_zone.so");
  auto host = open_host(dir);
  Incident incident;
  incident.canary_model = "patchtst";
  auto outcomes = host.run_actions({"test_fails", "missing", "dead_zone", "test_ok"}, incident);
  ASSERT_EQ(outcomes.size(), 4u);
  EXPECT_EQ(outcomes[0].action, "test_fails");
  EXPECT_FALSE(outcomes[0].ok);
  EXPECT_EQ(outcomes[0].detail, "action error: cannot reach the pager");
  EXPECT_EQ(outcomes[1].action, "missing");
  EXPECT_FALSE(outcomes[1].ok);
  EXPECT_EQ(outcomes[1].detail,
            "action \"missing\" is not loaded (no such plugin in " + dir.path().string() + ")");
  EXPECT_EQ(outcomes[2].detail, "action \"dead_zone\" is not loaded (it is a detector)");
  EXPECT_TRUE(outcomes[3].ok);
  EXPECT_EQ(outcomes[3].action, "test_ok");
  EXPECT_EQ(outcomes[3].detail, "saw 3 earlier outcomes for patchtst");
  EXPECT_GE(outcomes[3].duration_ms, 0.0);
}

TEST(PluginHost, RunActionNamesARejectedAction) {
  TempDir dir;
  install_plugin(QSC_TEST_ACTION_OK, dir.path(), "test_ok.so", 0666);
  auto host = open_host(dir);
  auto outcome = host.run_action("test_ok", Incident{});
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.detail.rfind("action \"test_ok\" is not loaded (rejected: file is writable", 0),
            0u)
      << outcome.detail;
}

TEST(PluginHost, ReloadLoadsNewFilesDropsRemovedOnesAndKeepsUnchangedInstances) {
  TempDir dir;
  install_plugin(QSC_TEST_COUNTER, dir.path(), "counter.so");
  install_plugin(detector_library("dead_zone"), dir.path(), "dead_zone.so");
  auto host = open_host(dir);
  Scenario s;
  host.check_all(s.input());
  host.check_all(s.input());

  install_plugin(detector_library("model_chaos"), dir.path(), "model_chaos.so");
  fs::remove(dir / "dead_zone.so");
  std::ofstream(dir / "junk.so") << "junk";
  ::chmod((dir / "junk.so").c_str(), 0644);
  PluginHost::ReloadReport report;
  ASSERT_TRUE(host.reload(&report).ok());
  EXPECT_EQ(report.added, std::vector<std::string>{"model_chaos"});
  EXPECT_EQ(report.removed, std::vector<std::string>{"dead_zone"});
  EXPECT_TRUE(report.replaced.empty());
  EXPECT_EQ(report.rejected, std::vector<std::string>{(dir / "junk.so").string() +
                                                      ": not a shared library: no ELF header"});
  EXPECT_EQ(host.detector_names(), (std::vector<std::string>{"counter", "model_chaos"}));
  EXPECT_FALSE(host.has("dead_zone"));

  // The counter's instance survived: its third call says so.
  auto checks = host.check_all(s.input());
  ASSERT_EQ(checks[0].detector, "counter");
  EXPECT_EQ(checks[0].result.message, "calls=3");

  // A file replaced on disk is loaded again (a fresh instance).
  install_plugin(QSC_TEST_COUNTER, dir.path(), "counter.so");
  ASSERT_TRUE(host.reload(&report).ok());
  EXPECT_EQ(report.replaced, std::vector<std::string>{"counter"});
  EXPECT_TRUE(report.added.empty());
  EXPECT_TRUE(report.removed.empty());
  EXPECT_EQ(host.check_all(s.input())[0].result.message, "calls=1");

  // Nothing changed: nothing reloaded.
  ASSERT_TRUE(host.reload(&report).ok());
  EXPECT_TRUE(report.unchanged());
  EXPECT_EQ(host.check_all(s.input())[0].result.message, "calls=2");
}

// A library's digest is the monitor's record of the code it judged with (and `qsc plugins
// list` shows it); every other host skips the hashing. A reload keeps the host's choice: the
// monitor compares the digests after each one.
TEST(PluginHost, DigestsEachLibraryAsLoadedWhenAskedAndOnlyThen) {
  TempDir dir;
  install_plugin(detector_library("dead_zone"), dir.path(), "dead_zone.so");
  const auto digest_of = [&](const std::string& file) {
    std::ifstream in(dir / file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return agent::sha256_hex(bytes);
  };
  const nlohmann::json config = host_config();
  auto computed = PluginHost::open(dir.path(), config, {}, agent::LibraryDigests::kCompute);
  auto skipped = PluginHost::open(dir.path(), config, {}, agent::LibraryDigests::kSkip);
  ASSERT_TRUE(computed && skipped);
  EXPECT_EQ(record_of_file(*computed, "dead_zone.so").sha256, digest_of("dead_zone.so"));
  EXPECT_EQ(record_of_file(*computed, "dead_zone.so").sha256.size(), 64u);
  EXPECT_EQ(record_of_file(*skipped, "dead_zone.so").sha256, "");
  EXPECT_TRUE(skipped->has("dead_zone"));

  install_plugin(detector_library("model_chaos"), dir.path(), "model_chaos.so");
  ASSERT_TRUE(computed->reload().ok());
  ASSERT_TRUE(skipped->reload().ok());
  EXPECT_EQ(record_of_file(*computed, "model_chaos.so").sha256, digest_of("model_chaos.so"));
  EXPECT_EQ(record_of_file(*computed, "dead_zone.so").sha256, digest_of("dead_zone.so"));
  EXPECT_EQ(record_of_file(*skipped, "model_chaos.so").sha256, "");
  EXPECT_TRUE(skipped->has("model_chaos"));
}

TEST(PluginHost, ReloadRefusesAnUnsafeDirectoryAndKeepsTheLoadedSet) {
  TempDir dir;
  install_plugin(detector_library("dead_zone"), dir.path(), "dead_zone.so");
  auto host = open_host(dir);
  ::chmod(dir.path().c_str(), 0777);
  auto status = host.reload();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message, "plugin directory " + dir.path().string() +
                                        " is writable by group or others (mode 0777): chmod go-w " +
                                        dir.path().string() + " (plugins not reloaded)");
  EXPECT_TRUE(host.has("dead_zone"));
  fs::remove_all(dir.path() / "dead_zone.so");
  ::chmod(dir.path().c_str(), 0755);
  fs::rename(dir.path(), dir.path().string() + ".gone");
  EXPECT_FALSE(host.reload().ok());
  EXPECT_TRUE(host.has("dead_zone"));
  fs::rename(dir.path().string() + ".gone", dir.path());
}

TEST(PluginHost, ReloadWithANewConfigurationRecreatesOnlyTheChangedPlugin) {
  TempDir dir;
  install_plugin(detector_library("action_collapse"), dir.path(), "action_collapse.so");
  install_plugin(detector_library("dead_zone"), dir.path(), "dead_zone.so");
  agent::Config config;
  config.plugins.dir = dir.path().string();
  auto opened = PluginHost::open(config);
  ASSERT_TRUE(opened.ok());
  auto host = std::move(opened).value();
  config.plugins.config = {{"action_collapse", {{"max_share_pct", 75}}}};
  PluginHost::ReloadReport report;
  ASSERT_TRUE(host.reload(config, &report).ok());
  EXPECT_EQ(report.replaced, std::vector<std::string>{"action_collapse"});
  EXPECT_EQ(record_named(host, "action_collapse").effective_config["max_share_pct"], 75.0);
}

}  // namespace
}  // namespace qsc::test

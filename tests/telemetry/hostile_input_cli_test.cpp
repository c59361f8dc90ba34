// The built `qsc` fed hostile input as an attacker would shape it: JSONL telemetry lines a
// million levels deep (which overflowed the stack of `qsc telemetry` and `qsc gate`), and a
// ./qsc.json in the working directory that someone else could have written.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "qsc/process.hpp"
#include "telemetry_test_util.hpp"

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMillionLevels = 1'000'000;
constexpr const char* kHostileCutoverIso = "2026-01-10T05:43:15Z";

class HostileInputCli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "qsc-hostile-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Runs qsc in dir_ (so ./qsc.json there is the one found) with `args`.
  qsc::ProcessResult run_qsc(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{"/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", dir_.string(),
                                  QSC_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return qsc::run_program(argv, "", /*timeout_ms=*/120'000);
  }

  // The bundled sample followed by two lines a million levels deep: one nests the line itself
  // (a field value that is JSON, not a string), one sends the depth inside the payload string.
  fs::path deep_recording() const {
    const auto path = dir_ / "stream.jsonl";
    fs::copy_file(QSC_SAMPLE_STREAM, path);
    std::ofstream out(path, std::ios::app);
    const std::string deep = std::string(kMillionLevels, '[') + std::string(kMillionLevels, ']');
    out << "{\"id\":\"" << qsc::test::sid(qsc::test::kCutoverMs + 3'600'000)
        << "\",\"fields\":{\"event_type\":\"trade.intent\",\"payload\":" << deep << "}}\n";
    out << "{\"id\":\"" << qsc::test::sid(qsc::test::kCutoverMs + 3'600'001)
        << "\",\"fields\":{\"event_type\":\"trade.intent\",\"payload\":\""
        << std::string(kMillionLevels, '[') << "\"}}\n";
    return path;
  }

  void write_config(const std::string& json, mode_t mode = 0644) const {
    const auto path = dir_ / "qsc.json";
    std::ofstream(path) << json;
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
  }

  fs::path dir_;
};

std::string file_config(const fs::path& recording) {
  return "{\"telemetry\": {\"source\": \"file\", \"file\": \"" + recording.string() + "\"}}\n";
}

TEST_F(HostileInputCli, TelemetryCountsAMillionLevelsDeepEntryOfEachFormAsTooDeep) {
  ASSERT_NO_FATAL_FAILURE(write_config(file_config(deep_recording())));
  const auto r = run_qsc({"telemetry", "--after", kHostileCutoverIso});
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.signal, 0) << "qsc telemetry crashed: " << qsc::describe(r) << "\n" << r.output;
  EXPECT_NE(r.output.find("too_deep=2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("nesting deeper than 64 levels"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("nesting deeper than 32 levels"), std::string::npos) << r.output;
}

TEST_F(HostileInputCli, GateCountsAMillionLevelsDeepEntryAsTooDeep) {
  ASSERT_NO_FATAL_FAILURE(write_config(file_config(deep_recording())));
  const auto r = run_qsc({"gate", "--after", kHostileCutoverIso});
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.signal, 0) << "qsc gate crashed: " << qsc::describe(r) << "\n" << r.output;
  // Two rejections in 342 entries stay under max_rejected_pct: the verdict may pass, but the
  // report counts both, by reason.
  std::vector<fs::path> reports;
  for (const auto& e : fs::directory_iterator(dir_ / "reports" / "safety")) {
    if (e.path().extension() == ".json") reports.push_back(e.path());
  }
  ASSERT_EQ(reports.size(), 1u) << r.output;
  std::ifstream in(reports[0]);
  const auto report = nlohmann::json::parse(in, nullptr, false);
  ASSERT_TRUE(report.is_object()) << reports[0];
  EXPECT_EQ(report["telemetry"]["rejected_by_reason"]["too_deep"], 2) << report["telemetry"];
  EXPECT_EQ(report["telemetry"]["rejected"], 2) << report["telemetry"];
}

TEST_F(HostileInputCli, ALocalConfigurationWritableByOthersIsRefused) {
  ASSERT_NO_FATAL_FAILURE(write_config("{}\n", 0666));
  const auto r = run_qsc({"config"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("qsc: configuration file qsc.json is writable by group or others "
                          "(mode 0666): chmod go-w qsc.json"),
            std::string::npos)
      << r.output;
}

TEST_F(HostileInputCli, ALocalConfigurationOwnedByAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file away";
  ASSERT_NO_FATAL_FAILURE(write_config("{}\n"));
  ASSERT_EQ(::chown((dir_ / "qsc.json").c_str(), 65534, 65534), 0);
  const auto r = run_qsc({"config"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("qsc: configuration file qsc.json is owned by uid 65534, neither root "
                          "nor this agent's user (uid 0): chown 0 qsc.json"),
            std::string::npos)
      << r.output;
}

TEST_F(HostileInputCli, AConfigurationAMillionLevelsDeepIsRefusedNamingTheLimit) {
  ASSERT_NO_FATAL_FAILURE(write_config("{\"x\":" + std::string(kMillionLevels, '[') +
                                       std::string(kMillionLevels, ']') + "}"));
  const auto r = run_qsc({"config"});
  EXPECT_EQ(r.signal, 0) << qsc::describe(r);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("configuration file qsc.json is refused: its JSON nesting deeper than "
                          "64 levels (at byte 68)"),
            std::string::npos)
      << r.output;
}

TEST_F(HostileInputCli, AStateFileAMillionLevelsDeepIsUnreadableNamingTheLimit) {
  ASSERT_NO_FATAL_FAILURE(write_config("{}\n"));
  fs::create_directories(dir_ / "data");
  std::ofstream(dir_ / "data" / "qsc_state.json")
      << "{\"phase\":" << std::string(kMillionLevels, '[') << std::string(kMillionLevels, ']')
      << "}";
  const auto r = run_qsc({"state"});
  EXPECT_EQ(r.signal, 0) << qsc::describe(r);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("state file data/qsc_state.json is unreadable (JSON nesting deeper "
                          "than 64 levels (at byte 72))"),
            std::string::npos)
      << r.output;
}

}  // namespace

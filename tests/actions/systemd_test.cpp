// The systemd action against a stub systemctl that records its argv and can fail or hang.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "action_harness.hpp"

namespace qsc::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kUnit = "quantum-ai_engine.service";
const std::string kDropin =
    "[Service]\nEnvironment=QSC_CANARY_MODEL=patchtst\nEnvironment=QSC_CANARY_TRAFFIC=0.10\n";

/// A systemctl stand-in. Behaviour by files in its directory: fail_<verb> (exit 1 with output),
/// hang_<verb> (sleeps 30 s in a child, pid in hang.pid), activating_checks (is-active answers
/// "activating" that many times first), inactive (is-active answers "failed").
class SystemdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stub_ = dir_ / "bin/systemctl";
    write_text(
        stub_,
        "#!/bin/sh\n"
        "d='" +
            (dir_ / "bin").string() +
            "'\n"
            "printf '%s\\n' \"$*\" >> \"$d/calls.log\"\n"
            "verb=\"$1\"\n"
            "if [ -f \"$d/hang_$verb\" ]; then sleep 30 & echo $! > \"$d/hang.pid\"; wait; fi\n"
            "if [ -f \"$d/fail_$verb\" ]; then\n"
            "  echo \"Failed to $verb: Unit $2 not found.\" >&2; echo \"stub stdout\"\n"
            "  printf '\\377\\376 not utf-8\\n'; exit 5\n"
            "fi\n"
            "if [ \"$verb\" = is-active ]; then\n"
            "  n=0; [ -f \"$d/activating_checks\" ] && n=$(cat \"$d/activating_checks\")\n"
            "  if [ \"$n\" -gt 0 ]; then echo $((n-1)) > \"$d/activating_checks\";"
            " echo activating; exit 3; fi\n"
            "  if [ -f \"$d/inactive\" ]; then echo failed; exit 3; fi\n"
            "  echo active\n"
            "fi\n"
            "exit 0\n",
        0755);
    host_ = {{"paths", {{"override_dir", (dir_ / "data/systemd_overrides").string()}}}};
    section_ = {
        {"unit", kUnit},
        {"dropin_dir", (dir_ / "etc/systemd/system" / (std::string(kUnit) + ".d")).string()},
        {"systemctl", stub_.string()},
        {"verify_timeout_ms", 2000},
        {"verify_interval_ms", 20},
        {"command_timeout_ms", 5000}};
    write_text(dir_ / "data/systemd_overrides/qsc_canary.conf", kDropin);
  }

  std::unique_ptr<LoadedAction> load() {
    auto a = LoadedAction::load("systemd", section_, host_);
    EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.error().message);
    return a.ok() ? std::move(a).value() : nullptr;
  }
  fs::path installed() const {
    return fs::path(section_["dropin_dir"].get<std::string>()) / "qsc_canary.conf";
  }
  std::string calls() const { return read_text(dir_ / "bin/calls.log"); }
  void flag(const std::string& name, const std::string& content = "") {
    write_text(dir_ / "bin" / name, content);
  }

  TempDir dir_;
  fs::path stub_;
  nlohmann::json host_;
  nlohmann::json section_;
};

const std::string kSequence =
    std::string("daemon-reload\nrestart ") + kUnit + "\nis-active " + kUnit + "\n";

TEST_F(SystemdTest, ActivateInstallsTheDropinThenReloadsRestartsAndVerifies) {
  auto action = load();
  ASSERT_TRUE(action);
  const auto out = action->run(sample_incident(IncidentKind::kActivate));
  EXPECT_TRUE(out.ok) << out.detail;
  EXPECT_EQ(calls(), kSequence);
  EXPECT_EQ(read_text(installed()), kDropin);
  struct stat st {};
  ASSERT_EQ(::stat(installed().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  EXPECT_NE(out.detail.find("installed " + installed().string()), std::string::npos) << out.detail;
  EXPECT_NE(out.detail.find(std::string(kUnit) + " is active (1 check"), std::string::npos)
      << out.detail;
}

TEST_F(SystemdTest, PromoteReinstallsTheNewDropin) {
  auto action = load();
  ASSERT_TRUE(action);
  ASSERT_TRUE(action->run(sample_incident(IncidentKind::kActivate)).ok);
  const std::string promoted = "[Service]\nEnvironment=QSC_CANARY_TRAFFIC=0.25\n";
  write_text(dir_ / "data/systemd_overrides/qsc_canary.conf", promoted);
  const auto out = action->run(sample_incident(IncidentKind::kPromote));
  EXPECT_TRUE(out.ok) << out.detail;
  EXPECT_EQ(read_text(installed()), promoted);
  EXPECT_EQ(calls(), kSequence + kSequence);
}

TEST_F(SystemdTest, RollbackRemovesTheDropinAndRestartsAndTwiceIsHarmless) {
  auto action = load();
  ASSERT_TRUE(action);
  ASSERT_TRUE(action->run(sample_incident(IncidentKind::kActivate)).ok);
  fs::remove(dir_ / "bin/calls.log");
  const auto out = action->run(sample_incident(IncidentKind::kRollback));
  EXPECT_TRUE(out.ok) << out.detail;
  EXPECT_FALSE(fs::exists(installed()));
  EXPECT_NE(out.detail.find("removed " + installed().string()), std::string::npos) << out.detail;
  EXPECT_EQ(calls(), kSequence);
  const auto again = action->run(sample_incident(IncidentKind::kFinalize));
  EXPECT_TRUE(again.ok) << again.detail;
  EXPECT_NE(again.detail.find("no drop-in installed"), std::string::npos) << again.detail;
  EXPECT_EQ(calls(), kSequence + kSequence);
}

TEST_F(SystemdTest, ResolvedDoesNothing) {
  auto action = load();
  ASSERT_TRUE(action);
  const auto out = action->run(sample_incident(IncidentKind::kResolved));
  EXPECT_TRUE(out.ok);
  EXPECT_EQ(calls(), "");
}

TEST_F(SystemdTest, WaitsWhileTheUnitIsActivating) {
  flag("activating_checks", "3");
  auto action = load();
  ASSERT_TRUE(action);
  const auto out = action->run(sample_incident(IncidentKind::kActivate));
  EXPECT_TRUE(out.ok) << out.detail;
  EXPECT_NE(out.detail.find("is active (4 checks"), std::string::npos) << out.detail;
}

TEST_F(SystemdTest, AUnitThatNeverBecomesActiveFailsAtTheVerifyTimeout) {
  flag("inactive");
  section_["verify_timeout_ms"] = 300;
  auto action = load();
  ASSERT_TRUE(action);
  const auto start = Clock::now();
  const auto out = action->run(sample_incident(IncidentKind::kRollback));
  // It gives up (a unit that never comes up would otherwise be polled until ctest's timeout);
  // how soon after the 300 ms depends on the machine's load, not asserted. Its last poll may
  // fall a poll interval before the deadline (298 ms was seen), so the floor allows one.
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(200));
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.detail.find(std::string(kUnit) + " did not become active within 300 ms"),
            std::string::npos)
      << out.detail;
  EXPECT_NE(out.detail.find("exit 3, output: \"failed\""), std::string::npos) << out.detail;
  EXPECT_NE(out.detail.find(std::string("journalctl -u ") + kUnit), std::string::npos);
}

TEST_F(SystemdTest, AFailingCommandStopsTheSequenceWithItsOutputQuoted) {
  flag("fail_restart");
  auto action = load();
  ASSERT_TRUE(action);
  const auto out = action->run(sample_incident(IncidentKind::kActivate));
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(calls(), std::string("daemon-reload\nrestart ") + kUnit + "\n");
  EXPECT_NE(out.detail.find(stub_.string() + " restart " + kUnit + " failed: exit 5"),
            std::string::npos)
      << out.detail;
  EXPECT_NE(out.detail.find("Failed to restart: Unit " + std::string(kUnit) + " not found."),
            std::string::npos)
      << out.detail;
  EXPECT_NE(out.detail.find("stub stdout"), std::string::npos) << out.detail;
  // Bytes that are not UTF-8 are replaced, so the detail can go into JSON (audit log, pages).
  EXPECT_NE(out.detail.find("?? not utf-8"), std::string::npos) << out.detail;
}

bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  // Reparented to a PID 1 that does not reap: a zombie is gone too.
  const std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  return close == std::string::npos || stat.substr(close + 2, 1) == "Z";
}

TEST_F(SystemdTest, AHangingCommandIsKilledAtTheCommandTimeout) {
  flag("hang_daemon-reload");
  section_["command_timeout_ms"] = 300;
  auto action = load();
  ASSERT_TRUE(action);
  const auto start = Clock::now();
  const auto out = action->run(sample_incident(IncidentKind::kActivate));
  const auto elapsed = Clock::now() - start;
  EXPECT_FALSE(out.ok);
  EXPECT_GE(elapsed, std::chrono::milliseconds(300));
  // Killed, not run to its end: the stub sleeps 30 s. (Not a speed bound: how long after the
  // 300 ms the kill lands depends on the machine's load.)
  EXPECT_LT(elapsed, std::chrono::seconds(30)) << "the stub ran to its end: it was not killed";
  EXPECT_NE(out.detail.find("daemon-reload failed: timed out after 300 ms (killed)"),
            std::string::npos)
      << out.detail;
  EXPECT_EQ(calls(), "daemon-reload\n") << "nothing runs after a failed step";
  // The stub's own child (its `sleep`) went with it: the whole process group is killed.
  const std::string pid_text = read_text(dir_ / "bin/hang.pid");
  ASSERT_FALSE(pid_text.empty());
  const pid_t sleeper = static_cast<pid_t>(std::stol(pid_text));
  const auto gone_by = start + std::chrono::seconds(25);  // before its 30 s sleep could end
  while (!process_gone(sleeper) && Clock::now() < gone_by) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(process_gone(sleeper));
}

TEST_F(SystemdTest, UnitNamesThatAreNotUnitNamesAreRefused) {
  const std::pair<std::string, std::string> cases[] = {
      {"../etc/passwd.service", "'/' is not allowed"},
      {"engine.service; rm -rf /", "';' is not allowed"},
      {"engine$(reboot).service", "'$' is not allowed"},
      {"engine`id`.service", "'`' is not allowed"},
      {"my engine.service", "whitespace is not allowed"},
      {"engine.service|cat", "'|' is not allowed"},
      {"-H.service", "starts with '-'"},
      {"engine", "has no unit suffix"},
      {"", "systemd.unit is empty"},
  };
  for (const auto& [unit, why] : cases) {
    section_["unit"] = unit;
    auto a = LoadedAction::load("systemd", section_, host_);
    ASSERT_FALSE(a.ok()) << unit;
    EXPECT_NE(a.error().message.find(why), std::string::npos) << a.error().message;
  }
  EXPECT_EQ(calls(), "");
  for (const std::string unit : {"quantum-ai_engine.service", "engine@1.service", "x.timer"}) {
    section_["unit"] = unit;
    EXPECT_TRUE(LoadedAction::load("systemd", section_, host_).ok()) << unit;
  }
}

TEST_F(SystemdTest, WithoutPermissionOnTheUnitDirectoryItPrintsTheManualCommands) {
  // Tests run as root, so "no permission" is made with a parent that is a regular file.
  write_text(dir_ / "etc/not_a_dir", "");
  const std::string dropin_dir = (dir_ / "etc/not_a_dir" / (std::string(kUnit) + ".d")).string();
  section_["dropin_dir"] = dropin_dir;
  auto action = load();
  ASSERT_TRUE(action);
  const auto out = action->run(sample_incident(IncidentKind::kActivate));
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.detail.find("cannot write the unit directory " + dropin_dir), std::string::npos)
      << out.detail;
  const std::string local = (dir_ / "data/systemd_overrides/qsc_canary.conf").string();
  EXPECT_NE(out.detail.find("\n  sudo mkdir -p " + dropin_dir + "\n"), std::string::npos);
  EXPECT_NE(out.detail.find("\n  sudo cp " + local + " " + dropin_dir + "/\n"), std::string::npos)
      << out.detail;
  EXPECT_NE(out.detail.find("\n  sudo " + stub_.string() + " daemon-reload\n"), std::string::npos);
  EXPECT_NE(out.detail.find("\n  sudo " + stub_.string() + " restart " + kUnit), std::string::npos);
  EXPECT_EQ(calls(), "") << "nothing is restarted when the drop-in could not be installed";
}

TEST_F(SystemdTest, AMissingLocalDropinIsReported) {
  fs::remove(dir_ / "data/systemd_overrides/qsc_canary.conf");
  auto action = load();
  ASSERT_TRUE(action);
  const auto out = action->run(sample_incident(IncidentKind::kActivate));
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.detail.find("paths.override_dir"), std::string::npos) << out.detail;
  EXPECT_EQ(calls(), "");
}

TEST_F(SystemdTest, SystemctlIsLookedUpOnPath) {
  section_["systemctl"] = "systemctl";
  const char* old = std::getenv("PATH");
  const std::string saved = old ? old : "";
  ::setenv("PATH", ((dir_ / "bin").string() + ":" + saved).c_str(), 1);
  auto action = load();
  ASSERT_TRUE(action);
  const auto out = action->run(sample_incident(IncidentKind::kActivate));
  EXPECT_NE(action->effective_config().find(stub_.string()), std::string::npos);
  ::setenv("PATH", saved.c_str(), 1);
  EXPECT_TRUE(out.ok) << out.detail;
  EXPECT_EQ(calls(), kSequence);
}

TEST_F(SystemdTest, AMissingSystemctlSaysWhatToSet) {
  section_["systemctl"] = (dir_ / "no/such/systemctl").string();
  auto action = load();
  ASSERT_TRUE(action);
  const auto out = action->run(sample_incident(IncidentKind::kRollback));
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.detail.find("could not start"), std::string::npos) << out.detail;
  EXPECT_NE(out.detail.find("systemd.systemctl"), std::string::npos) << out.detail;
}

TEST_F(SystemdTest, SectionKeysAreChecked) {
  section_["verify_timeout"] = 5;
  auto a = LoadedAction::load("systemd", section_, host_);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find("unknown key \"verify_timeout\""), std::string::npos);
  section_.erase("verify_timeout");
  section_["command_timeout_ms"] = -1;
  a = LoadedAction::load("systemd", section_, host_);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find("command_timeout_ms"), std::string::npos);
}

}  // namespace
}  // namespace qsc::test

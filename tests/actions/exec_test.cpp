// The notify action's exec channel: the program reads the incident JSON on its standard input;
// one that hangs is killed at the timeout.
#include <gtest/gtest.h>

#include <chrono>

#include "action_harness.hpp"

namespace qsc::test {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

TEST(NotifyExec, TheProgramReceivesTheIncidentJsonOnStdin) {
  TempDir dir;
  const auto script = dir / "notifier.sh";
  write_text(script, "#!/bin/sh\ncat > \"$1\"\necho \"paged $2\"\n", 0755);
  const auto received = dir / "received.json";
  auto a = LoadedAction::load(
      "notify", {{"channels",
                  json::array({{{"type", "exec"},
                                {"name", "pager-script"},
                                {"argv", {script.string(), received.string(), "on-call; rm -rf /"}},
                                {"timeout_ms", 5000}}})}});
  ASSERT_TRUE(a.ok()) << a.error().message;
  auto incident = sample_incident();
  incident.earlier = {{"rollback", true, "restored live.json", 2.0}};
  const auto out = a.value()->run(incident);
  EXPECT_TRUE(out.ok) << out.detail;
  // The argument with shell metacharacters arrived as one plain argument: no shell ran.
  EXPECT_NE(out.detail.find("output: \"paged on-call; rm -rf /\""), std::string::npos)
      << out.detail;
  const json got = json::parse(read_text(received));
  EXPECT_EQ(got.at("kind"), "rollback");
  EXPECT_EQ(got.at("canary_model"), "patchtst");
  EXPECT_EQ(got.at("violations")[0], "Action collapse: HOLD=78.3% (>70%)");
  EXPECT_EQ(got.at("host"), "engine-01");
  EXPECT_EQ(got.at("timestamp"), "2026-01-10T12:08:30Z");
  EXPECT_EQ(got.at("state").at("phase"), "monitoring");
  EXPECT_EQ(got.at("earlier")[0].at("action"), "rollback");
  EXPECT_EQ(got.at("earlier")[0].at("ok"), true);
}

TEST(NotifyExec, AHangingProgramIsKilledAtTheTimeout) {
  TempDir dir;
  const auto script = dir / "hang.sh";
  write_text(script, "#!/bin/sh\necho starting\nsleep 30\n", 0755);
  auto a = LoadedAction::load(
      "notify",
      {{"channels",
        json::array({{{"type", "exec"}, {"argv", {script.string()}}, {"timeout_ms", 300}}})}});
  ASSERT_TRUE(a.ok()) << a.error().message;
  const auto start = Clock::now();
  const auto out = a.value()->run(sample_incident());
  const auto elapsed = Clock::now() - start;
  EXPECT_FALSE(out.ok);
  EXPECT_GE(elapsed, std::chrono::milliseconds(300));
  // Killed, not waited out: the script sleeps 30 s. (Not a speed bound.)
  EXPECT_LT(elapsed, std::chrono::seconds(30));
  EXPECT_NE(out.detail.find("timed out after 300 ms (killed), output: \"starting\""),
            std::string::npos)
      << out.detail;
}

TEST(NotifyExec, ANonZeroExitIsAFailureWithItsOutput) {
  TempDir dir;
  const auto script = dir / "fail.sh";
  write_text(script, "#!/bin/sh\necho 'pager down' >&2\nexit 7\n", 0755);
  auto a = LoadedAction::load(
      "notify", {{"channels", json::array({{{"type", "exec"}, {"argv", {script.string()}}}})}});
  ASSERT_TRUE(a.ok()) << a.error().message;
  const auto out = a.value()->run(sample_incident());
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.detail.find("exit 7, output: \"pager down\""), std::string::npos) << out.detail;
}

TEST(NotifyExec, AProgramThatIgnoresItsInputIsFine) {
  TempDir dir;
  // Exits at once without reading: writing the incident gets EPIPE, which must not kill us.
  auto a = LoadedAction::load(
      "notify", {{"channels", json::array({{{"type", "exec"}, {"argv", {"/bin/true"}}}})}});
  ASSERT_TRUE(a.ok()) << a.error().message;
  auto incident = sample_incident();
  incident.figures_json = json{{"pad", std::string(1 << 20, 'x')}}.dump();
  const auto out = a.value()->run(incident);
  EXPECT_TRUE(out.ok) << out.detail;
}

}  // namespace
}  // namespace qsc::test

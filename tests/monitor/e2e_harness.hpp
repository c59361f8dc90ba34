// The monitor's end-to-end harness: a temporary working directory with its own qsc.json, a
// shared-memory ring (or Redis stream) of its own, the synthetic publisher and the built `qsc`
// run there as child processes, exactly as a user would run them.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace qsc::monitor_test {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

/// The live weights the tests start from, written with odd spacing so a rollback that rewrites
/// them (rather than restoring the bytes) shows.
inline constexpr const char* kLiveWeights =
    "{\"xgb\": 0.25,  \"lgbm\": 0.25, \"nhits\": 0.30, \"patchtst\": 0.20}\n";

/// A child process with its output in files.
struct Child {
  pid_t pid = -1;
  fs::path out;
  fs::path err;
  int exit_code = -1;  ///< after wait(): the exit code, -1 when a signal ended it
  int signal = 0;      ///< after wait(): the signal that ended it
  bool done = false;

  std::string stdout_text() const;
  std::string stderr_text() const;
  /// Waits up to `timeout`; false (and the child killed with SIGKILL) when it did not end.
  bool wait(milliseconds timeout);
  /// Sends `sig` (only while running).
  void send(int sig) const;
  /// Waits until stdout contains `text`; false when the child ended or time ran out first.
  bool wait_for_output(const std::string& text, milliseconds timeout);
};

/// Starts argv[0] with `argv` in `cwd`, stdout and stderr into files named after `tag` there.
/// The child dies with the test process (PR_SET_PDEATHSIG).
Child spawn(const std::vector<std::string>& argv, const fs::path& cwd, const std::string& tag,
            const std::vector<std::string>& env = {});

/// The audit log's entries.
std::vector<nlohmann::json> read_jsonl(const fs::path& path);
/// A file's bytes ("" when missing).
std::string read_text(const fs::path& path);
/// The lines of `text` that contain `needle`.
std::vector<std::string> lines_with(const std::string& text, const std::string& needle);

/// What the publisher printed about one phase.
struct PhaseStart {
  std::string behaviour;
  std::int64_t start_us = 0;
  std::int64_t first_event_ms = 0;
};
/// Parses the publisher's PHASE lines.
std::vector<PhaseStart> phase_starts(const std::string& publisher_stdout);
/// DONE published=N from the publisher's output (nullopt when absent).
std::optional<std::uint64_t> published_total(const std::string& publisher_stdout);

/// One test's world: a temporary working directory, a unique ring name and the processes the
/// test started (all killed at TearDown).
class MonitorE2E : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  /// qsc.json for the test: shm source on this test's ring, min_events 200, window_events 400,
  /// only the rollback action, paths relative to the directory. `patch` is merged over it.
  void write_config(const nlohmann::json& patch = nlohmann::json::object());
  /// Writes the live weights (kLiveWeights).
  void write_live_weights();

  /// Starts the publisher on this test's ring (or `sink_args` instead) with these arguments.
  Child& start_publisher(const std::vector<std::string>& args,
                         std::optional<std::vector<std::string>> sink_args = std::nullopt);
  /// Runs `qsc args...` in the directory to the end (at most `timeout`).
  Child run_qsc(const std::vector<std::string>& args, milliseconds timeout = milliseconds(60000));
  /// Starts `qsc args...` in the directory.
  Child& start_qsc(const std::vector<std::string>& args);

  /// Waits until `qsc telemetry --after <cutover_iso()>` exits 0 (telemetry.min_events events
  /// after the cutover, fresh, none lost), then `qsc activate --model patchtst --cutover
  /// <cutover_iso()>`; asserts it activated, then makes the live weights the canary's (as the
  /// engine does when it applies the drop-in), so a rollback must restore them.
  void activate();

  /// A healthy publisher (until `stop` exists) and the canary activated on its stream. 1,000
  /// events/s: the ring (16,384 records) wraps only after 16 s, so a monitor started (or
  /// restarted) during a test never attaches to a full ring (see the DISABLED_ test in
  /// monitor_run_test.cpp).
  Child& start_healthy_canary(const fs::path& stop);
  /// Starts `qsc monitor --duration D --interval I` and waits for its "[Check k/N]" line.
  Child& start_monitor_until(const std::string& duration, const std::string& interval,
                             const std::string& check_line);

  /// Starts a healthy canary and `qsc monitor --duration 60s --interval 1s` under the config
  /// `patch`, and expects the supervisor's main thread to switch context fewer than
  /// `max_per_second` times a second between the worker's checks 2 and 5 (each of its waits is
  /// one: counted, not timed; printed with `label`), then that it still watches: SIGTERM is
  /// forwarded and the worker's exit ends the supervisor (exit 2).
  void expect_supervisor_wakes_below(double max_per_second, const nlohmann::json& patch,
                                     const std::string& label);

  /// `dir_/plugins`: every plugin the build made (lib/qsc/plugins beside bin/qsc), plus each
  /// `{library, installed name}` of `extra` (a test plugin, or one replacing a built-in), mode
  /// 0644 in a 0755 directory as the loader wants them. Point plugins.dir at it.
  fs::path plugin_dir_with(const std::vector<std::pair<std::string, std::string>>& extra);

  /// A file that, once created, ends the publisher's current `@file` phase.
  fs::path switch_file(const std::string& name) const { return dir_ / ("switch_" + name); }
  static void touch(const fs::path& path);

  /// The audit log, the state, the canary files.
  std::vector<nlohmann::json> audit() const { return read_jsonl(dir_ / "logs/qsc_canary.jsonl"); }
  nlohmann::json state() const;
  fs::path live_weights() const { return dir_ / "data/live_model_weights.json"; }
  fs::path baseline_weights() const { return dir_ / "data/baseline_model_weights.json"; }
  fs::path canary_weights() const { return dir_ / "data/qsc_canary_weights.json"; }
  fs::path dropin() const { return dir_ / "data/systemd_overrides/qsc_canary.conf"; }

  /// Asserts the complete record of a monitored run that ended in the automatic rollback:
  /// exit 1, the runbook's block with `expected` on a ❌ line, live weights restored byte for
  /// byte, canary files gone, state rolled back, and the audit trail canary_activated ->
  /// monitoring_started -> check 1..k -> rollback_executed (trigger qsc_monitor_violation,
  /// the violation, detection figures) with nothing after it. `checks_total` is the period's.
  void expect_rolled_back(Child& monitor, const std::string& expected, int checks_total = 30);
  /// Asserts a monitored period that ended inconclusive and is never called safe: exit 3, the
  /// `⚠️ MONITORING INCONCLUSIVE - <banner>` block, and none of "NO VIOLATIONS", "safe to
  /// promote" or a rollback.
  static void expect_inconclusive(Child& monitor, const std::string& banner);

  fs::path dir_;
  std::string ring_;
  std::string cutover_iso_;
  std::int64_t cutover_ms_ = 0;
  std::deque<Child> children_;  // a deque: references to its elements stay valid
  /// NAME=VALUE settings added to the environment of every qsc and publisher started after.
  std::vector<std::string> child_env_;
  /// A program and its arguments that start_qsc runs qsc under (empty: qsc itself), e.g.
  /// {QSC_REFUSE_SYSCALLS, "pidfd_open=ENOSYS", "--"}.
  std::vector<std::string> qsc_launcher_;
  nlohmann::json config_;
};

}  // namespace qsc::monitor_test

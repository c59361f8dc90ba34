// The end-to-end harness for the canary lifecycle: a temporary working directory with its own
// configuration, a real redis-server fed through XADD with explicit stream IDs, a stub
// systemctl that records its argv, and the built `qsc` run as a child process there.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/redis_fixture.hpp"
#include "telemetry/telemetry_test_util.hpp"

namespace qsc::test {

namespace fs = std::filesystem;

/// The cutover of the lifecycle tests: fifteen minutes before the test process started, in whole
/// seconds. The gate refuses stale telemetry (newest event older than telemetry.stale_after on
/// the wall clock), so events are stamped shortly after a recent cutover, never in the past of
/// a fixed date; the harness's telemetry.stale_after (1h) leaves the test that long to run.
extern const std::int64_t kRecentCutoverMs;
/// kRecentCutoverMs as ISO-8601 UTC ("2026-01-10T05:43:15Z").
extern const std::string kRecentCutoverIso;
/// kRecentCutoverMs as `systemctl show -p ActiveEnterTimestamp --value` prints it.
extern const std::string kRecentCutoverSystemd;
inline constexpr const char* kStream = "quantum:stream:trade.intent";
inline constexpr const char* kUnit = "quantum-ai_engine.service";
/// The ensemble's models in docs/design.md's order; the last one, patchtst, is the usual canary.
inline const std::vector<std::string> kModels{"xgb", "lgbm", "nhits", "patchtst"};

/// What is wrong with patchtst's predictions (the other three models stay healthy).
enum class Flaw {
  kHealthy,
  kCollapse,   ///< BUY 80% (action collapse)
  kDeadZone,   ///< HOLD 90% (dead zone, and collapse with it)
  kFlat,       ///< conf_std about 0.034 with P10-P90 0.14: flat only
  kNarrow,     ///< conf_std about 0.13 with P10-P90 about 0.07: narrow range only
  kConstant,   ///< 0.6 always: constant output (and flat and narrow)
  kNaN,        ///< one Python `NaN` confidence among healthy ones
  kLogit,      ///< a quarter of the confidences are logits > 1 (normalised by the sigmoid)
  kUnanimous,  ///< every model always votes the signal: healthy per model, agreement 100%
  kAbsent,     ///< patchtst is not in model_breakdown at all (the others healthy)
  kShadow,     ///< patchtst predicts healthily but in shadow mode (inactive)
};

/// One model's prediction in event i.
struct Prediction {
  std::string action;
  double confidence = 0.0;
  std::string confidence_token;  ///< the JSON text written for the confidence
};

/// The prediction of kModels[k] in event i under `flaw`.
Prediction prediction(int i, std::size_t k, Flaw flaw);

/// The stream entry's fields for event i: payload with model_breakdown inside, or (every
/// fourth event) the older form with model_breakdown as a field of its own.
std::vector<std::pair<std::string, std::string>> event_fields(int i, Flaw flaw);

/// Per-model figures as docs/design.md defines them (numpy's definitions), for comparison with the
/// reports.
struct ExpectedStats {
  std::size_t n = 0;
  double buy = 0, sell = 0, hold = 0;  ///< percent
  double mean = 0, std = 0, p10 = 0, p90 = 0;
};
ExpectedStats expected_stats(const std::vector<int>& events, std::size_t k, Flaw flaw);

/// The outcome of one qsc run.
struct QscRun {
  int exit_code = -1;  ///< -1 when killed by a signal
  int signal = 0;      ///< the signal that ended it, 0 when it exited
  std::string out;
  std::string err;
  std::string all() const { return out + err; }
  bool has(const std::string& text) const { return all().find(text) != std::string::npos; }
};

/// A started qsc.
struct QscChild {
  pid_t pid = -1;
  fs::path out;
  fs::path err;
};

/// A working directory, its configuration, a redis-server and a stub systemctl.
class Workspace {
 public:
  Workspace();
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  /// Starts redis-server; false (with why) when it cannot.
  bool start_redis(std::string* why);
  RedisServer& redis() { return redis_; }
  RawRedis& writer();

  /// XADDs events `first`..`first+count-1` at `start_ms + index * step_ms`.
  void publish(int first, int count, std::int64_t start_ms, std::int64_t step_ms, Flaw flaw);
  /// XADDs one event at exactly `<ms>-<seq>`.
  void publish_at(int i, std::int64_t ms, Flaw flaw, std::uint64_t seq = 0);

  /// The configuration, written before every run. Paths stay relative to dir() unless set.
  nlohmann::json config;
  /// Put before the qsc binary on the command line (e.g. setpriv to run qsc as another user);
  /// its first element is an absolute path. Empty: qsc is run directly.
  std::vector<std::string> command_prefix;
  /// The side directory (configuration, captured output, the stub systemctl).
  const fs::path& side() const { return side_; }
  /// Sets telemetry.min_events (and keeps window_events above it).
  void set_min_events(int n);
  /// Configures paths.live_weights at dir()/engine/live_weights.json with `content`.
  fs::path use_live_weights(const std::string& content);

  /// Runs `qsc --config <cfg> args...` in dir() and waits (killing it after `timeout`).
  QscRun run(const std::vector<std::string>& args, const std::vector<std::string>& env = {},
             std::chrono::seconds timeout = std::chrono::seconds(60));
  /// Starts it without waiting.
  QscChild spawn(const std::vector<std::string>& args, const std::vector<std::string>& env = {});
  /// Waits for a started qsc.
  QscRun wait(const QscChild& child, std::chrono::seconds timeout = std::chrono::seconds(60));

  const fs::path& dir() const { return dir_; }
  fs::path path(const std::string& relative) const { return dir_ / relative; }
  bool exists(const std::string& relative) const;
  std::string read(const std::string& relative) const;
  /// Every line of the audit log parsed as JSON (a line that is not JSON fails the test).
  std::vector<nlohmann::json> audit() const;
  /// The audit entries whose action is `action` (jq 'select(.action=="...")').
  std::vector<nlohmann::json> audit(const std::string& action) const;
  /// data/qsc_state.json parsed, or nullopt when absent.
  std::optional<nlohmann::json> state() const;
  /// The stub systemctl's calls so far, one argv (without the program) a line.
  std::vector<std::string> systemctl_calls() const;
  /// Makes the stub's next `systemctl <verb>` fail (exit 1), once.
  void fail_systemctl_once(const std::string& verb);
  /// Where the systemd action installs the drop-in.
  fs::path installed_dropin() const;
  /// The files below dir() (relative, sorted), the configuration excluded.
  std::vector<std::string> files() const;

 private:
  fs::path dir_;   // the working directory qsc runs in
  fs::path side_;  // configuration, captured output, the stub: nothing qsc writes itself
  int runs_ = 0;
  RedisServer redis_;
  std::optional<RawRedis> writer_;
};

/// Publishes an event every 5 ms, stamped with the wall clock, while it lives: an engine (about
/// 200 events/s, so a 5 s monitoring period sees min_events 200 canary predictions with room to
/// spare).
class Engine {
 public:
  Engine(int port, Flaw flaw);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  int published() const { return published_; }

 private:
  void run(int port, Flaw flaw);
  std::atomic<bool> stop_{false};
  std::atomic<int> published_{0};
  std::thread thread_;
};

/// A fixture with a Workspace whose redis-server is running (skips without redis-server).
class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override;
  Workspace ws;
};

/// Makes the next qsc runs of `ws` unable to write the unit directory (and its parents), as for
/// an operator without root: under root qsc is run as the user nobody through setpriv (owning
/// the working directory, not the side directory). Returns the user name qsc runs as ("" when
/// the tests do not run as root: the unit directory is then made read-only).
std::string drop_unit_directory_permission(Workspace& ws);
/// Waits (a generous 60 s deadline, polling every 20 ms) until `path` contains `text`.
bool wait_for_text(const fs::path& path, const std::string& text);
/// Reads a whole file ("" when missing).
std::string slurp(const fs::path& path);
/// Writes a whole file, creating its directory.
void spit(const fs::path& path, const std::string& text);
/// The lines of `text`.
std::vector<std::string> lines(const std::string& text);

}  // namespace qsc::test

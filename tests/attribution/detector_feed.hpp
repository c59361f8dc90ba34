// One detector .so of the attribution tests, opened by the real plugin host and fed as the
// monitor feeds it: the 2,000-event window's figures and CheckInput::new_events.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "plugins/plugin_test_support.hpp"
#include "qsc/stats.hpp"
#include "simulated_ensemble.hpp"
#include "support/sanitizer_scale.hpp"

namespace qsc::attribution_test {

inline constexpr std::size_t kWindowEvents = 2'000;  // the monitor's default window
inline constexpr std::size_t kCheckEvery = 50;       // events between two evaluations
/// The periods of the tests that say a healthy canary is never blamed (and the literal rule
/// fires): 20,000 and 10,000 events (10 and 5 windows) in a plain build, where the claims are
/// asserted; 5,000 (two and a half windows) in a sanitized one, which looks for memory errors
/// and undefined behaviour on the same paths. The full 20,000 took 128 s of ASan -O0 time for
/// one test (support/sanitizer_scale.hpp; docs/RELIABILITY.md, "CI's disk and time").
inline constexpr std::uint64_t kLongPeriodEvents = qsc::test::sanitizer_sized(20'000, 5'000);
inline constexpr std::uint64_t kPeriodEvents = qsc::test::sanitizer_sized(10'000, 5'000);
/// The attribution rule both test files configure (each also has its literal rule's).
inline const nlohmann::json kCanaryRule = {{"attribution", "canary"}};
/// The checks at events 50, 100 and 150: fewer events than min_events (200), insufficient.
inline constexpr std::size_t kChecksBeforeMinEvents = 200 / kCheckEvery - 1;

/// A plugin directory holding one detector, opened by the real host with `section`.
class OneDetector {
 public:
  OneDetector(const std::string& name, const nlohmann::json& section);

  /// The detector's verdict on `window` for the canary `canary` ("" as the gate and the
  /// scoreboard call an ensemble check; a peer's name as they call a per-model one), with the
  /// events since the previous call.
  CheckResult check(const WindowStats& window, std::string_view canary,
                    std::span<const TradeIntent> new_events);

  const agent::PluginRecord& record() const { return test::record_named(host_, name_); }

 private:
  std::string name_;
  test::TempDir dir_;
  agent::PluginHost host_;
};

/// What one period showed the detector.
struct PeriodOutcome {
  std::size_t checks = 0;
  std::size_t violations = 0;
  std::size_t unattributed = 0;  ///< out of band, but passed: not the canary's doing
  CheckResult first_violation;
  std::uint64_t first_violation_event = 0;
  CheckResult last;  ///< the last check's result
  WindowStats last_window;
};

/// Feeds `events` events of `ensemble` to the detector as the monitor does: a sliding window of
/// the last 2,000 events judged every 50 events, with the events since the previous check. With
/// `scoreboard`, each check is followed by the scoreboard's call on the same window (no canary,
/// no events), as the monitor and replay make at every interval check.
/// `detector`'s "attribution" key: its effective configuration says "canary" without the key
/// and `literal` (its literal rule's name) with it.
void expect_effective_attribution(const std::string& detector, const std::string& literal);

/// `detector` refuses "attribution": `bad` (a string naming neither rule) and a value that is
/// not a string, naming the key and the two values `literal` and "canary".
void expect_bad_attribution_refused(const std::string& detector, const std::string& literal,
                                    const std::string& bad);

PeriodOutcome run_period(OneDetector& d, Ensemble& ensemble, std::uint64_t events,
                         bool scoreboard = false);

}  // namespace qsc::attribution_test

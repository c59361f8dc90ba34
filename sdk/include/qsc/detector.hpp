// The Detector interface: a plugin that judges the canary's window.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "qsc/checks.hpp"
#include "qsc/stats.hpp"

namespace qsc {

/// How the telemetry has been flowing; missing telemetry must never read as healthy.
struct TelemetryHealth {
  bool source_ok = false;               ///< the source answered at the last read
  std::string source_error;             ///< why not, when !source_ok
  std::uint64_t events_seen = 0;        ///< accepted events since the period began
  double seconds_since_last_event = 0;  ///< since the newest event arrived (or since the period
                                        ///< began when none has); +inf when unknown
  std::uint64_t events_lost = 0;        ///< lost in the ring (lapped or abandoned) this period
  std::uint64_t rejected = 0;           ///< unreadable entries this period
  double rejected_pct = 0.0;            ///< rejected / (accepted + rejected) x 100
};

/// Everything a detector sees at one check. Valid only during the call.
struct CheckInput {
  std::string_view canary_model;        ///< the model under watch
  const WindowStats* window = nullptr;  ///< the window's figures (all models, ensemble)
  const ModelStats* canary = nullptr;   ///< the canary's figures, nullptr when it has none
  TelemetryHealth telemetry;
  std::size_t min_events = 200;  ///< below this many canary predictions: kInsufficient
};

/// A violation detector. Implement `check`; it may throw: the plugin boundary (see plugin.hpp)
/// turns an exception into a kError result, which the host counts as a violation (fail closed).
class Detector {
 public:
  virtual ~Detector() = default;
  /// Judges the window. Report the measured figure with every verdict.
  virtual CheckResult check(const CheckInput& input) = 0;
  /// The effective configuration (thresholds) as a JSON object, for `qsc plugins list`.
  virtual std::string effective_config() const = 0;
};

}  // namespace qsc

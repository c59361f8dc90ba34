// The Action interface: a plugin that acts on the canary (rollback, systemd, notify, ...).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qsc {

/// What happened, so each action knows what to do (or that it has nothing to do).
enum class IncidentKind : std::uint8_t {
  kActivate = 0,  ///< a canary was activated: install the drop-in, restart
  kRollback = 1,  ///< a violation or a manual rollback: restore the baseline, page
  kPromote = 2,   ///< the canary's weight was raised: reinstall the drop-in, restart
  kFinalize = 3,  ///< the canary became the live weights: remove the drop-in, restart
  kResolved = 4,  ///< a monitoring period completed clean: resolve any open page
};
/// "activate", "rollback", "promote", "finalize", "resolved".
std::string_view incident_kind_name(IncidentKind k) noexcept;

/// The outcome of one action for one incident.
struct ActionOutcome {
  std::string action;  ///< the plugin's name
  bool ok = false;
  std::string detail;  ///< what was done, or why it failed (quoted output)
  double duration_ms = 0.0;
};

/// What an action receives.
struct Incident {
  IncidentKind kind = IncidentKind::kRollback;
  std::string trigger;  ///< "qsc_monitor_violation", "manual", ...
  std::string reason;   ///< free text (manual rollback --reason)
  std::string canary_model;
  double canary_weight = 0.0;
  std::vector<std::string> violations;  ///< the violation messages
  std::string figures_json;             ///< the detectors' figures at the time, a JSON object
  std::string state_json;               ///< the canary state, a JSON object
  std::string hostname;
  std::string timestamp;               ///< ISO-8601 UTC with Z
  std::vector<ActionOutcome> earlier;  ///< outcomes of the actions already run for it
};

/// An action. `execute` may throw: the plugin boundary turns it into a failed outcome.
class Action {
 public:
  virtual ~Action() = default;
  /// Acts on the incident; kinds an action has nothing to do for return ok with a detail.
  virtual ActionOutcome execute(const Incident& incident) = 0;
  /// The effective configuration as a JSON object (secrets redacted), for `qsc plugins list`.
  virtual std::string effective_config() const = 0;
};

}  // namespace qsc

// Running the loaded detectors over a whole window.
#include "lifecycle/detector_verdicts.hpp"

namespace qsc::agent {

RunDetectors detectors_of(PluginHost& host) {
  return [&host](const CheckInput& input, DetectorScope scope) {
    return host.check_scope(input, scope);
  };
}

DetectorVerdicts judge_window(const RunDetectors& run, const WindowStats& window,
                              const TelemetryHealth& telemetry, std::size_t min_events) {
  DetectorVerdicts out;
  for (const auto& m : window.models) {
    const CheckInput input{m.model, &window, &m, telemetry, min_events};
    GateModelVerdict v;
    v.model = m.model;
    for (auto& c : run(input, DetectorScope::kEachModel)) {
      v.checks.emplace_back(std::move(c.detector), std::move(c.result));
    }
    if (v.checks.empty()) {
      v.checks.emplace_back(
          "detectors",
          CheckResult{Verdict::kError,
                      "no loaded detector judges each model: reinstall the detector plugins "
                      "(qsc plugins list)",
                      {}});
    }
    v.pass = true;
    for (const auto& [name, r] : v.checks) {
      if (r.verdict != Verdict::kPass) v.pass = false;
    }
    out.models.push_back(std::move(v));
  }
  const CheckInput ensemble_input{"", &window, nullptr, telemetry, min_events};
  out.ensemble = run(ensemble_input, DetectorScope::kEnsemble);
  return out;
}

}  // namespace qsc::agent

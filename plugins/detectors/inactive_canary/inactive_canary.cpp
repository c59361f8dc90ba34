// inactive_canary: the canary reports itself shadow, inactive or fallback, so the ensemble is not
// running the model under test. One such prediction is decisive, even in a small window: waiting
// for min_events would only delay the rollback of a canary that is known not to be live.
#include <string_view>

#include "../common/detector_support.hpp"
#include "qsc/plugin.hpp"

namespace {

class InactiveCanary final : public qsc::detectors::IntoDetector<InactiveCanary> {
 public:
  static constexpr const char* kConfigSchema = "{}";  // no keys
  /// No keys: any inactive prediction is a violation.
  static qsc::Result<std::unique_ptr<InactiveCanary>> create(const nlohmann::json& section,
                                                             const nlohmann::json& /*host*/) {
    qsc::ConfigSection config(section, "plugins.config.inactive_canary");
    if (auto status = config.finish(); !status) return status.error();
    return std::make_unique<InactiveCanary>();
  }

  /// check() over the previous result (qsc/plugin.hpp): no allocation per check.
  void check_into(const qsc::CheckInput& input, qsc::CheckResult& out) {
    const auto* m = input.canary;
    if (m != nullptr && m->inactive > 0) {
      auto reason = qsc::inactive_reason_name(m->last_inactive_reason);
      out.verdict = qsc::Verdict::kViolation;
      out.message.assign("Canary inactive: ");
      out.message += m->model;
      out.message += " reports ";
      out.message += reason.empty() ? std::string_view("inactive") : reason;
      set_figures(*m, out);
      return;
    }
    // Both verdicts below hold until an inactive prediction of the canary arrives, which fires
    // at once (the host watches for it, ABI 2.2), or the count of predictions crosses
    // min_events (detector_support.hpp).
    if (qsc::detectors::insufficient_canary(input, "Canary inactive", out)) {
      out.horizon_events = qsc::detectors::insufficient_canary_horizon(input);
      out.horizon_unless = QSC_UNLESS_CANARY_INACTIVE;
      return;
    }
    out.verdict = qsc::Verdict::kPass;
    out.message.assign("Canary inactive: ");
    out.message += m->model;
    out.message += " reports no inactive prediction (0 of ";
    qsc::detectors::append_count(out.message, m->predictions);
    out.message += ')';
    set_figures(*m, out);
    out.horizon_events = qsc::detectors::horizon_above_minimum(m->predictions, input.min_events);
    out.horizon_unless = QSC_UNLESS_CANARY_INACTIVE;
  }

  std::string effective_config() const override { return "{}"; }

 private:
  static void set_figures(const qsc::ModelStats& m, qsc::CheckResult& out) {
    out.figures.resize(2);
    qsc::assign_changed(out.figures[0].name, "inactive_predictions");
    out.figures[0].value = static_cast<double>(m.inactive);
    qsc::assign_changed(out.figures[1].name, "predictions");
    out.figures[1].value = static_cast<double>(m.predictions);
  }
};

}  // namespace

// The live canary only: before activation a canary may rightly run in shadow mode, so the gate
// does not run it (it requires min_events active canary predictions instead).
QSC_SCOPED_DETECTOR_PLUGIN(InactiveCanary, "inactive_canary", "1.0.0",
                           "Fires when any canary prediction in the window is shadow, inactive or "
                           "fallback",
                           ::qsc::DetectorScope::kCanaryOnly)

// inactive_canary: the canary reports itself shadow, inactive or fallback, so the ensemble is not
// running the model under test. One such prediction is decisive, even in a small window: waiting
// for min_events would only delay the rollback of a canary that is known not to be live.
#include "../common/detector_support.hpp"
#include "qsc/plugin.hpp"

namespace {

class InactiveCanary final : public qsc::Detector {
 public:
  static constexpr const char* kConfigSchema = "{}";  // no keys
  /// No keys: any inactive prediction is a violation.
  static qsc::Result<std::unique_ptr<InactiveCanary>> create(const nlohmann::json& section,
                                                             const nlohmann::json& /*host*/) {
    qsc::ConfigSection config(section, "plugins.config.inactive_canary");
    if (auto status = config.finish(); !status) return status.error();
    return std::make_unique<InactiveCanary>();
  }

  qsc::CheckResult check(const qsc::CheckInput& input) override {
    const auto* m = input.canary;
    if (m != nullptr && m->inactive > 0) {
      auto reason = qsc::inactive_reason_name(m->last_inactive_reason);
      return {qsc::Verdict::kViolation,
              "Canary inactive: " + m->model + " reports " +
                  std::string(reason.empty() ? "inactive" : reason),
              figures(*m)};
    }
    if (auto r = qsc::detectors::insufficient_canary(input, "Canary inactive")) return *r;
    return {qsc::Verdict::kPass,
            "Canary inactive: " + m->model + " reports no inactive prediction (0 of " +
                std::to_string(m->predictions) + ")",
            figures(*m)};
  }

  std::string effective_config() const override { return "{}"; }

 private:
  static std::vector<qsc::Figure> figures(const qsc::ModelStats& m) {
    return {{"inactive_predictions", static_cast<double>(m.inactive)},
            {"predictions", static_cast<double>(m.predictions)}};
  }
};

}  // namespace

// The live canary only: before activation a canary may rightly run in shadow mode, so the gate
// does not run it (it requires min_events active canary predictions instead).
QSC_SCOPED_DETECTOR_PLUGIN(InactiveCanary, "inactive_canary", "1.0.0",
                           "Fires when any canary prediction in the window is shadow, inactive or "
                           "fallback",
                           ::qsc::DetectorScope::kCanaryOnly)

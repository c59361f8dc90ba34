// An example detector built outside the QSC tree: fires when the canary's mean confidence falls
// below "min_conf_mean" (default 0.55). Everything a detector needs is here: a configuration
// section read strictly, the "too little data" verdict, a figure with every result, the export.
#include <cstdio>

#include "qsc/config_section.hpp"
#include "qsc/plugin.hpp"

namespace {

class LowConfidence final : public qsc::Detector {
 public:
  explicit LowConfidence(double min_conf_mean) : min_conf_mean_(min_conf_mean) {}

  // The host hands over this plugin's section (plugins.config.low_confidence) and the whole
  // configuration. Refusing a bad section stops the agent with this message: no silent default.
  static qsc::Result<std::unique_ptr<LowConfidence>> create(const nlohmann::json& section,
                                                            const nlohmann::json& /*host*/) {
    qsc::ConfigSection config(section, "plugins.config.low_confidence");
    const double min_conf_mean = config.number("min_conf_mean", 0.55, 0.0, 1.0);
    if (auto status = config.finish(); !status) return status.error();
    return std::make_unique<LowConfidence>(min_conf_mean);
  }

  qsc::CheckResult check(const qsc::CheckInput& input) override {
    const auto* canary = input.canary;
    const std::size_t n = canary != nullptr ? canary->predictions : 0;
    // Too little data is never a pass: the monitor treats it as WAIT.
    if (canary == nullptr || n < input.min_events || canary->confidence_samples == 0) {
      return {qsc::Verdict::kInsufficient,
              "Low confidence: " + std::to_string(n) + " predictions (" +
                  std::to_string(input.min_events) + " needed)",
              {{"predictions", static_cast<double>(n)}}};
    }
    char text[128];
    std::snprintf(text, sizeof text, "Low confidence: conf_mean=%.4f (<%s)", canary->conf_mean,
                  qsc::format_threshold(min_conf_mean_).c_str());
    return {canary->conf_mean < min_conf_mean_ ? qsc::Verdict::kViolation : qsc::Verdict::kPass,
            text,
            {{"conf_mean", canary->conf_mean}}};
  }

  std::string effective_config() const override {
    return nlohmann::json{{"min_conf_mean", min_conf_mean_}}.dump();
  }

 private:
  double min_conf_mean_;
};

}  // namespace

QSC_DETECTOR_PLUGIN(LowConfidence, "low_confidence", "1.0.0",
                    "Fires when the canary's mean confidence is below min_conf_mean")

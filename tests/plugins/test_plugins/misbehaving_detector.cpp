// Test detectors built from one source (see ../CMakeLists.txt): TEST_BEHAVIOUR selects
//   1 throws from check, 2 reports kError, 3 counts its calls (to show an instance survives a
//   reload), 4 fires when the canary's mean confidence is below its "min_conf_mean" key, 5 never
//   has enough data to judge (kInsufficient at every check: a period it watched is never clean).
#include <stdexcept>

#include "qsc/config_section.hpp"
#include "qsc/plugin.hpp"

namespace {

class Misbehaving final : public qsc::Detector {
 public:
  explicit Misbehaving(double min_conf_mean) : min_conf_mean_(min_conf_mean) {}

  static qsc::Result<std::unique_ptr<Misbehaving>> create(const nlohmann::json& section,
                                                          const nlohmann::json&) {
    qsc::ConfigSection config(section, "plugins.config." TEST_PLUGIN_NAME);
    const double min_conf_mean = config.number("min_conf_mean", 0.5, 0.0, 1.0);
    if (auto status = config.finish(); !status) return status.error();
    return std::make_unique<Misbehaving>(min_conf_mean);
  }

  qsc::CheckResult check(const qsc::CheckInput& input) override {
    ++calls_;
    switch (TEST_BEHAVIOUR) {
      case 1:
        throw std::runtime_error("boom");
      case 2:
        return {qsc::Verdict::kError, "cannot read the window", {}};
      case 5:
        return {qsc::Verdict::kInsufficient,
                "Needs data: no order-book depth in the telemetry",
                {{"depth_events", 0.0}}};
      case 3:
        return {qsc::Verdict::kPass,
                "calls=" + std::to_string(calls_),
                {{"calls", static_cast<double>(calls_)}}};
      default: {
        const double mean = input.canary ? input.canary->conf_mean : 0.0;
        const bool fires = mean < min_conf_mean_;
        return {fires ? qsc::Verdict::kViolation : qsc::Verdict::kPass,
                "Low confidence: mean=" + std::to_string(mean),
                {{"conf_mean", mean}}};
      }
    }
  }
  std::string effective_config() const override {
    return nlohmann::json{{"min_conf_mean", min_conf_mean_}}.dump();
  }

 private:
  double min_conf_mean_;
  int calls_ = 0;
};

}  // namespace

QSC_DETECTOR_PLUGIN(Misbehaving, TEST_PLUGIN_NAME, "0.0.1", "a test detector")

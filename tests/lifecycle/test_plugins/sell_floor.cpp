// An out-of-tree detector, built against the SDK alone and dropped into a copy of the plugin
// directory by the tests: fires when a model's SELL share is below min_sell_pct. It uses the
// plain QSC_DETECTOR_PLUGIN, as a third party would, so it judges each model: the gate must run
// it on every model and fail with its message.
#include "qsc/config_section.hpp"
#include "qsc/plugin.hpp"

namespace {

class SellFloor final : public qsc::Detector {
 public:
  explicit SellFloor(double min_sell_pct) : min_sell_pct_(min_sell_pct) {}

  static qsc::Result<std::unique_ptr<SellFloor>> create(const nlohmann::json& section,
                                                        const nlohmann::json& /*host*/) {
    qsc::ConfigSection config(section, "plugins.config.sell_floor");
    const double min_sell_pct = config.number("min_sell_pct", 10.0, 0.0, 100.0);
    if (auto status = config.finish(); !status) return status.error();
    return std::make_unique<SellFloor>(min_sell_pct);
  }

  qsc::CheckResult check(const qsc::CheckInput& input) override {
    if (input.canary == nullptr || input.canary->predictions == 0) {
      return {qsc::Verdict::kInsufficient, "Sell floor: no predictions", {}};
    }
    const double sell = input.canary->share_pct[static_cast<std::size_t>(qsc::Vote::kSell)];
    char text[96];
    std::snprintf(text, sizeof text, "Sell floor: SELL=%.1f%% (<%s%%)", sell,
                  qsc::format_threshold(min_sell_pct_).c_str());
    return {sell < min_sell_pct_ ? qsc::Verdict::kViolation : qsc::Verdict::kPass,
            text,
            {{"sell_pct", sell}}};
  }

  std::string effective_config() const override {
    return nlohmann::json{{"min_sell_pct", min_sell_pct_}}.dump();
  }

 private:
  double min_sell_pct_;
};

}  // namespace

QSC_DETECTOR_PLUGIN(SellFloor, "sell_floor", "1.0.0",
                    "Fires when a model's SELL share is below min_sell_pct (a test plugin)")

// Test actions built from one source (see ../CMakeLists.txt): TEST_ACTION_FAILS makes execute
// throw; otherwise it succeeds and reports how many earlier outcomes it was shown.
// TEST_PLUGIN_FLAGS gives its descriptor flags (default: essential, no role).
#include <stdexcept>

#include "qsc/plugin.hpp"

#ifndef TEST_PLUGIN_FLAGS
#define TEST_PLUGIN_FLAGS QSC_FLAG_ESSENTIAL
#endif

namespace {

class TestAction final : public qsc::Action {
 public:
  static constexpr std::uint64_t kPluginFlags = TEST_PLUGIN_FLAGS;
  static qsc::Result<std::unique_ptr<TestAction>> create(const nlohmann::json&,
                                                         const nlohmann::json&) {
    return std::make_unique<TestAction>();
  }
  qsc::ActionOutcome execute(const qsc::Incident& incident) override {
    if (TEST_ACTION_FAILS) throw std::runtime_error("cannot reach the pager");
    return {TEST_PLUGIN_NAME, true,
            "saw " + std::to_string(incident.earlier.size()) + " earlier outcomes for " +
                incident.canary_model,
            0.0};
  }
  std::string effective_config() const override { return "{}"; }
};

}  // namespace

QSC_ACTION_PLUGIN(TestAction, TEST_PLUGIN_NAME, "0.0.1", "a test action")

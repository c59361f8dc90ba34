// Deliberately broken actions for the supervised monitor's tests (never installed): named after
// a real action (TEST_PLUGIN_NAME: "rollback" or "notify") and declaring its flags
// (TEST_PLUGIN_FLAGS) so they stand in for it. FAULT 1 hangs in execute, 2 segfaults there.
#include <signal.h>
#include <unistd.h>

#include "qsc/plugin.hpp"

namespace {

class FaultyAction final : public qsc::Action {
 public:
  static constexpr std::uint64_t kPluginFlags = TEST_PLUGIN_FLAGS;
  static qsc::Result<std::unique_ptr<FaultyAction>> create(const nlohmann::json&,
                                                           const nlohmann::json&) {
    return std::make_unique<FaultyAction>();
  }
  qsc::ActionOutcome execute(const qsc::Incident&) override {
    if (FAULT == 2) ::raise(SIGSEGV);
    for (;;) ::pause();  // hangs: only a signal ends it
  }
  std::string effective_config() const override { return "{}"; }
};

}  // namespace

QSC_ACTION_PLUGIN(FaultyAction, TEST_PLUGIN_NAME, "0.0.1", "a deliberately broken action")

// The instance calls of the plugin host: each descriptor function called through the C ABI, with
// the host's sinks collecting the plugin's answer (qsc/plugin_abi.h: the host copies every byte
// during the sink call). A plugin that answers nothing fails closed: a check without a verdict is
// an error, an action without an outcome failed.
#pragma once

#include <string>

#include "qsc/action.hpp"
#include "qsc/checks.hpp"
#include "qsc/plugin_abi.h"

namespace qsc::agent::plugin_calls {

/// Creates an instance from the section and the host configuration (JSON texts); nullptr with
/// the plugin's reason in *error when it refused.
void* create(const struct qsc_plugin_descriptor& d, const std::string& section_json,
             const std::string& host_json, std::string* error);
/// The instance's effective configuration text.
std::string effective_config(const struct qsc_plugin_descriptor& d, void* instance);
/// The detector's result, written over `result` (its message and figures keep their storage: the
/// monitor checks at every event). A verdict outside qsc_verdict, or none, is a kError naming why.
/// result.horizon_events is what the plugin passed to set_horizon (ABI 2.1), 0 when it did not.
void check(const struct qsc_plugin_descriptor& d, void* instance, const qsc_check_input& input,
           qsc::CheckResult& result);
/// The action's outcome (ok and detail; the caller names it and times it).
qsc::ActionOutcome execute(const struct qsc_plugin_descriptor& d, void* instance,
                           const qsc_incident& incident);

}  // namespace qsc::agent::plugin_calls

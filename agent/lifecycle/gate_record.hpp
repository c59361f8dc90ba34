// The gate's record: every gate a command runs leaves its report and its gate_evaluated audit
// entry, in that order (`qsc gate` and `qsc activate` alike), so the audit log names the report
// that explains each verdict.
#pragma once

#include <string>

#include "core/config.hpp"
#include "lifecycle/gate.hpp"

namespace qsc::agent {

/// Whether the audit entry may be appended when the report could not be written.
enum class GateEntryWithoutReport {
  kAppend,  ///< `qsc gate`: the entry records the verdict even so (its report field empty)
  kOmit,    ///< activation: without its report a verdict is no reason to go live, so nothing is
            ///< logged and nothing activated
};

/// What recording a gate left.
struct GateRecord {
  Result<std::string> report_path = Error{"not written"};  ///< the Markdown report, or why not
  Status logged = Error{"not appended"};                   ///< the gate_evaluated entry, or why not
};

/// Writes the gate's reports into paths.reports_dir, then appends gate_evaluated (result,
/// cutover_ts, events_analysed, blockers, report, and `for` when `purpose` is not empty, e.g.
/// "activate patchtst").
GateRecord record_gate(const Config& config, const GateReport& report, EpochMs cutover_ms,
                       const std::string& purpose, GateEntryWithoutReport without_report);

}  // namespace qsc::agent

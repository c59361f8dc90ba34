// The gate's record: its report, then its audit entry.
#include "lifecycle/gate_record.hpp"

#include "core/audit_log.hpp"

namespace qsc::agent {

GateRecord record_gate(const Config& config, const GateReport& report, EpochMs cutover_ms,
                       const std::string& purpose, GateEntryWithoutReport without_report) {
  GateRecord record;
  record.report_path = write_gate_report(report, config.paths.reports_dir);
  if (!record.report_path && without_report == GateEntryWithoutReport::kOmit) return record;
  nlohmann::ordered_json fields{{"result", report.pass ? "PASS" : "FAIL"},
                                {"cutover_ts", format_iso(cutover_ms)},
                                {"events_analysed", report.events_analysed},
                                {"blockers", report.blockers},
                                {"report", record.report_path ? *record.report_path : ""}};
  if (!purpose.empty()) fields["for"] = purpose;
  record.logged = AuditLog(config).append("gate_evaluated", fields);
  return record;
}

}  // namespace qsc::agent

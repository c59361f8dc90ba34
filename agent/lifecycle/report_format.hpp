// JSON and Markdown pieces shared by the gate report and the scoreboard, so both show the same
// figure under the same name.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "qsc/checks.hpp"
#include "qsc/parse.hpp"
#include "qsc/stats.hpp"

namespace qsc::agent {

/// printf("%.*f"); "n/a" for NaN (no data), never a misleading number.
std::string fmt_fixed(double value, int decimals);

nlohmann::ordered_json model_stats_json(const ModelStats& m);
nlohmann::ordered_json check_json(const CheckResult& c);
nlohmann::ordered_json confidence_audit_json(const ModelStats& m);
nlohmann::ordered_json comparison_json(const ModelStats& pre, const ModelStats& post);
nlohmann::ordered_json parse_counts_json(const ParseCounts& counts, std::uint64_t events_lost);
nlohmann::ordered_json rejections_json(const std::vector<Rejection>& rejections);
nlohmann::ordered_json ensemble_json(const EnsembleStats& e);

/// | model | n | BUY% | SELL% | HOLD% | mean | std | P10 | P90 | P10-P90 | inactive |
std::string model_table_markdown(const std::vector<ModelStats>& models);
std::string ensemble_markdown(const EnsembleStats& e);
std::string confidence_audit_markdown(const std::vector<ModelStats>& models);
std::string comparison_markdown(const WindowStats& pre, const WindowStats& post);
std::string rejections_markdown(const std::vector<Rejection>& rejections);
/// | detector | judges | configuration | from name -> {"scope", "config"}; a canary_only
/// detector is marked as run by the monitor only.
std::string detectors_markdown(const nlohmann::ordered_json& detectors);

}  // namespace qsc::agent

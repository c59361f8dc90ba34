// Report pieces.
#include "lifecycle/report_format.hpp"

#include <cmath>
#include <cstdio>

namespace qsc::agent {
namespace {

constexpr ConfidenceStatus kStatuses[] = {
    ConfidenceStatus::kOk,  ConfidenceStatus::kNormalized, ConfidenceStatus::kNegative,
    ConfidenceStatus::kNaN, ConfidenceStatus::kInfinite,   ConfidenceStatus::kNotNumber};

std::string delta(double pre, double post, int decimals) {
  if (std::isnan(pre) || std::isnan(post)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%+.*f", decimals, post - pre);
  return buf;
}

}  // namespace

std::string fmt_fixed(double value, int decimals) {
  if (std::isnan(value)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

nlohmann::ordered_json model_stats_json(const ModelStats& m) {
  return {
      {"model", m.model},
      {"predictions", m.predictions},
      {"action_pct", {{"BUY", m.share_pct[0]}, {"SELL", m.share_pct[1]}, {"HOLD", m.share_pct[2]}}},
      {"confidence",
       {{"samples", m.confidence_samples},
        {"mean", m.conf_mean},
        {"std", m.conf_std},
        {"p10", m.p10},
        {"p90", m.p90},
        {"p10_p90", m.range}}},
      {"confidence_violations", m.confidence_violations},
      {"normalized", m.normalized},
      {"inactive", m.inactive},
      {"inactive_reason", std::string(inactive_reason_name(m.last_inactive_reason))}};
}

nlohmann::ordered_json check_json(const CheckResult& c) {
  nlohmann::ordered_json figures = nlohmann::ordered_json::object();
  for (const auto& f : c.figures) figures[f.name] = f.value;
  return {{"verdict", std::string(verdict_name(c.verdict))},
          {"message", c.message},
          {"figures", figures}};
}

nlohmann::ordered_json confidence_audit_json(const ModelStats& m) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (auto s : kStatuses) {
    j[std::string(confidence_status_name(s))] = m.by_status[static_cast<std::size_t>(s)];
  }
  return j;
}

nlohmann::ordered_json comparison_json(const ModelStats& pre, const ModelStats& post) {
  const auto hold = static_cast<std::size_t>(Vote::kHold);
  return {
      {"model", post.model},
      {"hold_pct",
       {{"pre", pre.share_pct[hold]},
        {"post", post.share_pct[hold]},
        {"delta", post.share_pct[hold] - pre.share_pct[hold]}}},
      {"conf_std",
       {{"pre", pre.conf_std}, {"post", post.conf_std}, {"delta", post.conf_std - pre.conf_std}}},
      {"p10_p90", {{"pre", pre.range}, {"post", post.range}, {"delta", post.range - pre.range}}},
      {"predictions", {{"pre", pre.predictions}, {"post", post.predictions}}}};
}

nlohmann::ordered_json parse_counts_json(const ParseCounts& counts, std::uint64_t events_lost) {
  nlohmann::ordered_json by_reason = nlohmann::ordered_json::object();
  for (std::size_t i = 0; i < kRejectReasons; ++i) {
    if (counts.rejected[i] > 0) {
      by_reason[std::string(reject_reason_name(static_cast<RejectReason>(i)))] = counts.rejected[i];
    }
  }
  return {{"accepted", counts.accepted},         {"skipped_other_types", counts.skipped},
          {"rejected", counts.rejected_total()}, {"rejected_pct", counts.rejected_pct()},
          {"rejected_by_reason", by_reason},     {"events_lost", events_lost}};
}

nlohmann::ordered_json rejections_json(const std::vector<Rejection>& rejections) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& r : rejections) {
    out.push_back({{"entry", r.entry_id},
                   {"reason", std::string(reject_reason_name(r.reason))},
                   {"field", r.field},
                   {"message", r.message}});
  }
  return out;
}

nlohmann::ordered_json ensemble_json(const EnsembleStats& e) {
  return {{"events", e.events},
          {"agreement_pct", e.agreement_pct},
          {"hard_disagree_pct", e.hard_disagree_pct}};
}

std::string model_table_markdown(const std::vector<ModelStats>& models) {
  std::string md =
      "| model | n | BUY % | SELL % | HOLD % | conf mean | conf std | P10 | P90 | P10-P90 | "
      "inactive |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& m : models) {
    md += "| " + m.model + " | " + std::to_string(m.predictions) + " | " +
          fmt_fixed(m.share_pct[0], 1) + " | " + fmt_fixed(m.share_pct[1], 1) + " | " +
          fmt_fixed(m.share_pct[2], 1) + " | " + fmt_fixed(m.conf_mean, 4) + " | " +
          fmt_fixed(m.conf_std, 4) + " | " + fmt_fixed(m.p10, 4) + " | " + fmt_fixed(m.p90, 4) +
          " | " + fmt_fixed(m.range, 4) + " | " + std::to_string(m.inactive) + " |\n";
  }
  return md;
}

std::string ensemble_markdown(const EnsembleStats& e) {
  return "- Events with active votes: " + std::to_string(e.events) +
         "\n- Agreement: " + fmt_fixed(e.agreement_pct, 1) +
         "%\n- Hard disagree: " + fmt_fixed(e.hard_disagree_pct, 1) + "%\n";
}

std::string confidence_audit_markdown(const std::vector<ModelStats>& models) {
  std::string md = "| model |";
  for (auto s : kStatuses) md += " " + std::string(confidence_status_name(s)) + " |";
  md += "\n|---|";
  for (std::size_t i = 0; i < std::size(kStatuses); ++i) md += "---:|";
  md += "\n";
  for (const auto& m : models) {
    md += "| " + m.model + " |";
    for (auto s : kStatuses) {
      md += " " + std::to_string(m.by_status[static_cast<std::size_t>(s)]) + " |";
    }
    md += "\n";
  }
  return md;
}

std::string comparison_markdown(const WindowStats& pre, const WindowStats& post) {
  const auto hold = static_cast<std::size_t>(Vote::kHold);
  std::string md =
      "| model | HOLD % pre | HOLD % post | Δ | conf std pre | post | Δ | P10-P90 pre | post | Δ "
      "|\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& p : post.models) {
    const auto* q = pre.find(p.model);
    if (!q) {
      md += "| " + p.model + " | (new) | " + fmt_fixed(p.share_pct[hold], 1) + " | | | " +
            fmt_fixed(p.conf_std, 4) + " | | | " + fmt_fixed(p.range, 4) + " | |\n";
      continue;
    }
    md += "| " + p.model + " | " + fmt_fixed(q->share_pct[hold], 1) + " | " +
          fmt_fixed(p.share_pct[hold], 1) + " | " +
          delta(q->share_pct[hold], p.share_pct[hold], 1) + " | " + fmt_fixed(q->conf_std, 4) +
          " | " + fmt_fixed(p.conf_std, 4) + " | " + delta(q->conf_std, p.conf_std, 4) + " | " +
          fmt_fixed(q->range, 4) + " | " + fmt_fixed(p.range, 4) + " | " +
          delta(q->range, p.range, 4) + " |\n";
  }
  return md;
}

std::string rejections_markdown(const std::vector<Rejection>& rejections) {
  std::string md;
  for (const auto& r : rejections) {
    md += "- `" + std::string(reject_reason_name(r.reason)) + "` " + r.message + "\n";
  }
  return md;
}

std::string detectors_markdown(const nlohmann::ordered_json& detectors) {
  std::string md = "| detector | judges | configuration |\n|---|---|---|\n";
  for (const auto& [name, d] : detectors.items()) {
    const auto scope = d.value("scope", std::string());
    md += "| " + name + " | " +
          (scope == "canary_only" ? std::string("the live canary (monitor only)") : scope) +
          " | `" + d.value("config", nlohmann::ordered_json::object()).dump() + "` |\n";
  }
  return md;
}

}  // namespace qsc::agent

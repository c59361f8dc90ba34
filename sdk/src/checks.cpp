// The violation checks. Comparisons are strict as docs/design.md's table states them ("> 70%"), so
// a figure exactly at a threshold passes. Each is written as "not within the healthy side"
// (`!(x <= max)`, `!(x >= min)`): every comparison with NaN is false, so a NaN figure (a NaN
// that reached the statistics, or no data) fails the check instead of passing it.
#include "qsc/checks.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <system_error>

namespace qsc {
namespace {

// printf's "%.*f" (fixed) or "%.*g" (general) text of v: std::to_chars with a precision is
// specified to write exactly what printf writes, at a tenth of its cost (the monitor formats
// every detector's message at every evaluation). A text longer than printf's buffer here would
// have been cut short by it: printf writes that case, so the text stays the same.
std::string printed(double v, std::chars_format format, int precision) {
  char buf[64];
  // One byte short of the buffer: printf keeps the last for its terminating NUL.
  const auto r = std::to_chars(buf, buf + sizeof buf - 1, v, format, precision);
  if (r.ec == std::errc{}) return std::string(buf, r.ptr);
  std::snprintf(buf, sizeof buf, format == std::chars_format::fixed ? "%.*f" : "%.*g", precision,
                v);
  return buf;
}

std::string fixed(double v, int decimals) {
  return printed(v, std::chars_format::fixed, decimals);
}

// The ensemble bands are inclusive (the runbook fires at "Agreement <55% eller >80%" and "Hard
// disagree >20%": 55.00%, 80.00% and 20.00% are in band, docs/design.md). Agreement is a mean of
// per-event fractions such as 2/3, so a window whose exact agreement is 80% can come out of the
// floating-point sum as 80.00000000000001 (numpy's mean gives the same): a figure within this many
// percentage points of a band's edge is on the edge. Summation error is below 1e-12 points for
// any window up to 10^7 events, while two distinct exact figures of such a window differ by at
// least 100 / (events x lcm(1..models)) points (4e-8 for 10 models and 10^6 events), so the
// tolerance merges rounding, never a real difference.
constexpr double kBandTolerancePct = 1e-9;

// Past a band's edge by more than the tolerance; NaN is past both.
bool above_band(double x, double max_pct) {
  return !(x <= max_pct + kBandTolerancePct);
}
bool below_band(double x, double min_pct) {
  return !(x >= min_pct - kBandTolerancePct);
}

CheckResult result(bool violated, std::string message, std::vector<Figure> figures) {
  return CheckResult{violated ? Verdict::kViolation : Verdict::kPass, std::move(message),
                     std::move(figures)};
}

// A model with no usable confidence cannot show spread: that is a violation, not a pass.
CheckResult no_confidence(const char* title, const ModelStats& m) {
  return CheckResult{Verdict::kViolation,
                     std::string(title) + ": no usable confidence among " +
                         std::to_string(m.predictions) + " predictions of " + m.model,
                     {}};
}

}  // namespace

std::string_view verdict_name(Verdict v) noexcept {
  switch (v) {
    case Verdict::kPass:
      return "pass";
    case Verdict::kViolation:
      return "violation";
    case Verdict::kInsufficient:
      return "insufficient";
    case Verdict::kError:
      return "error";
  }
  return "?";
}

std::string format_threshold(double value) {
  return printed(value, std::chars_format::general, 10);
}

CheckResult check_action_collapse(const ModelStats& m, double max_share_pct) {
  if (m.predictions == 0) return {Verdict::kInsufficient, "Action collapse: no predictions", {}};
  const Vote top = m.dominant();
  const double share = m.share_pct[static_cast<std::size_t>(top)];
  return result(!(share <= max_share_pct),
                "Action collapse: " + std::string(vote_name(top)) + "=" + fixed(share, 1) + "% (>" +
                    format_threshold(max_share_pct) + "%)",
                {{"max_share_pct", share}});
}

CheckResult check_dead_zone(const ModelStats& m, double max_hold_pct) {
  if (m.predictions == 0) return {Verdict::kInsufficient, "Dead zone: no predictions", {}};
  const double hold = m.share_pct[static_cast<std::size_t>(Vote::kHold)];
  return result(
      !(hold <= max_hold_pct),
      "Dead zone: HOLD=" + fixed(hold, 1) + "% (>" + format_threshold(max_hold_pct) + "%)",
      {{"hold_pct", hold}});
}

CheckResult check_flat_predictions(const ModelStats& m, double min_std) {
  if (m.confidence_samples == 0) return no_confidence("Flat predictions", m);
  return result(!(m.conf_std >= min_std),
                "Flat predictions: conf_std=" + fixed(m.conf_std, 4) + " (<" +
                    format_threshold(min_std) + ")",
                {{"conf_std", m.conf_std}});
}

CheckResult check_narrow_range(const ModelStats& m, double min_range) {
  if (m.confidence_samples == 0) return no_confidence("Narrow range", m);
  return result(
      !(m.range >= min_range),
      "Narrow range: p10_p90=" + fixed(m.range, 4) + " (<" + format_threshold(min_range) + ")",
      {{"p10_p90", m.range}});
}

CheckResult check_constant_output(const ModelStats& m, double min_std, double min_range) {
  if (m.confidence_samples == 0) return no_confidence("Constant output", m);
  std::vector<Figure> figures{{"conf_std", m.conf_std}, {"p10_p90", m.range}};
  if (!(m.conf_std >= min_std)) {
    return result(
        true,
        "Constant output: std=" + fixed(m.conf_std, 4) + " (<" + format_threshold(min_std) + ")",
        std::move(figures));
  }
  if (!(m.range >= min_range)) {
    return result(
        true,
        "Constant output: p10_p90=" + fixed(m.range, 4) + " (<" + format_threshold(min_range) + ")",
        std::move(figures));
  }
  return result(
      false,
      "Constant output: std=" + fixed(m.conf_std, 4) + " (<" + format_threshold(min_std) + ")",
      std::move(figures));
}

CheckResult check_confidence(const ModelStats& m) {
  std::string detail;
  for (std::size_t s = 0; s < m.by_status.size(); ++s) {
    const auto status = static_cast<ConfidenceStatus>(s);
    if (!is_confidence_violation(status) || m.by_status[s] == 0) continue;
    if (!detail.empty()) detail += ", ";
    detail += std::string(confidence_status_name(status)) + "=" + std::to_string(m.by_status[s]);
  }
  const auto n = static_cast<double>(m.confidence_violations);
  if (m.confidence_violations == 0) {
    return result(false, "Confidence violations: 0", {{"confidence_violations", 0.0}});
  }
  return result(
      true,
      "Confidence violations: " + std::to_string(m.confidence_violations) + " (" + detail + ")",
      {{"confidence_violations", n}});
}

CheckResult check_ensemble_agreement(const EnsembleStats& e, double min_pct, double max_pct) {
  if (e.events == 0) {
    return {Verdict::kInsufficient, "Ensemble dysfunction: no event with an active vote", {}};
  }
  const double a = e.agreement_pct;
  return result(below_band(a, min_pct) || above_band(a, max_pct),
                "Ensemble dysfunction: agreement=" + fixed(a, 1) + "% (target " +
                    format_threshold(min_pct) + "-" + format_threshold(max_pct) + "%)",
                {{"agreement_pct", a}});
}

CheckResult check_model_chaos(const EnsembleStats& e, double max_pct) {
  if (e.events == 0) {
    return {Verdict::kInsufficient, "Model chaos: no event with an active vote", {}};
  }
  const double h = e.hard_disagree_pct;
  return result(
      above_band(h, max_pct),
      "Model chaos: hard_disagree=" + fixed(h, 1) + "% (>" + format_threshold(max_pct) + "%)",
      {{"hard_disagree_pct", h}});
}

std::vector<std::string> GateModelVerdict::failures() const {
  std::vector<std::string> out;
  for (const auto& [name, r] : checks) {
    if (r.verdict != Verdict::kPass) out.push_back(r.message);
  }
  return out;
}

GateModelVerdict gate_model(const ModelStats& m, const GateThresholds& t) {
  GateModelVerdict v;
  v.model = m.model;
  v.checks.emplace_back("action_collapse", check_action_collapse(m, t.max_share_pct));
  v.checks.emplace_back("dead_zone", check_dead_zone(m, t.max_hold_pct));
  v.checks.emplace_back("flat_predictions", check_flat_predictions(m, t.min_conf_std));
  v.checks.emplace_back("narrow_range", check_narrow_range(m, t.min_p10_p90));
  v.checks.emplace_back("constant_output",
                        check_constant_output(m, t.constant_std, t.constant_range));
  v.checks.emplace_back("confidence", check_confidence(m));
  v.pass = true;
  for (const auto& [name, r] : v.checks) {
    // Anything but a clean pass fails the gate: insufficient data is not a pass.
    if (r.verdict != Verdict::kPass) v.pass = false;
  }
  return v;
}

}  // namespace qsc

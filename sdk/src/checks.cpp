// The violation checks. Comparisons are strict as docs/design.md's table states them ("> 70%"), so
// a figure exactly at a threshold passes. Each is written as "not within the healthy side"
// (`!(x <= max)`, `!(x >= min)`): every comparison with NaN is false, so a NaN figure (a NaN
// that reached the statistics, or no data) fails the check instead of passing it.
#include "qsc/checks.hpp"
#include "qsc/gate_failures.hpp"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <iterator>
#include <system_error>
#include <utility>

namespace qsc {
namespace {

// printf's "%.*f" (fixed) or "%.*g" (general) text of v: std::to_chars with a precision is
// specified to write exactly what printf writes, at a tenth of its cost. A text longer than
// printf's buffer here would have been cut short by it: printf writes that case, so the text
// stays the same.
void append_printed(std::string& out, double v, std::chars_format format, int precision) {
  char buf[64];
  // One byte short of the buffer: printf keeps the last for its terminating NUL.
  const auto r = std::to_chars(buf, buf + sizeof buf - 1, v, format, precision);
  if (r.ec == std::errc{}) {
    out.append(buf, r.ptr);
    return;
  }
  std::snprintf(buf, sizeof buf, format == std::chars_format::fixed ? "%.*f" : "%.*g", precision,
                v);
  out.append(buf);
}

// printf's "%.*f" of v for 0-9 decimals and |v| x 10^decimals below 2^52, from the exact
// product v x 10^decimals (its rounded value plus the error fma recovers): the integer to print
// is that product rounded to nearest, decided exactly. An exact tie (printf rounds those by its
// own rule) and anything outside the range return false for the general path. Worth it: the
// monitor formats a figure into every detector's message at every event, and the general path
// costs about a microsecond a figure.
bool append_fixed_exact(std::string& out, double v, int decimals) {
  static constexpr double kScale[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
  static constexpr std::uint64_t kIntScale[] = {1,      10,      100,      1000,      10000,
                                                100000, 1000000, 10000000, 100000000, 1000000000};
  if (decimals < 0 || decimals > 9) return false;
  const double magnitude = std::fabs(v);
  const double scale = kScale[decimals];
  const double product = magnitude * scale;
  if (!(product < 0x1p52)) return false;  // also NaN and infinities
  // product + error is magnitude x scale exactly; (product - whole) - 0.5 is exact too (a
  // multiple of product's ulp below 0.5 in size), so the comparison below is exact.
  const double error = std::fma(magnitude, scale, -product);
  const double whole = std::floor(product);
  const double above_half = (product - whole) - 0.5;
  auto scaled = static_cast<std::uint64_t>(whole);
  if (above_half > -error) {
    ++scaled;
  } else if (above_half == -error) {
    return false;
  }
  char buf[48];
  char* p = buf;
  if (std::signbit(v)) *p++ = '-';  // printf writes "-0.0" for -0.0 and -0.01 alike
  const std::uint64_t unit = kIntScale[decimals];
  p = std::to_chars(p, buf + sizeof buf, scaled / unit).ptr;
  if (decimals > 0) {
    *p++ = '.';
    std::uint64_t fraction = scaled % unit;
    for (int i = decimals - 1; i >= 0; --i) {
      p[i] = static_cast<char>('0' + fraction % 10);
      fraction /= 10;
    }
    p += decimals;
  }
  out.append(buf, p);
  return true;
}

// A threshold is a detector's configuration: the same few values at every evaluation, so their
// text is kept (per thread: plugins may be called from several) instead of printed each time.
struct ThresholdText {
  std::uint64_t bits = 0;
  std::size_t length = 0;  // 0: an empty slot ("%.10g" never writes nothing)
  char text[40] = {};
};
constexpr std::size_t kThresholdTexts = 16;

// Parts of a message, appended to a string whose storage is kept between evaluations.
struct Fixed {
  double value;
  int decimals;
};
struct Threshold {
  double value;
};
void append_part(std::string& out, std::string_view text) {
  out.append(text);
}
void append_part(std::string& out, Fixed f) {
  append_fixed(out, f.value, f.decimals);
}
void append_part(std::string& out, Threshold t) {
  append_threshold(out, t.value);
}
void append_part(std::string& out, std::uint64_t n) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, n).ptr);
}
template <typename... Parts>
void compose(std::string& out, const Parts&... parts) {
  out.clear();
  (append_part(out, parts), ...);
}

// Sets the figures, keeping the names' storage.
void set_figures(CheckResult& out, std::initializer_list<std::pair<std::string_view, double>> f) {
  out.figures.resize(f.size());
  auto* figure = out.figures.data();
  for (const auto& [name, value] : f) {
    assign_changed(figure->name, name);
    figure->value = value;
    ++figure;
  }
}

Verdict verdict_of(bool violated) {
  return violated ? Verdict::kViolation : Verdict::kPass;
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

// A model with no usable confidence cannot show spread: that is a violation, not a pass.
void no_confidence(std::string_view title, const ModelStats& m, CheckResult& out) {
  out.verdict = Verdict::kViolation;
  compose(out.message, title, ": no usable confidence among ", std::uint64_t{m.predictions},
          " predictions of ", std::string_view(m.model));
  out.figures.clear();
}

void insufficient(std::string_view message, CheckResult& out) {
  out.verdict = Verdict::kInsufficient;
  out.message.assign(message);
  out.figures.clear();
}

// Which messages a check writes. Every public check writes its message on every verdict;
// gate_model_failures' caller (the quality_gate detector, at every event) reads only the
// messages of the checks that do not pass, and composing the five passing ones' texts was most
// of its cost.
enum class Messages : bool { kAll, kNotPassing };

// Composes `out`'s message, unless `messages` spares a passing check's (then it is emptied).
template <typename... Parts>
void compose_message(CheckResult& out, Messages messages, const Parts&... parts) {
  if (messages == Messages::kNotPassing && out.verdict == Verdict::kPass) {
    out.message.clear();
    return;
  }
  compose(out.message, parts...);
}

// The per-model checks, writing the messages `messages` asks for.
void action_collapse(const ModelStats& m, double max_share_pct, CheckResult& out,
                     Messages messages) {
  if (m.predictions == 0) return insufficient("Action collapse: no predictions", out);
  const Vote top = m.dominant();
  const double share = m.share_pct[static_cast<std::size_t>(top)];
  out.verdict = verdict_of(!(share <= max_share_pct));
  compose_message(out, messages, "Action collapse: ", vote_name(top), "=", Fixed{share, 1}, "% (>",
                  Threshold{max_share_pct}, "%)");
  set_figures(out, {{"max_share_pct", share}});
}

void dead_zone(const ModelStats& m, double max_hold_pct, CheckResult& out, Messages messages) {
  if (m.predictions == 0) return insufficient("Dead zone: no predictions", out);
  const double hold = m.share_pct[static_cast<std::size_t>(Vote::kHold)];
  out.verdict = verdict_of(!(hold <= max_hold_pct));
  compose_message(out, messages, "Dead zone: HOLD=", Fixed{hold, 1}, "% (>",
                  Threshold{max_hold_pct}, "%)");
  set_figures(out, {{"hold_pct", hold}});
}

// A confidence spread (std, P10-P90) below its floor: the title, the message's text before the
// figure, and the figure's name.
struct SpreadCheck {
  std::string_view title;
  std::string_view text;
  std::string_view figure;
};
void spread_below(const ModelStats& m, double value, double min, const SpreadCheck& check,
                  CheckResult& out, Messages messages) {
  if (m.confidence_samples == 0) return no_confidence(check.title, m, out);
  out.verdict = verdict_of(!(value >= min));
  compose_message(out, messages, check.text, Fixed{value, 4}, " (<", Threshold{min}, ")");
  set_figures(out, {{check.figure, value}});
}

void flat_predictions(const ModelStats& m, double min_std, CheckResult& out, Messages messages) {
  spread_below(m, m.conf_std, min_std,
               {"Flat predictions", "Flat predictions: conf_std=", "conf_std"}, out, messages);
}

void narrow_range(const ModelStats& m, double min_range, CheckResult& out, Messages messages) {
  spread_below(m, m.range, min_range, {"Narrow range", "Narrow range: p10_p90=", "p10_p90"}, out,
               messages);
}

void constant_output(const ModelStats& m, double min_std, double min_range, CheckResult& out,
                     Messages messages) {
  if (m.confidence_samples == 0) return no_confidence("Constant output", m, out);
  set_figures(out, {{"conf_std", m.conf_std}, {"p10_p90", m.range}});
  const bool flat = !(m.conf_std >= min_std);
  const bool narrow = !(m.range >= min_range);
  out.verdict = verdict_of(flat || narrow);
  if (narrow && !flat) {
    compose_message(out, messages, "Constant output: p10_p90=", Fixed{m.range, 4}, " (<",
                    Threshold{min_range}, ")");
  } else {
    compose_message(out, messages, "Constant output: std=", Fixed{m.conf_std, 4}, " (<",
                    Threshold{min_std}, ")");
  }
}

// The value form of a check: its into form on a fresh result.
template <typename Fill>
CheckResult returned(Fill fill) {
  CheckResult r;
  fill(r);
  return r;
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

void append_fixed(std::string& out, double value, int decimals) {
  if (!append_fixed_exact(out, value, decimals)) {
    append_printed(out, value, std::chars_format::fixed, decimals);
  }
}

void append_threshold(std::string& out, double value) {
  thread_local ThresholdText texts[kThresholdTexts];
  thread_local std::size_t next_slot = 0;
  const auto bits = std::bit_cast<std::uint64_t>(value);
  for (const auto& t : texts) {
    if (t.length != 0 && t.bits == bits) {
      out.append(t.text, t.length);
      return;
    }
  }
  const std::size_t start = out.size();
  append_printed(out, value, std::chars_format::general, 10);
  const std::size_t length = out.size() - start;
  ThresholdText& slot = texts[next_slot];
  if (length <= sizeof slot.text) {
    slot.bits = bits;
    slot.length = length;
    out.copy(slot.text, length, start);
    next_slot = (next_slot + 1) % kThresholdTexts;
  }
}

std::string format_threshold(double value) {
  std::string out;
  append_threshold(out, value);
  return out;
}

void check_action_collapse(const ModelStats& m, double max_share_pct, CheckResult& out) {
  action_collapse(m, max_share_pct, out, Messages::kAll);
}

void check_dead_zone(const ModelStats& m, double max_hold_pct, CheckResult& out) {
  dead_zone(m, max_hold_pct, out, Messages::kAll);
}

void check_flat_predictions(const ModelStats& m, double min_std, CheckResult& out) {
  flat_predictions(m, min_std, out, Messages::kAll);
}

void check_narrow_range(const ModelStats& m, double min_range, CheckResult& out) {
  narrow_range(m, min_range, out, Messages::kAll);
}

void check_constant_output(const ModelStats& m, double min_std, double min_range,
                           CheckResult& out) {
  constant_output(m, min_std, min_range, out, Messages::kAll);
}

void check_confidence(const ModelStats& m, CheckResult& out) {
  if (m.confidence_violations == 0) {
    out.verdict = Verdict::kPass;
    out.message.assign("Confidence violations: 0");
    set_figures(out, {{"confidence_violations", 0.0}});
    return;
  }
  out.verdict = Verdict::kViolation;
  compose(out.message, "Confidence violations: ", std::uint64_t{m.confidence_violations}, " (");
  bool first = true;
  for (std::size_t s = 0; s < m.by_status.size(); ++s) {
    const auto status = static_cast<ConfidenceStatus>(s);
    if (!is_confidence_violation(status) || m.by_status[s] == 0) continue;
    if (!first) append_part(out.message, ", ");
    first = false;
    append_part(out.message, confidence_status_name(status));
    append_part(out.message, "=");
    append_part(out.message, std::uint64_t{m.by_status[s]});
  }
  append_part(out.message, ")");
  set_figures(out, {{"confidence_violations", static_cast<double>(m.confidence_violations)}});
}

void check_ensemble_agreement(const EnsembleStats& e, double min_pct, double max_pct,
                              CheckResult& out) {
  if (e.events == 0) {
    return insufficient("Ensemble dysfunction: no event with an active vote", out);
  }
  const double a = e.agreement_pct;
  out.verdict = verdict_of(below_band(a, min_pct) || above_band(a, max_pct));
  compose(out.message, "Ensemble dysfunction: agreement=", Fixed{a, 1}, "% (target ",
          Threshold{min_pct}, "-", Threshold{max_pct}, "%)");
  set_figures(out, {{"agreement_pct", a}});
}

void check_model_chaos(const EnsembleStats& e, double max_pct, CheckResult& out) {
  if (e.events == 0) return insufficient("Model chaos: no event with an active vote", out);
  const double h = e.hard_disagree_pct;
  out.verdict = verdict_of(above_band(h, max_pct));
  compose(out.message, "Model chaos: hard_disagree=", Fixed{h, 1}, "% (>", Threshold{max_pct},
          "%)");
  set_figures(out, {{"hard_disagree_pct", h}});
}

CheckResult check_action_collapse(const ModelStats& m, double max_share_pct) {
  return returned([&](CheckResult& r) { check_action_collapse(m, max_share_pct, r); });
}
CheckResult check_dead_zone(const ModelStats& m, double max_hold_pct) {
  return returned([&](CheckResult& r) { check_dead_zone(m, max_hold_pct, r); });
}
CheckResult check_flat_predictions(const ModelStats& m, double min_std) {
  return returned([&](CheckResult& r) { check_flat_predictions(m, min_std, r); });
}
CheckResult check_narrow_range(const ModelStats& m, double min_range) {
  return returned([&](CheckResult& r) { check_narrow_range(m, min_range, r); });
}
CheckResult check_constant_output(const ModelStats& m, double min_std, double min_range) {
  return returned([&](CheckResult& r) { check_constant_output(m, min_std, min_range, r); });
}
CheckResult check_confidence(const ModelStats& m) {
  return returned([&](CheckResult& r) { check_confidence(m, r); });
}
CheckResult check_ensemble_agreement(const EnsembleStats& e, double min_pct, double max_pct) {
  return returned([&](CheckResult& r) { check_ensemble_agreement(e, min_pct, max_pct, r); });
}
CheckResult check_model_chaos(const EnsembleStats& e, double max_pct) {
  return returned([&](CheckResult& r) { check_model_chaos(e, max_pct, r); });
}

std::vector<std::string> GateModelVerdict::failures() const {
  std::vector<std::string> out;
  for (const auto& [name, r] : checks) {
    if (r.verdict != Verdict::kPass) out.push_back(r.message);
  }
  return out;
}

namespace {

void gate_model(const ModelStats& m, const GateThresholds& t, GateModelVerdict& out,
                Messages messages) {
  static constexpr std::string_view kNames[] = {"action_collapse",  "dead_zone",
                                                "flat_predictions", "narrow_range",
                                                "constant_output",  "confidence"};
  assign_changed(out.model, m.model);
  out.checks.resize(std::size(kNames));
  for (std::size_t i = 0; i < std::size(kNames); ++i)
    assign_changed(out.checks[i].first, kNames[i]);
  action_collapse(m, t.max_share_pct, out.checks[0].second, messages);
  dead_zone(m, t.max_hold_pct, out.checks[1].second, messages);
  flat_predictions(m, t.min_conf_std, out.checks[2].second, messages);
  narrow_range(m, t.min_p10_p90, out.checks[3].second, messages);
  constant_output(m, t.constant_std, t.constant_range, out.checks[4].second, messages);
  check_confidence(m, out.checks[5].second);
  out.pass = true;
  for (const auto& [name, r] : out.checks) {
    // Anything but a clean pass fails the gate: insufficient data is not a pass.
    if (r.verdict != Verdict::kPass) out.pass = false;
  }
}

}  // namespace

void gate_model(const ModelStats& m, const GateThresholds& t, GateModelVerdict& out) {
  gate_model(m, t, out, Messages::kAll);
}

void gate_model_failures(const ModelStats& m, const GateThresholds& t, GateModelVerdict& out) {
  gate_model(m, t, out, Messages::kNotPassing);
}

GateModelVerdict gate_model(const ModelStats& m, const GateThresholds& t) {
  GateModelVerdict v;
  gate_model(m, t, v);
  return v;
}

}  // namespace qsc

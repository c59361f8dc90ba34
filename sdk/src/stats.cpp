// Window statistics. Formulas mirror numpy's so the figures match it to 1e-9: two-pass
// population std (ddof=0) and numpy's linear percentile including its _lerp rounding rule.
#include "qsc/stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <new>

namespace qsc {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

Sample to_sample(const Prediction& p) noexcept {
  return Sample{p.action, p.confidence, p.confidence_status, p.inactive};
}

Vote ModelStats::dominant() const noexcept {
  std::size_t best = 0;
  for (std::size_t i = 1; i < kVoteKinds; ++i) {
    if (votes[i] > votes[best]) best = i;
  }
  return static_cast<Vote>(best);
}

namespace {

// numpy's pairwise summation (np.add.reduce over a contiguous float64 array): below 8 values one
// by one, up to 128 in eight interleaved partial sums, beyond that split in halves (multiples of
// 8). Summing in numpy's order makes means and std bit-identical to numpy's, so a figure that
// numpy prints as 62.2% is not printed as 62.3% here.
double pairwise_sum(const double* a, std::size_t n) noexcept {
  if (n < 8) {
    double res = 0.0;
    for (std::size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (std::size_t j = 0; j < 8; ++j) r[j] = a[j];
    std::size_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (std::size_t j = 0; j < 8; ++j) r[j] += a[i + j];
    }
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  std::size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

}  // namespace

PercentilePosition percentile_position(std::size_t n, double q) noexcept {
  // numpy's virtual index for the linear method: (n - 1) * q.
  const double index = (static_cast<double>(n) - 1.0) * (q / 100.0);
  const double below = std::floor(index);
  return {static_cast<std::size_t>(below), index - below};
}

double percentile_interpolate(double lower, double upper, double fraction) noexcept {
  // numpy's _lerp: interpolate from the nearer end so the result is monotone and exact at t=1.
  const double diff = upper - lower;
  return fraction >= 0.5 ? upper - diff * (1.0 - fraction) : lower + diff * fraction;
}

double percentile_linear(std::span<const double> sorted, double q) noexcept {
  const auto at = percentile_position(sorted.size(), q);
  const auto hi = std::min(at.lower_rank + 1, sorted.size() - 1);
  return percentile_interpolate(sorted[at.lower_rank], sorted[hi], at.fraction);
}

namespace {

// numpy's linear percentile without a full sort: the two order statistics it interpolates are
// found with nth_element (O(n)), which the monitor runs on every evaluation. The values are the
// same elements a sort would put there, so the result is bit-identical to percentile_linear.
double percentile_selected(std::vector<double>& values, double q) {
  const auto at = percentile_position(values.size(), q);
  const auto nth = values.begin() + static_cast<std::ptrdiff_t>(at.lower_rank);
  std::nth_element(values.begin(), nth, values.end());
  // After nth_element everything past lo is >= values[lo]; the next order statistic is their min.
  const double a = *nth;
  const double b = at.lower_rank + 1 < values.size() ? *std::min_element(nth + 1, values.end()) : a;
  return percentile_interpolate(a, b, at.fraction);
}

}  // namespace

ModelStats compute_model_stats(std::string model, std::span<const Sample> samples) {
  ModelStats m;
  m.model = std::move(model);
  m.predictions = samples.size();
  std::vector<double> conf;
  conf.reserve(samples.size());
  for (const auto& s : samples) {
    ++m.votes[static_cast<std::size_t>(s.action)];
    ++m.by_status[static_cast<std::size_t>(s.status)];
    if (is_confidence_violation(s.status)) {
      ++m.confidence_violations;
    } else {
      if (s.status == ConfidenceStatus::kNormalized) ++m.normalized;
      conf.push_back(s.confidence);
    }
    if (s.inactive != InactiveReason::kNone) {
      ++m.inactive;
      m.last_inactive_reason = s.inactive;
    }
  }
  if (!samples.empty()) m.newest_inactive = samples.back().inactive;
  for (std::size_t i = 0; i < kVoteKinds; ++i) {
    // Multiply before dividing: 700 * 100 / 1000 is exactly 70, 0.7 * 100 is not.
    m.share_pct[i] = m.predictions == 0 ? 0.0
                                        : static_cast<double>(m.votes[i]) * 100.0 /
                                              static_cast<double>(m.predictions);
  }
  m.confidence_samples = conf.size();
  if (conf.empty()) {
    m.conf_mean = m.conf_std = m.p10 = m.p90 = m.range = kNaN;
    return m;
  }
  const double n = static_cast<double>(conf.size());
  m.conf_mean = pairwise_sum(conf.data(), conf.size()) / n;
  // np.std: the squared deviations, summed pairwise, over n.
  std::vector<double> squares(conf.size());
  for (std::size_t i = 0; i < conf.size(); ++i) {
    const double d = conf[i] - m.conf_mean;
    squares[i] = d * d;
  }
  m.conf_std = std::sqrt(pairwise_sum(squares.data(), squares.size()) / n);
  m.p10 = percentile_selected(conf, 10.0);
  m.p90 = percentile_selected(conf, 90.0);
  m.range = m.p90 - m.p10;
  return m;
}

EventVotes event_votes(const TradeIntent& event) noexcept {
  EventVotes v;
  for (const auto& p : event.predictions) {
    if (!p.is_inactive()) ++v.counts[static_cast<std::size_t>(p.action)];
  }
  return v;
}

EnsembleStats compute_ensemble(std::span<const EventVotes> events) noexcept {
  EnsembleStats e;
  // Per-event agreements, summed as np.mean would; without memory, summed one by one instead.
  std::vector<double> agreements;
  try {
    agreements.reserve(events.size());
  } catch (const std::bad_alloc&) {
  }
  double agreement_sum = 0.0;
  std::size_t hard = 0;
  for (const auto& v : events) {
    const auto total = v.total();
    if (total == 0) continue;
    ++e.events;
    const auto largest = std::max({v.counts[0], v.counts[1], v.counts[2]});
    const double agreement = static_cast<double>(largest) * 100.0 / static_cast<double>(total);
    agreement_sum += agreement;
    if (agreements.capacity() > agreements.size()) agreements.push_back(agreement);
    if (v.counts[static_cast<std::size_t>(Vote::kBuy)] > 0 &&
        v.counts[static_cast<std::size_t>(Vote::kSell)] > 0) {
      ++hard;
    }
  }
  if (e.events == 0) {
    e.agreement_pct = e.hard_disagree_pct = kNaN;
  } else {
    const double n = static_cast<double>(e.events);
    if (agreements.size() == e.events) {
      agreement_sum = pairwise_sum(agreements.data(), agreements.size());
    }
    e.agreement_pct = agreement_sum / n;
    e.hard_disagree_pct = static_cast<double>(hard) * 100.0 / n;
  }
  return e;
}

const ModelStats* WindowStats::find(std::string_view model) const noexcept {
  for (const auto& m : models) {
    if (m.model == model) return &m;
  }
  return nullptr;
}

WindowStats compute_window_stats(std::span<const TradeIntent> events) {
  WindowStats w;
  w.events = events.size();
  std::map<std::string, std::vector<Sample>, std::less<>> per_model;
  std::vector<EventVotes> votes;
  votes.reserve(events.size());
  for (const auto& e : events) {
    for (const auto& p : e.predictions) per_model[p.model].push_back(to_sample(p));
    votes.push_back(event_votes(e));
  }
  w.models.reserve(per_model.size());
  for (auto& [model, samples] : per_model) w.models.push_back(compute_model_stats(model, samples));
  w.ensemble = compute_ensemble(votes);
  return w;
}

}  // namespace qsc

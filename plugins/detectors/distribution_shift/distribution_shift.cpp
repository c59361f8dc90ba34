// distribution_shift: an anytime-valid sequential test that the canary, since its activation,
// acts like its peers over the same events: its BUY/SELL/HOLD shares, its agreement with them,
// its confidence level and its confidence spread. It fires only when one of these differs from
// the peers' by more than a practically significant minimum effect, and under "no such
// difference" the probability that it EVER fires during the whole period is at most alpha,
// however often it is evaluated (docs/ACCURACY.md, "distribution_shift: the derivation").
//
// The test, per event t at which the canary and at least one active peer predicted:
//   six paired differences x_t in [-1, 1] (canary minus peers, the same event: the market
//   regime cancels), each tested two-sidedly against its minimum effect d by betting:
//     K+_t = prod_s (1 + l+_s (x_s - d)),   K-_t = prod_s (1 + l-_s (-x_s - d)),
//   bets l_s chosen from the events before s only (aGRAPA on an exponentially weighted mean
//   and variance), in [0, 1/(2 (1 + d))] so that no factor is below 1/2. Under H0 (the
//   conditional mean of x_t is within [-d, d]) each K is a nonnegative supermartingale with
//   K_0 = 1, so is their average E_t over the twelve; Ville's inequality gives
//   P(sup_t E_t >= 1/alpha) <= alpha. The detector fires (and stays fired) at the first event
//   with E_t >= 1/alpha.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "../common/betting_test.hpp"
#include "../common/detector_support.hpp"
#include "../common/vote_memo.hpp"
#include "qsc/config_section.hpp"
#include "qsc/plugin.hpp"
#include "qsc/same_bytes.hpp"

namespace {

// Models whose running confidence mean is kept (for the spread): telemetry naming more models
// than this cannot grow the detector's memory; the extra ones do not count in the spread.
constexpr std::size_t kMaxTrackedModels = 64;

/// One paired difference x in [-1, 1], tested two-sidedly against |E x| <= min_effect.
using PairedDifferenceTest = qsc::detectors::BettingTest;

/// What the detector's thresholds are.
struct ShiftConfig {
  double alpha = 0.001;
  double min_action_tv = 0.1;
  double min_agreement_shift = 0.1;
  double min_confidence_shift = 0.05;
  // 0.02 (was 0.03): no false rollback in the accuracy benchmark's 1,000 healthy periods, and a
  // flattening canary caught in under half the runbook detectors' time; min_action_tv 0.07 would
  // catch a gradual collapse 10 minutes sooner but fired in 3 of 893 healthy periods
  // (docs/ACCURACY.md, "The minimum effects, measured").
  double min_spread_shift = 0.02;
  // The bets follow the recent difference (about this many events), not the mean since
  // activation: a degradation that begins hours into the period is then bet on as soon as it
  // shows, instead of after it has outweighed every healthy event before it. Any predictable
  // bet keeps the guarantee; the memory sets the detection delay and how much of a healthy
  // model's own persistent wander is bet on (docs/ACCURACY.md).
  double bet_memory_events = 2048.0;
};

// The configuration schema (qsc/plugin_abi.h): the same ranges, ends and defaults create()
// enforces, so `qsc config` refuses what the detector would.
// clang-format off
constexpr const char kSchema[] = R"json({
  "alpha": {"type": "number", "min": 0, "min_excluded": true, "max": 1, "max_excluded": true,
            "why": "at 0 the test could never fire, at 1 it fires on no evidence", "default": 0.001,
            "description": "the most probability of ever firing over a period on a canary within the minimum effects"},
  "min_action_tv": {"type": "number", "min": 0, "max": 1, "max_excluded": true,
                    "why": "a total-variation distance never exceeds 1: at 1 the test could never fire", "default": 0.1,
                    "description": "the smallest difference between the canary's and its peers' action shares worth a rollback"},
  "min_agreement_shift": {"type": "number", "min": 0, "max": 1, "max_excluded": true,
                          "why": "an agreement difference never exceeds 1: at 1 it could never fire", "default": 0.1,
                          "description": "the smallest change in the canary's agreement with its peers against theirs with each other"},
  "min_confidence_shift": {"type": "number", "min": 0, "max": 1, "max_excluded": true,
                           "why": "confidences lie in [0, 1]: at a shift of 1 the test could never fire", "default": 0.05,
                           "description": "the smallest difference in mean confidence from the peers'"},
  "min_spread_shift": {"type": "number", "min": 0, "max": 0.5, "max_excluded": true,
                       "why": "a mean absolute deviation of confidences in [0, 1] never exceeds 0.5: at 0.5 the test could never fire", "default": 0.02,
                       "description": "the smallest difference in mean absolute deviation of confidence from the peers'"},
  "bet_memory_events": {"type": "number", "min": 1, "max": 1000000000,
                        "why": "a memory below one event is no average", "default": 2048,
                        "description": "about how many recent events the bets follow"}
})json";
// clang-format on

/// The tested differences, in the order of their tests.
enum Difference : std::size_t {
  kBuyShare = 0,
  kSellShare = 1,
  kHoldShare = 2,
  kAgreement = 3,
  kConfidenceMean = 4,
  kConfidenceSpread = 5,
  kDifferences = 6,
};

constexpr std::array<const char*, kDifferences> kDifferenceNames{
    "BUY share",       "SELL share",       "HOLD share", "agreement with peers",
    "confidence mean", "confidence spread"};

/// The vote part of one paired event's differences, a function of the peers' vote counts and
/// the canary's vote alone (peer_differences): remembered by them (VoteMemo).
struct PeerDifferences {
  std::array<double, qsc::kVoteKinds> share{};  ///< the canary's minus the peers' share of each
  double agreement = 0.0;                       ///< with two peers or more
};

/// The differences of an event whose active peers voted `peer_votes` (at least one) and whose
/// canary voted `own`, into `d`: the BUY/SELL/HOLD share differences and, with two peers or more,
/// the canary's agreement with a random peer minus two random peers' with each other (equal in
/// expectation when the canary is one more model like them).
void peer_differences(const std::array<std::size_t, qsc::kVoteKinds>& peer_votes, std::size_t own,
                      PeerDifferences& d) noexcept {
  const std::size_t peers = peer_votes[0] + peer_votes[1] + peer_votes[2];
  const auto n = static_cast<double>(peers);
  for (std::size_t k = 0; k < qsc::kVoteKinds; ++k) {
    d.share[k] = (own == k ? 1.0 : 0.0) - static_cast<double>(peer_votes[k]) / n;
  }
  if (peers >= 2) {
    double peer_pairs_agreeing = 0.0;
    for (auto v : peer_votes) peer_pairs_agreeing += v > 0 ? static_cast<double>(v * (v - 1)) : 0.0;
    d.agreement = static_cast<double>(peer_votes[own]) / n - peer_pairs_agreeing / (n * (n - 1.0));
  }
}

/// A model's running confidence mean since activation (the spread's centre).
struct RunningMean {
  std::string model;
  double sum = 0.0;
  std::uint64_t count = 0;
};

class DistributionShift final : public qsc::detectors::IntoDetector<DistributionShift> {
 public:
  // It folds in every event since activation, read in place (CheckInput::new_event_views):
  // without kReadsNewEvents no C++ copy of them is made.
  static constexpr const char* kConfigSchema = kSchema;

  explicit DistributionShift(const ShiftConfig& config)
      : config_(config),
        log_threshold_(-std::log(config.alpha)),
        threshold_text_(qsc::detectors::e_value_text(log_threshold_)) {
    reset();
  }

  static qsc::Result<std::unique_ptr<DistributionShift>> create(const nlohmann::json& section,
                                                                const nlohmann::json& /*host*/) {
    using End = qsc::ConfigSection::End;
    qsc::ConfigSection s(section, "plugins.config.distribution_shift");
    ShiftConfig c;
    c.alpha = s.number("alpha", c.alpha, 0.0, End::kExcluded, 1.0, End::kExcluded,
                       "at 0 the test could never fire, at 1 it fires on no evidence");
    c.min_action_tv =
        s.number("min_action_tv", c.min_action_tv, 0.0, End::kIncluded, 1.0, End::kExcluded,
                 "a total-variation distance never exceeds 1: at 1 the test could "
                 "never fire");
    c.min_agreement_shift = s.number(
        "min_agreement_shift", c.min_agreement_shift, 0.0, End::kIncluded, 1.0, End::kExcluded,
        "an agreement difference never exceeds 1: at 1 it could never fire");
    c.min_confidence_shift = s.number(
        "min_confidence_shift", c.min_confidence_shift, 0.0, End::kIncluded, 1.0, End::kExcluded,
        "confidences lie in [0, 1]: at a shift of 1 the test could never fire");
    c.min_spread_shift =
        s.number("min_spread_shift", c.min_spread_shift, 0.0, End::kIncluded, 0.5, End::kExcluded,
                 "a mean absolute deviation of confidences in [0, 1] never "
                 "exceeds 0.5: at 0.5 the test could never fire");
    c.bet_memory_events = s.number("bet_memory_events", c.bet_memory_events, 1.0, End::kIncluded,
                                   1e9, End::kIncluded, "a memory below one event is no average");
    if (auto status = s.finish(); !status) return status.error();
    return std::make_unique<DistributionShift>(c);
  }

  /// check() over the previous result (qsc/plugin.hpp): it runs at every event of the period, so
  /// the result keeps its storage (no allocation once it has grown).
  void check_into(const qsc::CheckInput& input, qsc::CheckResult& out) {
    if (input.canary_model != canary_) {
      // Another canary is another period: its test starts from nothing.
      canary_ = std::string(input.canary_model);
      reset();
    }
    // The input's name, not canary_ (equal): the host's predictions of the canary point at its
    // bytes, found by address (qsc::same_model).
    for (const auto& event : input.new_event_views) fold(event, input.canary_model);
    verdict_into(input, out);
  }

  std::string effective_config() const override {
    return nlohmann::json{{"alpha", config_.alpha},
                          {"min_action_tv", config_.min_action_tv},
                          {"min_agreement_shift", config_.min_agreement_shift},
                          {"min_confidence_shift", config_.min_confidence_shift},
                          {"min_spread_shift", config_.min_spread_shift},
                          {"bet_memory_events", config_.bet_memory_events}}
        .dump();
  }

 private:
  void reset() {
    tests_.clear();
    const std::array<double, kDifferences> effects{
        config_.min_action_tv,       config_.min_action_tv,        config_.min_action_tv,
        config_.min_agreement_shift, config_.min_confidence_shift, config_.min_spread_shift};
    for (double effect : effects) tests_.emplace_back(effect, config_.bet_memory_events);
    means_.clear();
    paired_events_ = 0;
    fired_at_ = 0;
    fired_message_.clear();
  }

  // The running mean of `model`, or nullptr when it is not tracked (and cannot be). `position`
  // (the prediction's index in its event) is tried first: engines list their models in a fixed
  // order, so the table is kept in that order and the lookup is one comparison.
  [[gnu::always_inline]] RunningMean* mean_of(std::string_view model, std::size_t position) {
    // Compared inline (qsc::same_text): five names an event, each a memcmp call before.
    if (position < means_.size() && same_name(means_[position].model, model)) [[likely]] {
      return &means_[position];
    }
    return find_mean(model);
  }

  // mean_of's search by name, out of line: inlined, its memcmp call in fold_confidences's loop
  // (on a path not taken) made GCC keep the loop's sums on the stack; out of line, the peers'
  // confidence sum stays in a register (perf annotate).
  [[gnu::noinline]] RunningMean* find_mean(std::string_view model) {
    for (auto& m : means_) {
      if (m.model == model) return &m;
    }
    if (means_.size() >= kMaxTrackedModels) return nullptr;
    means_.push_back({std::string(model), 0.0, 0});
    return &means_.back();
  }

  // qsc::same_text with its byte comparison inlined (flatten): GCC left qsc::same_bytes a call
  // in this fold, once per prediction of every event (0.7% of replay's samples, perf report).
  [[gnu::flatten]] static bool same_name(const std::string& a, std::string_view b) noexcept {
    return qsc::same_text(a, b);
  }

  static bool usable_confidence(const qsc::PredictionView& p) {
    return !qsc::is_confidence_violation(p.confidence_status) && std::isfinite(p.confidence);
  }

  // Folds one event in: the canary's differences from its active peers on this event.
  void fold(const qsc::EventView& event, std::string_view canary_model) {
    // The canary's prediction (its last active one): its place in the event. The peers' votes
    // are counted in registers, not in an array indexed by the vote (a store and reload of the
    // same counter at every prediction, the walk's largest cost in perf annotate).
    constexpr std::size_t kNoCanary = ~std::size_t{0};
    std::size_t canary_at = kNoCanary;
    std::size_t buy = 0;
    std::size_t sell = 0;
    std::size_t hold = 0;
    const std::size_t predictions = event.predictions.size();
    for (std::size_t i = 0; i < predictions; ++i) {
      const qsc::PredictionView p = event.predictions[i];
      if (p.is_inactive()) continue;  // not voting: neither the canary under test nor a peer
      if (qsc::same_model(p.model, canary_model)) {
        canary_at = i;
      } else {
        const auto vote = static_cast<std::size_t>(p.action);
        buy += vote == 0 ? 1 : 0;
        sell += vote == 1 ? 1 : 0;
        hold += vote == 2 ? 1 : 0;
      }
    }
    if (canary_at == kNoCanary || buy + sell + hold == 0) return;  // nothing to pair on this event
    ++paired_events_;
    const qsc::PredictionView canary = event.predictions[canary_at];
    const auto own = static_cast<std::size_t>(canary.action);
    // The vote part, remembered by the counts (peer_differences: the same doubles without its
    // five divisions at every event).
    // The counts captured by value: captured by reference they were kept in memory, a store
    // and reload at every prediction of the walk above (perf annotate).
    const auto compute = [buy, sell, hold, own](PeerDifferences& d) {
      peer_differences({buy, sell, hold}, own, d);
    };
    const PeerDifferences* votes =
        &memo_.get_or_compute(DifferencesMemo::key(buy, sell, hold, own), scratch_, compute);
    // Whether a wealth moved: E_t is a function of the wealths, so while none moves its crossing
    // cannot newly happen, and check_crossing (a pass over the twelve at every event) is skipped.
    bool moved = false;
    for (std::size_t k = 0; k < qsc::kVoteKinds; ++k) {
      moved = tests_[kBuyShare + k].add(votes->share[k]) || moved;
    }
    if (buy + sell + hold >= 2) moved = tests_[kAgreement].add(votes->agreement) || moved;
    moved = fold_confidences(event, canary, canary_at) || moved;
    if (moved) check_crossing();
  }

  // The confidence level (canary minus the peers' mean) and spread (the canary's absolute
  // deviation from its own running mean minus the peers' mean of theirs), from the usable
  // confidences. Deviations are taken from the means before this event (predictable).
  // True when a test's wealth moved (BettingTest::add).
  bool fold_confidences(const qsc::EventView& event, const qsc::PredictionView& canary,
                        std::size_t canary_at) {
    if (!usable_confidence(canary)) return false;
    double peer_sum = 0.0;
    double peer_deviation_sum = 0.0;
    std::size_t peers = 0;
    std::size_t peers_with_mean = 0;
    double canary_deviation = -1.0;
    for (std::size_t i = 0; i < event.predictions.size(); ++i) {
      const qsc::PredictionView p = event.predictions[i];
      if (p.is_inactive() || !usable_confidence(p)) continue;
      RunningMean* mean = mean_of(p.model, i);
      double deviation = -1.0;
      if (mean != nullptr) {
        if (mean->count > 0) {
          deviation = std::abs(p.confidence - mean->sum / static_cast<double>(mean->count));
        }
        mean->sum += p.confidence;
        ++mean->count;
      }
      if (i == canary_at) {
        canary_deviation = deviation;
        continue;
      }
      peer_sum += p.confidence;
      ++peers;
      if (deviation >= 0.0) {
        peer_deviation_sum += deviation;
        ++peers_with_mean;
      }
    }
    if (peers == 0) return false;
    bool moved =
        tests_[kConfidenceMean].add(canary.confidence - peer_sum / static_cast<double>(peers));
    if (canary_deviation >= 0.0 && peers_with_mean > 0) {
      moved = tests_[kConfidenceSpread].add(
                  canary_deviation - peer_deviation_sum / static_cast<double>(peers_with_mean)) ||
              moved;
    }
    return moved;
  }

  // log E_t: the log of the average of the twelve wealths (computed stably).
  double log_e_value() const {
    double top = -std::numeric_limits<double>::infinity();
    for (const auto& t : tests_) top = std::max({top, t.log_wealth_above(), t.log_wealth_below()});
    double sum = 0.0;
    for (const auto& t : tests_) {
      sum += std::exp(t.log_wealth_above() - top) + std::exp(t.log_wealth_below() - top);
    }
    return top + std::log(sum / (2.0 * static_cast<double>(tests_.size())));
  }

  // Latches the first event at which E_t reached 1/alpha, with what moved.
  void check_crossing() {
    if (fired_at_ != 0) return;
    // Cheap screen: E_t >= 1/alpha needs some wealth >= 1/alpha (their average cannot exceed
    // their maximum), so the exact average is computed only then.
    bool possible = false;
    for (const auto& t : tests_) {
      possible = possible || std::max(t.log_wealth_above(), t.log_wealth_below()) >= log_threshold_;
    }
    if (!possible || log_e_value() < log_threshold_) return;
    fired_at_ = paired_events_;
    std::size_t strongest = 0;
    for (std::size_t i = 1; i < tests_.size(); ++i) {
      if (strongest_log_wealth(tests_[i]) > strongest_log_wealth(tests_[strongest])) strongest = i;
    }
    const auto& t = tests_[strongest];
    fired_message_ = std::string(kDifferenceNames[strongest]) + " " +
                     signed_number(t.recent_mean()) + " vs peers (min " +
                     qsc::format_threshold(t.min_effect()) + ")";
  }

  // The verdict horizon's half for firing: accepted events within which E cannot reach 1/alpha,
  // whatever they are (events_before_crossing, betting_test.hpp: each test's next bets are
  // bounded from its recent mean and variance, which one event moves by at most a weight's
  // share; docs/ACCURACY.md). A fold checks the crossing at every event, so a batch of events
  // shown at once latches it at the same event as one call per event does (same state, same
  // order). Searched no further than the host honours (kMostHorizonSearched).
  std::uint64_t events_before_firing() const {
    return qsc::detectors::events_before_crossing(tests_, log_threshold_,
                                                  qsc::detectors::kMostHorizonSearched);
  }

  static double strongest_log_wealth(const PairedDifferenceTest& t) {
    return std::max(t.log_wealth_above(), t.log_wealth_below());
  }

  static std::string signed_number(double value) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%+.3f", value);
    return buf;
  }

  void verdict_into(const qsc::CheckInput& input, qsc::CheckResult& out) const {
    const double log_e = log_e_value();
    double recent_action_tv = 0.0;
    for (std::size_t k = kBuyShare; k <= kHoldShare; ++k) {
      recent_action_tv = std::max(recent_action_tv, std::abs(tests_[k].recent_mean()));
    }
    qsc::detectors::set_figures(
        out, {{"log10_e_value", log_e / std::log(10.0)},
              {"log10_threshold", log_threshold_ / std::log(10.0)},
              {"paired_events", static_cast<double>(paired_events_)},
              {"fired_at_paired_event", fired_at_ != 0 ? static_cast<double>(fired_at_) : -1.0},
              {"recent_action_tv", recent_action_tv},
              {"recent_agreement_shift", tests_[kAgreement].recent_mean()},
              {"recent_confidence_shift", tests_[kConfidenceMean].recent_mean()},
              {"recent_spread_shift", tests_[kConfidenceSpread].recent_mean()}});
    std::string& m = out.message;
    m.assign("Distribution shift: ");
    if (fired_at_ != 0) {
      out.verdict = qsc::Verdict::kViolation;
      m += fired_message_;
      m += ", e-value >= ";
      m += threshold_text_;
      m += " (1/alpha) at paired event ";
      qsc::detectors::append_count(m, fired_at_);
      m += " since activation";
      return;
    }
    const std::uint64_t unfired = events_before_firing();
    if (paired_events_ < input.min_events) {
      out.verdict = qsc::Verdict::kInsufficient;
      // Insufficient until min_events paired events (at most one per event), unless it fires.
      out.horizon_events = std::min(
          unfired, qsc::detectors::horizon_below_minimum(paired_events_, input.min_events));
      qsc::detectors::append_count(m, paired_events_);
      m += " events of ";
      m += canary_;
      m += " with active peers since activation (";
      qsc::detectors::append_count(m, input.min_events);
      m += " needed)";
      return;
    }
    out.verdict = qsc::Verdict::kPass;
    // A pass stays one until the test fires (paired_events_ only grows).
    out.horizon_events = unfired;
    m += "none beyond the minimum effects over ";
    qsc::detectors::append_count(m, paired_events_);
    m += " paired events (e-value ";
    qsc::detectors::append_e_value(m, log_e);
    m += " < ";
    m += threshold_text_;
    m += ")";
  }

  using DifferencesMemo = qsc::detectors::VoteMemo<PeerDifferences>;

  ShiftConfig config_;
  double log_threshold_;        // log(1/alpha)
  std::string threshold_text_;  // 1/alpha as messages print it
  std::string canary_;
  std::vector<PairedDifferenceTest> tests_;
  std::vector<RunningMean> means_;
  std::uint64_t paired_events_ = 0;
  std::uint64_t fired_at_ = 0;  // the paired event at which E reached 1/alpha; 0: not yet
  std::string fired_message_;
  DifferencesMemo memo_;     // the vote part by the peers' counts and the canary's vote
  PeerDifferences scratch_;  // the vote part of counts too large for the memo
};

}  // namespace

// The live canary's period since activation (CheckInput::new_event_views): only the monitor and
// `qsc replay` run it; the gate judges one window and has no period to test.
QSC_SCOPED_DETECTOR_PLUGIN(DistributionShift, "distribution_shift", "1.0.0",
                           "Fires when the canary's actions or confidences have drifted from its "
                           "peers' since activation beyond a minimum effect (an anytime-valid "
                           "sequential test: false alarms at most alpha over the whole period)",
                           ::qsc::DetectorScope::kCanaryOnly)

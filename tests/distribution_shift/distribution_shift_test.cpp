// distribution_shift, the built .so loaded by the real plugin host and fed events as the monitor
// feeds them (CheckInput::new_events): its false-alarm bound over whole simulated periods, its
// detection of each gradual degradation (with the delay), its configuration refusals.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <ctime>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "../../plugins/detectors/common/betting_test.hpp"
#include "bench/accuracy/scenario.hpp"
#include "distribution_shift/shift_scenarios.hpp"
#include "plugins/plugin_test_support.hpp"
#include "support/sanitizer_scale.hpp"
#include "support/vote_pattern_events.hpp"

namespace qsc::shift_test {
namespace {

namespace fs = std::filesystem;
using test::figure;
using test::TempDir;

fs::path shift_library() {
  return fs::path(QSC_TEST_BUILD_PLUGIN_DIR) / "distribution_shift.so";
}

/// A plugin directory holding distribution_shift alone, opened by the real host.
class ShiftHost {
 public:
  explicit ShiftHost(const nlohmann::json& section = nlohmann::json::object())
      : host_([&]() {
          test::install_plugin(shift_library(), dir_.path(), "distribution_shift.so");
          auto opened = agent::PluginHost::open(
              dir_.path(), test::host_config({{"distribution_shift", section}}));
          if (!opened) throw std::runtime_error(opened.error().message);
          return std::move(opened).value();
        }()) {}

  /// The detector's result for one evaluation that brings `events`.
  CheckResult check(const std::string& canary, std::span<const TradeIntent> events,
                    std::size_t min_events = 200) {
    CheckInput in;
    in.canary_model = canary;
    in.min_events = min_events;
    in.new_events = events;
    for (auto& c : host_.check_all(in)) {
      if (c.detector == "distribution_shift") return c.result;
    }
    ADD_FAILURE() << "distribution_shift did not run: "
                  << test::record_named(host_, "distribution_shift").reason;
    return {};
  }

  agent::PluginHost& host() { return host_; }

 private:
  TempDir dir_;
  agent::PluginHost host_;
};

struct PeriodOutcome {
  bool fired = false;
  std::uint64_t fired_at_event = 0;  ///< 1-based: the paired event at which it fired
  CheckResult last;
};

/// Runs one simulated period of `events` events through the detector, evaluating every
/// `check_every` events, until it fires or the period ends.
PeriodOutcome run_period(ShiftHost& h, const std::string& canary, EnsembleSimulator& sim,
                         std::uint64_t events, std::size_t check_every) {
  std::vector<TradeIntent> batch(check_every);
  PeriodOutcome out;
  while (sim.events() < events) {
    const auto n =
        static_cast<std::size_t>(std::min<std::uint64_t>(check_every, events - sim.events()));
    for (std::size_t i = 0; i < n; ++i) sim.next(batch[i]);
    out.last = h.check(canary, std::span<const TradeIntent>(batch.data(), n));
    EXPECT_NE(out.last.verdict, Verdict::kError) << out.last.message;
    if (out.last.verdict == Verdict::kViolation) {
      out.fired = true;
      out.fired_at_event = static_cast<std::uint64_t>(figure(out.last, "fired_at_paired_event"));
      return out;
    }
  }
  return out;
}

// The one-sided 99.9% binomial upper bound on the count of false alarms among `periods` when
// each fires with probability alpha (normal approximation, z = 3.09), rounded up.
std::uint64_t binomial_upper_999(double alpha, std::uint64_t periods) {
  const double n = static_cast<double>(periods);
  return static_cast<std::uint64_t>(
      std::ceil(n * alpha + 3.09 * std::sqrt(n * alpha * (1.0 - alpha))));
}

// The guarantee itself, where its condition holds exactly: models independent given a shared
// regime (no model-specific memory), so at every event the canary's conditional expectation
// equals its peers' (every minimum effect 0: the sharpest null). alpha 0.05 rather than the
// default: with 10,000 periods a rate of 0.05 is measured to +-0.007 at 99.9%, while at 0.001
// the expected count (10) could not tell a valid test from one twice as liberal. The default
// alpha is tested on its own below. 10,000 periods of 1,000 events, evaluated every 25 events;
// fired if it EVER fires. Bound: 500 + 3.09 sqrt(10000 * 0.05 * 0.95) = 568 periods (5.68%).
// (A sanitized build runs 1,000 periods, bound 72: support/sanitizer_scale.hpp says why.)
TEST(DistributionShift, NullFalseAlarmsWithinAlphaOver10000Periods) {
  ShiftHost h({{"alpha", 0.05},
               {"min_action_tv", 0},
               {"min_agreement_shift", 0},
               {"min_confidence_shift", 0},
               {"min_spread_shift", 0}});
  constexpr std::uint64_t kPeriods = qsc::test::repetitions(10'000);
  std::uint64_t fired = 0;
  for (std::uint64_t seed = 1; seed <= kPeriods; ++seed) {
    // A new canary name is a new period: the detector starts a fresh test.
    const std::string canary = "canary_" + std::to_string(seed);
    EnsembleSimulator sim(canary, ScenarioSpec{}, seed);
    if (run_period(h, canary, sim, 1'000, 25).fired) ++fired;
  }
  const auto bound = binomial_upper_999(0.05, kPeriods);
  std::cout << "null, alpha 0.05, min effects 0: fired in " << fired << " of " << kPeriods
            << " periods (bound " << bound << ")\n";
  RecordProperty("null_false_alarms_alpha_0_05", static_cast<int>(fired));
  EXPECT_LE(fired, bound);
}

// The default configuration (alpha 0.001, the default minimum effects) on healthy periods whose
// models carry their own autocorrelated confidence noise (AR(1), 0.9): the canary's conditional
// expectation then wanders from its peers', within the minimum effects. 1,000 periods of 5,000
// events (42 minutes at 2 events/s). Bound: Binomial(1000, 0.001) exceeds 5 with probability
// 0.0006, so at most 5 periods may fire (100 periods in a sanitized build: the same bound).
TEST(DistributionShift, DefaultAlphaHoldsOnAutocorrelatedHealthyPeriods) {
  ShiftHost h;
  constexpr std::uint64_t kPeriods = qsc::test::repetitions(1'000);
  ScenarioSpec healthy;
  healthy.noise_autocorrelation = 0.9;
  std::uint64_t fired = 0;
  for (std::uint64_t seed = 1; seed <= kPeriods; ++seed) {
    const std::string canary = "canary_" + std::to_string(seed);
    EnsembleSimulator sim(canary, healthy, 100'000 + seed);
    const auto outcome = run_period(h, canary, sim, 5'000, 50);
    if (outcome.fired) {
      ++fired;
      std::cout << "false alarm, seed " << seed << ": " << outcome.last.message << "\n";
    }
  }
  std::cout << "healthy, default configuration: fired in " << fired << " of " << kPeriods
            << " periods\n";
  RecordProperty("healthy_false_alarms_default", static_cast<int>(fired));
  EXPECT_LE(fired, 5u);
}

// The accuracy benchmark's healthy periods (tests/bench/accuracy: four models whose own noise
// and confidence wobble persist for 10-50 events) violate the per-event null the guarantee
// assumes: a healthy canary's difference from its peers wanders beyond the minimum effects for
// minutes at a time. The default bet memory (2,048 events) keeps the bets off that wander; the
// old 256 fired on 39 of 40 of these periods (docs/ACCURACY.md, "The bet memory"). Whole 6-hour
// periods through the real plugin, checked every 30 s as the monitor does, the default must stay
// quiet on each, and the short memory must fire on most of the same periods (so the test can
// fail).
std::uint64_t benchmark_healthy_periods_fired(const nlohmann::json& section,
                                              std::uint64_t periods) {
  std::uint64_t fired = 0;
  std::vector<TradeIntent> batch(60);  // 30 s at 2 events/s
  for (std::uint64_t seed = 0; seed < periods; ++seed) {
    accuracy::ScenarioSpec spec;
    spec.seed = seed;
    spec.start_ms = 1'768'024'800'000;
    accuracy::ScenarioGenerator gen(spec);
    // A fresh host per period: the test starts from nothing, as at an activation.
    const std::string canary = "patchtst";
    ShiftHost fresh(section);
    for (std::uint64_t done = 0; done < spec.events; done += batch.size()) {
      for (auto& e : batch) e = gen.next();
      const auto r = fresh.check(canary, batch);
      if (r.verdict == Verdict::kViolation) {
        ++fired;
        std::cout << "seed " << seed << " fired after " << done + batch.size()
                  << " events: " << r.message << "\n";
        break;
      }
    }
  }
  return fired;
}

TEST(DistributionShift, DefaultStaysQuietOnTheAccuracyBenchmarksHealthyPeriods) {
  // 43,200 events a period; a sanitizer build runs two (scale 1/10 of 20, at least one).
  const std::uint64_t periods = std::max<std::uint64_t>(2, qsc::test::repetitions(20));
  EXPECT_EQ(benchmark_healthy_periods_fired(nlohmann::json::object(), periods), 0u);
  const auto short_memory = benchmark_healthy_periods_fired({{"bet_memory_events", 256}}, periods);
  std::cout << "bet_memory_events 256: fired in " << short_memory << " of " << periods << "\n";
  EXPECT_GE(short_memory, periods / 2) << "the benchmark's periods no longer show the wander";
}

// Each gradual degradation of issue 17 fires, never before its onset; the delays (paired events
// from the onset, and minutes at 2 events/s) are printed and recorded.
struct GradualCase {
  const char* name;
  Degradation degradation;
  std::uint64_t ramp_events;
  /// What the message may name as moved ("|" between alternatives: a HOLD collapse also lowers
  /// the agreement, an inversion also moves the shares, a drift also the spread around a mean
  /// that lags it).
  const char* moved;
};

// gtest prints a parameter when it registers the tests: by its name (not its bytes, padding
// included).
void PrintTo(const GradualCase& k, std::ostream* os) {
  *os << k.name;
}

bool names_any(const std::string& message, const std::string& alternatives) {
  std::size_t start = 0;
  for (std::size_t bar = alternatives.find('|');; bar = alternatives.find('|', start)) {
    const auto word = alternatives.substr(start, bar == std::string::npos ? bar : bar - start);
    if (message.find(word) != std::string::npos) return true;
    if (bar == std::string::npos) return false;
    start = bar + 1;
  }
}

class GradualDegradation : public ::testing::TestWithParam<GradualCase> {};

TEST_P(GradualDegradation, FiresAfterTheOnsetWithTheDelayReported) {
  const auto& k = GetParam();
  constexpr std::uint64_t kOnset = 3'000;
  constexpr int kSeeds = 5;
  ShiftHost h;
  std::vector<double> delays;
  for (int seed = 1; seed <= kSeeds; ++seed) {
    ScenarioSpec spec;
    spec.degradation = k.degradation;
    spec.onset_event = kOnset;
    spec.ramp_events = k.ramp_events;
    spec.noise_autocorrelation = 0.9;
    const std::string canary = std::string(k.name) + "_" + std::to_string(seed);
    EnsembleSimulator sim(canary, spec, 500 + static_cast<std::uint64_t>(seed));
    const auto outcome = run_period(h, canary, sim, kOnset + 3 * k.ramp_events + 20'000, 20);
    ASSERT_TRUE(outcome.fired) << k.name << " seed " << seed << ": " << outcome.last.message;
    EXPECT_GT(outcome.fired_at_event, kOnset) << outcome.last.message;
    EXPECT_TRUE(names_any(outcome.last.message, k.moved)) << outcome.last.message;
    delays.push_back(static_cast<double>(outcome.fired_at_event - kOnset));
  }
  std::sort(delays.begin(), delays.end());
  const double median = delays[delays.size() / 2];
  std::cout << k.name << ": delay from onset (events) ";
  for (double d : delays) std::cout << d << " ";
  std::cout << "; median " << median << " events = " << median / 2.0 / 60.0
            << " min at 2 events/s\n";
  RecordProperty("median_delay_events", static_cast<int>(median));
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, GradualDegradation,
    ::testing::Values(
        GradualCase{"hold_collapse", Degradation::kHoldCollapse, 14'400, "HOLD share|agreement"},
        GradualCase{"flattening", Degradation::kFlattening, 14'400, "confidence spread"},
        GradualCase{"drift", Degradation::kDrift, 7'200, "confidence"},
        GradualCase{"inversion", Degradation::kInversion, 1, "agreement|share"}),
    [](const auto& info) { return std::string(info.param.name); });

// However often it is evaluated, it fires at the same event: the test runs per event, the
// evaluations only read it.
TEST(DistributionShift, FiresAtTheSameEventWhetherEvaluatedEachEventOrRarely) {
  ScenarioSpec spec;
  spec.degradation = Degradation::kDrift;
  spec.onset_event = 1'000;
  spec.ramp_events = 2'000;
  ShiftHost each;
  EnsembleSimulator a("patchtst", spec, 77);
  const auto every_event = run_period(each, "patchtst", a, 20'000, 1);
  ShiftHost rarely;
  EnsembleSimulator b("patchtst", spec, 77);
  const auto every_thousand = run_period(rarely, "patchtst", b, 20'000, 1'000);
  ASSERT_TRUE(every_event.fired);
  ASSERT_TRUE(every_thousand.fired);
  EXPECT_EQ(every_event.fired_at_event, every_thousand.fired_at_event);
}

// Below min_events paired events it is insufficient (never a pass); then it passes with its
// figures; once fired it stays fired; another canary starts a fresh test.
TEST(DistributionShift, InsufficientThenPassLatchedViolationAndFreshTestPerCanary) {
  ShiftHost h;
  EnsembleSimulator healthy("patchtst", ScenarioSpec{}, 3);
  std::vector<TradeIntent> events(199);
  for (auto& e : events) healthy.next(e);
  auto r = h.check("patchtst", events);
  EXPECT_EQ(r.verdict, Verdict::kInsufficient) << r.message;
  EXPECT_EQ(r.message,
            "Distribution shift: 199 events of patchtst with active peers since activation "
            "(200 needed)");
  EXPECT_EQ(figure(r, "paired_events"), 199.0);
  events.resize(1);
  healthy.next(events[0]);
  r = h.check("patchtst", events);
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.message;
  EXPECT_EQ(figure(r, "paired_events"), 200.0);
  EXPECT_EQ(figure(r, "fired_at_paired_event"), -1.0);
  EXPECT_NEAR(figure(r, "log10_threshold"), 3.0, 1e-12);
  EXPECT_LT(figure(r, "log10_e_value"), 3.0);

  ScenarioSpec collapse;
  collapse.degradation = Degradation::kHoldCollapse;
  collapse.onset_event = 0;
  EnsembleSimulator bad("patchtst", collapse, 4);
  const auto outcome = run_period(h, "patchtst", bad, 5'000, 10);
  ASSERT_TRUE(outcome.fired);
  EXPECT_NE(outcome.last.message.find("Distribution shift: HOLD share +"), std::string::npos)
      << outcome.last.message;
  EXPECT_NE(outcome.last.message.find("e-value >= 1000 (1/alpha) at paired event"),
            std::string::npos)
      << outcome.last.message;
  // Healthy events after the firing do not undo it: the period's evidence stands.
  events.assign(500, {});
  for (auto& e : events) healthy.next(e);
  EXPECT_EQ(h.check("patchtst", events).verdict, Verdict::kViolation);
  // Another canary: nothing carried over.
  EnsembleSimulator other("xgboost", ScenarioSpec{}, 5);
  for (auto& e : events) other.next(e);
  r = h.check("xgboost", events);
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.message;
  EXPECT_EQ(figure(r, "paired_events"), 500.0);
}

// Only events where the canary and at least one active peer voted are paired: shadow or
// fallback predictions are neither the canary under test nor a peer.
TEST(DistributionShift, PairsOnlyEventsWithAnActiveCanaryAndAnActivePeer) {
  ShiftHost h;
  EnsembleSimulator sim("patchtst", ScenarioSpec{}, 9);
  std::vector<TradeIntent> events(30);
  for (auto& e : events) sim.next(e);
  for (std::size_t i = 0; i < 10; ++i) events[i].predictions[0].inactive = InactiveReason::kShadow;
  for (std::size_t i = 10; i < 20; ++i) {
    for (std::size_t m = 1; m < events[i].predictions.size(); ++m) {
      events[i].predictions[m].inactive = InactiveReason::kFallback;
    }
  }
  const auto r = h.check("patchtst", events);
  EXPECT_EQ(figure(r, "paired_events"), 10.0) << r.message;
}

// Bad configuration: the plugin is refused with the key, the allowed range and why.
TEST(DistributionShift, BadConfigurationIsRefusedNamingTheKey) {
  struct Case {
    nlohmann::json section;
    std::string reason;
  };
  const std::string where = "configuration refused: plugins.config.distribution_shift";
  const std::vector<Case> cases{
      {{{"alpha", 0}},
       where + ".alpha: must be a number above 0 and below 1 (at 0 the test could never fire, "
               "at 1 it fires on no evidence), got 0"},
      {{{"alpha", 1}}, where + ".alpha: must be a number above 0 and below 1"},
      {{{"alpha", "0.01"}}, where + ".alpha: must be a number above 0 and below 1"},
      {{{"min_action_tv", 1}},
       where + ".min_action_tv: must be a number from 0 and below 1 (a total-variation distance "
               "never exceeds 1: at 1 the test could never fire), got 1"},
      {{{"min_action_tv", -0.1}}, where + ".min_action_tv: must be a number from 0 and below 1"},
      {{{"min_agreement_shift", 1.5}}, where + ".min_agreement_shift: must be a number from 0"},
      {{{"min_confidence_shift", 1}}, where + ".min_confidence_shift: must be a number from 0"},
      {{{"min_spread_shift", 0.5}},
       where + ".min_spread_shift: must be a number from 0 and below 0.5"},
      {{{"bet_memory_events", 0.5}},
       where + ".bet_memory_events: must be a number from 1 to 1000000000 (a memory below "
               "one event is no average), got 0.5"},
      {{{"min_effect", 0.1}},
       where + ": unknown key \"min_effect\" (allowed: alpha, bet_memory_events, min_action_tv, "
               "min_agreement_shift, min_confidence_shift, min_spread_shift)"},
  };
  for (const auto& k : cases) {
    ShiftHost h(k.section);
    const auto& record = test::record_named(h.host(), "distribution_shift");
    EXPECT_EQ(record.status, "rejected") << k.section;
    EXPECT_EQ(record.reason.rfind(k.reason, 0), 0u)
        << k.section << "\n  got:  " << record.reason << "\n  want: " << k.reason;
    EXPECT_FALSE(h.host().startup_status().ok()) << k.section;
  }
  ShiftHost tuned({{"alpha", 0.01}, {"min_action_tv", 0.2}, {"min_spread_shift", 0}});
  const auto& record = test::record_named(tuned.host(), "distribution_shift");
  ASSERT_TRUE(record.loaded()) << record.reason;
  EXPECT_EQ(record.scope, "canary_only");
  EXPECT_EQ(record.effective_config["alpha"], 0.01);
  EXPECT_EQ(record.effective_config["min_action_tv"], 0.2);
  EXPECT_EQ(record.effective_config["min_confidence_shift"], 0.05);
  EXPECT_EQ(record.effective_config["min_spread_shift"], 0.0);
}

// No alpha above 0 switches the test off, so `qsc config` has no smaller bound to refuse (the
// round-2 rule "each threshold has a documented limit beyond which the check could never fire"):
// a bet is at most 1/(2 (1 + d)), so a wealth grows at most 1.5-fold a paired event, E_t reaches
// 1/alpha no sooner than ln(2/alpha - 1)/ln 1.5 paired events (at least six of the twelve
// wealths never bet with the other six, one per difference), and nothing bounds the paired
// events of a period (the test runs over the whole period; canary.duration times the engine's
// rate). Even the smallest alpha a double holds fires on a collapsed canary within a few
// thousand events, never before that fewest count.
TEST(DistributionShift, EvenTheSmallestAlphaFiresOnACollapsedCanary) {
  ScenarioSpec collapse;
  collapse.degradation = Degradation::kHoldCollapse;
  collapse.onset_event = 0;
  for (const double alpha : {1e-300, std::numeric_limits<double>::denorm_min()}) {
    ShiftHost h(nlohmann::json{{"alpha", alpha}});
    const auto& record = test::record_named(h.host(), "distribution_shift");
    ASSERT_TRUE(record.loaded()) << alpha << ": " << record.reason;
    EnsembleSimulator bad("patchtst", collapse, 4);
    const auto outcome = run_period(h, "patchtst", bad, 100'000, 100);
    ASSERT_TRUE(outcome.fired) << alpha << ": " << outcome.last.message;
    // ln(2/alpha - 1), without 2/alpha (infinite at the smallest double).
    const double fewest =
        (std::log(2.0) - std::log(alpha) + std::log1p(-alpha / 2.0)) / std::log(1.5);
    EXPECT_GE(static_cast<double>(outcome.fired_at_event), fewest) << alpha;
    std::cout << "alpha " << alpha << ": fired at paired event " << outcome.fired_at_event
              << " (fewest possible " << std::ceil(fewest) << ")\n";
  }
}

// The detector's fold, written from the definitions (docs/ACCURACY.md, "distribution_shift: the
// derivation") with every event's differences computed directly and E_t checked at every event:
// what the detector's shortcuts must reproduce to the bit (the vote part remembered by the
// events' counts, common/vote_memo.hpp; the crossing checked only after a wealth moved).
class ReferenceShift {
 public:
  /// `effects`: the six tests' minimum effects (BUY, SELL, HOLD, agreement, confidence, spread).
  ReferenceShift(std::string canary, const std::array<double, 6>& effects)
      : canary_(std::move(canary)), tests_{detectors::BettingTest(effects[0], 2048.0),
                                           detectors::BettingTest(effects[1], 2048.0),
                                           detectors::BettingTest(effects[2], 2048.0),
                                           detectors::BettingTest(effects[3], 2048.0),
                                           detectors::BettingTest(effects[4], 2048.0),
                                           detectors::BettingTest(effects[5], 2048.0)} {}

  void fold(const TradeIntent& e) {
    std::size_t canary_at = e.predictions.size();
    std::array<std::size_t, kVoteKinds> peer_votes{};
    for (std::size_t i = 0; i < e.predictions.size(); ++i) {
      const Prediction& p = e.predictions[i];
      if (p.is_inactive()) continue;
      if (p.model == canary_) {
        canary_at = i;  // the last active one
      } else {
        ++peer_votes[static_cast<std::size_t>(p.action)];
      }
    }
    const std::size_t n = peer_votes[0] + peer_votes[1] + peer_votes[2];
    if (canary_at == e.predictions.size() || n == 0) return;
    ++paired_;
    const Prediction& own = e.predictions[canary_at];
    const auto k_own = static_cast<std::size_t>(own.action);
    patterns_.insert({peer_votes[0], peer_votes[1], peer_votes[2], k_own});
    const auto peers = static_cast<double>(n);
    for (std::size_t k = 0; k < kVoteKinds; ++k) {
      tests_[k].add((k == k_own ? 1.0 : 0.0) - static_cast<double>(peer_votes[k]) / peers);
    }
    if (n >= 2) {
      double pairs_agreeing = 0.0;  // ordered pairs of peers voting alike
      for (std::size_t v : peer_votes) {
        pairs_agreeing += v > 0 ? static_cast<double>(v * (v - 1)) : 0.0;
      }
      tests_[3].add(static_cast<double>(peer_votes[k_own]) / peers -
                    pairs_agreeing / (peers * (peers - 1.0)));
    }
    if (std::isfinite(own.confidence)) fold_confidences(e, own, canary_at);
    if (fired_at_ == 0 && log_e() >= log_threshold_) fired_at_ = paired_;
  }

  // log E_t: the log of the average of the twelve wealths, as the detector computes it.
  double log_e() const {
    double top = -std::numeric_limits<double>::infinity();
    for (const auto& t : tests_) top = std::max({top, t.log_wealth_above(), t.log_wealth_below()});
    double sum = 0.0;
    for (const auto& t : tests_) {
      sum += std::exp(t.log_wealth_above() - top) + std::exp(t.log_wealth_below() - top);
    }
    return top + std::log(sum / (2.0 * static_cast<double>(tests_.size())));
  }
  double recent_action_tv() const {
    double tv = 0.0;
    for (std::size_t k = 0; k < kVoteKinds; ++k)
      tv = std::max(tv, std::abs(tests_[k].recent_mean()));
    return tv;
  }
  const detectors::BettingTest& agreement() const { return tests_[3]; }
  std::uint64_t paired() const { return paired_; }
  std::uint64_t fired_at() const { return fired_at_; }
  std::size_t patterns() const { return patterns_.size(); }

 private:
  // Deviations from each model's running mean before this event; the canary's own against the
  // peers' mean of theirs.
  void fold_confidences(const TradeIntent& e, const Prediction& own, std::size_t canary_at) {
    double peer_sum = 0.0;
    double peer_deviation_sum = 0.0;
    std::size_t peers = 0;
    std::size_t peers_with_mean = 0;
    double canary_deviation = -1.0;
    for (std::size_t i = 0; i < e.predictions.size(); ++i) {
      const Prediction& p = e.predictions[i];
      if (p.is_inactive() || !std::isfinite(p.confidence)) continue;
      auto& [sum, count] = means_[p.model];
      double deviation = -1.0;
      if (count > 0) deviation = std::abs(p.confidence - sum / static_cast<double>(count));
      sum += p.confidence;
      ++count;
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
    if (peers == 0) return;
    tests_[4].add(own.confidence - peer_sum / static_cast<double>(peers));
    if (canary_deviation >= 0.0 && peers_with_mean > 0) {
      tests_[5].add(canary_deviation - peer_deviation_sum / static_cast<double>(peers_with_mean));
    }
  }

  std::string canary_;
  const double log_threshold_ = -std::log(0.001);  // log(1/alpha), alpha the default
  std::array<detectors::BettingTest, 6> tests_;
  std::map<std::string, std::pair<double, std::uint64_t>> means_;
  std::set<std::array<std::size_t, 4>> patterns_;
  std::uint64_t paired_ = 0;
  std::uint64_t fired_at_ = 0;
};

std::uint64_t bits(double x) {
  return std::bit_cast<std::uint64_t>(x);
}

// Events of many count patterns (one to nine peers, some inactive; the canary absent, inactive or
// twice, its last active prediction being the one under test), the canary holding more and more
// confident from the middle on: the detector's figures at every evaluation and the paired event
// at which it fires are the reference's, to the bit. Three configurations: every test betting;
// only the share tests able to bet (the crossing then follows their wealths alone); only the
// confidence tests (theirs alone).
TEST(DistributionShift, FoldIsTheDefinitionsOnEveryCountPattern) {
  const std::string canary = "patchtst";
  // From the middle on the canary holds more and is more confident.
  const auto events = test::vote_pattern_events(
      12'000, 41, canary, 9, [](Prediction& p, std::size_t i, std::mt19937_64& rng) {
        if (i < 6'000) return;
        if (rng() % 2 == 0) p.action = Vote::kHold;
        p.confidence = p.raw_confidence = std::sqrt(p.confidence);
      });
  struct Config {
    double action_tv, agreement, confidence, spread;
  };
  for (const Config c :
       {Config{0.0, 0.0, 0.0, 0.0}, Config{0.0, 0.99, 0.99, 0.49}, Config{0.99, 0.99, 0.0, 0.0}}) {
    const std::string config = "min effects " + std::to_string(c.action_tv) + "/" +
                               std::to_string(c.agreement) + "/" + std::to_string(c.confidence) +
                               "/" + std::to_string(c.spread);
    ReferenceShift ref(
        canary, {c.action_tv, c.action_tv, c.action_tv, c.agreement, c.confidence, c.spread});
    ShiftHost h(nlohmann::json{{"min_action_tv", c.action_tv},
                               {"min_agreement_shift", c.agreement},
                               {"min_confidence_shift", c.confidence},
                               {"min_spread_shift", c.spread}});
    constexpr std::size_t kPerCheck = 25;
    for (std::size_t at = 0; at < events.size(); at += kPerCheck) {
      const auto batch = std::span<const TradeIntent>(events).subspan(at, kPerCheck);
      const CheckResult r = h.check(canary, batch);
      for (const TradeIntent& e : batch) ref.fold(e);
      const std::string where = config + ", after " + std::to_string(at + kPerCheck) + " events";
      ASSERT_EQ(figure(r, "paired_events"), static_cast<double>(ref.paired())) << where;
      ASSERT_EQ(bits(figure(r, "recent_action_tv")), bits(ref.recent_action_tv())) << where;
      ASSERT_EQ(bits(figure(r, "recent_agreement_shift")), bits(ref.agreement().recent_mean()))
          << where;
      ASSERT_EQ(bits(figure(r, "log10_e_value")), bits(ref.log_e() / std::log(10.0))) << where;
      ASSERT_EQ(figure(r, "fired_at_paired_event"),
                ref.fired_at() != 0 ? static_cast<double>(ref.fired_at()) : -1.0)
          << where;
    }
    // Many patterns (memo hits, misses, probes past collisions); it fired, after the change.
    EXPECT_GT(ref.patterns(), 100u) << config;
    EXPECT_GT(ref.paired(), 8'000u) << config;
    EXPECT_GT(ref.fired_at(), 4'000u) << config;
  }
}

double thread_cpu_ns() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e9 + static_cast<double>(t.tv_nsec);
}

// The per-event cost of the test (folding events in; one evaluation per 1,000 events), for the
// report: printed and recorded, not bounded (a shared machine's timing is no functional fact).
TEST(DistributionShift, PerEventCostIsReported) {
  for (const bool betting : {false, true}) {
    // With every minimum effect 0 the tests bet on about half the events (the costly path).
    ShiftHost h(betting ? nlohmann::json{{"min_action_tv", 0},
                                         {"min_agreement_shift", 0},
                                         {"min_confidence_shift", 0},
                                         {"min_spread_shift", 0}}
                        : nlohmann::json::object());
    EnsembleSimulator sim("patchtst", ScenarioSpec{}, 21);
    std::vector<TradeIntent> events(1'000);
    for (auto& e : events) sim.next(e);
    constexpr int kRounds = 200;
    // The thread's CPU time, not the wall clock: time descheduled on a shared machine is not
    // the detector's cost.
    const double start_ns = thread_cpu_ns();
    for (int i = 0; i < kRounds; ++i) h.check("patchtst", events);
    const double ns = (thread_cpu_ns() - start_ns) / (kRounds * 1'000.0);
    std::cout << "distribution_shift per event (" << (betting ? "betting" : "default")
              << "): " << ns << " ns\n";
    RecordProperty(betting ? "ns_per_event_betting" : "ns_per_event_default", static_cast<int>(ns));
  }
}

}  // namespace
}  // namespace qsc::shift_test

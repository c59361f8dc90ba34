// Verdict horizons (ABI 2.1, qsc_check_sink::set_horizon): the event-driven evaluation skips a
// detector whose verdict provably cannot change yet. A skipped detector that should have fired is
// the worst bug a safety agent can have, so these tests drive the real detector plugins through
// the real PluginHost and the monitor's own EvaluationStep:
//   - Equivalence: the same streams judged by two steps, one honouring the horizons, one calling
//     every detector at every event; at every event the acting checks are identical, and at every
//     interval check and at the end every detector's verdict, message and figures are.
//   - The horizons themselves: at every event of adversarial streams, no detector's verdict
//     changes within a horizon it reported.
//   - ABI compatibility: a plugin of ABI 2.0 (no set_horizon) is called at every event; one that
//     reports a horizon is skipped within it, shown every event it missed at its next call, and
//     called at once when another detector acts; a 2.1 plugin in a 2.0 host's sink never calls
//     set_horizon.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "../../plugins/detectors/common/betting_test.hpp"
#include "../../plugins/detectors/common/detector_support.hpp"
#include "../bench/accuracy/scenario.hpp"
#include "demo/synthetic_engine.hpp"
#include "monitor/evaluation_step.hpp"
#include "plugin_host/plugin_host.hpp"
#include "plugins/plugin_test_support.hpp"
#include "qsc/plugin_abi.h"
#include "support/sanitizer_scale.hpp"

namespace fs = std::filesystem;
using qsc::agent::EvaluationKind;
using qsc::agent::EvaluationStep;
using qsc::agent::HorizonPolicy;
using qsc::agent::NamedCheck;
using qsc::agent::PluginHost;
using qsc::agent::StepTime;

namespace {

constexpr const char* kCanary = "patchtst";

// A plugin directory holding the eleven built detectors.
class VerdictHorizon : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& d : qsc::test::detector_names()) {
      qsc::test::install_plugin(qsc::test::detector_library(d), dir_.path(), d + ".so");
    }
  }
  const fs::path& detector_dir() const { return dir_.path(); }

 private:
  qsc::test::TempDir dir_;
};

PluginHost open_host(const fs::path& dir, const nlohmann::json& config) {
  auto host = PluginHost::open(dir, config);
  EXPECT_TRUE(host.ok()) << (host.ok() ? "" : host.error().message);
  return std::move(host).value();
}

// A configuration small enough for every verdict to change often: a short window, few events
// needed to judge. `literal`: the share and ensemble checks judged by their literal rules.
qsc::agent::Config small_config(bool literal) {
  qsc::agent::Config c;
  c.telemetry.window_events = 240;
  c.telemetry.min_events = 40;
  // quality_gate repeats the share checks at the same thresholds: when it acts with them, every
  // detector is called, which would hide a share check skipped past its horizon. Out of the way.
  c.plugins.config["quality_gate"] = {{"max_share_pct", 99.9}, {"max_hold_pct", 99.9}};
  if (literal) {
    c.plugins.config["dead_zone"] = {{"attribution", "model"}};
    c.plugins.config["action_collapse"] = {{"attribution", "model"}};
    c.plugins.config["ensemble_dysfunction"] = {{"attribution", "ensemble"}};
    c.plugins.config["model_chaos"] = {{"attribution", "ensemble"}};
  }
  return c;
}

bool same_number(double a, double b) {
  // Both sides compute a figure from the same state in the same order: equal to the bit, NaN
  // where either is NaN.
  return (std::isnan(a) && std::isnan(b)) || a == b;
}

std::string describe(const NamedCheck& c) {
  std::string s = c.detector + " " + std::string(qsc::verdict_name(c.result.verdict)) + " \"" +
                  c.result.message + "\"";
  for (const auto& f : c.result.figures) s += " " + f.name + "=" + std::to_string(f.value);
  return s;
}

// Every detector's verdict, message and figures equal.
void expect_same_checks(const std::vector<NamedCheck>& a, const std::vector<NamedCheck>& b,
                        const std::string& where) {
  ASSERT_EQ(a.size(), b.size()) << where;
  for (std::size_t i = 0; i < a.size(); ++i) {
    bool same = a[i].detector == b[i].detector && a[i].result.verdict == b[i].result.verdict &&
                a[i].result.message == b[i].result.message &&
                a[i].result.figures.size() == b[i].result.figures.size();
    for (std::size_t f = 0; same && f < a[i].result.figures.size(); ++f) {
      same = a[i].result.figures[f].name == b[i].result.figures[f].name &&
             same_number(a[i].result.figures[f].value, b[i].result.figures[f].value);
    }
    EXPECT_TRUE(same) << where << ":\n  honoured: " << describe(a[i])
                      << "\n  ignored:  " << describe(b[i]);
  }
}

// The acting checks (violations and errors): detector and message.
std::vector<std::string> acting(const std::vector<NamedCheck>& checks) {
  std::vector<std::string> out;
  for (const auto& c : checks) {
    if (c.acts()) out.push_back(c.detector + ": " + c.result.message);
  }
  return out;
}

// Per horizon condition (ABI 2.2, QSC_UNLESS_* bit i), the number of the newest accepted event
// that brought it, worked out here from the events themselves (not from the host's own watch):
// a prediction of the canary with a confidence violation (bit 0) or inactive (bit 1).
using ConditionEvents = std::array<std::uint64_t, 2>;

void note_conditions(const qsc::ParseOutcome& entry, std::uint64_t number, ConditionEvents& out) {
  const auto* e = std::get_if<qsc::TradeIntent>(&entry);
  if (e == nullptr) return;
  for (const auto& p : e->predictions) {
    if (p.model != kCanary) continue;
    if (qsc::is_confidence_violation(p.confidence_status)) out[0] = number;
    if (p.is_inactive()) out[1] = number;
  }
}

// The stream as the test itself tracks it at an evaluation (not from the host's own watch): the
// conditions on the telemetry (ABI 2.3) and where the clock of a horizon stands.
struct StreamState {
  ConditionEvents conditions{};
  std::uint64_t events_lost = 0;
  std::uint64_t rejected = 0;
  bool source_ok = true;
  double silence_s = 0.0;       // since the last accepted event arrived, at the evaluation
  std::uint64_t newest_ms = 0;  // the largest accepted time_ms
};

// True when a promise's clock (ABI 2.3) is past in `s`: the bound as the ABI states it.
bool clock_past(const qsc::CheckResult::HorizonClock& c, const StreamState& s) {
  if (!c.set) return false;
  if (!(s.silence_s <= c.max_silence_s) || s.newest_ms < c.since_event_ms) return true;
  return !(static_cast<double>(s.newest_ms - c.since_event_ms) / 1000.0 +
               std::max(s.silence_s, 0.0) <=
           c.max_since_s);
}

// Checks that no detector's verdict changes within a horizon it reported (the step that ignores
// horizons calls every detector at every evaluation, so every verdict and horizon is seen), as
// long as no event since it brought one of its conditions, the telemetry shows none of its
// conditions since and its clock is not past.
class HorizonPromises {
 public:
  void observe(const std::vector<NamedCheck>& checks, std::uint64_t accepted,
               const StreamState& state, const std::string& where) {
    const ConditionEvents& conditions = state.conditions;
    for (const auto& c : checks) {
      auto& p = promises_[c.detector];
      bool broken = false;  // a condition of the promise came after it was made
      for (std::size_t i = 0; i < conditions.size(); ++i) {
        broken = broken || ((p.unless >> i & 1u) != 0 && conditions[i] > p.made_at);
      }
      broken = broken ||
               ((p.unless & QSC_UNLESS_EVENTS_LOST) != 0 && state.events_lost != p.events_lost) ||
               ((p.unless & QSC_UNLESS_REJECTED_ENTRY) != 0 && state.rejected != p.rejected) ||
               ((p.unless & QSC_UNLESS_SOURCE_DOWN) != 0 && !state.source_ok) ||
               clock_past(p.clock, state);
      if (p.active && accepted <= p.until && !broken) {
        EXPECT_EQ(c.result.verdict, p.verdict)
            << where << ": " << c.detector << " promised at event " << p.made_at
            << " that its verdict stays " << qsc::verdict_name(p.verdict) << " through event "
            << p.until << ", now " << describe(c);
      } else {
        p.active = false;
      }
      const auto v = c.result.verdict;
      const std::uint64_t h = c.result.horizon_events;
      if (h == 0 || (v != qsc::Verdict::kPass && v != qsc::Verdict::kInsufficient)) continue;
      ++made_[c.detector];
      // Saturating: a horizon bounded only by its conditions and clock promises any count.
      const std::uint64_t until = h > std::numeric_limits<std::uint64_t>::max() - accepted
                                      ? std::numeric_limits<std::uint64_t>::max()
                                      : accepted + h;
      const std::uint64_t unless = c.result.horizon_unless;
      const auto& clock = c.result.horizon_clock;
      if (p.active && p.verdict == v && unless == 0 && p.unless == 0 && !clock.set &&
          !p.clock.set) {
        p.until = std::max(p.until, until);
      } else {
        // A promise with conditions holds from when it was made: the newest replaces the last.
        p = {true, v, until, accepted, unless, state.events_lost, state.rejected, clock};
      }
    }
  }
  // A reload may replace an instance (another configuration, a new watch): its predecessor's
  // promises are not its own.
  void forget() { promises_.clear(); }
  // How many horizons each detector gave.
  const std::map<std::string, std::uint64_t>& made() const { return made_; }

 private:
  struct Promise {
    bool active = false;
    qsc::Verdict verdict = qsc::Verdict::kPass;
    std::uint64_t until = 0;
    std::uint64_t made_at = 0;
    std::uint64_t unless = 0;       // its conditions (QSC_UNLESS_* bits)
    std::uint64_t events_lost = 0;  // the telemetry when it was made
    std::uint64_t rejected = 0;
    qsc::CheckResult::HorizonClock clock;
  };
  std::map<std::string, Promise> promises_;
  std::map<std::string, std::uint64_t> made_;
};

// One stream judged both ways: the same entries, the same times, the same checks.
class BothWays {
 public:
  BothWays(const qsc::agent::Config& config, const fs::path& dir)
      : config_(config),
        honoured_host_(open_host(dir, config_.to_json())),
        ignored_host_(open_host(dir, config_.to_json())),
        honoured_(config_, kCanary, honoured_host_, HorizonPolicy::kHonour),
        ignored_(config_, kCanary, ignored_host_, HorizonPolicy::kIgnore) {
    honoured_.start_silence(StepTime(0));
    ignored_.start_silence(StepTime(0));
  }

  // One entry at `now`, evaluated on arrival as the worker and replay do.
  void take(const qsc::ParseOutcome& entry, StepTime now, const std::string& where) {
    note_entry(entry, now);
    honoured_.take_entry(entry, now);
    ignored_.take_entry(entry, now);
    evaluate_on_arrival(now, where);
  }

  // One read of the live monitor's: `batch` taken at `now`, then (when `failure`) a read that
  // failed at `failed_at`; no evaluation (the worker evaluates after a gap, evaluate_on_arrival).
  void take_read(const qsc::agent::TelemetryBatch& batch, StepTime now) {
    for (const auto& e : batch.events) note_entry(e, now);
    state_.rejected += batch.counts.rejected_total();
    state_.events_lost += batch.events_lost;
    honoured_.take(batch, now);
    ignored_.take(batch, now);
  }
  void fail_source(const std::string& error, StepTime now) {
    honoured_.source_failed(error, now);
    ignored_.source_failed(error, now);
  }

  // The event-driven evaluation at `now` (at or after the last read). The honouring step's as
  // the worker and replay make it (evaluate_on_arrival: the figures only when a detector is
  // called); the other's on figures computed at every evaluation.
  void evaluate_on_arrival(StepTime now, const std::string& where) {
    const auto& a = honoured_.evaluate_on_arrival(now);
    const auto& b = ignored_.evaluate(ignored_.event_stats(), now, EvaluationKind::kEventDriven);
    ASSERT_EQ(acting(a.checks), acting(b.checks)) << where << " (event " << accepted_ << ")";
    for (const auto& c : b.checks) {
      if (c.acts()) ++fired_[c.detector];
    }
    if (a.violated()) expect_same_checks(a.checks, b.checks, where + ", an evaluation that acts");
    state_.silence_s = std::chrono::duration<double>(now - last_arrival_).count();
    // The source's health as the detectors are shown it (the step's rule: down for longer than
    // telemetry.stale_after), from the input, not from the host's watch.
    state_.source_ok = ignored_.health(now).source_ok;
    promises_.observe(b.checks, accepted_, state_, where);
    ++evaluations_;
  }

  // An interval check (or the period's end): every detector, on the exact figures.
  void check(StepTime now, const std::string& where) {
    const auto& a = honoured_.evaluate(honoured_.check_stats(), now, EvaluationKind::kFull);
    const auto& b = ignored_.evaluate(ignored_.check_stats(), now, EvaluationKind::kFull);
    expect_same_checks(a.checks, b.checks,
                       where + ", interval check at event " + std::to_string(accepted_));
  }

  // A plugin reload (SIGHUP) under `config`, as the monitor makes it: first an evaluation of
  // every detector when the last one skipped some (monitor.cpp reload_plugins), then both hosts
  // reloaded (an instance whose section changed is replaced, the others kept).
  void reload(const qsc::agent::Config& config, StepTime now, const std::string& where) {
    if (honoured_.last_skipped() > 0) check(now, where + ", before a reload");
    config_ = config;
    ASSERT_TRUE(honoured_host_.reload(config_).ok()) << where;
    ASSERT_TRUE(ignored_host_.reload(config_).ok()) << where;
    promises_.forget();
  }

  std::uint64_t skipped() const { return honoured_.skipped_checks(); }
  const EvaluationStep& honoured() const { return honoured_; }
  std::uint64_t evaluations() const { return evaluations_; }
  // The event-driven evaluations whose figures the honouring step computed.
  std::uint64_t figures_computed() const { return honoured_.window().screen_counts().evaluations; }
  std::size_t detectors() const { return ignored_.last_checks().size(); }
  const HorizonPromises& promises() const { return promises_; }
  // How many event-driven evaluations `detector` acted at.
  std::uint64_t fired(const std::string& detector) const {
    const auto it = fired_.find(detector);
    return it == fired_.end() ? 0 : it->second;
  }

 private:
  qsc::agent::Config config_;
  PluginHost honoured_host_;
  PluginHost ignored_host_;
  EvaluationStep honoured_;
  EvaluationStep ignored_;
  void note_entry(const qsc::ParseOutcome& entry, StepTime now) {
    if (const auto* e = std::get_if<qsc::TradeIntent>(&entry)) {
      ++accepted_;
      last_arrival_ = now;
      state_.newest_ms = std::max(state_.newest_ms, e->time_ms);
    } else if (std::holds_alternative<qsc::Rejection>(entry)) {
      ++state_.rejected;
    }
    note_conditions(entry, accepted_, state_.conditions);
  }

  std::map<std::string, std::uint64_t> fired_;
  HorizonPromises promises_;
  StreamState state_;
  StepTime last_arrival_{0};
  std::uint64_t accepted_ = 0;
  std::uint64_t evaluations_ = 0;
};

// Feeds `events` entries from `next(i)` (event i at i * 500 ms), an interval check every
// `check_every` entries and one at the end; returns the share of checks skipped.
template <typename Next>
double judge_both_ways(BothWays& both, std::size_t events, std::size_t check_every, Next&& next,
                       const std::string& where) {
  for (std::size_t i = 0; i < events; ++i) {
    const StepTime now(static_cast<long>(i) * 500'000);
    both.take(next(i), now, where);
    if (::testing::Test::HasFatalFailure()) return 0.0;
    if ((i + 1) % check_every == 0 || i + 1 == events) both.check(now, where);
  }
  return static_cast<double>(both.skipped()) /
         static_cast<double>(both.evaluations() * std::max<std::size_t>(both.detectors(), 1));
}

// ---- Adversarial streams -------------------------------------------------------------------

// Random events in runs of random length, each run a random mode of the canary (all HOLD, all
// BUY, mixed, silent, inactive, NaN or constant or jumping confidences) and of its peers (mixed,
// following the canary, against it, inactive, missing), with some unreadable entries between:
// what moves every figure across its threshold, in both directions, as fast as an event can.
// `votes_only`: only the votes move (confidences healthy, no unreadable entry, the canary always
// voting), so that the checks of the confidences and of the telemetry, which act on the other
// streams for long stretches (and an evaluation that acts calls every detector), stay quiet and
// the share and ensemble checks' horizons are what is exercised.
class AdversarialStream {
 public:
  AdversarialStream(std::uint64_t seed, bool votes_only) : rng_(seed), votes_only_(votes_only) {
    new_run();
  }

  qsc::ParseOutcome next(std::size_t i) {
    if (run_left_-- == 0) new_run();
    if (!votes_only_ && chance(0.003)) {
      return qsc::Rejection{qsc::RejectReason::kMalformedJson, std::to_string(i), "payload",
                            "entry " + std::to_string(i) + ": malformed JSON"};
    }
    qsc::TradeIntent e;
    e.time_ms = 1'768'000'000'000ULL + i * 500;
    e.seq = ++seq_;
    e.symbol = "BTCUSDT";
    const qsc::Vote canary_vote = canary_vote_of();
    for (const char* model : {"xgb", "lgbm", "nhits"}) {
      if (peer_mode_ == 4 && chance(0.7)) continue;  // peers missing
      qsc::Prediction p = prediction(model, peer_vote(canary_vote));
      if (peer_mode_ == 3 && chance(0.8)) p.inactive = qsc::InactiveReason::kShadow;
      e.predictions.push_back(p);
    }
    if (canary_mode_ != 3) {  // 3: the canary is silent
      qsc::Prediction p = prediction(kCanary, canary_vote);
      if (canary_mode_ == 4) p.inactive = qsc::InactiveReason::kFallback;
      p.confidence = canary_confidence();
      if (std::isnan(p.confidence)) p.confidence_status = qsc::ConfidenceStatus::kNaN;
      p.raw_confidence = p.confidence;
      e.predictions.push_back(p);
    }
    return e;
  }

 private:
  bool chance(double p) { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < p; }
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  qsc::Vote any_vote() { return static_cast<qsc::Vote>(pick(3)); }

  void new_run() {
    // Runs from one event to a few windows: short flips and long pushes.
    run_left_ = static_cast<std::size_t>(
        std::min(600.0, std::exp(std::uniform_real_distribution<double>(0.0, 6.4)(rng_))));
    canary_mode_ = pick(6);
    peer_mode_ = pick(5);
    confidence_mode_ = pick(10);  // 5-9: healthy
    if (votes_only_) {
      if (canary_mode_ == 3 || canary_mode_ == 4) canary_mode_ = 2;
      confidence_mode_ = 9;
    }
  }

  qsc::Vote canary_vote_of() {
    switch (canary_mode_) {
      case 0:
        return qsc::Vote::kHold;
      case 1:
        return qsc::Vote::kBuy;
      case 5:
        return chance(0.5) ? qsc::Vote::kHold : any_vote();
      default:
        return any_vote();
    }
  }

  qsc::Vote peer_vote(qsc::Vote canary) {
    switch (peer_mode_) {
      case 1:
        return canary;  // all agree
      case 2:           // against: a BUY for a SELL and the other way, HOLD for HOLD
        return canary == qsc::Vote::kBuy    ? qsc::Vote::kSell
               : canary == qsc::Vote::kSell ? qsc::Vote::kBuy
                                            : any_vote();
      default:
        return any_vote();
    }
  }

  double canary_confidence() {
    switch (confidence_mode_) {
      case 0:
        return 0.6;  // constant
      case 1:
        return chance(0.5) ? 0.0 : 1.0;  // jumping
      case 2:
        return chance(0.1) ? std::nan("") : 0.5 + 0.01 * pick(3);
      case 3:
        return 0.7 + 0.001 * pick(10);  // narrow
      default:
        return std::uniform_real_distribution<double>(0.3, 0.99)(rng_);
    }
  }

  qsc::Prediction prediction(const char* model, qsc::Vote vote) {
    qsc::Prediction p;
    p.model = model;
    p.model_string = model;
    p.action = vote;
    p.confidence = std::uniform_real_distribution<double>(0.4, 0.95)(rng_);
    p.raw_confidence = p.confidence;
    return p;
  }

  std::mt19937_64 rng_;
  bool votes_only_;
  std::uint64_t seq_ = 0;
  std::size_t run_left_ = 0;
  int canary_mode_ = 0;
  int peer_mode_ = 0;
  int confidence_mode_ = 0;
};

// ---- Equivalence ---------------------------------------------------------------------------

TEST_F(VerdictHorizon, AdversarialStreamsJudgeAlikeWithAndWithoutHorizons) {
  for (bool literal : {false, true}) {
    double skipped_sum = 0.0;
    for (std::uint64_t seed = 1; seed <= qsc::test::sanitizer_sized(6, 2); ++seed) {
      const bool votes_only = seed % 2 == 0;
      const std::string where = "adversarial seed " + std::to_string(seed) +
                                (literal ? " (literal rules)" : " (attribution canary)") +
                                (votes_only ? " (votes only)" : "");
      BothWays both(small_config(literal), detector_dir());
      AdversarialStream stream(seed * 7919 + (literal ? 1 : 0), votes_only);
      const double skipped = judge_both_ways(
          both, qsc::test::sanitizer_sized(3000, 1500), 97,
          [&](std::size_t i) { return stream.next(i); }, where);
      if (HasFatalFailure()) return;
      std::cout << where << ": " << 100.0 * skipped << "% of the event-driven checks skipped\n";
      skipped_sum += skipped;
      // Not a vacuous comparison: the horizons of every kind added were given and held
      // (HorizonPromises checked each one), and detectors were skipped (below).
      for (const char* d :
           {"distribution_shift", "dead_zone", "action_collapse", "ensemble_dysfunction",
            "model_chaos", "flat_predictions", "narrow_range"}) {
        const auto it = both.promises().made().find(d);
        EXPECT_TRUE(it != both.promises().made().end() && it->second > 0)
            << where << ": " << d << " never gave a horizon";
      }
    }
    // Under the literal rules the share checks act for long stretches of these streams (and an
    // evaluation that acts calls every detector): some streams skip nothing, not all of them.
    EXPECT_GT(skipped_sum, 0.0) << (literal ? "literal rules" : "attribution canary");
  }
}

TEST_F(VerdictHorizon, AccuracyScenariosJudgeAlikeWithAndWithoutHorizons) {
  using qsc::accuracy::Degradation;
  for (auto kind : {Degradation::kNone, Degradation::kHoldCollapse, Degradation::kGradualCollapse,
                    Degradation::kFlattening, Degradation::kConfidenceDrift, Degradation::kInverted,
                    Degradation::kStuck, Degradation::kNaNBursts, Degradation::kSilence}) {
    for (std::uint64_t seed = 0; seed < qsc::test::sanitizer_sized(2, 1); ++seed) {
      const std::string where = "accuracy " + std::string(qsc::accuracy::degradation_name(kind)) +
                                " seed " + std::to_string(seed);
      qsc::accuracy::ScenarioSpec spec;
      spec.degradation = kind;
      spec.seed = seed;
      spec.start_ms = 1'768'000'000'000ULL;
      spec.events = qsc::test::sanitizer_sized(6000, 1500);
      // The onset early in the stream, so each degraded kind shows within it.
      spec.onset_min_ms = 200'000;
      spec.onset_max_ms = 600'000;
      // The shipped defaults (window 2000, min_events 200) and a small window; under a
      // sanitizer the small window only (the defaults' window hardly slides in its events).
      for (bool small : {false, true}) {
        if (!small && qsc::test::kSanitizedBuild) continue;
        BothWays both(small ? small_config(false) : qsc::agent::Config{}, detector_dir());
        qsc::accuracy::ScenarioGenerator g(spec);
        const double skipped = judge_both_ways(
            both, spec.events, 600, [&](std::size_t) { return qsc::ParseOutcome(g.next()); },
            where + (small ? " (small window)" : " (defaults)"));
        if (HasFatalFailure()) return;
        std::cout << where << (small ? " (small window)" : " (defaults)") << ": " << 100.0 * skipped
                  << "% of the event-driven checks skipped, figures computed at "
                  << both.figures_computed() << " of " << both.evaluations() << " evaluations\n";
        // A healthy stream under the defaults is judged mostly within every detector's
        // horizon (about 2,000 of 6,000 evaluations call one): those compute no figures
        // (evaluate_on_arrival), and still judge alike (above).
        if (kind == Degradation::kNone && !small) {
          EXPECT_LT(both.figures_computed(), both.evaluations() / 2) << where;
        }
      }
    }
  }
}

TEST_F(VerdictHorizon, SyntheticEngineKindsJudgeAlikeWithAndWithoutHorizons) {
  using qsc::agent::CanaryBehaviour;
  for (auto kind :
       {CanaryBehaviour::kHealthy, CanaryBehaviour::kHoldCollapse, CanaryBehaviour::kActionCollapse,
        CanaryBehaviour::kDeadZone, CanaryBehaviour::kAgreementHigh, CanaryBehaviour::kHardDisagree,
        CanaryBehaviour::kFallback, CanaryBehaviour::kCanarySilent}) {
    // Healthy first, then the kind: every verdict starts in band and has to leave it.
    qsc::agent::SyntheticEngine engine(kCanary, 20260110 + static_cast<int>(kind));
    BothWays both(small_config(false), detector_dir());
    const std::size_t events = qsc::test::sanitizer_sized(2000, 700);
    judge_both_ways(
        both, events, 150,
        [&](std::size_t i) {
          return qsc::ParseOutcome(
              engine.next(1'768'000'000'000ULL + i * 500,
                          i < events * 2 / 5 ? CanaryBehaviour::kHealthy : kind));
        },
        "synthetic kind " + std::to_string(static_cast<int>(kind)));
    if (HasFatalFailure()) return;
  }
}

// ---- The monitor's wake (session 14) ---------------------------------------------------------

// True when the ring wakes a watermark sleeper at once for this entry (ring_internal.hpp,
// needs_prompt_wake): a rejected entry, or any prediction whose confidence is a violation or
// that is inactive.
bool wakes_at_once(const qsc::ParseOutcome& entry) {
  const auto* e = std::get_if<qsc::TradeIntent>(&entry);
  if (e == nullptr || e->predictions.empty()) return true;
  for (const auto& p : e->predictions) {
    if (qsc::is_confidence_violation(p.confidence_status) || p.is_inactive() ||
        !(p.confidence >= 0.0 && p.confidence <= 1.0)) {
      return true;
    }
  }
  return false;
}

// Drives one step as the live worker with `shm_wait: block` reads: after each evaluation it asks
// events_before_call how many events it may sleep through (a poll's wait of 100 ms, the default
// skew), and checks that at each of those events (unless the ring would have woken it at once,
// or the event comes after the bound the hint was given for) the event-driven evaluation calls
// no detector. Sleeping through them and judging them in one batch at the wake therefore calls
// the detectors at the same events, and the equivalence tests above show the verdicts then
// match. Returns the share of events the worker could sleep through.
template <typename Next>
double sleep_through(const qsc::agent::Config& config, const fs::path& dir, std::size_t events,
                     Next&& next, const std::string& where) {
  PluginHost host = open_host(dir, config.to_json());
  EvaluationStep step(config, kCanary, host);
  step.start_silence(StepTime(0));
  constexpr auto kWait = std::chrono::milliseconds(100);
  const std::uint64_t skew_ms = static_cast<std::uint64_t>(config.telemetry.max_clock_skew.count());
  std::uint64_t asleep_for = 0;  // events left the worker sleeps through
  std::uint64_t latest_ms = 0;   // the newest stamp the hint was given for
  std::uint64_t newest_ms = 0;
  std::size_t slept = 0;
  for (std::size_t i = 0; i < events; ++i) {
    const qsc::ParseOutcome entry = next(i);
    const StepTime now(static_cast<long>(i) * 500'000);
    const auto* e = std::get_if<qsc::TradeIntent>(&entry);
    if (e != nullptr) newest_ms = std::max(newest_ms, e->time_ms);
    if (wakes_at_once(entry) || newest_ms > latest_ms) asleep_for = 0;
    step.take_entry(entry, now);
    step.evaluate(step.event_stats(), now, EvaluationKind::kEventDriven);
    if (asleep_for > 0) {
      EXPECT_EQ(step.last_skipped(), step.last_checks().size())
          << where << ": event " << i << " inside the wake hint called a detector";
      if (::testing::Test::HasFailure()) return 0.0;
      --asleep_for;
      ++slept;
      continue;
    }
    latest_ms = newest_ms + static_cast<std::uint64_t>(kWait.count()) + skew_ms;
    const std::uint64_t hint = step.events_before_call(now, latest_ms, kWait);
    EXPECT_GE(hint, 1u) << where;
    asleep_for = hint - 1;
  }
  return static_cast<double>(slept) / static_cast<double>(events);
}

TEST_F(VerdictHorizon, TheWakeHintSleepsOnlyThroughEventsThatCallNoDetector) {
  double slept_sum = 0.0;
  for (bool votes_only : {true, false}) {
    for (std::uint64_t seed = 1; seed <= qsc::test::sanitizer_sized(3, 1); ++seed) {
      const std::string where =
          "adversarial seed " + std::to_string(seed) + (votes_only ? " (votes only)" : "");
      AdversarialStream stream(seed * 104729 + (votes_only ? 1 : 0), votes_only);
      const double slept = sleep_through(
          small_config(false), detector_dir(), qsc::test::sanitizer_sized(3000, 1500),
          [&](std::size_t i) { return stream.next(i); }, where);
      if (HasFailure()) return;
      std::cout << where << ": " << 100.0 * slept << "% of the events slept through\n";
      slept_sum += slept;
    }
  }
  using qsc::agent::CanaryBehaviour;
  for (auto kind : {CanaryBehaviour::kHealthy, CanaryBehaviour::kHoldCollapse,
                    CanaryBehaviour::kFallback, CanaryBehaviour::kCanarySilent}) {
    qsc::agent::SyntheticEngine engine(kCanary, 20261130 + static_cast<int>(kind));
    const std::size_t events = qsc::test::sanitizer_sized(3000, 1000);
    const std::string where = "synthetic kind " + std::to_string(static_cast<int>(kind));
    const double slept = sleep_through(
        qsc::agent::Config{}, detector_dir(), events,
        [&](std::size_t i) {
          return qsc::ParseOutcome(engine.next(1'768'000'000'000ULL + i * 500,
                                               i < events / 2 ? CanaryBehaviour::kHealthy : kind));
        },
        where);
    if (HasFailure()) return;
    std::cout << where << " (defaults): " << 100.0 * slept << "% of the events slept through\n";
    slept_sum += slept;
  }
  // Not vacuous: the hint let the worker sleep through events.
  EXPECT_GT(slept_sum, 0.0);
}

// ---- Telemetry streams: silences on the clock, loss, unreadable entries, the source ----------

// telemetry_stale's pass holds until a clock runs out (the stream's silence, the canary's) or the
// telemetry changes (ABI 2.3): short limits so that both silences cross them often. The source
// counts as down after the step's telemetry.stale_after (3 s), before the detector's silences
// fire (7 and 8 s): so only the condition QSC_UNLESS_SOURCE_DOWN covers a source down between.
// `canary_first`: the canary's silence has the shorter limit (as by default, where they are
// equal: it then bounds the stream's too), else the stream's, whose own clock then binds.
qsc::agent::Config telemetry_config(bool canary_first) {
  auto c = small_config(false);
  c.telemetry.stale_after = std::chrono::milliseconds(3000);
  c.plugins.config["telemetry_stale"] = {{"stale_after", canary_first ? 8 : 7},
                                         {"canary_silent_after", canary_first ? 7 : 8},
                                         {"max_lost_events", 3},
                                         {"max_rejected_pct", 2}};
  return c;
}

// How often each thing happens in a stream of TelemetryReads.
struct TelemetryRates {
  double canary_silent = 0.2;  // the share of runs in which the canary is silent
  double run_reads = 40.0;     // a run's length, up to this many reads
  double empty_read = 0.1;     // a read with no event
  double jump = 0.03;          // event time jumps ahead, up to jump_ms
  double jump_ms = 6000.0;
  double past = 0.03;  // a stamp in the past, up to past_ms
  double past_ms = 3000.0;
  double rejected = 0.01;   // a read with an unreadable entry
  bool any_reason = false;  // of one of the first three reasons, else the first
  double lost = 0.004;      // a read that lost events: 1, plus up to lost_more
  double lost_more = 2.0;
};

// How many horizons telemetry_stale gave in `both`, printed with the skips.
std::uint64_t report_stale_horizons(const BothWays& both, const std::string& where) {
  const auto it = both.promises().made().find("telemetry_stale");
  const std::uint64_t made = it == both.promises().made().end() ? 0 : it->second;
  std::cout << where << ": telemetry_stale gave " << made << " horizons in " << both.evaluations()
            << " evaluations; " << both.skipped() << " checks skipped\n";
  return made;
}

// Reads as the live monitor makes them, on an arrival clock of their own (now_us): event time
// runs apart from it (jumps ahead, stamps in the past), the canary silent in runs while its peers
// publish, entries unreadable and events lost at the given rates.
class TelemetryReads {
 public:
  TelemetryReads(const TelemetryRates& rates, int engine_seed, std::uint64_t rng_seed)
      : rates_(rates), engine_(kCanary, engine_seed), rng_(rng_seed) {}

  bool chance(double p) { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < p; }
  double upto(double hi) { return std::uniform_real_distribution<double>(0.0, hi)(rng_); }

  // The next read, `now_us` moved on to when it was taken.
  qsc::agent::TelemetryBatch next() {
    if (run_left_-- <= 0) {
      canary_silent_ = chance(rates_.canary_silent);
      run_left_ = 1 + static_cast<int>(upto(rates_.run_reads));
    }
    now_us += static_cast<long>(chance(0.05) ? upto(8e6) : upto(1.5e6));
    qsc::agent::TelemetryBatch batch;
    const int events = chance(rates_.empty_read) ? 0 : 1 + static_cast<int>(upto(3.0));
    for (int k = 0; k < events; ++k) {
      event_ms_ +=
          static_cast<std::uint64_t>(chance(rates_.jump) ? upto(rates_.jump_ms) : upto(700.0));
      const std::uint64_t stamp = chance(rates_.past)
                                      ? event_ms_ - static_cast<std::uint64_t>(upto(rates_.past_ms))
                                      : event_ms_;
      batch.events.push_back(engine_.next(stamp, canary_silent_
                                                     ? qsc::agent::CanaryBehaviour::kCanarySilent
                                                     : qsc::agent::CanaryBehaviour::kHealthy));
      ++batch.counts.accepted;
    }
    if (chance(rates_.rejected)) {
      ++batch.counts.rejected[rates_.any_reason ? static_cast<std::size_t>(upto(3.0)) : 0];
    }
    if (chance(rates_.lost)) {
      batch.events_lost =
          1 + (rates_.lost_more > 0.0 ? static_cast<std::uint64_t>(upto(rates_.lost_more)) : 0);
    }
    return batch;
  }

  long now_us = 0;

 private:
  TelemetryRates rates_;
  qsc::agent::SyntheticEngine engine_;
  std::mt19937_64 rng_;
  std::uint64_t event_ms_ = 1'768'000'000'000ULL;
  bool canary_silent_ = false;
  int run_left_ = 0;
};

// Reads as the live monitor makes them, on an arrival clock of their own: event time runs apart
// from it (jumps ahead, stamps in the past), the event-driven evaluation comes up to 9 s after
// the read (the worker's minimum gap, a slow loop) so the stream's silence crosses stale_after
// between reads, the canary is silent for runs that cross canary_silent_after, and events are
// lost, entries unreadable, the source fails (and is down past stale_after or back in time).
TEST_F(VerdictHorizon, TelemetryStreamsJudgeAlikeWithAndWithoutHorizons) {
  std::uint64_t stale_horizons = 0;
  std::uint64_t skipped = 0;
  for (std::uint64_t seed = 1; seed <= qsc::test::sanitizer_sized(6, 2); ++seed) {
    const std::string where = "telemetry seed " + std::to_string(seed);
    BothWays both(telemetry_config(seed % 2 == 1), detector_dir());
    TelemetryReads stream(TelemetryRates{}, 20260110 + static_cast<int>(seed), seed * 104729);
    const std::size_t reads = qsc::test::sanitizer_sized(3000, 1000);
    for (std::size_t i = 0; i < reads; ++i) {
      const auto batch = stream.next();
      both.take_read(batch, StepTime(stream.now_us));
      // The worker's evaluation comes at a later poll (its minimum gap): the clock has moved on,
      // and further when the source failed at a poll in between.
      const bool fails = stream.chance(0.02);
      if (fails) both.fail_source("connection refused", StepTime(stream.now_us));
      stream.now_us +=
          static_cast<long>(fails || stream.chance(0.1) ? stream.upto(9e6) : stream.upto(2e5));
      both.evaluate_on_arrival(StepTime(stream.now_us), where);
      if (HasFatalFailure()) return;
      if ((i + 1) % 50 == 0 || i + 1 == reads) both.check(StepTime(stream.now_us), where);
    }
    stale_horizons += report_stale_horizons(both, where);
    skipped += both.skipped();
  }
  // Not vacuous: telemetry_stale gave horizons (each one checked by HorizonPromises) and
  // detectors were skipped.
  EXPECT_GT(stale_horizons, 0u);
  EXPECT_GT(skipped, 0u);
}

// The edge streams' rates: stamps up to 20 s in the past (they must not move either clock back)
// and jumps as far ahead; about max_rejected_pct (2%) of the entries unreadable, so that the
// share crosses it both ways; events lost one at a time.
// The edge streams' configuration: telemetry_config's, reloads reading `dir`. Losses add up: at
// about 40 a stream, more than 30 are crossed late in some streams only (an acting
// telemetry_stale calls every detector, which would hide a wrong skip).
qsc::agent::Config edge_config(std::uint64_t seed, const fs::path& dir) {
  auto config = telemetry_config(seed % 2 == 1);
  config.plugins.dir = dir;  // a reload reads the directory the config names
  config.plugins.config["telemetry_stale"]["max_lost_events"] = 30;
  return config;
}

TelemetryRates edge_rates() {
  TelemetryRates rates;
  rates.canary_silent = 0.3;
  rates.run_reads = 60.0;
  rates.empty_read = 0.15;
  rates.jump = rates.past = 0.05;
  rates.jump_ms = rates.past_ms = 20000.0;
  rates.rejected = 0.025;
  rates.any_reason = true;
  rates.lost = 0.01;
  rates.lost_more = 0.0;
  return rates;
}

// The same, harder (session 12's audit): telemetry_stale's section changed by a reload (SIGHUP)
// in mid-horizon (its instance replaced: a new canary watch) or left as it was (kept, with its
// horizon), stamps far in the past and far ahead, the source failing and answering again with
// nothing, losses one at a time around max_lost_events, unreadable entries at about
// max_rejected_pct's rate (the share hovering across it, judged or not by min_events), and
// evaluations just either side of the silences' limits. At every event-driven evaluation the
// acting checks must be the same with and without horizons: the rollback moment never later.
TEST_F(VerdictHorizon, TelemetryStreamsWithReloadsAndEdgesJudgeAlikeWithAndWithoutHorizons) {
  std::uint64_t stale_horizons = 0;
  std::uint64_t skipped = 0;
  std::uint64_t reloads = 0;
  std::uint64_t stale_fired = 0;
  for (std::uint64_t seed = 1; seed <= qsc::test::sanitizer_sized(8, 2); ++seed) {
    const std::string where = "edge telemetry seed " + std::to_string(seed);
    auto config = edge_config(seed, detector_dir());
    BothWays both(config, detector_dir());
    TelemetryReads stream(edge_rates(), 20261129 + static_cast<int>(seed), seed * 7727);
    const std::size_t reads = qsc::test::sanitizer_sized(4000, 1000);
    for (std::size_t i = 0; i < reads; ++i) {
      const auto batch = stream.next();
      both.take_read(batch, StepTime(stream.now_us));
      const bool fails = stream.chance(0.04);
      if (fails) {
        both.fail_source(stream.chance(0.5) ? "connection refused" : "timeout",
                         StepTime(stream.now_us));
      }
      // The evaluation at a later poll: sometimes just under or over the limits (7 and 8 s).
      const double gap_us =
          stream.chance(0.1) ? 6.9e6 + stream.upto(1.2e6) : stream.upto(fails ? 9e6 : 2e5);
      stream.now_us += static_cast<long>(gap_us);
      both.evaluate_on_arrival(StepTime(stream.now_us), where);
      if (HasFatalFailure()) return;
      if ((i + 1) % 73 == 0 || i + 1 == reads) both.check(StepTime(stream.now_us), where);
      if (HasFailure()) return;
      if (stream.chance(0.01)) {
        // A reload: telemetry_stale's section changed (its instance replaced) or not (kept).
        if (stream.chance(0.5)) {
          auto& section = config.plugins.config["telemetry_stale"];
          section["canary_silent_after"] = 5 + static_cast<int>(stream.upto(4.0));
          section["stale_after"] = 5 + static_cast<int>(stream.upto(4.0));
        }
        both.reload(config, StepTime(stream.now_us), where + " reload " + std::to_string(reloads));
        ++reloads;
        if (HasFailure()) return;
      }
    }
    stale_horizons += report_stale_horizons(both, where);
    skipped += both.skipped();
    stale_fired += both.fired("telemetry_stale");
  }
  std::cout << "edge telemetry: " << stale_horizons << " telemetry_stale horizons, " << skipped
            << " checks skipped, " << reloads << " reloads, telemetry_stale acted at "
            << stale_fired << " evaluations\n";
  // Not vacuous: horizons were given and skipped, reloads happened, and telemetry_stale fired
  // (so a skip past its limits would have shown as a difference in the acting checks).
  EXPECT_GT(stale_horizons, 0u);
  EXPECT_GT(skipped, 0u);
  EXPECT_GT(reloads, 0u);
  EXPECT_GT(stale_fired, 0u);
}

// Session 17 (parse17): skips_every_detector answers from the detectors' horizons folded once
// per check (HorizonSummary) instead of testing each detector at every event. Its answer must be
// check_all's: two hosts honouring horizons, one step evaluating on arrival (the fold decides
// whether check_all is called at all), the other calling check_all at every event, must skip
// the same checks at every evaluation and hold the same results, through unreadable entries
// around max_rejected_pct, events lost one at a time, the source down and back, silences either
// side of the limits, interval checks (which call every detector) and reloads (a new state, some
// instances kept with their horizons). A fold not rebuilt after a check, or one that took the
// conditions of one detector for all, skips a detector check_all calls: a difference here.
TEST_F(VerdictHorizon, SkippingEveryDetectorOnArrivalIsWhatCheckAllWouldDo) {
  // Evaluations that skipped every detector, that called some, and reloads.
  std::array<std::uint64_t, 4> counted{};
  auto& [skipped_all, called, reloads, violated] = counted;
  for (std::uint64_t seed = 1; seed <= qsc::test::sanitizer_sized(4, 1); ++seed) {
    const std::string where = "fold seed " + std::to_string(seed);
    auto config = edge_config(seed, detector_dir());
    auto folded_host = open_host(detector_dir(), config.to_json());
    auto called_host = open_host(detector_dir(), config.to_json());
    EvaluationStep folded(config, kCanary, folded_host, HorizonPolicy::kHonour);
    EvaluationStep each(config, kCanary, called_host, HorizonPolicy::kHonour);
    folded.start_silence(StepTime(0));
    each.start_silence(StepTime(0));
    TelemetryReads stream(edge_rates(), 20261130 + static_cast<int>(seed), seed * 6007);
    const std::size_t reads = qsc::test::sanitizer_sized(3000, 800);
    for (std::size_t i = 0; i < reads; ++i) {
      const auto batch = stream.next();
      folded.take(batch, StepTime(stream.now_us));
      each.take(batch, StepTime(stream.now_us));
      if (stream.chance(0.04)) {
        folded.source_failed("connection refused", StepTime(stream.now_us));
        each.source_failed("connection refused", StepTime(stream.now_us));
      }
      stream.now_us +=
          static_cast<long>(stream.chance(0.1) ? 6.9e6 + stream.upto(1.2e6) : stream.upto(2e5));
      const StepTime now(stream.now_us);
      const auto& a = folded.evaluate_on_arrival(now);
      const auto& b = each.evaluate(each.event_stats(), now, EvaluationKind::kEventDriven);
      const std::string at = where + ", read " + std::to_string(i);
      ASSERT_EQ(folded.last_skipped(), each.last_skipped()) << at;
      expect_same_checks(a.checks, b.checks, at);
      // The violations too: an evaluation that skipped every detector does not list them again
      // from the kept results (session 18), and one after it that calls detectors must.
      EXPECT_EQ(a.violations, b.violations) << at;
      std::vector<std::string> acting;  // the messages of the acting results, in order
      for (const auto& c : a.checks) {
        if (c.acts()) acting.push_back(c.result.message);
      }
      EXPECT_EQ(a.violations, acting) << at;
      if (HasFailure()) return;
      (folded.last_skipped() == a.checks.size() ? skipped_all : called) += 1;
      if (b.violated()) ++violated;
      if ((i + 1) % 97 == 0) {
        expect_same_checks(folded.evaluate(folded.check_stats(), now, EvaluationKind::kFull).checks,
                           each.evaluate(each.check_stats(), now, EvaluationKind::kFull).checks,
                           at + ", interval check");
      }
      if (stream.chance(0.01)) {
        if (stream.chance(0.5)) {
          config.plugins.config["telemetry_stale"]["stale_after"] =
              5 + static_cast<int>(stream.upto(4.0));
        }
        ASSERT_TRUE(folded_host.reload(config).ok()) << at;
        ASSERT_TRUE(called_host.reload(config).ok()) << at;
        ++reloads;
      }
    }
  }
  std::cout << "fold: every detector skipped at " << skipped_all << " evaluations, some called at "
            << called << ", " << reloads << " reloads, violations at " << violated << "\n";
  // Not vacuous: both answers came, many times each, and reloads happened.
  EXPECT_GT(skipped_all, 100u);
  EXPECT_GT(called, 100u);
  EXPECT_GT(reloads, 0u);
  EXPECT_GT(violated, 10u);
}

// ---- The P90 - P10 bound of narrow_range's and constant_output's horizons ---------------------

// RankedConfidences over a sorted vector (the host hands an OrderStatistics the same way).
double rank_in(const void* sorted, std::uint64_t k) {
  return (*static_cast<const std::vector<double>*>(sorted))[k];
}

// The window's P90 - P10 as the host computes it (numpy's linear percentiles).
double range_of(const std::vector<double>& confidences) {
  std::vector<qsc::Sample> samples(confidences.size());
  for (std::size_t i = 0; i < confidences.size(); ++i) samples[i].confidence = confidences[i];
  return qsc::compute_model_stats("c", samples).range;
}

// range_floor_after(k) must be at most the P90 - P10 of ANY window k accepted events away: each
// event adds at most one of the canary's confidences and removes at most one, whichever. The
// adversary here picks the worst: it removes the extremes (largest and smallest in turn) and adds
// copies of the median, or only removes, or only adds, or adds and removes at random, over
// windows of many shapes (spread, clustered, two values with ties, a few distinct values).
// Tolerance 1e-12: the margin range_floor_horizon keeps for the host's rounding of P90 - P10.
TEST(RangeFloorHorizon, NoWindowKEventsAwayHasASmallerRangeThanTheBound) {
  std::mt19937_64 rng(2026'11'29);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::normal_distribution<double> clustered(0.5, 0.03);
  const std::size_t trials = qsc::test::sanitizer_sized(4'000, 400);
  std::size_t judged = 0;
  for (std::size_t trial = 0; trial < trials; ++trial) {
    const std::size_t m = 4 + rng() % 400;
    std::vector<double> x(m);
    const int shape = static_cast<int>(trial % 4);
    for (auto& v : x) {
      if (shape == 0) v = unit(rng);
      if (shape == 1) v = std::clamp(clustered(rng), 0.0, 1.0);
      if (shape == 2) v = unit(rng) < 0.5 ? 0.2 : 0.8;
      if (shape == 3) v = static_cast<double>(rng() % 5) / 4.0;
    }
    std::sort(x.begin(), x.end());
    const qsc::RankedConfidences ranks{&x, x.size(), &rank_in};
    const std::uint64_t k = 1 + rng() % m;
    const double bound = qsc::detectors::range_floor_after(ranks, m, k);
    if (std::isnan(bound)) continue;  // no bound: no horizon that far
    ++judged;
    const double median = x[m / 2];
    for (int strategy = 0; strategy < 4; ++strategy) {
      std::vector<double> w = x;  // sorted
      for (std::uint64_t e = 0; e < k; ++e) {
        const bool removes = strategy != 2 && (strategy != 3 || rng() % 3 != 0);
        const bool adds = strategy != 1 && (strategy != 3 || rng() % 3 != 0);
        if (removes && w.size() > 1) {
          if (strategy == 3) {
            w.erase(w.begin() + static_cast<std::ptrdiff_t>(rng() % w.size()));
          } else if (e % 2 == 0) {
            w.pop_back();
          } else {
            w.erase(w.begin());
          }
        }
        if (adds) {
          const double v = strategy == 3 ? unit(rng) : median;
          w.insert(std::upper_bound(w.begin(), w.end(), v), v);
        }
      }
      const double range = range_of(w);
      EXPECT_GE(range, bound - 1e-12) << "m=" << m << " k=" << k << " shape=" << shape
                                      << " strategy=" << strategy << " window=" << w.size();
    }
  }
  // Most draws have a bound to test (k up to m, the bound needs k well below m / 2).
  EXPECT_GT(judged, trials / 5);
}

// ---- The standard deviation bound of flat_predictions' and constant_output's horizons ------

// The population standard deviation, two-pass (what numpy.std computes).
double std_of(const std::vector<double>& x) {
  double mean = 0.0;
  for (double v : x) mean += v;
  mean /= static_cast<double>(x.size());
  double m2 = 0.0;
  for (double v : x) m2 += (v - mean) * (v - mean);
  return std::sqrt(m2 / static_cast<double>(x.size()));
}

// The canary's figures for confidences `x` (sorted) as the host gives them, with its ranks.
struct CanaryFigures {
  qsc::ModelStats stats;
  qsc::CheckInput input;
};
CanaryFigures canary_figures(const std::vector<double>& sorted, std::size_t min_events) {
  CanaryFigures f;
  double mean = 0.0;
  for (double v : sorted) mean += v;
  f.stats.predictions = sorted.size();
  f.stats.confidence_samples = sorted.size();
  f.stats.conf_mean = mean / static_cast<double>(sorted.size());
  f.stats.conf_std = std_of(sorted);
  f.input.min_events = min_events;
  f.input.canary_ranks = {&sorted, sorted.size(), &rank_in};
  return f;
}

// The first k at which the adversary brings the standard deviation below `floor`: the window's
// oldest events hold the confidences farthest from the mean (removed first), and each event adds
// one at the kept confidences' mean (which adds no spread and one sample). What a bound on "std
// >= floor for k events" must stay below, whatever the window's order.
std::uint64_t adversary_crossing(const std::vector<double>& x, double floor, std::uint64_t most) {
  const double mean = std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(x.size());
  std::vector<double> by_distance = x;
  std::sort(by_distance.begin(), by_distance.end(),
            [&](double a, double b) { return std::abs(a - mean) > std::abs(b - mean); });
  for (std::uint64_t k = 1; k <= most; ++k) {
    std::vector<double> kept(by_distance.begin() + static_cast<std::ptrdiff_t>(k),
                             by_distance.end());
    const double kept_mean =
        std::accumulate(kept.begin(), kept.end(), 0.0) / static_cast<double>(kept.size());
    kept.insert(kept.end(), k, kept_mean);
    if (std_of(kept) < floor) return k;
  }
  return most + 1;
}

// A sorted window of 40 to 2,039 confidences of one of four shapes: 0 the bench's healthy canary
// (uniform on [0.45, 0.95]), 1 uniform on [0, 1], 2 two values (every removal costs the most),
// 3 a narrow cluster with 5% outliers.
std::vector<double> std_window(std::mt19937_64& rng, int shape) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<double> x(40 + rng() % 2000);
  for (auto& v : x) {
    if (shape == 0) v = 0.45 + 0.5 * unit(rng);
    if (shape == 1) v = unit(rng);
    if (shape == 2) v = unit(rng) < 0.5 ? 0.2 : 0.8;
    if (shape == 3) v = unit(rng) < 0.05 ? unit(rng) : 0.6 + 0.001 * unit(rng);
  }
  std::sort(x.begin(), x.end());
  return x;
}

// std_floor_horizon(input) = h must leave the standard deviation at or above the floor for h
// events against the adversary above, over windows of many shapes; and it must not be far from
// what the adversary can do (at least a quarter of its crossing), which the bound of session 14
// (each removal costing up to a whole unit of squared deviation) was not: 41 events where the
// adversary needs 600 on the bench's healthy confidences, uniform on [0.45, 0.95].
TEST(StdFloorHorizon, NoAdversaryBringsTheStdBelowTheFloorWithinTheHorizon) {
  std::mt19937_64 rng(2026'11'30);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const std::size_t trials = qsc::test::sanitizer_sized(300, 60);
  std::size_t judged = 0;
  for (std::size_t trial = 0; trial < trials; ++trial) {
    const int shape = static_cast<int>(trial % 4);
    const std::vector<double> x = std_window(rng, shape);
    const std::size_t m = x.size();
    const double floor = std_of(x) * (0.02 + 0.9 * unit(rng));
    const CanaryFigures f = canary_figures(x, 20);
    qsc::CheckInput input = f.input;
    input.canary = &f.stats;
    const std::uint64_t h = qsc::detectors::std_floor_horizon(input, floor);
    const std::uint64_t most = std::min<std::uint64_t>(m / 2 - 1, 1024);
    const std::uint64_t crossing = adversary_crossing(x, floor, most);
    EXPECT_LT(h, crossing) << "m=" << m << " shape=" << shape << " floor=" << floor;
    if (crossing <= most && crossing >= 8) {
      ++judged;
      EXPECT_GE(4 * h, crossing) << "m=" << m << " shape=" << shape << " floor=" << floor;
    }
  }
  EXPECT_GT(judged, trials / 4);
}

// Without the host's ranks (the gate, the scoreboard) the bound takes the confidences' whole
// range [0, 1]: shorter, still sound.
TEST(StdFloorHorizon, WithoutRanksTheBoundTakesTheWholeUnitRange) {
  std::vector<double> x(2000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.45 + 0.5 * static_cast<double>(i) / 1999.0;
  const CanaryFigures f = canary_figures(x, 200);
  qsc::CheckInput ranked = f.input;
  ranked.canary = &f.stats;
  qsc::CheckInput unranked = ranked;
  unranked.canary_ranks = {};
  const std::uint64_t with = qsc::detectors::std_floor_horizon(ranked, 0.01);
  const std::uint64_t without = qsc::detectors::std_floor_horizon(unranked, 0.01);
  EXPECT_GT(with, 300u);
  EXPECT_GT(without, 0u);
  EXPECT_LT(without, with);
  EXPECT_LT(with, adversary_crossing(x, 0.01, 999));
}

// ---- The betting tests' bound of distribution_shift's horizon ----------------------------------

// log of the average of the tests' wealths, both directions (distribution_shift's log E).
double log_average_wealth(const std::vector<qsc::detectors::BettingTest>& tests) {
  double sum = 0.0;
  for (const auto& t : tests)
    sum += std::exp(t.log_wealth_above()) + std::exp(t.log_wealth_below());
  return std::log(sum / (2.0 * static_cast<double>(tests.size())));
}

// The events after which x = `push` at every add first brings the average wealth to the
// threshold (the detector fires at log E >= log threshold); `most` + 1 when it does not.
std::uint64_t pushed_crossing(std::vector<qsc::detectors::BettingTest> tests, double push,
                              double log_threshold, std::uint64_t most) {
  for (std::uint64_t k = 1; k <= most; ++k) {
    for (auto& t : tests) t.add(push);
    if (log_average_wealth(tests) >= log_threshold) return k;
  }
  return most + 1;
}

// With a memory of one event (the recent mean is the last x, the recent variance 0) every bet
// after a push is at its cap, so pushing x = +1 at every add reaches the bound on the wealths
// above exactly. The wealths below, which the bound lets grow as well (it does not know which way
// the events will push), are first made negligible: alternating -1 and +1 halves every wealth at
// each event (a bet at its cap against the move). The average wealth then reaches 1/alpha at the
// event after the horizon, not one later: a horizon one event too long fails here, and so does
// one an event shorter.
TEST(BettingCrossing, PushingEveryTestAtItsCapCrossesTheEventAfterTheHorizon) {
  const double log_threshold = std::log(1000.0);
  std::vector<qsc::detectors::BettingTest> tests;
  for (double d : {0.1, 0.1, 0.1, 0.1, 0.05, 0.03}) tests.emplace_back(d, 1.0);
  for (int i = 0; i < 120; ++i) {
    for (auto& t : tests) t.add(i % 2 == 0 ? -1.0 : 1.0);
  }
  ASSERT_LT(log_average_wealth(tests), -30.0);
  std::size_t judged = 0;
  for (int pushed = 0; pushed < 200; ++pushed) {
    const std::uint64_t h = qsc::detectors::events_before_crossing(tests, log_threshold, 1024);
    const std::uint64_t crossing = pushed_crossing(tests, 1.0, log_threshold, 1024);
    ASSERT_LE(crossing, 1024u);
    EXPECT_EQ(h + 1, crossing) << "after " << pushed << " pushes";
    ++judged;
    for (auto& t : tests) t.add(1.0);
    if (log_average_wealth(tests) >= log_threshold) break;
  }
  EXPECT_GT(judged, 50u);
}

// With the detector's own memory (2,048 events) the recent mean moves by at most a weight's share
// an event: no push of x = +1 or -1 at every add, from random states, crosses within the horizon,
// and the horizon from a healthy state (the recent mean near 0) is far longer than session 14's
// 1.5-an-event bound (15 events from E = 1).
TEST(BettingCrossing, NoPushCrossesWithinTheHorizonAndAHealthyHorizonIsLong) {
  std::mt19937_64 rng(2026'11'30);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const double log_threshold = std::log(1000.0);
  std::size_t judged = 0;
  for (int trial = 0; trial < 60; ++trial) {
    std::vector<qsc::detectors::BettingTest> tests;
    for (double d : {0.1, 0.1, 0.1, 0.1, 0.05, 0.03}) tests.emplace_back(d, 2048.0);
    // A history: healthy noise, then (in some trials) a drift that builds some wealth.
    const double drift = trial % 3 == 0 ? 0.0 : 0.2 + 0.6 * unit(rng);
    const std::size_t history = 500 + rng() % 3000;
    for (std::size_t i = 0; i < history; ++i) {
      for (auto& t : tests)
        t.add(std::clamp(drift * (i > history / 2) + 0.3 * (unit(rng) - 0.5), -1.0, 1.0));
      if (log_average_wealth(tests) >= log_threshold) break;
    }
    if (log_average_wealth(tests) >= log_threshold) continue;
    const std::uint64_t h = qsc::detectors::events_before_crossing(tests, log_threshold, 1024);
    for (double push : {1.0, -1.0}) {
      EXPECT_LT(h, pushed_crossing(tests, push, log_threshold, 1024)) << "trial " << trial;
    }
    if (drift == 0.0) {
      EXPECT_GE(h, 50u) << "trial " << trial;
    }
    ++judged;
  }
  EXPECT_GT(judged, 20u);
}

// ---- ABI compatibility and the schedule ----------------------------------------------------

// A plugin directory holding the given test plugins only.
fs::path probe_dir(const qsc::test::TempDir& dir, std::initializer_list<const char*> files) {
  for (const char* f : files) qsc::test::install_plugin(f, dir.path(), fs::path(f).filename());
  return dir.path();
}

nlohmann::json probe_config(double horizon, double abi20_fire_at) {
  qsc::agent::Config c;
  c.plugins.config["horizon_probe"] = {{"horizon", horizon}};
  c.plugins.config["abi20_probe"] = {{"fire_at_event", abi20_fire_at}};
  return c.to_json();
}

const NamedCheck& check_of(const std::vector<NamedCheck>& checks, const std::string& name) {
  for (const auto& c : checks) {
    if (c.detector == name) return c;
  }
  ADD_FAILURE() << name << " not among the checks";
  static const NamedCheck kNone;
  return kNone;
}

double figure(const NamedCheck& c, const std::string& name) {
  for (const auto& f : c.result.figures) {
    if (f.name == name) return f.value;
  }
  ADD_FAILURE() << c.detector << " has no figure " << name;
  return -1.0;
}

// Event i of a healthy synthetic stream, taken and evaluated on arrival.
const qsc::agent::Evaluation& take_event(EvaluationStep& step, qsc::agent::SyntheticEngine& engine,
                                         std::size_t i) {
  const StepTime now(static_cast<long>(i) * 1000);
  step.take_entry(engine.next(1'768'000'000'000ULL + i, qsc::agent::CanaryBehaviour::kHealthy),
                  now);
  return step.evaluate(step.event_stats(), now, EvaluationKind::kEventDriven);
}

// The host keeps each held event's C form from one evaluation to the next
// (AbiCheckInput::write_held), and the step names a new storage generation whenever a held event
// may have moved (its vector reallocated or compacted). Every event here carries a symbol of its
// own, short enough to live inside the string object (so it moves with the event, where a heap
// buffer would not), and the probe, skipped for 97 events at a time among the eleven detectors'
// varied horizons, checks each event it is shown: a C form kept past a move would show it
// another event's symbol.
TEST_F(VerdictHorizon, EventsHandedOnAfterTheStepMovedThemAreTheirOwn) {
  qsc::test::install_plugin(QSC_TP_HORIZON_PROBE, detector_dir(), "horizon_probe.so");
  auto config = small_config(false);
  config.plugins.config["horizon_probe"] = {{"horizon", 97}, {"check_symbols", 1}};
  auto host = open_host(detector_dir(), config.to_json());
  EvaluationStep step(config, kCanary, host);
  qsc::agent::SyntheticEngine engine(kCanary, 11);
  constexpr std::size_t kEvents = 3000;
  for (std::size_t i = 0; i < kEvents; ++i) {
    const StepTime now(static_cast<long>(i) * 1000);
    qsc::TradeIntent event =
        engine.next(1'768'000'000'000ULL + i, qsc::agent::CanaryBehaviour::kHealthy);
    event.symbol = std::to_string(event.time_ms % 1'000'000);
    step.take_entry(event, now);
    const auto& ev = step.evaluate(step.event_stats(), now, EvaluationKind::kEventDriven);
    ASSERT_EQ(figure(check_of(ev.checks, "horizon_probe"), "symbol_mismatches"), 0.0)
        << "at event " << i;
  }
  const auto& full =
      step.evaluate(step.check_stats(), StepTime(kEvents * 1000), EvaluationKind::kFull);
  const auto& probe = check_of(full.checks, "horizon_probe");
  EXPECT_EQ(figure(probe, "events"), static_cast<double>(kEvents));
  EXPECT_EQ(figure(probe, "symbol_mismatches"), 0.0);
  EXPECT_LT(figure(probe, "calls"), kEvents / 50.0);  // skipped: handed its events later
}

// An event handed over (the rvalue take_entry and take: swapped into the step's held events, not
// copied) is judged as the same event copied in, and the storage it leaves the caller, written
// over by the next event as replay reads each line into it, is no held event's: every
// detector's verdict, message and figures equal at every evaluation, the probe (skipped for 97
// events at a time, so held events are released, reused and compacted) shown each event with
// its own symbol. The canary's behaviour changes every 300 events (confidence violations and
// an inactive canary among them: the horizons' conditions, read from each accepted event).
TEST_F(VerdictHorizon, AnEventHandedOverIsJudgedAsTheSameEventCopiedIn) {
  using qsc::agent::CanaryBehaviour;
  qsc::test::install_plugin(QSC_TP_HORIZON_PROBE, detector_dir(), "horizon_probe.so");
  auto config = small_config(false);
  config.plugins.config["horizon_probe"] = {{"horizon", 97}, {"check_symbols", 1}};
  auto copied_host = open_host(detector_dir(), config.to_json());
  auto handed_host = open_host(detector_dir(), config.to_json());
  EvaluationStep copied(config, kCanary, copied_host);
  EvaluationStep handed(config, kCanary, handed_host);
  qsc::agent::SyntheticEngine engine(kCanary, 23);
  constexpr std::array kBehaviours = {
      CanaryBehaviour::kHealthy,  CanaryBehaviour::kNaNConfidence, CanaryBehaviour::kDeadZone,
      CanaryBehaviour::kFallback, CanaryBehaviour::kCanarySilent,  CanaryBehaviour::kActionCollapse,
      CanaryBehaviour::kFlat,     CanaryBehaviour::kHealthy};
  constexpr std::size_t kEventsPerBehaviour = 300;
  constexpr std::size_t kEvents = kBehaviours.size() * kEventsPerBehaviour;
  qsc::ParseOutcome line;  // the caller's storage (replay's line_outcome_)
  std::size_t violated = 0;
  for (std::size_t i = 0; i < kEvents; ++i) {
    const StepTime now(static_cast<long>(i) * 1000);
    qsc::TradeIntent event =
        engine.next(1'768'000'000'000ULL + i, kBehaviours[i / kEventsPerBehaviour]);
    event.symbol = std::to_string(event.time_ms % 1'000'000);
    if (i % 3 == 2) {
      // The live monitor's read: a batch of its own, handed over whole.
      qsc::agent::TelemetryBatch batch;
      batch.events.push_back(event);
      batch.counts.accepted = 1;
      copied.take(std::as_const(batch), now);
      handed.take(std::move(batch), now);
      ASSERT_EQ(batch.events.size(), 1u);  // NOLINT(bugprone-use-after-move): its size is kept
    } else {
      const qsc::ParseOutcome entry(event);
      copied.take_entry(entry, now);
      if (!std::holds_alternative<qsc::TradeIntent>(line)) line.emplace<qsc::TradeIntent>();
      std::get<qsc::TradeIntent>(line) = event;  // read into the storage the step gave back
      handed.take_entry(std::move(line), now);
      ASSERT_TRUE(
          std::holds_alternative<qsc::TradeIntent>(line));  // NOLINT(bugprone-use-after-move)
    }
    const auto& a = copied.evaluate(copied.event_stats(), now, EvaluationKind::kEventDriven);
    const auto& b = handed.evaluate(handed.event_stats(), now, EvaluationKind::kEventDriven);
    const std::string where = "event " + std::to_string(i);
    expect_same_checks(a.checks, b.checks, where);
    ASSERT_EQ(figure(check_of(b.checks, "horizon_probe"), "symbol_mismatches"), 0.0) << where;
    ASSERT_EQ(copied.trigger_event_id(), handed.trigger_event_id()) << where;
    ASSERT_EQ(copied.skipped_checks(), handed.skipped_checks()) << where;
    violated += b.violated() ? 1 : 0;
  }
  // The stream acts (its violations are what the comparison above held alike) and skips.
  EXPECT_GT(violated, kEvents / 4);
  EXPECT_GT(handed.skipped_checks(), kEvents);
  const StepTime end(static_cast<long>(kEvents) * 1000);
  const auto& a = copied.evaluate(copied.check_stats(), end, EvaluationKind::kFull);
  const auto& b = handed.evaluate(handed.check_stats(), end, EvaluationKind::kFull);
  expect_same_checks(a.checks, b.checks, "the full evaluation at the end");
  const auto& probe = check_of(b.checks, "horizon_probe");
  EXPECT_EQ(figure(probe, "events"), static_cast<double>(kEvents));
  EXPECT_EQ(figure(probe, "symbol_mismatches"), 0.0);
  EXPECT_EQ(handed.counts().accepted, kEvents);
}

TEST(VerdictHorizonAbi, Abi20PluginIsCalledAtEveryEventAndAHorizonSkipsWithinIt) {
  qsc::test::TempDir dir;
  const auto plugins = probe_dir(dir, {QSC_TP_HORIZON_PROBE, QSC_TP_ABI20_PROBE});
  qsc::agent::Config config;
  auto host = open_host(plugins, probe_config(3, 0));
  for (const auto& r : host.records()) {
    EXPECT_EQ(r.status, "loaded") << r.name << ": " << r.reason;
    // The probe is built at the SDK's minor (2.1 set_horizon, 2.2 the ranks), its twin at 2.0.
    EXPECT_EQ(r.abi_minor, r.name == "abi20_probe" ? 0u : std::uint32_t{QSC_PLUGIN_ABI_MINOR})
        << r.name;
  }
  EvaluationStep step(config, kCanary, host);
  qsc::agent::SyntheticEngine engine(kCanary, 7);
  for (std::size_t i = 0; i < 12; ++i) {
    const auto& e = take_event(step, engine, i);
    // The 2.0 plugin: called at every event, shown each event once.
    EXPECT_EQ(figure(check_of(e.checks, "abi20_probe"), "calls"), static_cast<double>(i + 1));
    EXPECT_EQ(figure(check_of(e.checks, "abi20_probe"), "events"), static_cast<double>(i + 1));
  }
  // The 2.1 plugin with a horizon of 3: called at events 1, 5, 9 (skipped within 3 after each).
  const auto& probe = check_of(step.last_checks(), "horizon_probe");
  EXPECT_EQ(figure(probe, "calls"), 3.0);
  EXPECT_EQ(figure(probe, "events"), 9.0);
  EXPECT_EQ(step.skipped_checks(), 9u);
  // Its next call (a full evaluation) shows it the three events it missed, in order.
  const auto& full = step.evaluate(step.check_stats(), StepTime(20'000), EvaluationKind::kFull);
  EXPECT_EQ(figure(check_of(full.checks, "horizon_probe"), "calls"), 4.0);
  EXPECT_EQ(figure(check_of(full.checks, "horizon_probe"), "events"), 12.0);
  EXPECT_EQ(figure(check_of(full.checks, "horizon_probe"), "in_order"), 1.0);
}

TEST(VerdictHorizonAbi, AnEvaluationThatActsCallsEveryDetector) {
  qsc::test::TempDir dir;
  const auto plugins = probe_dir(dir, {QSC_TP_HORIZON_PROBE, QSC_TP_ABI20_PROBE});
  qsc::agent::Config config;
  // The probe promises 1000 events; the 2.0 plugin fires at the 7th.
  auto host = open_host(plugins, probe_config(1000, 7));
  EvaluationStep step(config, kCanary, host);
  qsc::agent::SyntheticEngine engine(kCanary, 7);
  for (std::size_t i = 0; i < 7; ++i) EXPECT_EQ(take_event(step, engine, i).violated(), i == 6);
  // Called at the first event, skipped at the next five, and called at the seventh, the one
  // that acts, with the six events it had not seen: what the rollback lists is of now.
  const auto& probe = check_of(step.last_checks(), "horizon_probe");
  EXPECT_EQ(figure(probe, "calls"), 2.0);
  EXPECT_EQ(figure(probe, "events"), 7.0);
  EXPECT_EQ(figure(probe, "in_order"), 1.0);
}

// A schedule whose new_events no longer reach back to an event a detector was never shown (the
// evaluation step released it early) fails that detector closed instead of calling it without.
TEST(VerdictHorizonAbi, EventsADetectorWasNeverShownAndNoLongerHeldFailClosed) {
  qsc::test::TempDir dir;
  const auto plugins = probe_dir(dir, {QSC_TP_HORIZON_PROBE, QSC_TP_ABI20_PROBE});
  auto host = open_host(plugins, probe_config(0, 0));
  qsc::agent::SyntheticEngine engine(kCanary, 7);
  std::vector<qsc::TradeIntent> events;
  for (std::size_t i = 0; i < 10; ++i) {
    events.push_back(engine.next(1'768'000'000'000ULL + i, qsc::agent::CanaryBehaviour::kHealthy));
  }
  const qsc::WindowStats window;
  qsc::CheckInput input;
  input.canary_model = kCanary;
  input.window = &window;
  input.new_events = std::span<const qsc::TradeIntent>(events.data(), 5);
  qsc::agent::EventSchedule schedule;
  schedule.owner = qsc::agent::new_schedule_owner();
  schedule.accepted_events = 5;
  std::vector<NamedCheck> out;
  EXPECT_EQ(host.check_all(input, schedule, out), 0u);
  for (const auto& c : out) EXPECT_EQ(c.result.verdict, qsc::Verdict::kPass) << describe(c);
  // Events 6 to 10 accepted, only 9 and 10 handed over: 6 to 8 were never shown to anyone.
  input.new_events = std::span<const qsc::TradeIntent>(events.data() + 8, 2);
  schedule.previous_events = 5;
  schedule.accepted_events = 10;
  host.check_all(input, schedule, out);
  for (const auto& c : out) {
    EXPECT_EQ(c.result.verdict, qsc::Verdict::kError) << describe(c);
    EXPECT_NE(c.result.message.find("3 accepted events it was never shown"), std::string::npos)
        << describe(c);
  }
}

// What a 2.0 host hands a plugin: a sink that ends before set_horizon.
struct SinkRecord {
  bool verdict_set = false;
  bool horizon_called = false;
  std::uint64_t conditions = 0;
  bool clock_called = false;
  double max_silence_s = 0.0;
  std::uint64_t since_event_ms = 0;
  double max_since_s = 0.0;
};
void record_verdict(void* data, std::uint32_t, const char*, std::size_t) {
  static_cast<SinkRecord*>(data)->verdict_set = true;
}
void ignore_figure(void*, const char*, std::size_t, double) {}
void record_horizon(void* data, std::uint64_t) {
  static_cast<SinkRecord*>(data)->horizon_called = true;
}
void record_conditions(void* data, std::uint64_t conditions) {
  static_cast<SinkRecord*>(data)->conditions = conditions;
}
void record_clock(void* data, double max_silence_s, std::uint64_t since_event_ms,
                  double max_since_s) {
  auto& r = *static_cast<SinkRecord*>(data);
  r.clock_called = true;
  r.max_silence_s = max_silence_s;
  r.since_event_ms = since_event_ms;
  r.max_since_s = max_since_s;
}

// A detector library opened through the C ABI alone (no host), with one instance.
class DirectDetector {
 public:
  DirectDetector(const std::string& path, const std::string& section)
      : library_(dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) {
    if (library_ == nullptr) {
      ADD_FAILURE() << dlerror();
      return;
    }
    d_ = static_cast<const qsc_plugin_descriptor*>(dlsym(library_, "qsc_plugin_descriptor"));
    if (d_ != nullptr) instance_ = d_->create(section.data(), section.size(), "{}", 2, nullptr);
    EXPECT_NE(instance_, nullptr) << path;
  }
  DirectDetector(const DirectDetector&) = delete;
  DirectDetector& operator=(const DirectDetector&) = delete;
  ~DirectDetector() {
    if (instance_ != nullptr) d_->destroy(instance_);
    if (library_ != nullptr) dlclose(library_);
  }
  bool ok() const { return instance_ != nullptr; }

  // One check into a sink of `sink_size` bytes (an older host's sink ends earlier: the fields
  // past it are set all the same, so that reading them would show).
  SinkRecord check(const qsc_check_input& input, std::uint32_t sink_size) {
    SinkRecord record;
    qsc_check_sink sink{sink_size,      &record,         &record_verdict,
                        &ignore_figure, &record_horizon, &record_conditions,
                        &record_clock};
    d_->check(instance_, &input, &sink);
    return record;
  }

 private:
  void* library_ = nullptr;
  const qsc_plugin_descriptor* d_ = nullptr;
  void* instance_ = nullptr;
};

// A C input of a 2.2 host: an empty ensemble, healthy telemetry and, when given, the canary as
// the window's one model. Not copyable: its structs point at each other.
struct DirectInput {
  explicit DirectInput(const qsc_model_stats* canary_stats = nullptr) {
    telemetry.struct_size = sizeof(telemetry);
    models[0] = canary_stats;
    window = {sizeof(qsc_window_stats), canary_stats != nullptr ? canary_stats->predictions : 0,
              models, canary_stats != nullptr ? 1u : 0u, &ensemble};
    input.struct_size = sizeof(input);
    input.abi_major = 2;
    input.window = &window;
    input.telemetry = &telemetry;
    if (canary_stats != nullptr) {
      input.canary_model = canary_stats->model;
      input.canary = canary_stats;
    }
  }
  DirectInput(const DirectInput&) = delete;
  DirectInput& operator=(const DirectInput&) = delete;

  qsc_ensemble_stats ensemble{sizeof(qsc_ensemble_stats), 0, 0.0, 0.0};
  const qsc_model_stats* models[1] = {nullptr};
  qsc_window_stats window{};
  qsc_telemetry_health telemetry{};
  qsc_check_input input{};
};

TEST(VerdictHorizonAbi, APluginOf21NeverCallsSetHorizonOfA20Sink) {
  DirectDetector probe(QSC_TP_HORIZON_PROBE, R"({"horizon": 5})");
  ASSERT_TRUE(probe.ok());
  const DirectInput in;
  for (bool old_host : {true, false}) {
    // A 2.0 sink's struct_size ends at add_figure.
    const auto record = probe.check(
        in.input, old_host ? static_cast<std::uint32_t>(offsetof(qsc_check_sink, set_horizon))
                           : static_cast<std::uint32_t>(sizeof(qsc_check_sink)));
    EXPECT_TRUE(record.verdict_set);
    EXPECT_EQ(record.horizon_called, !old_host) << (old_host ? "2.0 host" : "2.1 host");
  }
}

// inactive_canary's pass holds only until an inactive canary prediction arrives (ABI 2.2,
// set_horizon_unless): in a 2.1 host's sink, which cannot say so, it reports no horizon at all
// (the host would skip it without watching); in a 2.2 sink, the horizon and its condition.
TEST(VerdictHorizonAbi, AHorizonWithAConditionIsNeverSetInA21Sink) {
  DirectDetector inactive(qsc::test::detector_library("inactive_canary").string(), "{}");
  ASSERT_TRUE(inactive.ok());
  // A canary with 300 active predictions, min_events 200: a pass, judged for 100 more events.
  qsc_model_stats canary{};
  canary.struct_size = sizeof(canary);
  canary.model = {kCanary, std::strlen(kCanary)};
  canary.predictions = 300;
  DirectInput in(&canary);
  in.input.min_events = 200;
  for (bool old_host : {true, false}) {
    // A 2.1 sink's struct_size ends at set_horizon.
    const auto record = inactive.check(
        in.input, old_host
                      ? static_cast<std::uint32_t>(offsetof(qsc_check_sink, set_horizon_unless))
                      : static_cast<std::uint32_t>(sizeof(qsc_check_sink)));
    EXPECT_TRUE(record.verdict_set);
    EXPECT_EQ(record.horizon_called, !old_host) << (old_host ? "2.1 host" : "2.2 host");
    EXPECT_EQ(record.conditions, old_host ? 0u : std::uint64_t{QSC_UNLESS_CANARY_INACTIVE});
  }
}

// telemetry_stale's pass holds until a clock runs out or the telemetry changes (ABI 2.3,
// set_horizon_clock): in a 2.2 host's sink, which cannot read the clock for it, it reports no
// horizon at all; in a 2.3 sink, the horizon, its conditions and its clock.
TEST(VerdictHorizonAbi, AHorizonWithAClockIsNeverSetInA22Sink) {
  DirectDetector stale(qsc::test::detector_library("telemetry_stale").string(),
                       R"({"stale_after": 60, "canary_silent_after": 30})");
  ASSERT_TRUE(stale.ok());
  // One event holding the canary's prediction at 1,000 s, the stream 2 s silent: a pass.
  qsc_prediction prediction{};
  prediction.struct_size = sizeof(prediction);
  prediction.model = {kCanary, std::strlen(kCanary)};
  qsc_event event{};
  event.struct_size = sizeof(event);
  event.time_ms = 1'000'000;
  const qsc_prediction* predictions[] = {&prediction};
  event.predictions = predictions;
  event.prediction_count = 1;
  const qsc_event* events[] = {&event};
  DirectInput in;
  in.input.canary_model = {kCanary, std::strlen(kCanary)};
  in.input.new_events = events;
  in.input.new_event_count = 1;
  in.telemetry.source_ok = 1;
  in.telemetry.seconds_since_last_event = 2.0;
  // A 2.2 sink's struct_size ends at set_horizon_unless: a pass, and no horizon at all.
  const auto in_22 = stale.check(
      in.input, static_cast<std::uint32_t>(offsetof(qsc_check_sink, set_horizon_clock)));
  EXPECT_TRUE(in_22.verdict_set);
  EXPECT_FALSE(in_22.horizon_called || in_22.clock_called) << "2.2 host";
  const auto in_23 = stale.check(in.input, static_cast<std::uint32_t>(sizeof(qsc_check_sink)));
  EXPECT_TRUE(in_23.verdict_set && in_23.horizon_called && in_23.clock_called) << "2.3 host";
  EXPECT_EQ(in_23.conditions, std::uint64_t{QSC_UNLESS_EVENTS_LOST | QSC_UNLESS_REJECTED_ENTRY |
                                            QSC_UNLESS_SOURCE_DOWN});
  EXPECT_EQ(in_23.max_silence_s, 60.0);
  EXPECT_EQ(in_23.since_event_ms, 1'000'000u);
  EXPECT_EQ(in_23.max_since_s, 30.0);
}

// ---- Open (session 12's audit): a reload restarts telemetry_stale's canary watch -------------

// When telemetry_stale's canary-silence violation first acts, in seconds: the canary publishes
// for 10 s, then only its peers do (an event every 250 ms); with `reload_at_s`, a reload at that
// time changes telemetry_stale's section (a key of no bearing on the silence), which replaces
// the instance. `horizons`: whether the step honours the detectors' verdict horizons.
double canary_silence_fires_at(const fs::path& dir, std::optional<double> reload_at_s,
                               HorizonPolicy horizons = HorizonPolicy::kIgnore) {
  auto config = telemetry_config(true);  // canary_silent_after 7 s
  config.plugins.dir = dir.string();
  PluginHost host = open_host(dir, config.to_json());
  EvaluationStep step(config, kCanary, host, horizons);
  step.start_silence(StepTime(0));
  qsc::agent::SyntheticEngine engine(kCanary, 5);
  constexpr long kEveryUs = 250'000;
  for (long i = 0; i < 160; ++i) {
    const double now_s = static_cast<double>(i * kEveryUs) / 1e6;
    const auto kind = now_s < 10.0 ? qsc::agent::CanaryBehaviour::kHealthy
                                   : qsc::agent::CanaryBehaviour::kCanarySilent;
    step.take_entry(qsc::ParseOutcome(engine.next(1'768'000'000'000ULL + i * 250, kind)),
                    StepTime(i * kEveryUs));
    const auto& r =
        step.evaluate(step.event_stats(), StepTime(i * kEveryUs), EvaluationKind::kEventDriven);
    for (const auto& c : r.checks) {
      if (c.acts() && c.detector == "telemetry_stale") return now_s;
    }
    if (reload_at_s && now_s == *reload_at_s) {
      config.plugins.config["telemetry_stale"]["max_rejected_pct"] = 3;
      EXPECT_TRUE(host.reload(config).ok());
    }
  }
  return std::numeric_limits<double>::infinity();
}

// Without a reload the silence acts at 17 s (7.2 s silent). Before the host kept the canary's
// watch (ABI 2.4, CheckInput::canary_watch), a reload at 16 s (6 s silent) postponed it to
// 23.5 s, the new instance's watch counting from its first event, and reloads less than
// canary_silent_after apart postponed it without end (docs/RELIABILITY.md, session 12's audit).
// Now the new instance reads the period's watch: within one event of the time without a reload,
// with and without horizons.
TEST_F(VerdictHorizon, AReloadDoesNotRestartTheCanarySilence) {
  for (auto horizons : {HorizonPolicy::kIgnore, HorizonPolicy::kHonour}) {
    const double without = canary_silence_fires_at(detector_dir(), std::nullopt, horizons);
    EXPECT_EQ(without, 17.0);
    EXPECT_NEAR(canary_silence_fires_at(detector_dir(), 16.0, horizons), without, 0.25);
    // A reload 2 s into the silence (the old watch acted at 19.5 s): the same.
    EXPECT_NEAR(canary_silence_fires_at(detector_dir(), 12.0, horizons), without, 0.25);
  }
}

// On the bench's healthy stream (qsc_bench_suite evaluation: the synthetic engine, a window of
// 2,000 events, min_events 200) the mean horizon each detector reports when called. The worker
// wakes, and replay calls a detector, about once per horizon of each detector, so the shortest
// set the footprint. Session 14's bounds gave distribution_shift 15 events (its wealths bounded
// 1.5-fold an event) and the std checks 35-40 (each removal costing a whole unit of squared
// deviation); now about 88 and 365-410.
TEST_F(VerdictHorizon, HealthyStreamHorizonsOfTheStdChecksAndTheShiftTestAreLong) {
  qsc::agent::Config c;
  c.telemetry.window_events = 2000;
  PluginHost host = open_host(detector_dir(), c.to_json());
  EvaluationStep step(c, kCanary, host, HorizonPolicy::kIgnore);
  qsc::agent::SyntheticEngine engine(kCanary, 20260110);
  std::map<std::string, double> sum;
  std::map<std::string, std::uint64_t> count;
  const std::size_t events = qsc::test::sanitizer_sized(12'000, 5'000);
  for (std::size_t i = 0; i < events; ++i) {
    const auto& r = take_event(step, engine, i);
    if (i < 4000) continue;  // the window full and judged
    for (const auto& ch : r.checks) {
      sum[ch.detector] += static_cast<double>(
          std::min<std::uint64_t>(ch.result.horizon_events, qsc::agent::kMaxHorizonEvents));
      ++count[ch.detector];
    }
  }
  const auto mean = [&](const std::string& d) {
    return count[d] == 0 ? 0.0 : sum[d] / static_cast<double>(count[d]);
  };
  EXPECT_GE(mean("distribution_shift"), 60.0);
  for (const char* d : {"constant_output", "flat_predictions", "quality_gate"}) {
    EXPECT_GE(mean(d), 200.0) << d;
  }
}

}  // namespace

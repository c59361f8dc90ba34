// Canary attribution of the ensemble checks (issue 17, section 5): ensemble_dysfunction and
// model_chaos, the built .so files loaded by the real plugin host and fed as the monitor feeds
// them (the 2,000-event window's figures and CheckInput::new_events), on simulated ensembles of
// the canary and three peers. Under "ensemble" (the runbook's literal rule) a figure out of band
// fires whatever moved it; under "canary" only when the canary's own votes did.
#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "plugins/plugin_test_support.hpp"
#include "qsc/stats.hpp"

namespace qsc::attribution_test {
namespace {

using test::TempDir;

constexpr const char* kCanary = "patchtst";
constexpr std::size_t kWindowEvents = 2'000;  // the monitor's default window
constexpr std::size_t kCheckEvery = 50;       // events between two evaluations

/// The markets of the simulation. Every model sees the event's common signal.
enum class Market {
  kTrend,  ///< the signal is BUY or SELL for 500 events at a time; models follow it 93% of events
  kQuiet,  ///< no signal: each model votes BUY 35%, SELL 35%, HOLD 30% on its own
  kRange,  ///< the signal is BUY, SELL or HOLD at random; models follow it 90% of events
};

/// What the canary does.
enum class Canary {
  kHealthy,   ///< one more model like its peers
  kInverted,  ///< on half of the events it votes the opposite of its peers' BUY or SELL majority
};

/// Generates the events of one period, deterministically for a seed: the canary (first) and
/// three peers.
class Ensemble {
 public:
  Ensemble(Market market, Canary canary, std::uint64_t seed)
      : market_(market), canary_(canary), rng_(seed) {}

  TradeIntent next() {
    const Vote signal = signal_for(events_);
    TradeIntent e;
    e.time_ms = 1'700'000'000'000 + static_cast<std::int64_t>(events_) * 500;
    e.seq = events_;
    std::array<std::size_t, kVoteKinds> peer_votes{};
    std::vector<Prediction> peers;
    for (const char* name : {"lstm", "xgboost", "tcn"}) {
      Prediction p = vote(name, signal);
      ++peer_votes[static_cast<std::size_t>(p.action)];
      peers.push_back(std::move(p));
    }
    Prediction c = vote(kCanary, signal);
    if (canary_ == Canary::kInverted && uniform() < 0.5) {
      const auto buy = peer_votes[static_cast<std::size_t>(Vote::kBuy)];
      const auto sell = peer_votes[static_cast<std::size_t>(Vote::kSell)];
      if (buy >= 2) c.action = Vote::kSell;
      if (sell >= 2) c.action = Vote::kBuy;
    }
    e.predictions.push_back(std::move(c));
    for (auto& p : peers) e.predictions.push_back(std::move(p));
    ++events_;
    return e;
  }

 private:
  double uniform() { return unit_(rng_); }

  Vote signal_for(std::uint64_t event) {
    switch (market_) {
      case Market::kTrend:
        return (event / 500) % 2 == 0 ? Vote::kBuy : Vote::kSell;
      case Market::kQuiet:
        return Vote::kHold;  // unused: every model votes on its own
      case Market::kRange:
        break;
    }
    const double u = uniform();
    return u < 1.0 / 3 ? Vote::kBuy : (u < 2.0 / 3 ? Vote::kSell : Vote::kHold);
  }

  Prediction vote(const char* model, Vote signal) {
    Prediction p;
    p.model = model;
    p.model_string = model;
    p.confidence = p.raw_confidence = 0.3 + 0.6 * uniform();
    const double u = uniform();
    if (market_ == Market::kQuiet) {
      p.action = u < 0.35 ? Vote::kBuy : (u < 0.70 ? Vote::kSell : Vote::kHold);
      return p;
    }
    const double follow = market_ == Market::kTrend ? 0.93 : 0.90;
    if (u < follow) {
      p.action = signal;
    } else {
      // One of the two other votes, evenly.
      const auto other =
          (static_cast<std::size_t>(signal) + (u < (1.0 + follow) / 2 ? 1 : 2)) % kVoteKinds;
      p.action = static_cast<Vote>(other);
    }
    return p;
  }

  Market market_;
  Canary canary_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> unit_{0.0, 1.0};
  std::uint64_t events_ = 0;
};

/// A plugin directory holding one ensemble detector, opened by the real host with `section`.
class OneDetector {
 public:
  OneDetector(const std::string& name, const nlohmann::json& section)
      : name_(name), host_([&]() {
          test::install_plugin(test::detector_library(name), dir_.path(), name + ".so");
          auto opened = agent::PluginHost::open(dir_.path(), test::host_config({{name, section}}));
          if (!opened) throw std::runtime_error(opened.error().message);
          return std::move(opened).value();
        }()) {}

  /// The detector's verdict on `window` for the canary `canary` ("" as the gate and the
  /// scoreboard call it), with the events since the previous call.
  CheckResult check(const WindowStats& window, std::string_view canary,
                    std::span<const TradeIntent> new_events) {
    CheckInput in;
    in.canary_model = canary;
    in.window = &window;
    in.canary = window.find(canary);
    in.telemetry.source_ok = true;
    in.min_events = 200;
    in.new_events = new_events;
    for (auto& c : host_.check_all(in)) {
      if (c.detector == name_) return c.result;
    }
    ADD_FAILURE() << name_ << " did not run: " << test::record_named(host_, name_).reason;
    return {};
  }

  const agent::PluginRecord& record() const { return test::record_named(host_, name_); }

 private:
  std::string name_;
  TempDir dir_;
  agent::PluginHost host_;
};

/// What one period showed the detector.
struct PeriodOutcome {
  std::size_t checks = 0;
  std::size_t violations = 0;
  std::size_t unattributed = 0;  ///< out of band, but passed: not the canary's doing
  CheckResult first_violation;
  std::uint64_t first_violation_event = 0;
};

/// Feeds `events` events of `ensemble` to the detector as the monitor does: a sliding window of
/// the last 2,000 events judged every 50 events, with the events since the previous check. With
/// `scoreboard`, each check is followed by the scoreboard's call on the same window (no canary,
/// no events), as the monitor and replay make at every interval check.
PeriodOutcome run_period(OneDetector& d, Ensemble& ensemble, std::uint64_t events,
                         bool scoreboard = false) {
  PeriodOutcome out;
  std::deque<TradeIntent> window;
  std::vector<TradeIntent> fresh;
  for (std::uint64_t i = 1; i <= events; ++i) {
    fresh.push_back(ensemble.next());
    window.push_back(fresh.back());
    if (window.size() > kWindowEvents) window.pop_front();
    if (i % kCheckEvery != 0) continue;
    const std::vector<TradeIntent> in_window(window.begin(), window.end());
    const auto stats = compute_window_stats(in_window);
    const auto r = d.check(stats, kCanary, fresh);
    fresh.clear();
    if (scoreboard) {
      const auto board = d.check(stats, "", {});
      EXPECT_EQ(board.message.find("attributed"), std::string::npos) << board.message;
    }
    EXPECT_NE(r.verdict, Verdict::kError) << r.message;
    ++out.checks;
    if (r.message.find("not attributed to") != std::string::npos) ++out.unattributed;
    if (r.verdict == Verdict::kViolation && out.violations++ == 0) {
      out.first_violation = r;
      out.first_violation_event = i;
    }
  }
  return out;
}

const nlohmann::json kCanaryRule = {{"attribution", "canary"}};
const nlohmann::json kEnsembleRule = {{"attribution", "ensemble"}};

// A healthy canary in `market`, under which `detector`'s figure is out of band whoever votes:
// the runbook's literal rule fires, attribution never does over 20,000 events and says at most
// checks that the figure is not the canary's doing.
void expect_blamed_by_the_literal_rule_only(const std::string& detector, Market market,
                                            std::uint64_t seed, const std::string& message) {
  OneDetector literal(detector, kEnsembleRule);
  Ensemble same_market(market, Canary::kHealthy, seed);
  const auto under_ensemble = run_period(literal, same_market, 20'000);
  EXPECT_GT(under_ensemble.violations, 0u) << detector;
  EXPECT_EQ(under_ensemble.first_violation.message.rfind(message, 0), 0u)
      << under_ensemble.first_violation.message;

  OneDetector attributed(detector, kCanaryRule);
  Ensemble market_again(market, Canary::kHealthy, seed);
  const auto under_canary = run_period(attributed, market_again, 20'000);
  EXPECT_EQ(under_canary.violations, 0u) << under_canary.first_violation.message;
  EXPECT_GT(under_canary.unattributed, under_canary.checks / 2) << detector;
}

// A strong common trend: every model agrees on ~93% of events, the canary no more than its
// peers.
TEST(Attribution, HealthyCanaryInATrendIsNotBlamedForHighAgreement) {
  expect_blamed_by_the_literal_rule_only("ensemble_dysfunction", Market::kTrend, 7,
                                         "Ensemble dysfunction: agreement=");
}

// A quiet market: each model's own noise splits the votes and hard disagreement is far above
// 20% with or without the canary.
TEST(Attribution, HealthyCanaryInAQuietMarketIsNotBlamedForHardDisagreement) {
  expect_blamed_by_the_literal_rule_only("model_chaos", Market::kQuiet, 11,
                                         "Model chaos: hard_disagree=");
}

// The peers alone rarely split BUY against SELL (about 10% of events); a canary that votes
// against their majority on half of the events makes it about 40%: the canary alone creates
// the hard disagreement, and attribution blames it, soon after the window has enough events.
TEST(Attribution, InvertedCanaryIsBlamedForTheHardDisagreementItCreates) {
  OneDetector attributed("model_chaos", kCanaryRule);
  Ensemble market(Market::kRange, Canary::kInverted, 3);
  const auto out = run_period(attributed, market, 10'000);
  ASSERT_GT(out.violations, 0u);
  EXPECT_EQ(out.first_violation.message.rfind("Model chaos: hard_disagree=", 0), 0u)
      << out.first_violation.message;
  EXPECT_NE(out.first_violation.message.find(", caused by patchtst: +"), std::string::npos)
      << out.first_violation.message;
  // Once blamed it stays blamed while the canary keeps it up.
  EXPECT_EQ(out.violations, out.checks - (out.first_violation_event / kCheckEvery - 1));
  std::cout << "inverted canary: model_chaos fired at event " << out.first_violation_event << ": "
            << out.first_violation.message << "\n";

  // The scoreboard's calls between the canary's checks (no canary, the literal rule) neither
  // reset nor feed the canary's evidence: the same verdict at the same event.
  OneDetector with_scoreboard("model_chaos", kCanaryRule);
  Ensemble same_market(Market::kRange, Canary::kInverted, 3);
  const auto interleaved = run_period(with_scoreboard, same_market, 10'000, true);
  EXPECT_EQ(interleaved.first_violation_event, out.first_violation_event);
  EXPECT_EQ(interleaved.first_violation.message, out.first_violation.message);
}

// A healthy canary in the market of the inverted one (agreement about 90%, out of band;
// hard disagreement about 13%): neither check blames it.
TEST(Attribution, HealthyCanaryInARangingMarketPassesBoth) {
  for (const char* detector : {"ensemble_dysfunction", "model_chaos"}) {
    OneDetector attributed(detector, kCanaryRule);
    Ensemble market(Market::kRange, Canary::kHealthy, 5);
    const auto out = run_period(attributed, market, 10'000);
    EXPECT_EQ(out.violations, 0u) << detector << ": " << out.first_violation.message;
  }
}

// The gate and the scoreboard judge a window with no canary (CheckInput::canary_model empty,
// no new events): the runbook's literal rule, whatever the attribution.
TEST(Attribution, WithoutACanaryTheLiteralRuleJudges) {
  Ensemble market(Market::kQuiet, Canary::kHealthy, 13);
  std::vector<TradeIntent> events;
  for (std::size_t i = 0; i < kWindowEvents; ++i) events.push_back(market.next());
  const auto stats = compute_window_stats(events);
  ASSERT_GT(stats.ensemble.hard_disagree_pct, 20.0);
  OneDetector attributed("model_chaos", kCanaryRule);
  const auto r = attributed.check(stats, "", {});
  EXPECT_EQ(r.verdict, Verdict::kViolation) << r.message;
  EXPECT_EQ(r.message.find("attributed"), std::string::npos) << r.message;
}

TEST(Attribution, EffectiveConfigShowsTheAttributionAndCanaryIsTheDefault) {
  for (const char* detector : {"ensemble_dysfunction", "model_chaos"}) {
    OneDetector by_default(detector, nlohmann::json::object());
    EXPECT_EQ(by_default.record().effective_config.value("attribution", ""), "canary") << detector;
    OneDetector literal(detector, kEnsembleRule);
    EXPECT_EQ(literal.record().effective_config.value("attribution", ""), "ensemble") << detector;
  }
}

TEST(Attribution, ABadValueIsRefusedNamingTheKeyAndTheValues) {
  for (const std::string detector : {"ensemble_dysfunction", "model_chaos"}) {
    TempDir dir;
    test::install_plugin(test::detector_library(detector), dir.path(), detector + ".so");
    auto host = agent::PluginHost::open(
        dir.path(), test::host_config({{detector, {{"attribution", "market"}}}}));
    ASSERT_TRUE(host.ok()) << host.error().message;
    EXPECT_EQ(test::record_named(host.value(), detector).reason,
              "configuration refused: plugins.config." + detector +
                  ".attribution: must be \"canary\" or \"ensemble\", got \"market\"");
    EXPECT_FALSE(host.value().startup_status().ok());

    auto not_text =
        agent::PluginHost::open(dir.path(), test::host_config({{detector, {{"attribution", 1}}}}));
    ASSERT_TRUE(not_text.ok()) << not_text.error().message;
    EXPECT_EQ(test::record_named(not_text.value(), detector).reason,
              "configuration refused: plugins.config." + detector +
                  ".attribution: must be a string, got number");
  }
}

}  // namespace
}  // namespace qsc::attribution_test

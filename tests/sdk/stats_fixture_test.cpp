// The statistics and checks against numpy: tests/sdk/fixtures/stats_cases.json was written by
// fixtures/make_fixtures.py (numpy's mean, std, percentile; docs/design.md's verdicts and
// messages).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "qsc/checks.hpp"
#include "qsc/parse.hpp"
#include "qsc/stats.hpp"
#include "sdk_test_util.hpp"
#include "support/numpy_tolerance.hpp"

#ifndef QSC_SDK_STATS_FIXTURE
#error "QSC_SDK_STATS_FIXTURE must name tests/sdk/fixtures/stats_cases.json"
#endif

namespace qsc {
namespace {

using nlohmann::json;

using test::near_numpy;

// The fixture document; an empty object when it cannot be read (FixtureCoverage.Loads fails then,
// and the parameterised suites have no cases instead of aborting test discovery).
const json& fixture() {
  static const json doc = [] {
    std::ifstream in(QSC_SDK_STATS_FIXTURE);
    json parsed = json::parse(in, nullptr, /*allow_exceptions=*/false);
    return parsed.is_object() ? parsed : json::object();
  }();
  return doc;
}

std::size_t case_count(const char* kind) {
  return fixture().contains(kind) ? fixture()[kind].size() : 0;
}

// A case's name as a test name: letters and digits, the rest as '_'.
std::string case_name(const char* kind, std::size_t index) {
  auto name = fixture().at(kind).at(index).at("name").get<std::string>();
  for (auto& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

// Every message the checks produced over the fixtures, for the docs/design.md example test.
std::set<std::string>& produced_messages() {
  static std::set<std::string> messages;
  return messages;
}

Vote vote_of(char letter) {
  switch (letter) {
    case 'B':
    case 'b':
      return Vote::kBuy;
    case 'S':
    case 's':
      return Vote::kSell;
    default:
      return Vote::kHold;
  }
}

ConfidenceStatus status_of(const std::string& name) {
  for (auto s : {ConfidenceStatus::kNegative, ConfidenceStatus::kNaN, ConfidenceStatus::kInfinite,
                 ConfidenceStatus::kNotNumber}) {
    if (confidence_status_name(s) == name) return s;
  }
  ADD_FAILURE() << "unknown status " << name;
  return ConfidenceStatus::kNotNumber;
}

// Compares a figure to numpy's: null in the fixture means "no data", which the SDK reports as NaN.
void expect_figure(const json& expected, double actual, const std::string& what) {
  if (expected.is_null()) {
    EXPECT_TRUE(std::isnan(actual)) << what << " = " << actual << ", expected NaN (no data)";
  } else {
    EXPECT_NEAR_NUMPY(actual, expected.get<double>()) << what;
  }
}

void expect_check(const json& expected, const CheckResult& actual, const std::string& what) {
  const bool violation = expected.at("violation").get<bool>();
  EXPECT_EQ(actual.verdict, violation ? Verdict::kViolation : Verdict::kPass)
      << what << ": " << actual.message;
  EXPECT_EQ(actual.message, expected.at("message").get<std::string>()) << what;
  produced_messages().insert(actual.message);
}

GateThresholds thresholds() {
  const auto& t = fixture().at("thresholds");
  GateThresholds g;
  g.max_share_pct = t.at("max_share_pct");
  g.max_hold_pct = t.at("max_hold_pct");
  g.min_conf_std = t.at("min_conf_std");
  g.min_p10_p90 = t.at("min_p10_p90");
  g.constant_std = t.at("constant_std");
  g.constant_range = t.at("constant_range");
  return g;
}

// --- per-model statistics -----------------------------------------------------------------------

class ModelFixture : public ::testing::TestWithParam<std::size_t> {};

TEST_P(ModelFixture, EqualsNumpyAndGivesDesignVerdicts) {
  const auto& c = fixture().at("model_cases").at(GetParam());
  const auto name = c.at("name").get<std::string>();
  SCOPED_TRACE(name);
  const auto actions = c.at("actions").get<std::string>();
  const auto& confidences = c.at("confidences");
  ASSERT_EQ(actions.size(), confidences.size());
  std::vector<Sample> samples;
  for (std::size_t i = 0; i < actions.size(); ++i) {
    Sample s;
    s.action = vote_of(actions[i]);
    if (confidences[i].is_number()) {
      s.confidence = confidences[i].get<double>();
      s.status = ConfidenceStatus::kOk;
    } else {
      s.confidence = std::nan("");
      s.status = status_of(confidences[i].get<std::string>());
    }
    samples.push_back(s);
  }
  const auto& e = c.at("expect");
  const auto m = compute_model_stats(c.at("model").get<std::string>(), samples);
  EXPECT_EQ(m.predictions, e.at("predictions").get<std::size_t>());
  EXPECT_EQ(m.confidence_samples, e.at("confidence_samples").get<std::size_t>());
  for (auto v : {Vote::kBuy, Vote::kSell, Vote::kHold}) {
    const std::string vname(vote_name(v));
    EXPECT_NEAR_NUMPY(m.share_pct[static_cast<std::size_t>(v)],
                      e.at("share_pct").at(vname).get<double>())
        << vname;
  }
  expect_figure(e.at("mean"), m.conf_mean, "mean");
  expect_figure(e.at("std"), m.conf_std, "std");
  expect_figure(e.at("p10"), m.p10, "p10");
  expect_figure(e.at("p90"), m.p90, "p90");
  expect_figure(e.at("range"), m.range, "range");

  const auto& checks = e.at("checks");
  const auto t = thresholds();
  expect_check(checks.at("action_collapse"), check_action_collapse(m, t.max_share_pct),
               "action_collapse");
  expect_check(checks.at("dead_zone"), check_dead_zone(m, t.max_hold_pct), "dead_zone");
  expect_check(checks.at("flat_predictions"), check_flat_predictions(m, t.min_conf_std),
               "flat_predictions");
  expect_check(checks.at("narrow_range"), check_narrow_range(m, t.min_p10_p90), "narrow_range");
  expect_check(checks.at("constant_output"),
               check_constant_output(m, t.constant_std, t.constant_range), "constant_output");
  expect_check(checks.at("confidence"), check_confidence(m), "confidence");

  // The gate runs the same checks under the same names and passes only when none fires.
  const auto gate = gate_model(m, t);
  bool any_violation = false;
  std::size_t seen = 0;
  for (const auto& [check_name, result] : gate.checks) {
    if (!checks.contains(check_name)) continue;
    ++seen;
    expect_check(checks.at(check_name), result, "gate." + check_name);
    any_violation = any_violation || checks.at(check_name).at("violation").get<bool>();
  }
  EXPECT_EQ(seen, checks.size()) << "the gate must run every per-model check";
  EXPECT_EQ(gate.pass, !any_violation);
  EXPECT_EQ(gate.failures().empty(), !any_violation);
}

INSTANTIATE_TEST_SUITE_P(Numpy, ModelFixture,
                         ::testing::Range<std::size_t>(0, case_count("model_cases")),
                         [](const auto& info) { return case_name("model_cases", info.param); });

// --- ensemble figures ---------------------------------------------------------------------------

std::vector<TradeIntent> ensemble_events(const json& c) {
  const auto models = c.at("models").get<std::vector<std::string>>();
  std::vector<TradeIntent> events;
  std::uint64_t t = 1768023795000;
  for (const auto& row : c.at("events")) {
    const auto letters = row.get<std::string>();
    TradeIntent e;
    e.time_ms = t++;
    for (std::size_t i = 0; i < models.size(); ++i) {
      if (letters.at(i) == '.') continue;
      Prediction p;
      p.model = models[i];
      p.action = vote_of(letters[i]);
      p.confidence = p.raw_confidence = 0.5;
      p.inactive = std::islower(static_cast<unsigned char>(letters[i])) ? InactiveReason::kShadow
                                                                        : InactiveReason::kNone;
      e.predictions.push_back(std::move(p));
    }
    events.push_back(std::move(e));
  }
  return events;
}

class EnsembleFixture : public ::testing::TestWithParam<std::size_t> {};

TEST_P(EnsembleFixture, EqualsNumpyAndGivesDesignVerdicts) {
  const auto& c = fixture().at("ensemble_cases").at(GetParam());
  SCOPED_TRACE(c.at("name").get<std::string>());
  const auto& e = c.at("expect");
  const auto events = ensemble_events(c);
  const auto window = compute_window_stats(events);
  EXPECT_EQ(window.events, events.size());
  std::vector<EventVotes> votes;
  for (const auto& ev : events) votes.push_back(event_votes(ev));
  const auto direct = compute_ensemble(votes);
  for (const auto* ens : {&window.ensemble, &direct}) {
    EXPECT_EQ(ens->events, e.at("events").get<std::size_t>());
    expect_figure(e.at("agreement_pct"), ens->agreement_pct, "agreement_pct");
    expect_figure(e.at("hard_disagree_pct"), ens->hard_disagree_pct, "hard_disagree_pct");
  }
  const auto t = fixture().at("thresholds");
  const auto agreement =
      check_ensemble_agreement(window.ensemble, t.at("agreement_min"), t.at("agreement_max"));
  const auto chaos = check_model_chaos(window.ensemble, t.at("max_hard_disagree"));
  if (e.at("checks").is_null()) {
    // No event with an active vote: too little to decide, never a pass.
    EXPECT_EQ(agreement.verdict, Verdict::kInsufficient) << agreement.message;
    EXPECT_EQ(chaos.verdict, Verdict::kInsufficient) << chaos.message;
  } else {
    expect_check(e.at("checks").at("ensemble_dysfunction"), agreement, "ensemble_dysfunction");
    expect_check(e.at("checks").at("model_chaos"), chaos, "model_chaos");
  }
  // Per model: every prediction counts in its shares, active or not; models sorted by name.
  const auto& per_model = e.at("models");
  ASSERT_EQ(window.models.size(), per_model.size());
  for (std::size_t i = 1; i < window.models.size(); ++i) {
    EXPECT_LT(window.models[i - 1].model, window.models[i].model);
  }
  for (const auto& [model, want] : per_model.items()) {
    const auto* m = window.find(model);
    ASSERT_NE(m, nullptr) << model;
    EXPECT_EQ(m->predictions, want.at("predictions").get<std::size_t>()) << model;
    EXPECT_EQ(m->inactive, want.at("inactive").get<std::size_t>()) << model;
    for (auto v : {Vote::kBuy, Vote::kSell, Vote::kHold}) {
      EXPECT_NEAR_NUMPY(m->share_pct[static_cast<std::size_t>(v)],
                        want.at("share_pct").at(std::string(vote_name(v))).get<double>())
          << model << " " << vote_name(v);
    }
  }
  EXPECT_EQ(window.find("no-such-model"), nullptr);
}

INSTANTIATE_TEST_SUITE_P(Numpy, EnsembleFixture,
                         ::testing::Range<std::size_t>(0, case_count("ensemble_cases")),
                         [](const auto& info) { return case_name("ensemble_cases", info.param); });

// --- logit normalisation -----------------------------------------------------------------------

TEST(LogitFixture, ParsedLogitsEqualNumpysSigmoid) {
  const auto& cases = fixture().at("logit_cases");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    const double raw = c.at("raw");
    json pred = {{"action", "BUY"}, {"confidence", raw}};
    const auto outcome = parse_entry(test::intent_entry(test::one_model_payload(pred.dump())));
    const auto* intent = test::accepted(outcome);
    ASSERT_NE(intent, nullptr) << raw;
    const auto& p = intent->predictions.at(0);
    EXPECT_EQ(p.confidence_status, ConfidenceStatus::kNormalized) << raw;
    EXPECT_EQ(p.raw_confidence, raw);
    EXPECT_NEAR_NUMPY(p.confidence, c.at("normalized").get<double>()) << raw;
    EXPECT_LE(p.confidence, 1.0);
  }
}

// --- the fixtures cover what the contract names ------------------------------------------------

TEST(FixtureCoverage, Loads) {
  ASSERT_FALSE(fixture().empty()) << "cannot read " << QSC_SDK_STATS_FIXTURE;
  EXPECT_GT(case_count("model_cases"), 20u);
  EXPECT_GT(case_count("ensemble_cases"), 10u);
  EXPECT_GT(case_count("logit_cases"), 0u);
}

TEST(FixtureCoverage, ContainsTheRequiredShapes) {
  std::set<std::size_t> sizes;
  for (const auto& c : fixture().at("model_cases"))
    sizes.insert(c.at("actions").get<std::string>().size());
  EXPECT_TRUE(sizes.contains(1));
  EXPECT_TRUE(sizes.contains(2));
  EXPECT_TRUE(sizes.contains(2000));
}

// Runs after the parameterised suites (gtest runs suites in definition order within a binary),
// but recomputes what it needs so that it also holds when run alone.
TEST(FixtureCoverage, DesignExampleMessagesAreProducedFromTheFixtures) {
  const auto t = thresholds();
  std::set<std::string> messages = produced_messages();
  for (const auto& c : fixture().at("model_cases")) {
    std::vector<Sample> samples;
    const auto actions = c.at("actions").get<std::string>();
    for (std::size_t i = 0; i < actions.size(); ++i) {
      const auto& v = c.at("confidences")[i];
      samples.push_back(Sample{vote_of(actions[i]), v.is_number() ? v.get<double>() : std::nan(""),
                               v.is_number() ? ConfidenceStatus::kOk : ConfidenceStatus::kNaN,
                               InactiveReason::kNone});
    }
    for (const auto& [n, r] : gate_model(compute_model_stats("m", samples), t).checks) {
      messages.insert(r.message);
    }
  }
  for (const auto& c : fixture().at("ensemble_cases")) {
    const auto w = compute_window_stats(ensemble_events(c));
    messages.insert(check_ensemble_agreement(w.ensemble, 55, 80).message);
    messages.insert(check_model_chaos(w.ensemble, 20).message);
  }
  // docs/design.md's violations table, to the letter.
  for (const char* design :
       {"Action collapse: HOLD=78.3% (>70%)", "Flat predictions: conf_std=0.0412 (<0.05)",
        "Narrow range: p10_p90=0.0800 (<0.12)", "Dead zone: HOLD=86.0% (>85%)",
        "Ensemble dysfunction: agreement=84.0% (target 55-80%)",
        "Model chaos: hard_disagree=23.5% (>20%)", "Constant output: std=0.0000 (<0.01)"}) {
    EXPECT_TRUE(messages.contains(design)) << design;
  }
}

}  // namespace
}  // namespace qsc

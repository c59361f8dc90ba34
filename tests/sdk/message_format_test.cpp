// The checks' messages print figures and thresholds exactly as printf's "%.4f" / "%.1f" and
// "%.10g" do (sdk/src/checks.cpp formats them with std::to_chars, which must not change a
// character of any message): random, halfway, tiny, huge, negative, zero and non-finite values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "qsc/checks.hpp"
#include "qsc/gate_failures.hpp"
#include "qsc/stats.hpp"

namespace qsc {
namespace {

// What the checks printed before (snprintf into 64 characters: a huge figure is cut short).
std::string printf_text(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::vector<double> values() {
  std::vector<double> v{0.0,
                        -0.0,
                        0.05,
                        0.00005,
                        0.12345,
                        1.0 / 3,
                        62.25,
                        62.35,
                        99.95,
                        1e-300,
                        1e300,
                        -1e300,
                        5e-324,
                        0.5,
                        1.5,
                        2.5,
                        0.000049,
                        0.049999,
                        123456789.123456789,
                        std::numeric_limits<double>::infinity(),
                        -std::numeric_limits<double>::infinity(),
                        std::numeric_limits<double>::quiet_NaN(),
                        -std::numeric_limits<double>::quiet_NaN()};
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    v.push_back(std::uniform_real_distribution<double>(0.0, 1.0)(rng));
    v.push_back(std::uniform_real_distribution<double>(0.0, 100.0)(rng));
    // Decimal halfway points at 1 and 4 decimals, as a figure computed from round data lands.
    v.push_back(static_cast<double>(rng() % 1000000) / 1e4 + 0.00005);
    v.push_back(static_cast<double>(rng() % 10000) / 10 + 0.05);
    std::uint64_t bits = rng();
    double any = 0;
    std::memcpy(&any, &bits, sizeof any);
    v.push_back(any);
  }
  return v;
}

TEST(MessageFormat, FiguresAndThresholdsPrintAsPrintfDoes) {
  for (const double x : values()) {
    ModelStats m;
    m.model = "m";
    m.predictions = m.confidence_samples = 1;
    m.conf_std = x;
    EXPECT_EQ(check_flat_predictions(m, x).message,
              "Flat predictions: conf_std=" + printf_text("%.4f", x) + " (<" +
                  printf_text("%.10g", x) + ")");
    EXPECT_EQ(format_threshold(x), printf_text("%.10g", x));
    EnsembleStats e;
    e.events = 1;
    e.agreement_pct = x;
    EXPECT_EQ(check_ensemble_agreement(e, 55, 80).message,
              "Ensemble dysfunction: agreement=" + printf_text("%.1f", x) + "% (target 55-80%)");
    if (::testing::Test::HasFailure()) FAIL() << "first difference at " << x;
  }
}

// append_fixed decides the rounding itself for 0-9 decimals (printf's text, exactly): every
// precision, at random values, decimal halfway points (and their neighbours) and the edges of its
// range, against snprintf's text (into 64 characters, as the checks printed before).
TEST(MessageFormat, AppendFixedPrintsAsPrintfAtEveryPrecision) {
  auto cases = values();
  std::mt19937_64 rng(11);
  for (int d = 0; d <= 9; ++d) {
    const double scale = std::pow(10.0, d);
    for (int i = 0; i < 2000; ++i) {
      const double half = (static_cast<double>(rng() % 10000000) + 0.5) / scale;
      cases.insert(cases.end(),
                   {half, std::nextafter(half, 0.0), std::nextafter(half, 1e300), -half});
    }
    cases.insert(cases.end(), {0x1p52 / scale, std::nextafter(0x1p52 / scale, 0.0), -0x1p52 / scale,
                               0.5 / scale, -0.4 / scale});
  }
  for (int d = 0; d <= 9; ++d) {
    for (const double x : cases) {
      char expected[64];
      std::snprintf(expected, sizeof expected, "%.*f", d, x);
      std::string out = "figure=";
      append_fixed(out, x, d);
      ASSERT_EQ(out, std::string("figure=") + expected) << "%." << d << "f of " << x;
    }
  }
}

// The checks write into a result kept from the previous call (the monitor's detectors do, at
// every event): what the previous result held (figures, a violation's text) must not show.
TEST(MessageFormat, AResultWrittenOverAnotherEqualsAFreshOne) {
  ModelStats violating;
  violating.model = "m";
  violating.predictions = violating.confidence_samples = 10;
  violating.confidence_violations = 2;
  violating.by_status[static_cast<std::size_t>(ConfidenceStatus::kNaN)] = 2;
  violating.share_pct = {10.0, 10.0, 80.0};
  ModelStats empty;
  empty.model = "m";
  CheckResult kept;
  const auto same = [&](const CheckResult& fresh) {
    EXPECT_EQ(kept.verdict, fresh.verdict);
    EXPECT_EQ(kept.message, fresh.message);
    ASSERT_EQ(kept.figures.size(), fresh.figures.size());
    for (std::size_t i = 0; i < fresh.figures.size(); ++i) {
      EXPECT_EQ(kept.figures[i].name, fresh.figures[i].name);
      EXPECT_EQ(kept.figures[i].value, fresh.figures[i].value);
    }
  };
  check_constant_output(violating, 0.5, 0.5, kept);
  same(check_constant_output(violating, 0.5, 0.5));
  check_dead_zone(empty, 85, kept);
  same(check_dead_zone(empty, 85));
  EXPECT_EQ(kept.verdict, Verdict::kInsufficient);
  check_confidence(violating, kept);
  same(check_confidence(violating));
  EXPECT_EQ(kept.message, "Confidence violations: 2 (nan=2)");
  check_flat_predictions(empty, 0.05, kept);
  same(check_flat_predictions(empty, 0.05));
  check_confidence(empty, kept);
  same(check_confidence(empty));
  GateModelVerdict gate;
  gate_model(violating, GateThresholds{}, gate);
  gate_model(empty, GateThresholds{}, gate);
  const auto fresh_gate = gate_model(empty, GateThresholds{});
  EXPECT_EQ(gate.pass, fresh_gate.pass);
  EXPECT_EQ(gate.model, fresh_gate.model);
  EXPECT_EQ(gate.failures(), fresh_gate.failures());
}

// gate_model_failures (the quality_gate detector's form) is gate_model but for the passing
// checks' messages, which it leaves empty: the same verdicts, figures and failing texts, over a
// verdict kept between calls as the detector keeps it (passes and failures in turn).
TEST(MessageFormat, GateModelFailuresIsGateModelWithoutThePassingTexts) {
  std::mt19937_64 rng(20261129);
  std::uniform_real_distribution<double> share(0.0, 100.0);
  std::uniform_real_distribution<double> spread(0.0, 0.2);
  GateModelVerdict kept;
  std::size_t failing_seen = 0;
  std::size_t passing_seen = 0;
  for (int i = 0; i < 2000; ++i) {
    ModelStats m;
    m.model = "canary";
    m.predictions = i % 97 == 0 ? 0 : 2000;
    const double hold = share(rng);
    const double buy = (100.0 - hold) * share(rng) / 100.0;
    m.share_pct = {buy, 100.0 - hold - buy, hold};
    m.confidence_samples = i % 89 == 0 ? 0 : m.predictions;
    m.conf_std = spread(rng);
    m.range = 2.0 * spread(rng);
    m.confidence_violations = i % 13 == 0 ? 3 : 0;
    m.by_status[static_cast<std::size_t>(ConfidenceStatus::kNaN)] = m.confidence_violations;
    gate_model_failures(m, GateThresholds{}, kept);
    const GateModelVerdict full = gate_model(m, GateThresholds{});
    EXPECT_EQ(kept.pass, full.pass);
    EXPECT_EQ(kept.model, full.model);
    EXPECT_EQ(kept.failures(), full.failures());
    ASSERT_EQ(kept.checks.size(), full.checks.size());
    for (std::size_t c = 0; c < full.checks.size(); ++c) {
      const auto& [name, r] = kept.checks[c];
      const auto& [full_name, f] = full.checks[c];
      EXPECT_EQ(name, full_name);
      EXPECT_EQ(r.verdict, f.verdict) << full_name;
      ASSERT_EQ(r.figures.size(), f.figures.size()) << full_name;
      for (std::size_t k = 0; k < f.figures.size(); ++k) {
        EXPECT_EQ(r.figures[k].name, f.figures[k].name);
        EXPECT_EQ(r.figures[k].value, f.figures[k].value);
      }
      // A passing check's text is composed only where someone reads it: the confidence
      // check's fixed one costs nothing and is kept.
      if (f.verdict == Verdict::kPass && full_name != "confidence") {
        EXPECT_EQ(r.message, "") << full_name;
        ++passing_seen;
      } else {
        EXPECT_EQ(r.message, f.message) << full_name;
        failing_seen += f.verdict != Verdict::kPass;
      }
    }
  }
  // Both sides were exercised.
  EXPECT_GT(failing_seen, 100u);
  EXPECT_GT(passing_seen, 100u);
}

}  // namespace
}  // namespace qsc

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

}  // namespace
}  // namespace qsc

// The measurement behind the share attribution's minimum excess d (docs/ACCURACY.md, "Share
// attribution"): the accuracy benchmark's generator (tests/bench/accuracy/scenario.hpp) drives
// action_collapse's literal rule (the canary's largest share over its last 2,000 predictions,
// judged from 200, above 70%) and the attribution's test (canary_share_excess and BettingTest,
// as CanaryShareAttribution folds them) for several d at once, without qsc replay, so 1,000
// periods take minutes. Per seed it prints the onset, the first event the literal rule fires,
// and per d the first event where the literal rule and the test both fire (-1: never), the
// largest e-value while the literal rule fired and the largest e-value of the test alone (any
// action, any time), as log10.
//
//   qsc_share_excess_scan KIND FIRST_SEED END_SEED D... [--memory EVENTS]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <vector>

#include "../../plugins/detectors/common/canary_attribution.hpp"
#include "bench/accuracy/scenario.hpp"

namespace {

constexpr std::size_t kWindowPredictions = 2'000;      // telemetry.window_events
constexpr std::size_t kMinPredictions = 200;           // telemetry.min_events
constexpr double kMaxSharePct = 70.0;                  // action_collapse's default
constexpr std::uint64_t kEvents = 43'200;              // 6 h at 2 events/s
constexpr std::uint64_t kStartMs = 1'768'024'800'000;  // the benchmark's activation

struct Scan {
  explicit Scan(double d, double memory)
      : tests{qsc::detectors::BettingTest(d, memory), qsc::detectors::BettingTest(d, memory),
              qsc::detectors::BettingTest(d, memory)} {}
  std::array<qsc::detectors::BettingTest, qsc::kVoteKinds> tests;
  long fired = -1;
  double max_log_while_literal = 0.0;
  double max_log_anywhere = 0.0;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: qsc_share_excess_scan KIND FIRST_SEED END_SEED D... [--memory EVENTS]\n");
    return 2;
  }
  const auto kind = qsc::accuracy::parse_degradation(argv[1]);
  if (!kind) {
    std::fprintf(stderr, "qsc_share_excess_scan: unknown kind %s\n", argv[1]);
    return 2;
  }
  const long first = std::atol(argv[2]);
  const long end = std::atol(argv[3]);
  double memory = qsc::detectors::ExcessEvidence::kBetMemoryEvents;
  std::vector<double> ds;
  for (int i = 4; i < argc; ++i) {
    if (std::string(argv[i]) == "--memory" && i + 1 < argc) {
      memory = std::atof(argv[++i]);
    } else {
      ds.push_back(std::atof(argv[i]));
    }
  }
  const double log_threshold = -std::log(qsc::detectors::ExcessEvidence::kAlpha);
  for (long seed = first; seed < end; ++seed) {
    qsc::accuracy::ScenarioSpec spec;
    spec.degradation = *kind;
    spec.seed = static_cast<std::uint64_t>(seed);
    spec.start_ms = kStartMs;
    spec.events = kEvents;
    qsc::accuracy::ScenarioGenerator generator(spec);
    const std::string canary =
        qsc::accuracy::ScenarioGenerator::kModelNames[qsc::accuracy::ScenarioGenerator::kCanary];
    std::vector<Scan> scans;
    for (double d : ds) scans.emplace_back(d, memory);
    std::deque<std::size_t> window;
    std::array<std::size_t, qsc::kVoteKinds> counts{};
    long literal_first = -1;
    for (std::uint64_t i = 0; i < kEvents; ++i) {
      const auto event = generator.next();
      for (const auto& p : event.predictions) {
        if (p.model != canary) continue;
        const auto vote = static_cast<std::size_t>(p.action);
        window.push_back(vote);
        ++counts[vote];
        if (window.size() > kWindowPredictions) {
          --counts[window.front()];
          window.pop_front();
        }
      }
      const auto x = qsc::detectors::canary_share_excess(event, canary);
      for (auto& scan : scans) {
        for (std::size_t k = 0; k < qsc::kVoteKinds && x; ++k) {
          scan.tests[k].add((*x)[k]);
          scan.max_log_anywhere = std::max(scan.max_log_anywhere, scan.tests[k].log_wealth_above());
        }
      }
      if (window.size() < kMinPredictions) continue;
      std::size_t top = 0;  // ties: BUY, then SELL, then HOLD (ModelStats::dominant)
      for (std::size_t k = 1; k < qsc::kVoteKinds; ++k) {
        if (counts[k] > counts[top]) top = k;
      }
      const bool literal =
          100.0 * static_cast<double>(counts[top]) / static_cast<double>(window.size()) >
          kMaxSharePct;
      if (!literal) continue;
      if (literal_first < 0) literal_first = static_cast<long>(i);
      for (auto& scan : scans) {
        const double log_wealth = scan.tests[top].log_wealth_above();
        scan.max_log_while_literal = std::max(scan.max_log_while_literal, log_wealth);
        if (scan.fired < 0 && log_wealth >= log_threshold) scan.fired = static_cast<long>(i);
      }
    }
    std::printf("%s %ld onset %llu literal %ld", argv[1], seed,
                static_cast<unsigned long long>(generator.onset_index()), literal_first);
    for (std::size_t j = 0; j < ds.size(); ++j) {
      std::printf(" d%.2f:%ld(lit %.2f any %.2f)", ds[j], scans[j].fired,
                  scans[j].max_log_while_literal / std::log(10.0),
                  scans[j].max_log_anywhere / std::log(10.0));
    }
    std::printf("\n");
  }
  return 0;
}

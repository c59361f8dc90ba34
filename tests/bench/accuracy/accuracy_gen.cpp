// qsc_accuracy_gen: writes one scenario of the accuracy benchmark as a recording (the
// `qsc telemetry --record` JSONL form `qsc replay` reads), or describes the healthy corpus.
//
//   qsc_accuracy_gen --kind KIND --seed N --out REC.jsonl [--start-ms MS] [--events N]
//                    [--spacing-ms MS]
//       writes the recording and prints one JSON line: kind, seed, events, start_ms,
//       onset_index, onset_ms (healthy: no onset, both 0).
//   qsc_accuracy_gen --describe [--seeds N]
//       the healthy corpus's figures over consecutive 2,000-event windows (the monitor's
//       window): quantiles, and how often each runbook threshold is crossed. How the
//       generator's constants were chosen (docs/ACCURACY.md).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "qsc/stats.hpp"
#include "scenario.hpp"
#include "telemetry/jsonl.hpp"

namespace {

using qsc::accuracy::Degradation;
using qsc::accuracy::ScenarioGenerator;
using qsc::accuracy::ScenarioSpec;

int write_recording(const ScenarioSpec& spec, const std::string& out) {
  auto writer = qsc::agent::JsonlWriter::open(out);
  if (!writer) {
    std::cerr << "qsc_accuracy_gen: " << writer.error().message << "\n";
    return 2;
  }
  ScenarioGenerator gen(spec);
  for (std::uint64_t i = 0; i < spec.events; ++i) {
    const auto event = gen.next();
    const qsc::StreamEntry entry{std::to_string(event.time_ms) + "-0",
                                 qsc::agent::fields_for_event(event)};
    if (auto s = writer.value().write(entry); !s) {
      std::cerr << "qsc_accuracy_gen: " << s.error().message << "\n";
      return 2;
    }
  }
  if (auto s = writer.value().close(); !s) {
    std::cerr << "qsc_accuracy_gen: " << s.error().message << "\n";
    return 2;
  }
  const bool healthy = spec.degradation == Degradation::kNone;
  std::cout << nlohmann::json{{"kind", qsc::accuracy::degradation_name(spec.degradation)},
                              {"seed", spec.seed},
                              {"events", spec.events},
                              {"start_ms", spec.start_ms},
                              {"spacing_ms", spec.spacing_ms},
                              {"onset_index", healthy ? 0 : gen.onset_index()},
                              {"onset_ms", healthy ? 0 : gen.onset_ms()}}
                   .dump()
            << std::endl;
  return 0;
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  return qsc::percentile_linear(v, q);
}

int describe(std::uint64_t seeds, const ScenarioSpec& base) {
  constexpr std::size_t kWindow = 2000;
  struct Figure {
    const char* name;
    std::vector<double> values;
  };
  Figure hold{"canary HOLD %", {}}, max_share{"canary max action share %", {}},
      mean{"canary conf mean", {}}, sd{"canary conf std", {}}, range{"canary P90-P10", {}},
      agreement{"agreement %", {}}, hard{"hard disagree %", {}};
  std::uint64_t votes[qsc::kVoteKinds] = {};
  double conf_sum = 0, conf_sq = 0;
  std::uint64_t conf_n = 0;
  // Periods (6 h) with at least one window crossing each runbook bound.
  std::uint64_t period_collapse = 0, period_dead = 0, period_flat = 0, period_narrow = 0,
                period_agreement = 0, period_chaos = 0;
  for (std::uint64_t s = 0; s < seeds; ++s) {
    ScenarioSpec spec = base;
    spec.seed = s;
    ScenarioGenerator gen(spec);
    std::vector<qsc::TradeIntent> window;
    bool collapse = false, dead = false, flat = false, narrow = false, agree = false, chaos = false;
    for (std::uint64_t i = 0; i < spec.events; ++i) {
      window.push_back(gen.next());
      const auto& c = window.back().predictions[ScenarioGenerator::kCanary];
      ++votes[static_cast<int>(c.action)];
      conf_sum += c.confidence;
      conf_sq += c.confidence * c.confidence;
      ++conf_n;
      if (window.size() < kWindow) continue;
      const auto w = qsc::compute_window_stats(window);
      window.clear();
      const auto* m = w.find("patchtst");
      const double max_pct = *std::max_element(m->share_pct.begin(), m->share_pct.end());
      hold.values.push_back(m->share_pct[2]);
      max_share.values.push_back(max_pct);
      mean.values.push_back(m->conf_mean);
      sd.values.push_back(m->conf_std);
      range.values.push_back(m->range);
      agreement.values.push_back(w.ensemble.agreement_pct);
      hard.values.push_back(w.ensemble.hard_disagree_pct);
      collapse |= max_pct > 70;
      dead |= m->share_pct[2] > 85;
      flat |= m->conf_std < 0.05;
      narrow |= m->range < 0.12;
      agree |= w.ensemble.agreement_pct < 55 || w.ensemble.agreement_pct > 80;
      chaos |= w.ensemble.hard_disagree_pct > 20;
    }
    period_collapse += collapse;
    period_dead += dead;
    period_flat += flat;
    period_narrow += narrow;
    period_agreement += agree;
    period_chaos += chaos;
  }
  std::printf("healthy corpus: %llu seeds x %llu events, consecutive %zu-event windows\n",
              static_cast<unsigned long long>(seeds), static_cast<unsigned long long>(base.events),
              kWindow);
  std::printf("%-28s %8s %8s %8s %8s %8s\n", "figure", "P1", "P10", "P50", "P90", "P99");
  for (const auto* f : {&hold, &max_share, &mean, &sd, &range, &agreement, &hard}) {
    std::printf("%-28s %8.3f %8.3f %8.3f %8.3f %8.3f\n", f->name, quantile(f->values, 1),
                quantile(f->values, 10), quantile(f->values, 50), quantile(f->values, 90),
                quantile(f->values, 99));
  }
  const double total = static_cast<double>(votes[0] + votes[1] + votes[2]);
  const double cm = conf_sum / static_cast<double>(conf_n);
  std::printf("canary long run: BUY %.3f SELL %.3f HOLD %.3f, confidence mean %.4f std %.4f\n",
              votes[0] / total, votes[1] / total, votes[2] / total, cm,
              std::sqrt(conf_sq / static_cast<double>(conf_n) - cm * cm));
  const auto share = [&](std::uint64_t n) { return 100.0 * n / static_cast<double>(seeds); };
  std::printf(
      "periods with a window past the runbook bound: action share>70 %.1f%%, HOLD>85 %.1f%%, "
      "std<0.05 %.1f%%, range<0.12 %.1f%%, agreement outside 55-80 %.1f%%, hard>20 %.1f%%\n",
      share(period_collapse), share(period_dead), share(period_flat), share(period_narrow),
      share(period_agreement), share(period_chaos));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"qsc_accuracy_gen: one scenario of the accuracy benchmark (docs/ACCURACY.md)"};
  std::string kind = "healthy";
  std::string out;
  bool describe_corpus = false;
  std::uint64_t seeds = 50;
  ScenarioSpec spec;
  spec.start_ms = 1768024800000;  // 2026-01-10T06:00:00Z
  app.add_option("--kind", kind,
                 "healthy, hold_collapse, gradual_collapse, flattening, "
                 "confidence_drift, inverted, stuck, nan_bursts, silence");
  app.add_option("--seed", spec.seed, "the seed number within the kind");
  app.add_option("--out", out, "the recording to write (JSONL)");
  app.add_option("--start-ms", spec.start_ms, "the first event's time (ms since the epoch)");
  app.add_option("--events", spec.events, "events in the recording (6 h at 2/s: 43200)");
  app.add_option("--spacing-ms", spec.spacing_ms, "between events")->check(CLI::PositiveNumber);
  app.add_flag("--describe", describe_corpus, "describe the healthy corpus instead");
  app.add_option("--seeds", seeds, "--describe: healthy seeds to describe");
  CLI11_PARSE(app, argc, argv);
  const auto degradation = qsc::accuracy::parse_degradation(kind);
  if (!degradation) {
    std::cerr << "qsc_accuracy_gen: unknown --kind " << kind << ": see --help\n";
    return 2;
  }
  spec.degradation = *degradation;
  if (describe_corpus) return describe(seeds, spec);
  if (out.empty()) {
    std::cerr << "qsc_accuracy_gen: --out REC.jsonl is required (or --describe)\n";
    return 2;
  }
  return write_recording(spec, out);
}

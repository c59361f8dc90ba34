// The benchmark suite's C++ helpers, driven by tests/bench/run (tests/bench/suite/run_suite.py):
//
//   qsc_bench_suite fill-redis --port P --stream S --cutover-ms T --pre N --post M [--seed S]
//       Replaces stream S on 127.0.0.1:P with N healthy events in the N ms before T and M after
//       it (IDs <ms>-0, one per ms), payloads as an engine publishes them (docs/design.md).
//   qsc_bench_suite produce (--shm NAME | --redis-port P --stream S) --rate EPS
//                           [--duration-s D] [--canary M] [--seed S]
//       A paced synthetic engine: healthy events at EPS until SIGUSR1, then nan_confidence
//       events for the canary (the first NaN makes the window violate: a sharp boundary).
//       Prints "ready" once attached, "trigger_us <realtime us>" just before publishing the
//       first NaN event, and "published <n> behind_ms <max>" when stopped (SIGTERM/SIGINT, or
//       after --duration-s D).
//   qsc_bench_suite evaluation --plugins DIR [--events N] [--window W] [--baseline 0]
//                                         [--hand-over 0]
//       Per event: the monitor's evaluation step folds one event into its window and runs every
//       loaded detector (the built-in plugins of DIR, loaded by the real host) on the event's
//       figures: from the running figures (incremental) and, as the baseline in the same run,
//       recomputed over the whole window (the code before issue 17 section 2), alternating in
//       chunks. Medians of per-event thread CPU time, in ns; one JSON object on stdout.
//   qsc_bench_suite scaling [--sizes 2000,10000,...] [--budget-ms B]
//       Times compute_window_stats, evaluate_gate and the monitor's CanaryWindow evaluations
//       over windows of each size (medians of this thread's CPU time, and of wall time); one
//       JSON object per size on stdout.
#include <hiredis/hiredis.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "demo/synthetic_engine.hpp"
#include "lifecycle/gate.hpp"
#include "monitor/canary_window.hpp"
#include "monitor/evaluation_step.hpp"
#include "plugin_host/plugin_host.hpp"
#include "qsc/ipc/ring.hpp"
#include "qsc/stats.hpp"
#include "telemetry/jsonl.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using qsc::agent::CanaryBehaviour;
using qsc::agent::SyntheticEngine;

std::atomic<bool> g_stop{false};
std::atomic<bool> g_trigger{false};

extern "C" void on_stop(int) {
  g_stop.store(true);
}
extern "C" void on_trigger(int) {
  g_trigger.store(true);
}

std::int64_t realtime_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// --name value options.
struct Args {
  std::vector<std::string> v;
  std::optional<std::string> get(const std::string& name) const {
    for (std::size_t i = 0; i + 1 < v.size(); ++i) {
      if (v[i] == name) return v[i + 1];
    }
    return std::nullopt;
  }
  std::string str(const std::string& name, const std::string& def) const {
    return get(name).value_or(def);
  }
  double num(const std::string& name, double def) const {
    auto s = get(name);
    return s ? std::strtod(s->c_str(), nullptr) : def;
  }
};

int usage() {
  std::fprintf(stderr,
               "usage: qsc_bench_suite fill-redis --port P --stream S --cutover-ms T --pre N "
               "--post M\n"
               "       qsc_bench_suite produce (--shm NAME | --redis-port P --stream S) --rate "
               "EPS [--duration-s D]\n"
               "       qsc_bench_suite evaluation --plugins DIR [--events N] [--window W] "
               "[--baseline 0] [--hand-over 0]\n"
               "       qsc_bench_suite scaling [--sizes 2000,10000,...]\n"
               "       qsc_bench_suite write-recording --out FILE --events N --start-ms T "
               "[--spacing-ms S]\n");
  return 2;
}

redisContext* connect_redis(int port) {
  redisContext* c = redisConnect("127.0.0.1", port);
  if (c == nullptr || c->err) {
    std::fprintf(stderr, "cannot connect to Redis at 127.0.0.1:%d: %s\n", port,
                 c ? c->errstr : "out of memory");
    if (c) redisFree(c);
    return nullptr;
  }
  return c;
}

// Appends XADD stream id event_type ... payload ... to the pipeline.
void append_xadd(redisContext* c, const std::string& stream, const std::string& id,
                 const qsc::TradeIntent& event) {
  const auto fields = qsc::agent::fields_for_event(event);
  std::vector<const char*> argv{"XADD", stream.c_str(), id.c_str()};
  std::vector<std::size_t> lens{4, stream.size(), id.size()};
  for (const auto& [k, v] : fields) {
    argv.push_back(k.c_str());
    lens.push_back(k.size());
    argv.push_back(v.c_str());
    lens.push_back(v.size());
  }
  redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data());
}

bool drain_replies(redisContext* c, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    void* r = nullptr;
    if (redisGetReply(c, &r) != REDIS_OK || r == nullptr) {
      std::fprintf(stderr, "Redis error: %s\n", c->errstr);
      return false;
    }
    const bool error = static_cast<redisReply*>(r)->type == REDIS_REPLY_ERROR;
    if (error) std::fprintf(stderr, "Redis error: %s\n", static_cast<redisReply*>(r)->str);
    freeReplyObject(r);
    if (error) return false;
  }
  return true;
}

int fill_redis(const Args& a) {
  const int port = static_cast<int>(a.num("--port", 6379));
  const std::string stream = a.str("--stream", "quantum:stream:trade.intent");
  const auto cutover = static_cast<std::uint64_t>(a.num("--cutover-ms", 0));
  const auto pre = static_cast<std::uint64_t>(a.num("--pre", 2000));
  const auto post = static_cast<std::uint64_t>(a.num("--post", 2000));
  if (cutover <= pre) return usage();
  redisContext* c = connect_redis(port);
  if (!c) return 1;
  freeReplyObject(redisCommand(c, "DEL %s", stream.c_str()));
  SyntheticEngine engine(a.str("--canary", "patchtst"),
                         static_cast<std::uint64_t>(a.num("--seed", 20260110)));
  const std::uint64_t total = pre + post;
  std::size_t pending = 0;
  for (std::uint64_t i = 0; i < total; ++i) {
    const std::uint64_t ms = cutover - pre + i;
    const auto event = engine.next(ms, CanaryBehaviour::kHealthy);
    append_xadd(c, stream, std::to_string(ms) + "-0", event);
    if (++pending == 1000) {
      if (!drain_replies(c, pending)) return 1;
      pending = 0;
    }
  }
  if (!drain_replies(c, pending)) return 1;
  redisFree(c);
  std::printf("filled %s: %llu pre + %llu post\n", stream.c_str(),
              static_cast<unsigned long long>(pre), static_cast<unsigned long long>(post));
  return 0;
}

int produce(const Args& a) {
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sa.sa_handler = on_trigger;
  sigaction(SIGUSR1, &sa, nullptr);

  const double rate = a.num("--rate", 1000);
  const double duration_s = a.num("--duration-s", 0);
  const std::string canary = a.str("--canary", "patchtst");
  SyntheticEngine engine(canary, static_cast<std::uint64_t>(a.num("--seed", 20260110)));

  std::optional<qsc::ipc::RingProducer> ring;
  redisContext* redis = nullptr;
  const std::string stream = a.str("--stream", "quantum:stream:trade.intent");
  if (auto name = a.get("--shm")) {
    auto p = qsc::ipc::RingProducer::open({.name = *name});
    if (!p) {
      std::fprintf(stderr, "produce: %s\n", p.error().message.c_str());
      return 1;
    }
    ring.emplace(std::move(p).value());
  } else if (a.get("--redis-port")) {
    redis = connect_redis(static_cast<int>(a.num("--redis-port", 6379)));
    if (!redis) return 1;
  } else {
    return usage();
  }
  std::printf("ready\n");
  std::fflush(stdout);

  // One tick a millisecond: publish what the rate owes by now (a burst after a late wake-up,
  // as a real engine's backlog would be).
  const auto start = Clock::now();
  auto next_tick = start;
  std::uint64_t published = 0;
  double behind_ms_max = 0;
  bool triggered = false;
  std::int64_t last_ms = 0;
  std::uint64_t seq = 0;
  while (!g_stop.load()) {
    const auto now = Clock::now();
    const double elapsed = std::chrono::duration<double>(now - start).count();
    if (duration_s > 0 && elapsed >= duration_s) break;
    const auto owed = static_cast<std::uint64_t>(elapsed * rate);
    const double late_ms = std::chrono::duration<double, std::milli>(now - next_tick).count();
    behind_ms_max = std::max(behind_ms_max, late_ms);
    std::size_t in_pipeline = 0;
    while (published < owed) {
      const bool nan = g_trigger.load();
      const std::int64_t us = realtime_us();
      std::int64_t ms = us / 1000;
      if (ms <= last_ms) {
        ms = last_ms;
        ++seq;
      } else {
        seq = 0;
      }
      last_ms = ms;
      auto event = engine.next(static_cast<std::uint64_t>(ms),
                               nan ? CanaryBehaviour::kNaNConfidence : CanaryBehaviour::kHealthy);
      if (nan && !triggered) {
        // Stamped just before the publish: the latency measured includes the transport.
        triggered = true;
        const std::int64_t stamp = realtime_us();
        if (ring) {
          (void)ring->publish(event);
        } else {
          append_xadd(redis, stream, std::to_string(ms) + "-" + std::to_string(seq), event);
          if (!drain_replies(redis, in_pipeline + 1)) return 1;
          in_pipeline = 0;
        }
        std::printf("trigger_us %lld\n", static_cast<long long>(stamp));
        std::fflush(stdout);
      } else if (ring) {
        (void)ring->publish(event);
      } else {
        append_xadd(redis, stream, std::to_string(ms) + "-" + std::to_string(seq), event);
        ++in_pipeline;
      }
      ++published;
    }
    if (redis && in_pipeline > 0 && !drain_replies(redis, in_pipeline)) return 1;
    next_tick += std::chrono::milliseconds(1);
    if (next_tick < Clock::now()) next_tick = Clock::now();
    std::this_thread::sleep_until(next_tick);
  }
  if (redis) redisFree(redis);
  std::printf("published %llu behind_ms %.1f\n", static_cast<unsigned long long>(published),
              behind_ms_max);
  std::fflush(stdout);
  return 0;
}

double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// Medians of `reps` runs of f(): this thread's CPU time (what the work costs, whatever the
// machine's load) and wall time (what it took here), in ms.
struct Timing {
  double cpu_ms = 0;
  double wall_ms = 0;
};
template <typename F>
Timing median_ms(int reps, F&& f) {
  std::vector<double> cpu, wall;
  f();  // warm-up: caches, allocator arenas
  for (int i = 0; i < reps; ++i) {
    const double c0 = thread_cpu_ms();
    const auto s = Clock::now();
    f();
    wall.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
    cpu.push_back(thread_cpu_ms() - c0);
  }
  std::sort(cpu.begin(), cpu.end());
  std::sort(wall.begin(), wall.end());
  return {cpu[cpu.size() / 2], wall[wall.size() / 2]};
}

int scaling(const Args& a) {
  std::vector<std::size_t> sizes;
  {
    std::string s = a.str("--sizes", "2000,10000,100000,1000000");
    for (std::size_t pos = 0; pos < s.size();) {
      const auto comma = s.find(',', pos);
      sizes.push_back(std::strtoull(s.substr(pos, comma - pos).c_str(), nullptr, 10));
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }
  // Repetitions so each size gets roughly the same time budget, at least 5.
  const double budget_ms = a.num("--budget-ms", 1500);
  const std::size_t largest = *std::max_element(sizes.begin(), sizes.end());
  SyntheticEngine engine("patchtst", 20260110);
  std::vector<qsc::TradeIntent> all;
  all.reserve(largest);
  for (std::size_t i = 0; i < largest; ++i) {
    all.push_back(engine.next(1768000000000ULL + i, CanaryBehaviour::kHealthy));
  }
  for (const std::size_t n : sizes) {
    const std::span<const qsc::TradeIntent> events(all.data() + (largest - n), n);
    volatile std::size_t sink = 0;
    // Calibrate the repetitions with one run of the slowest measurement; at least 5 (the
    // large windows' timings vary with page faults and cache pollution from other processes).
    const double one =
        median_ms(1, [&] { sink = qsc::compute_window_stats(events).events; }).cpu_ms;
    const int reps = std::clamp(static_cast<int>(budget_ms / 4 / std::max(one, 1e-3)), 5, 200);
    const Timing stats = median_ms(reps, [&] { sink = qsc::compute_window_stats(events).events; });
    qsc::agent::GateRequest request;
    request.cutover_ms = static_cast<qsc::agent::EpochMs>(events.front().time_ms);
    request.window_events = n;
    qsc::agent::GateEvidence evidence;
    evidence.post = events;
    evidence.counts.accepted = n;
    evidence.source = "bench";
    // The built-in detectors' checks at their default thresholds, in-process: the gate's own
    // work is timed, not plugin loading.
    const qsc::agent::RunDetectors detectors = [](const qsc::CheckInput& in,
                                                  qsc::DetectorScope scope) {
      std::vector<qsc::agent::NamedCheck> out;
      if (scope == qsc::DetectorScope::kEachModel) {
        for (auto& [name, r] : qsc::gate_model(*in.canary, qsc::GateThresholds{}).checks) {
          out.push_back({name, r});
        }
      } else if (scope == qsc::DetectorScope::kEnsemble) {
        out.push_back(
            {"ensemble_dysfunction", qsc::check_ensemble_agreement(in.window->ensemble, 55, 80)});
        out.push_back({"model_chaos", qsc::check_model_chaos(in.window->ensemble, 20)});
      }
      return out;
    };
    bool pass = false;
    const Timing gate = median_ms(reps, [&] {
      auto r = qsc::agent::evaluate_gate(request, evidence, detectors);
      pass = r.pass;
      sink = r.events_analysed;
    });
    // The monitor's window at this size: the event-driven evaluation (canary + ensemble) and the
    // interval check (every model), plus the cost of folding one event in.
    qsc::agent::CanaryWindow window("patchtst", n);
    const double fill_cpu = thread_cpu_ms();
    for (const auto& e : events) window.add(e);
    const double add_ns = (thread_cpu_ms() - fill_cpu) * 1e6 / static_cast<double>(n);
    const Timing eval = median_ms(reps, [&] { sink = window.canary_stats().events; });
    const Timing exact = median_ms(reps, [&] { sink = window.canary_stats_exact().events; });
    const Timing full = median_ms(reps, [&] { sink = window.full_stats().events; });
    (void)sink;
    std::printf(
        "{\"n\": %zu, \"reps\": %d, \"window_stats_ms\": %.4f, \"gate_ms\": %.4f, "
        "\"monitor_eval_ms\": %.4f, \"monitor_full_ms\": %.4f, \"window_stats_wall_ms\": %.4f, "
        "\"gate_wall_ms\": %.4f, \"monitor_eval_wall_ms\": %.4f, \"monitor_full_wall_ms\": %.4f, "
        "\"gate_pass\": %s, \"window_add_cpu_ns\": %.1f, \"monitor_eval_exact_ms\": %.4f}\n",
        n, reps, stats.cpu_ms, gate.cpu_ms, eval.cpu_ms, full.cpu_ms, stats.wall_ms, gate.wall_ms,
        eval.wall_ms, full.wall_ms, pass ? "true" : "false", add_ns, exact.cpu_ms);
    std::fflush(stdout);
  }
  return 0;
}

// The evaluation step's per-event cost: window update + every detector, incremental against the
// full recomputation of the canary's window.
int evaluation(const Args& a) {
  const auto dir = a.get("--plugins");
  const auto events = static_cast<std::size_t>(a.num("--events", 200000));
  const auto window_events = static_cast<std::size_t>(a.num("--window", 2000));
  // --baseline 0 leaves the full recomputation out (to profile the incremental path alone).
  const bool with_baseline = a.num("--baseline", 1) != 0;
  // --hand-over 0 copies each event into the step (the const take_entry) from the same buffer:
  // the hand-over's own share, measured in one binary.
  const bool hand_over = a.num("--hand-over", 1) != 0;
  if (!dir || events == 0) return usage();
  qsc::agent::Config config;
  config.telemetry.window_events = window_events;
  auto host = qsc::agent::PluginHost::open(*dir, config.to_json());
  if (!host) {
    std::fprintf(stderr, "cannot load the plugins of %s: %s\n", dir->c_str(),
                 host.error().message.c_str());
    return 1;
  }
  std::size_t detectors = 0;
  for (const auto& r : host->records()) {
    if (r.loaded() && r.kind == "detector") ++detectors;
  }
  SyntheticEngine engine("patchtst", 20260110);
  std::vector<qsc::ParseOutcome> outcomes;
  outcomes.reserve(events);
  for (std::size_t i = 0; i < events; ++i) {
    outcomes.emplace_back(engine.next(1768000000000ULL + i, CanaryBehaviour::kHealthy));
  }
  // Two steps fed the same events; each chunk of events goes through one then the other, so
  // load changes on the shared machine hit both sides alike.
  // The baseline's detectors are instances of their own: a host's detectors keep the schedule
  // of the step that calls them (their verdict horizons, ABI 2.1), and stateful ones their
  // evidence, which one step's events must not share with the other's.
  auto baseline_host = qsc::agent::PluginHost::open(*dir, config.to_json());
  if (!baseline_host) {
    std::fprintf(stderr, "cannot load the plugins of %s: %s\n", dir->c_str(),
                 baseline_host.error().message.c_str());
    return 1;
  }
  qsc::agent::EvaluationStep incremental(config, "patchtst", *host);
  qsc::agent::EvaluationStep baseline(config, "patchtst", *baseline_host);
  constexpr std::size_t kChunk = 500;
  std::vector<double> inc_ns;
  std::vector<double> base_ns;
  std::vector<double> update_ns;
  std::size_t violations = 0;
  const auto now = [](std::size_t i) { return qsc::agent::StepTime(static_cast<long>(i) * 1000); };
  // The incremental step is handed each entry, as replay and the monitor hand theirs over
  // (EvaluationStep::take_entry's rvalue form: the event swapped into the step's held events):
  // from a chunk's buffer, assigned from `outcomes` before the chunk's timing (replay reads each
  // line into the storage the step gave back), so `outcomes` stays whole for the baseline.
  std::vector<qsc::ParseOutcome> handed(kChunk);
  for (std::size_t start = 0; start + kChunk <= events; start += kChunk) {
    for (std::size_t j = 0; j < kChunk; ++j) handed[j] = outcomes[start + j];
    double t0 = thread_cpu_ms();
    for (std::size_t i = start; i < start + kChunk; ++i) {
      if (hand_over) {
        incremental.take_entry(std::move(handed[i - start]), now(i));
      } else {
        incremental.take_entry(std::as_const(handed[i - start]), now(i));
      }
      // As replay and the worker evaluate on arrival: the figures only when a detector is called.
      violations += incremental.evaluate_on_arrival(now(i)).violated();
    }
    const double inc = thread_cpu_ms() - t0;
    t0 = thread_cpu_ms();
    for (std::size_t i = start; i < start + kChunk && with_baseline; ++i) {
      baseline.take_entry(outcomes[i], now(i));
      violations += baseline.evaluate(baseline.window().canary_stats_exact(), now(i)).violated();
    }
    const double base = thread_cpu_ms() - t0;
    // The steady state only: the first window's worth of events is a warm-up.
    if (start < window_events) continue;
    inc_ns.push_back(inc * 1e6 / kChunk);
    base_ns.push_back(base * 1e6 / kChunk);
  }
  {
    // The window update alone (CanaryWindow::add: the counts, the sums, the order statistics,
    // the vote tallies), for the split. Not a step's take_entry without evaluate: a step holds
    // its accepted events until its detectors have been shown them, so without evaluations its
    // held events grow without bound (allocations, page faults) where the incremental path's
    // are released at every evaluation.
    qsc::agent::CanaryWindow only_window("patchtst", window_events);
    for (std::size_t start = 0; start + kChunk <= events; start += kChunk) {
      const double t0 = thread_cpu_ms();
      for (std::size_t i = start; i < start + kChunk; ++i) {
        only_window.add(std::get<qsc::TradeIntent>(outcomes[i]));
      }
      if (start >= window_events) update_ns.push_back((thread_cpu_ms() - t0) * 1e6 / kChunk);
    }
  }
  const auto median = [](std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    return v[v.size() / 2];
  };
  const auto& counts = incremental.window().screen_counts();
  std::printf(
      "{\"events\": %zu, \"window_events\": %zu, \"detectors\": %zu, \"chunk_events\": %zu, "
      "\"chunks\": %zu, \"incremental_ns_per_event\": %.1f, \"baseline_ns_per_event\": %.1f, "
      "\"window_update_ns_per_event\": %.1f, \"violated_evaluations\": %zu, "
      "\"screen_evaluations\": %llu, \"screen_exact_canary\": %llu, "
      "\"screen_exact_ensemble\": %llu, \"skipped_checks\": %llu}\n",
      events, window_events, detectors, kChunk, inc_ns.size(), median(inc_ns), median(base_ns),
      median(update_ns), violations, static_cast<unsigned long long>(counts.evaluations),
      static_cast<unsigned long long>(counts.exact_canary),
      static_cast<unsigned long long>(counts.exact_ensemble),
      static_cast<unsigned long long>(incremental.skipped_checks()));
  return 0;
}

// A healthy recording in the `qsc telemetry --record` form for the replay benchmark: N events
// of the synthetic engine (four models, canary patchtst), S ms apart from T.
int write_recording(const Args& a) {
  const auto out = a.get("--out");
  const auto events = static_cast<std::uint64_t>(a.num("--events", 0));
  const auto start_ms = static_cast<std::uint64_t>(a.num("--start-ms", 0));
  const auto spacing_ms = static_cast<std::uint64_t>(a.num("--spacing-ms", 1));
  if (!out || events == 0 || start_ms == 0) return usage();
  std::FILE* f = std::fopen(out->c_str(), "wb");
  if (f == nullptr) {
    std::fprintf(stderr, "cannot write %s: %s\n", out->c_str(), std::strerror(errno));
    return 1;
  }
  qsc::agent::SyntheticEngine engine("patchtst", 42);
  for (std::uint64_t i = 0; i < events; ++i) {
    const auto e = engine.next(start_ms + i * spacing_ms, qsc::agent::CanaryBehaviour::kHealthy);
    const std::string id = std::to_string(e.time_ms) + "-" + std::to_string(e.seq);
    const auto line =
        qsc::agent::format_jsonl_entry(qsc::StreamEntry{id, qsc::agent::fields_for_event(e)});
    std::fwrite(line.data(), 1, line.size(), f);
    std::fputc('\n', f);
  }
  return std::fclose(f) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  Args a;
  for (int i = 2; i < argc; ++i) a.v.emplace_back(argv[i]);
  const std::string cmd = argv[1];
  if (cmd == "fill-redis") return fill_redis(a);
  if (cmd == "produce") return produce(a);
  if (cmd == "scaling") return scaling(a);
  if (cmd == "evaluation") return evaluation(a);
  if (cmd == "write-recording") return write_recording(a);
  return usage();
}

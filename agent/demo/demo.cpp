// The demo: one process for the agent's side (gate, activate, monitor), one forked child for the
// synthetic engine, a shared-memory ring between them, and a small shared page through which
// the agent tells the engine when its canary should collapse.
#include "demo/demo.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <thread>

#include "core/audit_log.hpp"
#include "core/files.hpp"
#include "demo/synthetic_engine.hpp"
#include "lifecycle/builtin_rollback.hpp"
#include "lifecycle/canary.hpp"
#include "lifecycle/services.hpp"
#include "monitor/monitor.hpp"
#include "qsc/ipc/ring.hpp"

namespace qsc::agent {
namespace {

namespace fs = std::filesystem;
constexpr const char* kCanary = "patchtst";

// Shared between the agent and the forked engine (MAP_SHARED anonymous page).
struct EngineControl {
  std::atomic<std::int64_t> collapse_at_ms{0};  // 0 = stay healthy
  std::atomic<std::uint64_t> published{0};
  std::atomic<std::int64_t> collapse_started_ms{0};
};

[[noreturn]] void engine_main(const std::string& ring, EngineControl* control, double rate,
                              EpochMs cutover_ms) {
  // The engine must never outlive the demo, whatever happens to the parent.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  auto producer = ipc::RingProducer::open({.name = ring});
  if (!producer) {
    std::cerr << "demo engine: " << producer.error().message << "\n";
    ::_exit(2);
  }
  SyntheticEngine engine(kCanary, 20260110);
  // Before the cutover: a minute of history for the gate's pre/post comparison.
  for (int i = 0; i < 400; ++i) {
    (void)producer->publish(engine.next(static_cast<std::uint64_t>(cutover_ms - 60'000 + i * 150),
                                        CanaryBehaviour::kHealthy));
  }
  const auto batch = std::max(1, static_cast<int>(rate / 100.0));  // one batch every 10 ms
  auto next = std::chrono::steady_clock::now();
  for (;;) {
    const EpochMs now = now_ms();
    const auto at = control->collapse_at_ms.load(std::memory_order_relaxed);
    const bool collapse = at != 0 && now >= at;
    if (collapse && control->collapse_started_ms.load(std::memory_order_relaxed) == 0) {
      control->collapse_started_ms.store(now, std::memory_order_relaxed);
    }
    for (int i = 0; i < batch; ++i) {
      (void)producer->publish(
          engine.next(static_cast<std::uint64_t>(now),
                      collapse ? CanaryBehaviour::kHoldCollapse : CanaryBehaviour::kHealthy));
    }
    control->published.fetch_add(static_cast<std::uint64_t>(batch), std::memory_order_relaxed);
    next += std::chrono::milliseconds(10);
    std::this_thread::sleep_until(next);
  }
}

Config demo_config(const DemoOptions& o, const std::string& ring) {
  Config c;
  c.loaded_from = "qsc demo";
  c.telemetry.source = "shm";
  c.telemetry.shm_name = ring;
  c.telemetry.min_events = 200;
  c.telemetry.window_events = 1000;
  c.telemetry.stale_after = std::chrono::seconds(5);
  c.canary.duration = o.duration;
  c.canary.interval = o.interval;
  const fs::path d = o.dir;
  c.paths.live_weights = (d / "data/live_model_weights.json").string();
  c.paths.baseline_weights = (d / kDefaultBaselineWeights).string();
  c.paths.canary_weights = (d / kDefaultCanaryWeights).string();
  c.paths.override_dir = (d / kDefaultOverrideDir).string();
  c.paths.audit_log = (d / "logs/qsc_canary.jsonl").string();
  c.paths.reports_dir = (d / "reports/safety").string();
  c.paths.state = (d / "data/qsc_state.json").string();
  c.systemd.dropin_dir = (d / "systemd" / (std::string(kDefaultUnit) + ".d")).string();
  // No real unit to restart here: the demo runs the rollback and notify actions only.
  c.plugins.actions = {"rollback", "notify"};
  c.sha256 = config_sha256(c);
  return c;
}

void stop_engine(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

}  // namespace

int run_demo(const DemoOptions& o) {
  if (o.scenario != "collapse" && o.scenario != "healthy") {
    std::cerr << "qsc demo: unknown scenario \"" << o.scenario << "\": use collapse or healthy\n";
    return 2;
  }
  const std::string ring = "qsc_demo_" + std::to_string(::getpid());
  const Config cfg = demo_config(o, ring);
  // A fresh start: the demo's own files only, never anything outside its directory.
  for (const auto& sub : {"data", "logs", "reports"}) {
    std::error_code ec;
    fs::remove_all(fs::path(o.dir) / sub, ec);
  }
  Weights live(cfg.canary.default_weights.begin(), cfg.canary.default_weights.end());
  if (auto s = write_file_atomic(cfg.paths.live_weights, weights_json(live)); !s) {
    std::cerr << "qsc demo: " << s.error().message << "\n";
    return 2;
  }

  void* page = ::mmap(nullptr, sizeof(EngineControl), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) {
    std::cerr << "qsc demo: cannot map the control page\n";
    return 2;
  }
  auto* control = new (page) EngineControl();
  const EpochMs cutover = now_ms() - 1000;
  std::cout << "QSC demo: a synthetic engine publishes " << o.events_per_second
            << " trade intents/s for xgb, lgbm, nhits and patchtst into the shared-memory ring "
            << ring << ".\n\n";
  std::cout.flush();
  const pid_t engine = ::fork();
  if (engine == 0) engine_main(ring, control, o.events_per_second, cutover);
  auto cleanup = [&] {
    stop_engine(engine);
    (void)ipc::remove_ring(ring);
    ::munmap(page, sizeof(EngineControl));
  };
  if (engine < 0) {
    cleanup();
    std::cerr << "qsc demo: cannot start the engine\n";
    return 2;
  }

  // Step 1: telemetry. Wait for the runbook's minimum after the cutover (plus a margin).
  std::cout << "Step 1 - telemetry: waiting for " << cfg.telemetry.min_events
            << " post-cutover events...\n";
  while (control->published.load() < cfg.telemetry.min_events * 2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto source = open_source(cfg);
  if (!source) {
    cleanup();
    std::cerr << "qsc demo: " << source.error().message << "\n";
    return 2;
  }

  // The gate judges with the loaded detectors, the ones that will watch the canary.
  auto host = open_plugin_host(cfg, LibraryDigests::kSkip);
  if (!host) {
    cleanup();
    std::cerr << "qsc demo: plugins: " << host.error().message << "\n";
    return 2;
  }

  // Step 2: the quality gate.
  std::cout << "\nStep 2 - quality gate (qsc gate --after " << format_iso(cutover) << ")\n";
  auto gate = run_gate(cfg, **host, **source, cutover);
  if (!gate) {
    cleanup();
    std::cerr << "qsc demo: " << gate.error().message << "\n";
    return 2;
  }
  auto report = write_gate_report(*gate, cfg.paths.reports_dir);
  std::cout << "  " << gate->events_analysed << " post-cutover events analyzed\n"
            << (gate->pass ? "✅ QUALITY GATE: PASS" : "❌ QUALITY GATE: FAIL (BLOCKER)") << "\n";
  for (const auto& b : gate->blockers) std::cout << "   ❌ " << b << "\n";
  if (report) std::cout << "   Report: " << *report << "\n";
  if (!gate->pass) {
    cleanup();
    return 2;
  }

  // Step 3: activation.
  std::cout << "\nStep 3 - activate " << kCanary << " at 10% (qsc activate --model " << kCanary
            << " --cutover ...)\n";
  LifecycleContext lc{cfg, actions_of(**host), action_flags_of(host->get())};
  auto activated = activate_canary(lc, kCanary, cfg.canary.weight, *gate);
  if (activated.exit_code != 0) {
    cleanup();
    std::cerr << "qsc demo: " << activated.message << "\n";
    return 2;
  }
  std::cout << "[ACTIVATED] CANARY ACTIVATED\n"
            << format_weights_block(activated.state.weights, kCanary, cfg.canary.models);
  host->reset();

  // Step 4: monitoring; the canary collapses into HOLD a few seconds in.
  const bool collapse = o.scenario == "collapse";
  if (collapse) {
    control->collapse_at_ms.store(now_ms() + o.collapse_after.count());
    std::cout << "\nStep 4 - monitor (qsc monitor): " << kCanary << " will collapse into HOLD in "
              << o.collapse_after.count() / 1000.0 << " s\n\n";
  } else {
    std::cout << "\nStep 4 - monitor (qsc monitor): a healthy canary for "
              << o.duration.count() / 1000 << " s\n\n";
  }
  std::cout.flush();
  MonitorOptions mo;
  const int rc = run_monitor(cfg, mo);
  const auto collapse_ms = control->collapse_started_ms.load();
  cleanup();

  // Step 5: what happened, and where to look.
  std::cout << "\nStep 5 - result\n";
  if (collapse && rc == 1) {
    auto entries = AuditLog(cfg).read_all();
    if (entries) {
      for (const auto& e : *entries) {
        if (e.value("action", "") != "rollback_executed") continue;
        const auto& d = e["figures"]["detection"];
        const auto detected_us = d.value("detected_at_us", std::int64_t{0});
        std::cout << "  Detection latency: " << d.value("detection_latency_ms", 0.0)
                  << " ms from the triggering event's publish to the rollback";
        if (collapse_ms > 0) {
          std::cout << "; "
                    << (static_cast<double>(detected_us) / 1000.0 -
                        static_cast<double>(collapse_ms)) /
                           1000.0
                    << " s from the first collapsed event (the window had to fill with HOLD)";
        }
        std::cout << "\n";
      }
    }
  }
  std::cout << "  Files (under " << o.dir << "/):\n    " << cfg.paths.audit_log
            << "   (audit log: jq 'select(.action==\"rollback_executed\")')\n    "
            << cfg.paths.reports_dir << "/   (gate report, scoreboard_latest.md)\n    "
            << cfg.paths.live_weights << "   (live weights, restored on rollback)\n    "
            << cfg.paths.state << "\n";
  const bool expected = collapse ? rc == 1 : rc == 0;
  std::cout << (expected ? "\nDemo finished as expected.\n" : "\nDemo did NOT end as expected.\n");
  return expected ? 0 : 2;
}

}  // namespace qsc::agent

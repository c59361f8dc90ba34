// The supervisor loop: every 20 ms, has the worker exited, is it still beating, is it within
// its memory; forward SIGTERM/SIGINT/SIGHUP; feed systemd's watchdog while the worker is alive.
#include "supervisor/supervisor.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>
#include <thread>

#include "core/duration.hpp"
#include "lifecycle/state.hpp"
#include "metrics/metrics_endpoint.hpp"
#include "monitor/sd_notify.hpp"
#include "monitor/signals.hpp"
#include "supervisor/crash_loop.hpp"
#include "supervisor/heartbeat_block.hpp"
#include "supervisor/memory_limit.hpp"
#include "supervisor/supervisor_rollback.hpp"
#include "supervisor/worker_launch.hpp"

namespace qsc::agent {
namespace {

using std::chrono::milliseconds;

// The worker's liveness, heartbeat and resident set are all read at this period (statm is one
// short read): a plugin touching memory at a page-fault-bound rate gets at most one period past
// plugins.max_rss before it is killed.
constexpr milliseconds kPollInterval{20};
// Starting the worker (exec, configuration, telemetry source) is host code that does not beat;
// loading the plugins does, and is timed per plugin like every other plugin call.
constexpr std::int64_t kStartupGraceMs = 10'000;
// The worker's own code (fsynced audit entries, state and scoreboard writes) beats less often
// than it calls plugins; a slow disk must not roll a healthy canary back, so outside plugin
// calls the heartbeat may lag by this much before the worker counts as hung. Plugin calls are
// held to plugins.check_timeout exactly. A minute, not seconds: on a loaded two-core machine a
// check's three fsyncs were seen to stall the worker for over 10 s (a healthy canary was rolled
// back as "worker failed"); a worker stuck in the host's own code is a bug, and a minute to
// notice it is the price of never rolling back for a slow disk.
constexpr std::int64_t kHostHeartbeatFloorMs = 60'000;
// A worker asked to stop logs monitoring_interrupted and exits at once; one that does not
// within this is killed, and the canary left as a stop leaves it.
constexpr milliseconds kStopGrace{30'000};

std::string signal_name(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

std::string mib(std::uint64_t bytes) {
  return std::to_string(bytes >> 20) + " MiB";
}

class Supervisor {
 public:
  explicit Supervisor(const Config& config) : cfg_(config) {}

  int run() {
    auto session = open_monitor_session(cfg_);
    if (!session) return error(session.error().message);
    if (session->crash_loop) {
      SupervisorIncident incident;
      incident.trigger = "qsc_monitor_crash_loop";
      incident.failure = "the monitor ended uncleanly " + std::to_string(session->unclean_ends) +
                         " times for this canary (more than canary.max_restarts = " +
                         std::to_string(cfg_.canary.max_restarts) +
                         "): it cannot judge the canary, so it is rolled back instead of resumed";
      incident.figures = {
          {"monitor",
           {{"unclean_ends", session->unclean_ends}, {"max_restarts", cfg_.canary.max_restarts}}}};
      return supervisor_rollback(cfg_, incident);
    }
    tracked_ = session->tracked;
    auto argv = own_command_line();
    if (!argv) return finish(error(argv.error().message));
    argv->push_back(kWorkerFlag);
    auto block = HeartbeatBlock::create();
    if (!block) return finish(error(block.error().message));
    block_.emplace(std::move(block).value());
    install_signal_flags();
    block_->allow_host_work(kStartupGraceMs);
    auto pid = launch_worker(*argv, block_->fd(), cfg_.plugins.max_rss_bytes);
    if (!pid) return finish(error(pid.error().message));
    worker_ = *pid;
    worker_rss_.emplace(worker_);
    return watch();
  }

 private:
  int error(const std::string& message) {
    std::cerr << "qsc monitor: " << message << "\n";
    return 2;
  }

  // The session ends here whenever the supervisor ends by itself.
  int finish(int code) {
    if (tracked_) close_monitor_session(cfg_);
    return code;
  }

  int watch() {
    const auto timeout_ns =
        static_cast<std::int64_t>(cfg_.plugins.check_timeout.count()) * 1'000'000;
    const auto host_timeout_ns =
        std::max<std::int64_t>(timeout_ns, kHostHeartbeatFloorMs * 1'000'000);
    const auto watchdog = sd_watchdog_interval();
    auto last_watchdog = std::chrono::steady_clock::now();
    std::optional<std::chrono::steady_clock::time_point> stop_sent;
    for (;;) {
      int status = 0;
      const pid_t got = ::waitpid(worker_, &status, WNOHANG);
      if (got == worker_) return worker_ended(status);
      if (stop_requested() && !stop_sent) {
        ::kill(worker_, SIGTERM);
        stop_sent = std::chrono::steady_clock::now();
      }
      if (stop_sent && std::chrono::steady_clock::now() - *stop_sent > kStopGrace) {
        ::kill(worker_, SIGKILL);
        ::waitpid(worker_, &status, 0);
        return finish(error("the worker did not stop within " + format_duration(kStopGrace) +
                            " of SIGTERM and was killed; the canary is left as it is"));
      }
      if (take_reload_request()) ::kill(worker_, SIGHUP);

      const auto now = monotonic_ns();
      const auto plugin_started = block_->plugin_started_ns();
      if (plugin_started != 0 && now - plugin_started > timeout_ns) {
        return fail_killed("a plugin call ran past plugins.check_timeout (" +
                               format_duration(cfg_.plugins.check_timeout) + ")",
                           plugin_started);
      }
      const auto last_beat = block_->heartbeat_ns();
      if (plugin_started == 0 && now - last_beat > host_timeout_ns &&
          now > block_->host_work_until_ns()) {
        return fail_killed("the worker missed its heartbeat for " +
                               format_duration(milliseconds(host_timeout_ns / 1'000'000)),
                           last_beat);
      }
      if (const auto rss = worker_rss_->bytes(); rss && *rss > cfg_.plugins.max_rss_bytes) {
        return fail_killed("the worker's resident memory " + mib(*rss) +
                               " exceeded plugins.max_rss (" + mib(cfg_.plugins.max_rss_bytes) +
                               ")",
                           now);
      }
      // The watchdog is fed only while the worker beats: a stuck supervisor or a worker
      // that the checks above have not caught yet both stop it.
      if (watchdog && now - last_beat <= host_timeout_ns &&
          std::chrono::steady_clock::now() - last_watchdog >= *watchdog / 2) {
        sd_notify_send("WATCHDOG=1");
        last_watchdog = std::chrono::steady_clock::now();
      }
      std::this_thread::sleep_for(kPollInterval);
    }
  }

  int worker_ended(int status) {
    const auto now = monotonic_ns();
    if (WIFEXITED(status)) {
      const int code = WEXITSTATUS(status);
      // The monitor's own outcomes (clean, rolled back, error or interrupted, inconclusive).
      // An exit code is a claim, not a fact: a runtime that turns a crash into exit(1) (a
      // sanitizer's fault handler, say) must not read as "rolled back". Clean, rolled back and
      // inconclusive are checked against the state the worker must have written for them.
      if (code >= 0 && code <= 3) {
        if (auto broken = claim_not_in_state(code); !broken.empty()) {
          return fail("the worker exited " + std::to_string(code) + " but " + broken,
                      block_->plugin(), block_->activity(), code, 0, now);
        }
        return finish(code);
      }
      if (code == kWorkerPluginFailedExit) {
        auto failure = block_->failure();
        return fail("a plugin failed as it was loaded: " +
                        (failure.empty() ? std::string("no detail") : failure),
                    plugin_named_in(failure), "load", code, 0, now);
      }
      if (code == kWorkerAllocationRefusedExit) {
        auto failure = block_->failure();
        return fail(failure.empty() ? std::string("an allocation inside a plugin call was refused")
                                    : failure,
                    block_->plugin(), block_->activity(), code, 0, now);
      }
      return fail("the worker exited with code " + std::to_string(code) +
                      ", which the monitor never returns",
                  block_->plugin(), block_->activity(), code, 0, now);
    }
    const int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return fail("the worker died of " + signal_name(sig), block_->plugin(), block_->activity(), -1,
                sig, now);
  }

  // Why the state on disk contradicts the worker's exit code (empty when it agrees): 1 needs
  // the canary rolled back (or the rollback found incomplete), 0 and 3 a completed period.
  std::string claim_not_in_state(int code) const {
    if (code == 2) return {};  // error or interrupted: the canary is left as it is
    auto state = load_state(cfg_.paths.state);
    if (!state) return "its state cannot be read: " + state.error().message;
    const Phase phase = state->phase;
    if (code == 1 && phase != Phase::kRolledBack && phase != Phase::kRollbackIncomplete) {
      return "the state says " + phase_name(phase) + ", not rolled back";
    }
    if ((code == 0 || code == 3) && phase != Phase::kCompleted) {
      return "the state says " + phase_name(phase) + ", not a completed period";
    }
    return {};
  }

  // The plugin that the worker's refusal names ("plugin NAME: ..."), if any.
  static std::string plugin_named_in(const std::string& failure) {
    const std::string marker = "plugin ";
    const auto at = failure.find(marker);
    if (at == std::string::npos) return {};
    const auto start = at + marker.size();
    const auto end = failure.find(':', start);
    if (end == std::string::npos) return {};
    return failure.substr(start, end - start);
  }

  int fail_killed(const std::string& why, std::int64_t fault_ns) {
    // Read before the kill: a dying worker writes nothing, but a live one might move on.
    const auto plugin = block_->plugin();
    const auto activity = block_->activity();
    ::kill(worker_, SIGKILL);
    int status = 0;
    ::waitpid(worker_, &status, 0);
    return fail(why + "; killed it", plugin, activity, -1, SIGKILL, fault_ns);
  }

  int fail(const std::string& why, const std::string& plugin, const std::string& activity,
           int exit_code, int sig, std::int64_t fault_ns) {
    SupervisorIncident incident;
    incident.trigger = "qsc_monitor_worker_failed";
    incident.plugin = plugin;
    incident.failure = "Monitor worker failed" +
                       (plugin.empty() ? std::string(" outside plugin code")
                                       : " in plugin " + plugin + " (" + activity + ")") +
                       ": " + why;
    incident.fault_ns = fault_ns;
    incident.figures = {
        {"worker",
         {{"plugin", plugin},
          {"activity", activity},
          {"exit_code", exit_code},
          {"signal", sig == 0 ? std::string() : signal_name(sig)},
          {"check_timeout_ms", cfg_.plugins.check_timeout.count()},
          {"max_rss_bytes", cfg_.plugins.max_rss_bytes},
          {"address_space_limit_bytes",
           address_space_limit_usable() ? address_space_backstop_bytes(cfg_.plugins.max_rss_bytes)
                                        : 0}}}};
    // supervisor_rollback logs the failure with the canary and the trigger.
    return finish(supervisor_rollback(cfg_, incident));
  }

  const Config& cfg_;
  std::optional<HeartbeatBlock> block_;
  pid_t worker_ = -1;
  std::optional<ResidentSetReader> worker_rss_;  // its /proc/PID/statm, kept open
  bool tracked_ = false;
};

}  // namespace

int run_supervised_monitor(const Config& config) {
  // The endpoint belongs to the supervisor, so it outlives the worker (issue 18).
  auto endpoint = metrics::MetricsEndpoint::start(config);
  if (!endpoint) {
    std::cerr << "qsc monitor: " << endpoint.error().message << "\n";
    return 2;
  }
  const int code = Supervisor(config).run();
  if (*endpoint) {
    const auto watchdog = sd_watchdog_interval();
    (*endpoint)->linger([&watchdog] {
      if (watchdog) sd_notify_send("WATCHDOG=1\nSTATUS=monitor ended; serving the final metrics");
    });
  }
  return code;
}

}  // namespace qsc::agent

// The supervisor loop: has the worker exited, is it still beating, is it within its memory;
// forward SIGTERM/SIGINT/SIGHUP; feed systemd's watchdog while the worker is alive. It sleeps in
// ppoll on a pidfd of the worker with the forwarded signals unblocked, so the worker's exit and
// a signal wake it at once; the timeout is the next thing that needs looking at (a plugin call's
// deadline, the resident-set round, the watchdog). The resident-set round: where the kernel lets
// the supervisor count the worker's page faults (fault_watch.hpp), they wake it before they could
// have brought the worker to plugins.max_rss, and the round is a 250 ms backstop; elsewhere, and
// while the worker is faulting fast, 20-250 ms by the worker's headroom under plugins.max_rss.
#include "supervisor/supervisor.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <chrono>
#include <functional>
#include <iostream>
#include <optional>
#include <vector>

#include <spdlog/spdlog.h>

#include "core/duration.hpp"
#include "lifecycle/state.hpp"
#include "metrics/metrics_endpoint.hpp"
#include "monitor/sd_notify.hpp"
#include "monitor/signals.hpp"
#include "supervisor/crash_loop.hpp"
#include "supervisor/fault_watch.hpp"
#include "supervisor/heartbeat_block.hpp"
#include "supervisor/memory_limit.hpp"
#include "supervisor/supervisor_rollback.hpp"
#include "supervisor/worker_launch.hpp"

namespace qsc::agent {
namespace {

using std::chrono::milliseconds;

// The shortest round. The resident set is read at this period once it is within
// kFastestGrowthBytesPerSecond x 20 ms of plugins.max_rss (and, without a pidfd, the worker's
// exit is polled at it): a plugin growing the resident set at up to that rate gets at most one
// such period of growth past plugins.max_rss before it is killed, as when every round was 20 ms.
constexpr milliseconds kPollInterval{20};
// The longest round (a large plugins.max_rss far above the worker's resident set, no plugin call
// near its deadline). A round costs about 45 us of CPU here, nearly all of it the wake-up itself
// (docs/PERFORMANCE.md, "Session 14: the supervisor's idle cost"): 50 rounds a second were
// 0.19% of a core, the most of issue 17's 0.5% budget for supervisor and worker together.
constexpr milliseconds kLongestRound{250};
// How fast a plugin can grow the worker's resident set, for spacing the rounds: the next round
// is due before a plugin growing this fast could reach plugins.max_rss from the resident set
// just read (at the default 512 MiB and a worker of about 25 MiB: every 40 ms). Measured here
// (tests/bench/supervisor/fault_rate.c, quiet machine): one thread touching fresh pages grows
// by 2.4-2.6 GiB/s with 4 KiB pages, by 10.0-11.2 GiB/s with MADV_HUGEPAGE (or THP "always");
// 12 GiB/s covers both. Growth at r faster than this overshoots by at most
// (r / 12 GiB/s - 1) x the headroom the last round saw, which at the default stays under the
// old bound (r x 20 ms) up to r = 24 GiB/s; never past the address-space backstop
// (memory_limit.hpp).
constexpr std::uint64_t kFastestGrowthBytesPerSecond = 12ull << 30;
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

// SIGTERM/SIGINT/SIGHUP blocked in this thread while it lives; unblocked() is the mask to wait
// with (the thread's mask before, which lets them in).
class ForwardedSignalsHeld {
 public:
  ForwardedSignalsHeld() {
    sigset_t forwarded;
    sigemptyset(&forwarded);
    sigaddset(&forwarded, SIGTERM);
    sigaddset(&forwarded, SIGINT);
    sigaddset(&forwarded, SIGHUP);
    ::pthread_sigmask(SIG_BLOCK, &forwarded, &before_);
    unblocked_ = before_;
    sigdelset(&unblocked_, SIGTERM);
    sigdelset(&unblocked_, SIGINT);
    sigdelset(&unblocked_, SIGHUP);
  }
  // One that arrived after the last wait is delivered here, so its flag is set as before.
  ~ForwardedSignalsHeld() { ::pthread_sigmask(SIG_SETMASK, &before_, nullptr); }
  ForwardedSignalsHeld(const ForwardedSignalsHeld&) = delete;
  ForwardedSignalsHeld& operator=(const ForwardedSignalsHeld&) = delete;
  const sigset_t* unblocked() const noexcept { return &unblocked_; }

 private:
  sigset_t before_{};
  sigset_t unblocked_{};
};

// A pidfd of the worker (Linux 5.3): readable once it has exited, so the wait ends at once.
// Invalid (fd -1) where pidfd_open is missing or refused; the loop then polls waitpid every
// kPollInterval as before.
class ChildExitFd {
 public:
  explicit ChildExitFd(pid_t pid) noexcept
      : fd_(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))) {}
  ~ChildExitFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  ChildExitFd(const ChildExitFd&) = delete;
  ChildExitFd& operator=(const ChildExitFd&) = delete;
  bool valid() const noexcept { return fd_ >= 0; }
  int fd() const noexcept { return fd_; }

 private:
  int fd_;
};

// What ended a wait.
struct Woken {
  bool may_have_exited = true;    // false when the pidfd says the worker still runs
  bool by_faults = false;         // the page-fault watch's fds were readable
  bool fault_watch_gone = false;  // one of them reported POLLHUP or POLLERR
};

// Sleeps until CLOCK_MONOTONIC `wake_ns`, the worker's exit, a forwarded signal (taken with
// `mask` in place) or, with `watch_faults`, the page-fault watch. `polls` holds the pidfd (fd -1,
// which ppoll skips, where there is none) and then the watch's fds. may_have_exited is false when
// the pidfd says the worker is still running: waitpid is not worth a system call then.
Woken wait_for_exit_or_signal(const ChildExitFd& exit_fd, std::vector<pollfd>& polls,
                              bool watch_faults, std::int64_t wake_ns, const sigset_t* mask) {
  const auto left_ns = std::max<std::int64_t>(0, wake_ns - monotonic_ns());
  const timespec timeout{static_cast<time_t>(left_ns / 1'000'000'000),
                         static_cast<long>(left_ns % 1'000'000'000)};
  const nfds_t count = watch_faults ? polls.size() : 1;
  for (nfds_t i = 0; i < count; ++i) polls[i].revents = 0;
  Woken woken;
  const int ready = ::ppoll(polls.data(), count, &timeout, mask);
  if (ready < 0 && errno != EINTR) {
    // Never a busy loop: a ppoll that cannot wait (it should not happen) still sleeps.
    ::clock_nanosleep(CLOCK_MONOTONIC, 0, &timeout, nullptr);
    return woken;
  }
  if (ready <= 0) {
    woken.may_have_exited = ready < 0 || !exit_fd.valid();
    return woken;
  }
  woken.may_have_exited = !exit_fd.valid() || polls[0].revents != 0;
  for (nfds_t i = 1; i < count; ++i) {
    if (polls[i].revents & (POLLHUP | POLLERR | POLLNVAL)) woken.fault_watch_gone = true;
    if (polls[i].revents & POLLIN) woken.by_faults = true;
  }
  return woken;
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
    auto pid = launch_worker(*argv, block_->fd(), cfg_.plugins.max_rss_bytes,
                             [this](pid_t child) { open_fault_watch(child); });
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

  // The page-fault watch on the worker, opened before its exec (one thread then: launch_worker),
  // or the reason there is none. Logged once either way.
  void open_fault_watch(pid_t child) {
    if (cfg_.plugins.memory_watch == "rounds") {
      memory_watch_note_ = "plugins.memory_watch is \"rounds\"";
    } else if (auto watch = FaultWatch::open(child, cfg_.plugins.max_rss_bytes / 2)) {
      fault_watch_.emplace(std::move(watch).value());
    } else {
      memory_watch_note_ = watch.error().message;
    }
    if (fault_watch_) {
      spdlog::info("supervisor: memory watch: {}; resident-set rounds every {} ms otherwise",
                   fault_watch_->describe(), backstop_round_ms());
    } else {
      spdlog::info(
          "supervisor: memory watch: resident-set rounds spaced by the headroom under "
          "plugins.max_rss (20-{} ms), no page-fault watch: {}",
          kLongestRound.count(), memory_watch_note_);
    }
  }

  // The longest round: never longer than check_timeout, so that a plugin call that starts just
  // after a round is seen before its deadline.
  std::int64_t backstop_round_ms() const {
    return std::max<std::int64_t>(
        kPollInterval.count(),
        std::min<std::int64_t>(kLongestRound.count(),
                               static_cast<std::int64_t>(cfg_.plugins.check_timeout.count())));
  }

  // Whether the next wait may rest on the page-fault watch: it is open, the worker's headroom
  // under plugins.max_rss holds the growth within which the watch wakes the supervisor, and the
  // faults since the last round did not reach a wake (a worker faulting that fast is watched by
  // the headroom-spaced rounds instead, not woken every Q faults). The rings were emptied by
  // this round, so each has room for its Q records again.
  bool rest_on_fault_watch(std::optional<std::uint64_t> rss, bool exit_wakes_us,
                           const FaultWatch::Drained& drained) const {
    if (!fault_watch_ || !exit_wakes_us || !rss || *rss >= cfg_.plugins.max_rss_bytes) {
      return false;
    }
    return cfg_.plugins.max_rss_bytes - *rss >= fault_watch_->wake_within_bytes() &&
           drained.most_on_one_cpu < fault_watch_->wake_faults_per_cpu();
  }

  // The next round's distance: short near plugins.max_rss, long far from it (see
  // kFastestGrowthBytesPerSecond), never longer than check_timeout (so a plugin call that starts
  // just after a round is seen before its deadline) nor, without a pidfd, than kPollInterval.
  std::int64_t round_ns(std::optional<std::uint64_t> rss, bool exit_wakes_us) const {
    constexpr std::int64_t kShortestNs = kPollInterval.count() * 1'000'000;
    if (!exit_wakes_us || !rss || *rss >= cfg_.plugins.max_rss_bytes) return kShortestNs;
    const std::uint64_t headroom_ms =
        (cfg_.plugins.max_rss_bytes - *rss) / (kFastestGrowthBytesPerSecond / 1000);
    const auto ms = std::clamp<std::int64_t>(
        static_cast<std::int64_t>(std::min<std::uint64_t>(headroom_ms, 1'000'000)),
        kPollInterval.count(), backstop_round_ms());
    return ms * 1'000'000;
  }

  // The forwarded signals are held only while watching: what the outcome runs (the rollback's
  // children, the session's end) has the thread's own mask again.
  int watch() { return watch_until_outcome()(); }

  std::function<int()> watch_until_outcome() {
    const auto timeout_ns =
        static_cast<std::int64_t>(cfg_.plugins.check_timeout.count()) * 1'000'000;
    const auto host_timeout_ns =
        std::max<std::int64_t>(timeout_ns, kHostHeartbeatFloorMs * 1'000'000);
    const auto watchdog = sd_watchdog_interval();
    const std::int64_t watchdog_feed_ns =
        watchdog ? std::chrono::duration_cast<std::chrono::nanoseconds>(*watchdog).count() / 2 : 0;
    std::int64_t last_watchdog_ns = monotonic_ns();
    constexpr std::int64_t kStopGraceNs =
        std::chrono::duration_cast<std::chrono::nanoseconds>(kStopGrace).count();
    std::optional<std::int64_t> stop_sent_ns;
    // The forwarded signals stay blocked in this thread except inside ppoll, which unblocks them
    // atomically: one that arrives while a round runs is taken by the next ppoll at once instead
    // of being missed until its timeout. (The endpoint's threads block them from their start:
    // run_supervised_monitor.)
    ForwardedSignalsHeld held;
    const ChildExitFd exit_fd(worker_);
    bool may_have_exited = true;
    bool woken_by_faults = false;
    std::vector<pollfd> polls{{exit_fd.valid() ? exit_fd.fd() : -1, POLLIN, 0}};
    if (fault_watch_) {
      for (const int fd : fault_watch_->fds()) polls.push_back({fd, POLLIN, 0});
    }
    for (;;) {
      int status = 0;
      if (may_have_exited) {
        const pid_t got = ::waitpid(worker_, &status, WNOHANG);
        if (got == worker_) return [this, status] { return worker_ended(status); };
      }
      auto now = monotonic_ns();
      if (stop_requested() && !stop_sent_ns) {
        ::kill(worker_, SIGTERM);
        stop_sent_ns = now;
      }
      if (stop_sent_ns && now - *stop_sent_ns > kStopGraceNs) {
        ::kill(worker_, SIGKILL);
        ::waitpid(worker_, &status, 0);
        return [this] {
          return finish(error("the worker did not stop within " + format_duration(kStopGrace) +
                              " of SIGTERM and was killed; the canary is left as it is"));
        };
      }
      if (take_reload_request()) ::kill(worker_, SIGHUP);

      const auto plugin_started = block_->plugin_started_ns();
      if (plugin_started != 0 && now - plugin_started > timeout_ns) {
        return kill_then_fail("a plugin call ran past plugins.check_timeout (" +
                                  format_duration(cfg_.plugins.check_timeout) + ")",
                              plugin_started);
      }
      const auto last_beat = block_->heartbeat_ns();
      const auto host_work_until = block_->host_work_until_ns();
      if (plugin_started == 0 && now - last_beat > host_timeout_ns && now > host_work_until) {
        return kill_then_fail("the worker missed its heartbeat for " +
                                  format_duration(milliseconds(host_timeout_ns / 1'000'000)),
                              last_beat);
      }
      const auto rss = worker_rss_->bytes();
      const auto drained = fault_watch_ ? fault_watch_->drain() : FaultWatch::Drained{};
      faults_counted_ += drained.faults;
      if (woken_by_faults) ++fault_wakes_;
      if (rss && *rss > cfg_.plugins.max_rss_bytes) {
        return kill_then_fail("the worker's resident memory " + mib(*rss) +
                                  " exceeded plugins.max_rss (" + mib(cfg_.plugins.max_rss_bytes) +
                                  ")",
                              now);
      }
      // The watchdog is fed only while the worker beats: a stuck supervisor or a worker
      // that the checks above have not caught yet both stop it.
      if (watchdog && now - last_beat <= host_timeout_ns &&
          now - last_watchdog_ns >= watchdog_feed_ns) {
        sd_notify_send("WATCHDOG=1");
        last_watchdog_ns = now;
      }

      // Each deadline below is one at which a check above would act (or 1 ns past it, as the
      // checks compare with ">"); the round bounds the rest (a plugin call not yet seen, the
      // resident set's growth, a heartbeat that may stop).
      const bool on_faults = rest_on_fault_watch(rss, exit_fd.valid(), drained);
      auto wake_ns =
          now + (on_faults ? backstop_round_ms() * 1'000'000 : round_ns(rss, exit_fd.valid()));
      if (plugin_started != 0) wake_ns = std::min(wake_ns, plugin_started + timeout_ns + 1);
      if (plugin_started == 0) {
        wake_ns = std::min(wake_ns, std::max(last_beat + host_timeout_ns, host_work_until) + 1);
      }
      // (A feed held back because the beat is stale is looked at again a short round later,
      // never in a busy loop.)
      if (watchdog) {
        wake_ns = std::min(wake_ns, std::max(last_watchdog_ns + watchdog_feed_ns,
                                             now + kPollInterval.count() * 1'000'000));
      }
      if (stop_sent_ns) wake_ns = std::min(wake_ns, *stop_sent_ns + kStopGraceNs + 1);
      const auto woken =
          wait_for_exit_or_signal(exit_fd, polls, on_faults, wake_ns, held.unblocked());
      may_have_exited = woken.may_have_exited;
      woken_by_faults = woken.by_faults;
      if (woken.fault_watch_gone && !may_have_exited) {
        // The events outlive the worker's main thread only as POLLHUP, which would end every
        // wait at once: the headroom-spaced rounds take over (fail closed, never a busy loop).
        spdlog::warn(
            "supervisor: the page-fault watch ended while the worker runs; resident-set "
            "rounds spaced by the headroom from now on");
        memory_watch_note_ = "the page-fault watch ended while the worker ran";
        fault_watch_.reset();
        polls.resize(1);
      }
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

  // Kills the worker now; the rollback runs as the outcome, once the signals are let in again.
  std::function<int()> kill_then_fail(const std::string& why, std::int64_t fault_ns) {
    // Read before the kill: a dying worker writes nothing, but a live one might move on.
    auto plugin = block_->plugin();
    auto activity = block_->activity();
    ::kill(worker_, SIGKILL);
    int status = 0;
    ::waitpid(worker_, &status, 0);
    return [this, why, plugin = std::move(plugin), activity = std::move(activity), fault_ns] {
      return fail(why + "; killed it", plugin, activity, -1, SIGKILL, fault_ns);
    };
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
          {"memory_watch", fault_watch_ ? "page_faults" : "rounds"},
          {"page_fault_wakes", fault_wakes_},
          {"page_faults_counted", faults_counted_},
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
  std::optional<FaultWatch> fault_watch_;        // none: rounds spaced by the headroom alone
  std::string memory_watch_note_;                // why there is no page-fault watch
  std::uint64_t fault_wakes_ = 0;                // rounds the page-fault watch woke
  std::uint64_t faults_counted_ = 0;             // the worker's page faults it recorded
  bool tracked_ = false;
};

}  // namespace

int run_supervised_monitor(const Config& config) {
  // The endpoint belongs to the supervisor, so it outlives the worker (issue 18). Its threads
  // start with the forwarded signals blocked, so they are always taken by this thread, whose
  // wait they end at once (watch()); the worker and other children are forked from this thread
  // and keep its mask.
  std::optional<ForwardedSignalsHeld> held_for_endpoint_threads;
  held_for_endpoint_threads.emplace();
  auto endpoint = metrics::MetricsEndpoint::start(config);
  held_for_endpoint_threads.reset();
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

// The monitor loop. One thread: poll the source (bounded wait), fold events into the window,
// evaluate the detectors when events arrived (rate-limited) or when nothing arrived for a while,
// and run the interval check on schedule. The first violation is acted on in the same iteration
// that saw it: detection latency is one poll plus one evaluation, not one interval.
#include "monitor/monitor.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <iostream>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <thread>
#include <utility>

#include "core/audit_log.hpp"
#include "core/boot_clock.hpp"
#include "core/console_text.hpp"
#include "core/duration.hpp"
#include "core/lock.hpp"
#include "lifecycle/builtin_rollback.hpp"
#include "lifecycle/canary.hpp"
#include "lifecycle/report_format.hpp"
#include "lifecycle/services.hpp"
#include "logging/journal_logger.hpp"
#include "metrics/metrics_publisher.hpp"
#include "monitor/evaluation_step.hpp"
#include "monitor/monitor_reporter.hpp"
#include "monitor/sd_notify.hpp"
#include "monitor/signals.hpp"
#include "monitor/undecided_checks.hpp"
#include "supervisor/heartbeat_block.hpp"
#include "supervisor/isolated_actions.hpp"

namespace qsc::agent {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How far the wall clock may run ahead of the monotonic clock between two of the loop's looks
// before it counts as stepped (look_at_clock).
constexpr milliseconds kClockStepTolerance{1000};
// How fast slewing may move the wall clock from the monotonic one: adjtime's and NTP's limit is
// 500 ppm (0.5 ms a second); 1,000 leaves room for a clock's own frequency error.
constexpr std::int64_t kMaxSlewPpm = 1000;

// The longest a poll of the source waits. The loop reads at least this often plus an
// evaluation's and a check's work (look_at_hold, look_at_clock, a stop or reload request, the
// heartbeat), and sooner for what falls due: a check, the period's end, the idle evaluation,
// the systemd watchdog, and on events the end of a verdict horizon (the wake hint). It was
// 100 ms: at 1,000 events/s the horizons end every ~90-120 events, and a wait cut at 100 ms
// just before one ended cost a wake-up for nothing and left the ring's watermark behind,
// which woke the worker again a few events later (session 17, worker17).
constexpr milliseconds kMaxReadWait{250};

// How long the worker may go between two reads of the source before the time counts as held
// up, hence unwatched (look_at_hold). The loop reads at least every kMaxReadWait plus an
// evaluation's and a check's work; a second is four times that, so only a worker held up
// (stopped, swapped out, a stalled disk) crosses it.
constexpr milliseconds kReadGapTolerance{1000};

// How long a resumed monitor reads the source's history before it enters its loop
// (read_history_on_resume). Each read beats the heartbeat, so the supervisor waits; a minute
// reads millions of ring or Redis entries.
constexpr std::chrono::seconds kResumeReadBound{60};

std::int64_t realtime_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

nlohmann::ordered_json detectors_json(const std::vector<NamedCheck>& checks) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& c : checks) out[c.detector] = check_json(c.result);
  return out;
}

// The detectors loaded in `host`: name -> SHA-256 of the library's bytes.
std::map<std::string, std::string> loaded_detectors(const PluginHost& host) {
  std::map<std::string, std::string> out;
  for (const auto& r : host.records()) {
    if (r.loaded() && r.kind == "detector") out[r.name] = r.sha256;
  }
  return out;
}

// How the detectors `now` differ from those the period started with (`then`): one
// {name, description} each, in name order.
std::vector<std::pair<std::string, std::string>> detector_changes(
    const std::map<std::string, std::string>& then, const std::map<std::string, std::string>& now) {
  std::vector<std::pair<std::string, std::string>> out;
  std::set<std::string> names;
  for (const auto& [name, sha] : then) names.insert(name);
  for (const auto& [name, sha] : now) names.insert(name);
  for (const auto& name : names) {
    const auto before = then.find(name);
    const auto after = now.find(name);
    if (before == then.end()) {
      out.emplace_back(name, "detector " + name + " was added (sha256 " + after->second + ")");
    } else if (after == now.end()) {
      out.emplace_back(name, "detector " + name + " was removed (sha256 " + before->second + ")");
    } else if (before->second != after->second) {
      out.emplace_back(name, "detector " + name + " was replaced (sha256 " + before->second +
                                 " at the period's start, " + after->second + " now)");
    }
  }
  return out;
}

class Monitor {
 public:
  Monitor(const Config& cfg, const MonitorOptions& opt)
      : cfg_(cfg), opt_(opt), log_(stderr_logger("qsc-monitor")), report_(cfg, log_, opt.metrics) {}

  int run() {
    install_signal_flags();
    auto loaded = load_state(cfg_.paths.state);
    if (!loaded) return error(loaded.error().message);
    state_ = *loaded;
    if (auto s = refuse_if_rollback_incomplete(state_, "monitoring"); !s) {
      return error(s.error().message);
    }
    if (!state_.active()) {
      std::cerr << "qsc monitor: no active canary to monitor (phase " << phase_name(state_.phase)
                << "). Activate one first: qsc activate --model M --cutover TS\n";
      return 2;
    }
    auto host = open_plugin_host(cfg_, LibraryDigests::kCompute);
    if (!host) return plugins_failed(host.error().message);
    host_ = std::move(host).value();
    if (opt_.metrics != nullptr) {
      opt_.metrics->set_source(cfg_.telemetry.source);
      opt_.metrics->set_plugins(host_->records());
    }
    auto source = open_source(cfg_);
    if (!source) return error(source.error().message);
    source_ = std::move(source).value();
    step_.emplace(cfg_, state_.model, *host_);
    if (auto s = start_period(); !s) return error(s.error().message);
    if (resumed_) {
      if (auto code = read_history_on_resume()) return *code;
    }
    publish_metrics();
    sd_notify_send("READY=1\nSTATUS=monitoring " + state_.model);
    return loop();
  }

 private:
  int error(const std::string& message) {
    std::cerr << "qsc monitor: " << message << "\n";
    return 2;
  }

  // Supervised, a plugin whose constructor failed leaves an active canary without a monitor
  // that can judge it: the supervisor rolls it back (naming it) rather than leave it live.
  int plugins_failed(const std::string& message) {
    const int code = error("plugins: " + message);
    if (opt_.heartbeat == nullptr || !state_.active() ||
        message.find("configuration refused") == std::string::npos) {
      return code;
    }
    opt_.heartbeat->publish_failure(message);
    return kWorkerPluginFailedExit;
  }

  Status start_period() {
    const EpochMs now = now_ms();
    // The state was read before the plugins were loaded; a qsc rollback may have run since.
    if (const auto phase = changed_outside()) {
      return Error{"the canary changed while this monitor started (phase " + phase_name(*phase) +
                   "): nothing to monitor, its state left as it is"};
    }
    // A recorded period is resumed even when it ended while the agent was down: it is judged
    // then (loop() ends it at once), never replaced by a fresh period.
    const bool resume =
        state_.phase == Phase::kMonitoring && state_.period_end_ms > 0 && state_.checks_total > 0;
    AuditLog audit(cfg_);
    // Silence is measured from here until the first event arrives: a period (or a resumed one)
    // that never sees an event goes stale too.
    last_look_ = step_now();
    step_->start_silence(last_look_);
    if (resume) {
      ended_while_down_ = state_.period_end_ms <= now;
      // Same period, same end: a restarted agent never grants the canary a fresh 6 hours.
      interval_ =
          milliseconds(state_.interval_ms > 0 ? state_.interval_ms
                                              : (state_.period_end_ms - state_.period_start_ms) /
                                                    static_cast<EpochMs>(state_.checks_total));
      if (interval_.count() <= 0) {
        return Error{"state file " + cfg_.paths.state +
                     " records a period with no usable check interval; roll back (qsc rollback) "
                     "or monitor again after checking the canary"};
      }
      record_unwatched_gap(now);
      // A period is judged under one configuration (state.hpp): resumed under another (an edit
      // deployed with the restart), the part before was judged by other thresholds, and a
      // completion stamped with this digest would vouch for a judgement never made under it.
      if (state_.period_config_sha256 != cfg_.sha256) state_.period_config_changed = true;
      report_.period_resumed(state_, check_slot() + 1, ended_while_down_);
      // Nor by one build of its detectors, when a library was replaced while no monitor ran.
      look_at_detectors();
      if (auto s = save_state(cfg_.paths.state, state_); !s) return s;
      if (auto s = audit.append("monitoring_resumed",
                                {{"canary_model", state_.model},
                                 {"checks_done", state_.checks_done},
                                 {"checks_missed", state_.checks_missed},
                                 {"gap_ms", last_gap_ms_},
                                 {"unwatched_ms", state_.unwatched_ms},
                                 {"period_config_sha256", state_.period_config_sha256},
                                 {"config_changed", state_.period_config_changed},
                                 {"detectors_changed", state_.period_detectors_changed},
                                 {"period_end", format_iso(state_.period_end_ms)}});
          !s) {
        return s;
      }
    } else {
      const auto duration = opt_.duration.value_or(cfg_.canary.duration);
      interval_ = opt_.interval.value_or(cfg_.canary.interval);
      // Checked here too, not only by the command: a zero interval would divide by zero below.
      if (auto period = check_period(duration, interval_, "monitoring duration", "interval");
          !period) {
        return period;
      }
      state_.phase = Phase::kMonitoring;
      state_.period_start_ms = now;
      state_.period_end_ms = now + duration.count();
      state_.checks_total = static_cast<std::uint64_t>(duration / interval_);
      state_.checks_done = 0;
      state_.interval_ms = interval_.count();
      mark_watched(now);
      state_.checks_missed = 0;
      state_.unwatched_ms = 0;
      state_.clock_skipped_ms = 0;
      state_.held_up_ms = 0;
      state_.period_config_sha256 = cfg_.sha256;
      state_.period_config_changed = false;
      state_.period_detectors = loaded_detectors(*host_);
      state_.period_detectors_changed.clear();
      state_.period_not_deployed = false;
      state_.last_verdict.clear();
      state_.last_result.clear();
      if (auto s = save_state(cfg_.paths.state, state_); !s) return s;
      report_.period_started(state_, duration, interval_, source_->describe());
      if (auto s = audit.append("monitoring_started",
                                {{"canary_model", state_.model},
                                 {"canary_weight", state_.weight},
                                 {"period_start", format_iso(state_.period_start_ms)},
                                 {"period_end", format_iso(state_.period_end_ms)},
                                 {"interval_s", std::chrono::duration<double>(interval_).count()},
                                 {"checks_total", state_.checks_total},
                                 {"source", source_->describe()},
                                 {"detectors", *state_.period_detectors}});
          !s) {
        return s;
      }
    }
    look_at_deployment();
    next_check_ms_ = next_check_due_ms();
    tail_started_ = static_cast<bool>(source_->start_tail(state_.weight_since_ms));
    clock_seen_wall_us_ = realtime_us();
    clock_seen_ = Clock::now();
    last_read_ = clock_seen_;
    resumed_ = resume;
    return ok_status();
  }

  // Silence counts from arrivals, but what the source held when this monitor resumed arrives
  // at once: taken as arriving now, an engine silence that began before the restart was seen
  // only from the resume on, and one that straddled a gap under telemetry.stale_after (seen in
  // two parts, neither long enough) passed unseen, the period clean. The history is read here,
  // judged batch by batch as the loop judges arrivals, and then the silence runs from its
  // newest event's stamp (the only record of when it arrived); a stamp ahead of this clock
  // counts as now (never a negative silence). When the source holds nothing, fails, or cannot
  // be read to its end within kResumeReadBound (a stamp from partway would be an old one, and
  // roll a healthy canary back), the silence runs from the last watch: at least the gap, in
  // which nothing says the engine published. A violation in the history rolls back (its exit).
  //
  // A silence that ended before the resume is in the history too, as a gap between two
  // events' stamps: one that ended after the last watch before the restart (so no monitor saw
  // its end) and is longer than telemetry.stale_after was seen by no monitor, and the period
  // can no longer end clean: the part of it beyond the restart's gap is unwatched as well.
  std::optional<int> read_history_on_resume() {
    EpochMs newest_ms = 0;
    EpochMs unseen_silence_ms = 0;
    bool read_all = false;
    const auto deadline = Clock::now() + kResumeReadBound;
    while (!read_all && Clock::now() < deadline) {
      auto batch = source_->poll(milliseconds(0));
      if (batch) {
        for (const auto& e : batch->events) {
          const auto stamp_ms = static_cast<EpochMs>(e.time_ms);
          if (newest_ms > 0 && stamp_ms > resumed_watched_until_ms_) {
            unseen_silence_ms = std::max(unseen_silence_ms, stamp_ms - newest_ms);
          }
          newest_ms = std::max(newest_ms, stamp_ms);
        }
        read_all = batch->events.empty();
      }
      if (auto code = take(batch)) return code;
      if (!batch) break;
      if (auto code = evaluate(step_->event_stats())) return code;
    }
    if (milliseconds(unseen_silence_ms) > cfg_.telemetry.stale_after) {
      state_.unwatched_ms += std::max<EpochMs>(0, unseen_silence_ms - last_gap_ms_);
      audit("unseen_silence", {{"canary_model", state_.model},
                               {"silence_ms", unseen_silence_ms},
                               {"period_unwatched_ms", state_.unwatched_ms}});
      report_.unseen_silence(state_, milliseconds(unseen_silence_ms));
    }
    const EpochMs silent_ms =
        read_all && newest_ms > 0 ? std::max<EpochMs>(0, now_ms() - newest_ms) : last_gap_ms_;
    step_->start_silence(last_look_ -
                         std::chrono::duration_cast<StepTime>(milliseconds(silent_ms)));
    return std::nullopt;
  }

  int loop() {
    auto last_eval = Clock::now() - opt_.idle_evaluation;
    auto last_watchdog = Clock::now();
    const auto watchdog = sd_watchdog_interval();
    bool pending = false;
    for (;;) {
      if (stop_requested()) return interrupted();
      if (take_reload_request()) {
        if (auto code = reload_plugins()) return *code;
      }
      if (!tail_started_)
        tail_started_ = static_cast<bool>(source_->start_tail(state_.weight_since_ms));
      if (auto code = look_at_clock()) return *code;
      const EpochMs now = now_ms();
      if (now >= state_.period_end_ms) {
        // Judge the end on everything the source holds by now (all of it, when the period
        // ended while the agent was down).
        if (auto code = drain()) return *code;
        // Tests stop the worker here (SIGSTOP) to hold it up between its last read and the
        // checks due at the end, as a slow disk does.
        fault_point("monitor:pause_before_end_checks");
        // The last check falls due at the period's end itself, so the loop can reach the end
        // before running it (or others, when a slow disk held a check up): run the checks due
        // by the end, as the loop would have. Not for a period that ended while the agent was
        // down: those checks were never taken and are not made up.
        while (!ended_while_down_ && check_slot() < state_.checks_total &&
               next_check_ms_ <= state_.period_end_ms) {
          if (auto code = interval_check()) return *code;
        }
        return complete();
      }
      std::chrono::microseconds wait = milliseconds(std::clamp<EpochMs>(
          std::min(next_check_ms_, state_.period_end_ms) - now, 0, kMaxReadWait.count()));
      // The idle evaluation (which judges a silence) and the watchdog's feed fall due on the
      // clock: the wait ends for them rather than at the next wake after them.
      // (Never a wait of zero for a zero interval: the loop would spin.)
      if (opt_.idle_evaluation > milliseconds(0)) {
        wait = std::min(wait, until(last_eval + opt_.idle_evaluation));
      }
      if (watchdog && *watchdog / 2 > milliseconds(0)) {
        wait = std::min(wait, until(last_watchdog + *watchdog / 2));
      }
      std::uint64_t wake_after = wake_after_events(std::chrono::ceil<milliseconds>(wait));
      if (pending) {
        // An evaluation is owed, held back by min_evaluation_gap: nothing read before the gap
        // has passed can be evaluated before then, so sleep until it has (whatever arrives)
        // and evaluate then, rather than wake at each event to find the gap not yet passed.
        // To the microsecond: rounded up to whole milliseconds, the owed evaluation came up to
        // 1 ms late, and so did a detection that arrived just after an evaluation (session 14's
        // detection runs: 3.1 ms against the 2.2 ms of waking at each event).
        const auto owed_in = std::chrono::ceil<std::chrono::microseconds>(
            opt_.min_evaluation_gap - (Clock::now() - last_eval));
        wait = std::clamp(owed_in, std::chrono::microseconds(0), wait);
        wake_after = std::numeric_limits<std::uint64_t>::max();
      }
      source_->set_wake_after_events(wake_after, state_.model);
      const auto poll_started = Clock::now();
      auto batch = source_->poll(wait);
      // The read reached a wake hint of more than one event: a verdict horizon ended in it, so
      // the evaluation below calls a detector anyway. A prompt wake (a canary violation) or a
      // timeout reads fewer; a hint of one event (a detector without a horizon, a condition
      // met) aligns nothing, and every read would then be a full evaluation once welcome.
      const bool horizon_ended = batch && wake_after > 1 &&
                                 wake_after != std::numeric_limits<std::uint64_t>::max() &&
                                 batch->events.size() >= wake_after;
      if (auto code = take(batch)) return *code;
      if (!batch) {
        // A source that fails at once must not turn this loop into a busy spin.
        if (Clock::now() - poll_started < wait) std::this_thread::sleep_for(wait);
      } else {
        if (!batch->events.empty()) pending = true;
        // Its events now hold those the step released (take's swap): the source reads the
        // next records over them, so the steady state allocates no event.
        source_->recycle(std::move(*batch));
      }
      const auto since_eval = Clock::now() - last_eval;
      if ((pending && since_eval >= opt_.min_evaluation_gap) ||
          since_eval >= opt_.idle_evaluation) {
        last_eval = Clock::now();
        // On arrival a detector within its verdict horizon may be skipped; not when the
        // evaluation is the idle one (time-driven) or its figures are published: when due, or
        // at a horizon's end once they are welcome (MonitorReporter::metrics_welcome), which
        // renews every horizon at once. Never moved onto a prompt wake's evaluation, which acts
        // on a violation as soon as the detectors it calls have run.
        const bool publish = report_.metrics_due() || (horizon_ended && report_.metrics_welcome());
        const EvaluationKind kind =
            pending && !publish ? EvaluationKind::kEventDriven : EvaluationKind::kFull;
        pending = false;
        // On arrival the figures are computed only when some detector is called.
        const auto code = kind == EvaluationKind::kEventDriven
                              ? acted_on(step_->evaluate_on_arrival(last_look_), kind)
                              : evaluate(step_->event_stats(), kind);
        if (code) return *code;
      }
      // A check falls due by the wall clock: not by one that stepped over it during the poll.
      if (now_ms() >= next_check_ms_) {
        if (auto code = look_at_clock()) return *code;
      }
      if (now_ms() >= next_check_ms_) {
        if (auto code = interval_check()) return *code;
      }
      if (watchdog && Clock::now() - last_watchdog >= *watchdog / 2) {
        sd_notify_send("WATCHDOG=1");
        last_watchdog = Clock::now();
      }
    }
  }

  // The time left until `due` (zero when it has passed), to the microsecond.
  static std::chrono::microseconds until(Clock::time_point due) {
    return std::max(std::chrono::microseconds(0),
                    std::chrono::ceil<std::chrono::microseconds>(due - Clock::now()));
  }

  // How many events the next poll may sleep through, counting the one it wakes for: the step's
  // count before some detector must be called, or 1 (every event, as before the hint) while the
  // figures are due (that evaluation calls every detector). An evaluation owed (`pending`, held
  // back by min_evaluation_gap) does not force 1: the step's count covers the events read
  // since the last evaluation (a horizon that ended among them, or a condition one brought,
  // gives 1), so an owed evaluation it allows would call no detector. A horizon's clock is
  // vouched for up to the newest stamp the source can accept before the poll returns: the wall
  // clock at its timeout plus telemetry.max_clock_skew (later ones are refused as from the
  // future).
  std::uint64_t wake_after_events(milliseconds wait) const {
    if (report_.metrics_due()) return 1;
    return step_->events_before_call(step_now(), newest_acceptable_ms(wait), wait);
  }

  // The newest event stamp the source can accept before a poll of `wait` returns: the wall
  // clock then plus telemetry.max_clock_skew (later ones are refused as from the future). A
  // horizon's clock is vouched for up to it (wake_after_events, fold_where_detectors_are_due).
  std::uint64_t newest_acceptable_ms(milliseconds wait) const {
    return static_cast<std::uint64_t>(now_ms() + static_cast<EpochMs>(wait.count()) +
                                      static_cast<EpochMs>(cfg_.telemetry.max_clock_skew.count()));
  }

  // Folds one poll's outcome into the evaluation step (the batch's events handed over: swapped,
  // not copied; its sizes, counts and rejections stay as they were), judging it where a
  // detector must be called among its events (fold_where_detectors_are_due). Returns the
  // rollback's exit when a detector acted; `batch` keeps its error when the source failed.
  std::optional<int> take(Result<TelemetryBatch>& batch) {
    if (opt_.heartbeat != nullptr) opt_.heartbeat->beat();
    look_at_hold();
    // The source has just said what it held (or failed to): silence is known up to here.
    last_look_ = step_now();
    if (!batch) {
      if (step_->source_failed(batch.error().message, last_look_)) {
        log_->error("telemetry source unavailable: {}", batch.error().message);
      }
      return std::nullopt;
    }
    if (!step_->source_ok()) log_->info("telemetry source back");
    if (auto code = fold_where_detectors_are_due(*batch)) return code;
    step_->take(std::move(*batch), last_look_);
    for (const auto& r : batch->rejections) {
      if (rejections_logged_ >= kMaxKeptRejections) break;
      ++rejections_logged_;
      log_->warn("unreadable telemetry ({}): {}", qsc::reject_reason_name(r.reason), r.message);
    }
    if (batch->events_lost > 0) {
      log_->warn("{} events lost in the ring (missing telemetry)", batch->events_lost);
    }
    return std::nullopt;
  }

  // Reads what the source holds right now (bounded), without waiting for more, judged as it
  // was read (take); the rollback's exit when a detector acted.
  std::optional<int> drain() {
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < deadline) {
      auto batch = source_->poll(milliseconds(0));
      if (auto code = take(batch)) return code;
      if (!batch || batch->events.empty()) return std::nullopt;
    }
    return std::nullopt;
  }

  // Folds a read's events into the step, evaluating wherever a detector must be called among its
  // events (EvaluationStep::events_before_call, one event when in doubt), as `qsc replay` does
  // on event time and as a monitor that read each event as it arrived would have; the read's
  // last events are left to the caller's evaluation. A read holds more events than a verdict
  // horizon when the monitor did not see them arrive: the history at a resume, what the source
  // holds at the period's end (up to 4,096 ring records a read), a worker that lost its core
  // for under the held-up rule's second, a burst. Judged at the read's end alone, bad
  // predictions that came and slid out of the window inside one read were never seen: a 500 ms
  // HOLD collapse under a 400-event window while no monitor ran (a gap under stale_after) was
  // a clean period. The read's counts (its rejections, lost events) are folded in with its last
  // events, by take(). In the live loop a read within the horizon (the wake hint's count) is
  // one piece, as before. Folds all but the last piece (removed from `batch`); returns the
  // rollback's exit when a detector acted.
  std::optional<int> fold_where_detectors_are_due(TelemetryBatch& batch) {
    auto& events = batch.events;
    const std::uint64_t latest_ms = newest_acceptable_ms(milliseconds(0));
    std::size_t folded = 0;
    for (;;) {
      const std::uint64_t before_call = std::max<std::uint64_t>(
          1, step_->events_before_call(step_now(), latest_ms, milliseconds(0)));
      if (events.size() - folded <= before_call) break;  // the rest: folded with the counts
      part_.events.clear();
      const auto first = events.begin() + static_cast<std::ptrdiff_t>(folded);
      part_.events.insert(
          part_.events.end(), std::make_move_iterator(first),
          std::make_move_iterator(first + static_cast<std::ptrdiff_t>(before_call)));
      part_.counts = {};
      part_.counts.accepted = before_call;
      step_->take(std::move(part_), last_look_);
      folded += static_cast<std::size_t>(before_call);
      if (auto code =
              acted_on(step_->evaluate_on_arrival(last_look_), EvaluationKind::kEventDriven)) {
        return code;
      }
    }
    events.erase(events.begin(), events.begin() + static_cast<std::ptrdiff_t>(folded));
    batch.counts.accepted -= std::min<std::uint64_t>(batch.counts.accepted, folded);
    return std::nullopt;
  }

  // The agent's monotonic clock, as the evaluation step takes it.
  static StepTime step_now() {
    return std::chrono::duration_cast<StepTime>(Clock::now().time_since_epoch());
  }

  // Runs the detectors; on a violation rolls back and returns the exit code.
  std::optional<int> evaluate(const WindowStats& stats,
                              EvaluationKind kind = EvaluationKind::kFull) {
    return acted_on(step_->evaluate(stats, last_look_, kind), kind);
  }

  // Publishes and acts on an evaluation of `kind`; on a violation rolls back and returns the
  // exit code.
  std::optional<int> acted_on(const Evaluation& evaluation, EvaluationKind kind) {
    // Before acting, so a violation shows on /metrics even when the rollback ends the worker. An
    // evaluation that may have skipped detectors is never published (one that acts skipped none).
    if (kind == EvaluationKind::kFull || evaluation.violated()) {
      publish_metrics(/*force=*/evaluation.violated());
    }
    if (!evaluation.violated()) return std::nullopt;
    return roll_back(evaluation.violations, evaluation.checks);
  }

  int roll_back(const std::vector<std::string>& violations, const std::vector<NamedCheck>& checks) {
    const std::string trigger = "qsc_monitor_violation";
    const auto detected_us = realtime_us();
    const double latency_ms = step_->trigger_event_ms() == 0
                                  ? 0.0
                                  : (static_cast<double>(detected_us) / 1000.0 -
                                     static_cast<double>(step_->trigger_event_ms()));
    report_.violation_detected(state_.model, violations);
    // Every rollback log line names the canary and the trigger (journalctl -p filters them).
    log_->critical("rollback of canary {} (trigger {}): {}", state_.model, trigger,
                   join_reasons(violations));
    // The lock wait and the built-in path do not beat; every plugin action runs in a child
    // process with its own deadline (isolated_actions), beating while the worker waits.
    if (opt_.heartbeat != nullptr) opt_.heartbeat->allow_host_work(rollback_budget_ms(cfg_));
    // The rollback waits briefly for a concurrent qsc command; it is idempotent, so if the lock
    // cannot be had it goes ahead rather than leave a violating canary live.
    auto lock = FileLock::acquire(cfg_.lock_path(), std::chrono::seconds(5));
    if (!lock) {
      log_->warn("rollback of canary {} (trigger {}): rolling back without the lock: {}",
                 state_.model, trigger, lock.error().message);
    }
    RollbackRequest request;
    request.trigger = trigger;
    request.reason = "monitor check " + std::to_string(state_.checks_done) + "/" +
                     std::to_string(state_.checks_total);
    request.violations = violations;
    request.figures = {{"detectors", detectors_json(checks)},
                       {"detection",
                        {{"trigger_event", step_->trigger_event_id()},
                         {"trigger_event_ms", step_->trigger_event_ms()},
                         {"detected_at_us", detected_us},
                         {"detection_latency_ms", latency_ms}}},
                       {"window_events", step_->window().events()},
                       {"canary_predictions", step_->window().canary_predictions()}};
    // Without the rollback plugin (lost on a reload) the agent's built-in rollback does it.
    LifecycleContext lc{cfg_, isolated_actions(*host_, cfg_, opt_.heartbeat),
                        action_flags_of(host_.get())};
    auto result = rollback_canary(lc, request);
    if (opt_.metrics != nullptr) {
      opt_.metrics->add_rollback(trigger, result.exit_code != 0,
                                 step_->trigger_event_ms() == 0
                                     ? std::nullopt
                                     : std::optional<double>(latency_ms / 1000.0));
      publish_metrics();
    }
    report_.rollback_finished(state_.model, trigger, result, latency_ms, step_->trigger_event_id());
    return result.exit_code == 0 ? 1 : 2;
  }

  std::optional<int> interval_check() {
    const WindowStats stats = step_->check_stats();
    if (auto code = evaluate(stats)) return code;
    if (auto code = stop_if_changed_outside()) return code;
    std::string status = "WAIT";
    {
      const auto scored = scoreboard_for(cfg_, *host_, stats, step_->health(last_look_),
                                         source_->describe(), state_.model);
      if (const auto* row = scored.find(state_.model)) status = row->status;
      // While the source does not answer, nothing is GO: no telemetry, no decision.
      if (!step_->source_ok() && status == "GO") status = "WAIT";
      if (auto w = write_scoreboard(scored, cfg_.paths.reports_dir); !w) {
        log_->error("cannot write the scoreboard: {}", w.error().message);
      }
    }
    look_at_deployment();
    ++state_.checks_done;
    state_.last_verdict = status;
    mark_watched(now_ms());
    if (auto s = save_state(cfg_.paths.state, state_); !s) {
      log_->error("cannot save the state: {}", s.error().message);
    }
    const EpochMs now = now_ms();
    audit("check",
          {{"canary_model", state_.model},
           {"check", check_slot()},
           {"of", state_.checks_total},
           {"checks_done", state_.checks_done},
           {"status", status},
           {"canary_predictions", step_->window().canary_predictions()},
           {"window_events", step_->window().events()},
           {"events_lost", step_->events_lost()},
           {"accepted", step_->counts().accepted},
           {"rejected", step_->counts().rejected_total()},
           {"rejected_by_reason",
            parse_counts_json(step_->counts(), step_->events_lost())["rejected_by_reason"]},
           {"rejected_window_pct", step_->rejected_share().pct()},
           {"rejected_window_entries", step_->rejected_share().entries()},
           {"source_ok", step_->source_ok()},
           {"detectors", detectors_json(step_->last_checks())}});
    report_.check_done(state_, check_slot(), now, status);
    next_check_ms_ += interval_.count();
    publish_metrics();
    return std::nullopt;
  }

  void audit(std::string_view action, const nlohmann::ordered_json& fields) {
    report_.audit(action, fields);
  }

  void publish_metrics(bool force = true) {
    if (step_) report_.publish_metrics(*step_, state_, interval_, force);
  }

  // A reload that loses a required plugin leaves the canary less watched than it was
  // activated under: that is a violation, rolled back at once (exit code returned).
  std::optional<int> reload_plugins() {
    // A rollback for a plugin the reload loses lists the last evaluation's results: make them
    // every detector's of now, not a skipped one's (verdict horizons), before the set changes.
    if (step_ && step_->last_skipped() > 0) {
      if (auto code = evaluate(step_->event_stats(), EvaluationKind::kFull)) return code;
    }
    PluginHost::ReloadReport report;
    if (auto s = host_->reload(&report); !s) {
      log_->error("plugin reload failed, keeping the loaded set: {}", s.error().message);
      return std::nullopt;
    }
    log_->info("plugins reloaded: {} added, {} removed, {} replaced", report.added.size(),
               report.removed.size(), report.replaced.size());
    if (opt_.metrics != nullptr) opt_.metrics->set_plugins(host_->records());
    // A replaced detector judges the rest of the period with other code under the same
    // configuration digest: the period is no longer judged by one policy (saved with the state
    // at the next write; a restart before it finds the same difference on resume).
    look_at_detectors();
    const auto missing = missing_required_plugins(cfg_, *host_);
    if (missing.empty()) return std::nullopt;
    std::vector<std::string> violations;
    for (const auto& m : missing) violations.push_back("Required plugin lost on reload: " + m);
    return roll_back(violations, step_->last_checks());
  }

  // Whether the state on disk no longer records the canary this monitor watches: someone
  // rolled it back (qsc rollback) or replaced it since this monitor read it. Every save of the
  // monitor's copy must be preceded by this check: written over a rollback, the copy would
  // record a rolled-back canary as active again (phase monitoring), which qsc monitor then
  // resumes, may call clean, and qsc promote re-installs. The phase found on disk, or nullopt
  // while it is still this monitor's canary (or unreadable: rewriting it then repairs it).
  std::optional<Phase> changed_outside() const {
    auto disk = load_state(cfg_.paths.state);
    if (disk && (!disk->active() || disk->model != state_.model ||
                 disk->activated_ms != state_.activated_ms || disk->weight != state_.weight)) {
      return disk->phase;
    }
    return std::nullopt;
  }

  // Exit 2, leaving the state as it is, when the canary changed outside this monitor.
  std::optional<int> stop_if_changed_outside() {
    const auto phase = changed_outside();
    if (!phase) return std::nullopt;
    std::cout << "The canary changed outside this monitor (phase " << phase_name(*phase)
              << "); stopping, its state left as it is." << std::endl;
    return 2;
  }

  int interrupted() {
    if (const auto phase = changed_outside()) {
      audit(
          "monitoring_interrupted",
          {{"canary_model", state_.model},
           {"checks_done", state_.checks_done},
           {"of", state_.checks_total},
           {"detail", "stopped by a signal after the canary changed outside this monitor (phase " +
                          phase_name(*phase) + "); its state was left as it is"}});
      std::cout << "\nMonitoring interrupted: the canary changed outside this monitor (phase "
                << phase_name(*phase) << "); its state is left as it is." << std::endl;
      return 2;
    }
    state_.last_result = "interrupted";
    (void)save_state(cfg_.paths.state, state_);
    audit("monitoring_interrupted",
          {{"canary_model", state_.model},
           {"checks_done", state_.checks_done},
           {"of", state_.checks_total},
           {"period_end", format_iso(state_.period_end_ms)},
           {"detail",
            "stopped by a signal; the canary is left as it is (qsc monitor "
            "resumes the period, qsc rollback rolls it back)"}});
    report_.interrupted(state_);
    return 2;
  }

  int complete() {
    // The period's verdict is written over the state: not over a canary rolled back meanwhile.
    if (auto code = stop_if_changed_outside()) return *code;
    const WindowStats stats = step_->check_stats();
    if (auto code = evaluate(stats)) return *code;
    // Clean means fully watched: a check that fell due while no monitor ran was never taken,
    // and a gap longer than telemetry.stale_after could have hidden a silence no check can see
    // now (silence counts from arrivals, and what the source held arrives at once on resume).
    // With few checks (a long --interval) no check need fall due in such a gap. The gaps are
    // summed over the period's restarts (unwatched_ms): stricter than the longest one, never
    // laxer.
    // Named first when several hold: no restart's timing changes what a changed configuration
    // means for the period.
    if (state_.period_config_changed) return inconclusive_config_changed();
    if (!state_.period_detectors_changed.empty()) return inconclusive_detectors_changed();
    if (state_.checks_done < state_.checks_total || state_.checks_missed > 0 ||
        milliseconds(state_.unwatched_ms) > cfg_.telemetry.stale_after) {
      return inconclusive_unwatched();
    }
    look_at_deployment();
    if (state_.period_not_deployed) return inconclusive_not_deployed();
    const bool enough = step_->window().canary_predictions() >= cfg_.telemetry.min_events;
    if (enough) {
      if (auto undecided = undecided_checks(step_->last_checks()); !undecided.empty()) {
        return inconclusive_undecided(undecided);
      }
    }
    const double hours =
        static_cast<double>(state_.period_end_ms - state_.period_start_ms) / 3'600'000.0;
    state_.phase = Phase::kCompleted;
    state_.last_result_period_ms = state_.period_end_ms - state_.period_start_ms;
    state_.last_result = enough ? "safe" : "inconclusive";
    state_.last_result_weight = state_.weight;
    if (auto s = save_state(cfg_.paths.state, state_); !s) return error(s.error().message);
    std::vector<ActionOutcome> outcomes;
    if (enough) {
      Incident resolved;
      resolved.kind = IncidentKind::kResolved;
      resolved.trigger = "monitoring_completed";
      resolved.canary_model = state_.model;
      resolved.canary_weight = state_.weight;
      resolved.state_json = state_.to_json().dump();
      resolved.timestamp = format_iso(now_ms());
      outcomes = isolated_actions(*host_, cfg_, opt_.heartbeat)(cfg_.plugins.actions, resolved);
    }
    nlohmann::ordered_json outcome_json = nlohmann::ordered_json::array();
    for (const auto& o : outcomes) {
      outcome_json.push_back(
          {{"action", o.action}, {"result", o.ok ? "ok" : "failed"}, {"detail", o.detail}});
    }
    audit("monitoring_completed", {{"result", state_.last_result},
                                   {"canary_model", state_.model},
                                   {"canary_weight", state_.weight},
                                   {"duration_hours", hours},
                                   {"total_checks", state_.checks_done},
                                   {"canary_predictions", step_->window().canary_predictions()},
                                   {"min_events", cfg_.telemetry.min_events},
                                   {"violations", nlohmann::ordered_json::array()},
                                   {"actions", outcome_json}});
    report_.completed(state_, enough, step_->window().canary_predictions());
    return enough ? 0 : 3;
  }

  // Ends the period inconclusive in the state file (its result, never "safe"); the exit code of
  // the error when the state cannot be saved.
  std::optional<int> save_inconclusive() {
    state_.phase = Phase::kCompleted;
    state_.last_result = "inconclusive";
    state_.last_result_weight = state_.weight;
    state_.last_result_period_ms = state_.period_end_ms - state_.period_start_ms;
    if (auto s = save_state(cfg_.paths.state, state_); !s) return error(s.error().message);
    return std::nullopt;
  }

  // The period ended with checks not taken (the monitor was down when they fell due): nothing is
  // called safe, whatever the window shows now. Exit 3.
  int inconclusive_unwatched() {
    if (auto code = save_inconclusive()) return *code;
    audit("monitoring_inconclusive", {{"result", "inconclusive"},
                                      {"reason", "not_fully_watched"},
                                      {"canary_model", state_.model},
                                      {"canary_weight", state_.weight},
                                      {"checks_done", state_.checks_done},
                                      {"checks_due", state_.checks_total},
                                      {"checks_missed", state_.checks_missed},
                                      {"gap_ms", state_.unwatched_ms},
                                      {"period_start", format_iso(state_.period_start_ms)},
                                      {"period_end", format_iso(state_.period_end_ms)},
                                      {"canary_predictions", step_->window().canary_predictions()},
                                      {"violations", nlohmann::ordered_json::array()}});
    report_.inconclusive_unwatched(state_);
    return 3;
  }

  // Compares the detectors loaded now with those the period started with; every one that
  // differs joins period_detectors_changed (sticky for the period: loading the first build
  // again does not clean it, its middle part was judged by the other). Said once per change.
  void look_at_detectors() {
    std::vector<std::pair<std::string, std::string>> changes;
    if (!state_.period_detectors) {
      changes.emplace_back("(not recorded)",
                           "the period recorded no detector digests (started by an older qsc), "
                           "so the code that judged its start cannot be told");
    } else {
      changes = detector_changes(*state_.period_detectors, loaded_detectors(*host_));
    }
    std::vector<std::string> said;
    auto& changed = state_.period_detectors_changed;
    for (auto& [name, description] : changes) {
      if (std::find(changed.begin(), changed.end(), name) == changed.end()) changed.push_back(name);
      if (detectors_said_.insert(description).second) said.push_back(std::move(description));
    }
    if (!said.empty()) report_.detectors_changed(state_, said);
  }

  // The period's detectors' code changed during it (a reload or a restart loaded another
  // library): no one build judged all of it, so none vouches for it. Exit 3.
  int inconclusive_detectors_changed() {
    return end_inconclusive("detector_code_changed",
                            {{"detectors", state_.period_detectors_changed}},
                            [&] { report_.inconclusive_detectors_changed(state_); });
  }

  // Looks whether the engine's unit runs the canary at its weight (deployment_problem); the
  // first time it does not in this monitor, says so. Sticky for the period (saved with the state
  // at the next write): a period the engine spent partly without the canary says nothing of it.
  void look_at_deployment() {
    auto why = deployment_problem(cfg_, state_);
    if (why.empty()) return;
    state_.period_not_deployed = true;
    if (!deployment_problem_.empty()) return;
    deployment_problem_ = std::move(why);
    report_.not_deployed(state_, deployment_problem_);
  }

  // Ends the period inconclusive for `reason` (checks_undecided, configuration_changed,
  // detector_code_changed, canary_not_deployed): the state's result, never "safe", and the
  // monitoring_inconclusive entry every such end writes, with `detail`'s fields; then `report`
  // says it. Exit 3, or the error's exit when the state cannot be saved.
  int end_inconclusive(std::string_view reason, const nlohmann::ordered_json& detail,
                       const std::function<void()>& report) {
    if (auto code = save_inconclusive()) return *code;
    nlohmann::ordered_json fields{{"result", "inconclusive"},
                                  {"reason", reason},
                                  {"canary_model", state_.model},
                                  {"canary_weight", state_.weight}};
    for (const auto& [key, value] : detail.items()) fields[key] = value;
    fields["total_checks"] = state_.checks_done;
    fields["canary_predictions"] = step_->window().canary_predictions();
    fields["violations"] = nlohmann::ordered_json::array();
    audit("monitoring_inconclusive", fields);
    report();
    return 3;
  }

  // The engine did not run the canary at its weight at some look during the period. Exit 3.
  int inconclusive_not_deployed() {
    // Found by a monitor of this period before a restart, when this one found it deployed.
    const std::string why = deployment_problem_.empty()
                                ? "a monitor of this period before a restart found the canary "
                                  "not deployed at this weight (its output and log say how)"
                                : deployment_problem_;
    return end_inconclusive("canary_not_deployed", {{"detail", why}},
                            [&] { report_.inconclusive_not_deployed(state_, why); });
  }

  // The period was resumed under another configuration than it started with (state.hpp): no
  // one configuration judged all of it, so none vouches for it. Exit 3.
  int inconclusive_config_changed() {
    return end_inconclusive("configuration_changed",
                            {{"period_config_sha256", state_.period_config_sha256}},
                            [&] { report_.inconclusive_config_changed(state_); });
  }

  // The period ended with detectors that could not judge it (undecided_checks.hpp): nothing is
  // called safe on a check that never looked. Exit 3.
  int inconclusive_undecided(const std::vector<std::string>& undecided) {
    return end_inconclusive("checks_undecided", {{"undecided", undecided}},
                            [&] { report_.inconclusive_undecided(state_, undecided); });
  }

  // The period's end and its checks fall due by the wall clock (they survive a restart), but
  // watching takes real time. A wall clock stepped forward (NTP, an operator, a host resumed
  // from suspend, where CLOCK_MONOTONIC stood still) brought the checks due in the skipped time
  // and the end at once, each judging the window as it is now: a period watched for minutes
  // ended "safe to promote". The wall clock's advance beyond the monotonic clock's is time
  // nobody watched, recorded as a restart's gap is (record_unwatched_gap): its checks missed,
  // its time unwatched, so the period can no longer end clean. Both clocks are read together
  // once a loop (at most kMaxReadWait plus a check's work apart), where slewing (<= 500 ppm) moves
  // them apart by well under a millisecond: a difference of kClockStepTolerance is a step. A
  // step back only lengthens the period in real time (more watching, never less): logged.
  std::optional<int> look_at_clock() {
    const std::int64_t wall_us = realtime_us();
    const EpochMs wall = wall_us / 1000;
    const auto mono = Clock::now();
    const auto mono_us =
        std::chrono::duration_cast<std::chrono::microseconds>(mono - clock_seen_).count();
    const std::int64_t look_us = (wall_us - clock_seen_wall_us_) - mono_us;
    clock_seen_wall_us_ = wall_us;
    clock_seen_ = mono;
    if (look_us <= -kClockStepTolerance.count() * 1000) {
      log_->warn("the system clock stepped back by {} ms: the period ends later in real time",
                 -look_us / 1000);
      audit("clock_stepped", {{"canary_model", state_.model}, {"step_ms", look_us / 1000}});
      return std::nullopt;
    }
    // Steps under the tolerance add up (a broken or hostile time source stepping 0.9 s every
    // few looks skips as much as one large step): the looks' differences are summed, less what
    // slewing may move the clocks apart in each (kMaxSlewPpm of its monotonic time), never below
    // zero (slack is not banked for later), and a sum of the tolerance is a step too. Read in
    // microseconds: the reads' jitter is well under the slewing allowance of a look.
    clock_drift_us_ =
        std::max<std::int64_t>(0, clock_drift_us_ + look_us - mono_us * kMaxSlewPpm / 1'000'000);
    if (clock_drift_us_ < kClockStepTolerance.count() * 1000) return std::nullopt;
    const EpochMs skipped_ms = clock_drift_us_ / 1000;
    clock_drift_us_ = 0;
    // Checks due before the step were due in watched time: taken now, as the loop would have.
    const EpochMs step_at = wall - skipped_ms;
    while (check_slot() < state_.checks_total && next_check_ms_ <= step_at) {
      if (auto code = interval_check()) return code;
    }
    const EpochMs unwatched = period_part(step_at, wall);
    state_.unwatched_ms += unwatched;
    state_.clock_skipped_ms += unwatched;
    const std::uint64_t missed = miss_checks_due_by(std::min(wall, state_.period_end_ms));
    next_check_ms_ = next_check_due_ms();
    mark_watched(wall);
    // As before every write of the state: written over a manual rollback, "monitoring" made the
    // rolled-back canary this monitor's again, and the period could end safe.
    if (auto code = stop_if_changed_outside()) return code;
    if (auto s = save_state(cfg_.paths.state, state_); !s) {
      log_->error("cannot save the state: {}", s.error().message);
    }
    audit("clock_stepped", {{"canary_model", state_.model},
                            {"step_ms", skipped_ms},
                            {"unwatched_ms", unwatched},
                            {"checks_missed", missed},
                            {"period_unwatched_ms", state_.unwatched_ms}});
    report_.clock_stepped(state_, skipped_ms, missed);
    return std::nullopt;
  }

  // Silence counts from arrivals (the evaluation step stamps a batch with the read that brought
  // it), so a worker held up between two reads (SIGSTOP, swapped out, a disk stalled in a
  // check's fsync) sees nothing of that time: what the engine published after a silence in it
  // arrives at once with the next read, and the silence is never seen. The supervisor kills a
  // worker only after its heartbeat floor (a minute), so shorter holds went unnoticed and a
  // period with one ended clean. The time between two reads beyond kReadGapTolerance is
  // unwatched, as a restart's gap is (the part of it within the period). Not saved here: until
  // the next check saves it, a restart's gap (from last_watched_ms) covers this time too. The
  // checks that fell due meanwhile are taken late, as after any slow check.
  //
  // Nor is a silence that began before the hold and ended in it seen: its first part was
  // watched (and under stale_after, or it would have acted), its end arrives with this read,
  // so neither part alone exceeds stale_after (session 14: 10 s silent, 5 s watched and 5.3 s
  // held, stale_after 8 s, ended clean). When the time since the last arrival before the hold
  // is longer than telemetry.stale_after, such a silence could have gone unseen: the unwatched
  // time then runs from that arrival (the engine's last sign of life), not from the read before
  // the hold. A healthy engine's last arrival is that read, so only the hold counts.
  void look_at_hold() {
    const auto read_at = Clock::now();
    const auto gap = std::chrono::duration_cast<milliseconds>(read_at - last_read_);
    last_read_ = read_at;
    if (gap < kReadGapTolerance) return;
    const auto since_arrival = std::chrono::duration_cast<milliseconds>(
        std::chrono::duration_cast<StepTime>(read_at.time_since_epoch()) - step_->last_arrival());
    // The silence before the hold counts once it is more than the reads' own cadence.
    const bool silent_before =
        since_arrival - gap >= kReadGapTolerance && since_arrival > cfg_.telemetry.stale_after;
    const auto unwatched = silent_before ? since_arrival : gap;
    const EpochMs wall = now_ms();
    const EpochMs held_ms = period_part(wall - unwatched.count(), wall);
    if (held_ms == 0) return;
    state_.unwatched_ms += held_ms;
    state_.held_up_ms += held_ms;
    audit("monitor_held_up", {{"canary_model", state_.model},
                              {"held_ms", held_ms},
                              {"read_gap_ms", gap.count()},
                              {"since_last_arrival_ms", since_arrival.count()},
                              {"period_unwatched_ms", state_.unwatched_ms}});
    report_.held_up(state_, held_ms, since_arrival - gap, silent_before);
  }

  // The number of the latest check slot dealt with: taken or missed while no monitor ran.
  std::uint64_t check_slot() const { return state_.checks_done + state_.checks_missed; }

  // A resumed period: the time since the last check (or the last start or resume) went
  // unwatched, and the checks that fell due in it were never taken. They are not made up: a
  // check run late judges the window as it is now, not as it was when the check fell due.
  //
  // The gap is measured on the wall clock, and at least as the real time since the last watch
  // when both fall in this boot: a wall clock stepped back while no monitor ran would hide the
  // gap (a monitor down 20 minutes across a 30-minute step back found none), and a silence in
  // it could not be seen. The checks due are the wall clock's: a step back moves them later,
  // where they are still taken.
  void record_unwatched_gap(EpochMs now) {
    const EpochMs watched_until = std::max(state_.last_watched_ms, state_.period_start_ms);
    resumed_watched_until_ms_ = watched_until;
    const EpochMs resumed_at = std::min(now, state_.period_end_ms);
    last_gap_ms_ = std::max<EpochMs>(0, resumed_at - watched_until);
    const std::int64_t real_gap_ms =
        boot_elapsed_ms({state_.last_watched_boot_id, state_.last_watched_boot_ms}, boot_now());
    // Only the part within the period (the time the wall clock shows past the period's end, a
    // period that ended while no monitor ran, is not the period's), and only when longer than
    // the wall clock's by a step's tolerance (look_at_clock): the two clocks are read apart and
    // to the millisecond, and their rounding is no gap.
    const EpochMs past_end_ms = std::max<EpochMs>(0, now - state_.period_end_ms);
    if (real_gap_ms - past_end_ms >= last_gap_ms_ + kClockStepTolerance.count()) {
      last_gap_ms_ = real_gap_ms - past_end_ms;
    }
    state_.unwatched_ms += last_gap_ms_;
    miss_checks_due_by(resumed_at);
    mark_watched(now);
  }

  // The checks that fell due by `at` and were neither taken nor counted missed are missed:
  // never made up late. Returns how many.
  std::uint64_t miss_checks_due_by(EpochMs at) {
    const auto due = std::min<std::uint64_t>(
        state_.checks_total,
        static_cast<std::uint64_t>(std::max<EpochMs>(0, at - state_.period_start_ms) /
                                   interval_.count()));
    const std::uint64_t slot = check_slot();
    if (due <= slot) return 0;
    state_.checks_missed += due - slot;
    return due - slot;
  }

  // How much of [from, to] lies within the period.
  EpochMs period_part(EpochMs from, EpochMs to) const {
    return std::max<EpochMs>(
        0, std::min(to, state_.period_end_ms) - std::max(from, state_.period_start_ms));
  }

  // When the check after the latest slot dealt with falls due.
  EpochMs next_check_due_ms() const {
    return state_.period_start_ms + static_cast<EpochMs>(check_slot() + 1) * interval_.count();
  }

  // The period is watched up to `wall` (a check, a start or resume, a clock step recorded).
  void mark_watched(EpochMs wall) {
    state_.last_watched_ms = wall;
    const BootInstant boot = boot_now();
    state_.last_watched_boot_id = boot.boot_id;
    state_.last_watched_boot_ms = boot.since_boot_ms;
  }

  const Config& cfg_;
  MonitorOptions opt_;
  std::shared_ptr<spdlog::logger> log_;
  MonitorReporter report_;
  CanaryState state_;
  std::unique_ptr<PluginHost> host_;
  std::unique_ptr<TelemetrySource> source_;
  std::optional<EvaluationStep> step_;
  // fold_where_detectors_are_due's piece of a read, kept so its events' storage is reused.
  TelemetryBatch part_;
  std::size_t rejections_logged_ = 0;
  // When the source last answered a read (or failed one): the telemetry is judged as of then,
  // never as of "now". Between a read and a judgement the worker may itself be held up for
  // seconds (a check's fsyncs on a slow disk, several checks due at the period's end, a paused
  // VM), and that time is the monitor's own absence, not the engine's silence: measured to "now"
  // it rolled healthy canaries back as stale. The loop reads at least every kMaxReadWait, and a
  // read that blocks covers its own wait (whatever arrived in it is returned), so nothing the
  // source could have shown is left out; a worker that stops reading altogether is the supervisor's
  // to catch (its heartbeat).
  StepTime last_look_{};
  EpochMs last_gap_ms_ = 0;  // the unwatched gap found at this resume
  // The two clocks as look_at_clock() last read them: the wall clock's advance beyond the
  // monotonic clock's between two looks is a step.
  std::int64_t clock_seen_wall_us_ = 0;
  Clock::time_point clock_seen_{};
  // The wall clock's advance beyond the monotonic clock's and slewing's, summed over the looks
  // since the last recorded step (look_at_clock).
  std::int64_t clock_drift_us_ = 0;
  Clock::time_point last_read_{};         // the worker's last read of the source (look_at_hold)
  std::string deployment_problem_;        // the first look of this monitor that found one
  std::set<std::string> detectors_said_;  // detector changes this monitor has reported
  milliseconds interval_{30'000};
  EpochMs next_check_ms_ = 0;
  bool ended_while_down_ = false;         // resumed a period that had already ended
  bool resumed_ = false;                  // this monitor resumed a recorded period
  EpochMs resumed_watched_until_ms_ = 0;  // the last watch before the restart it resumed after
  bool tail_started_ = false;
};

}  // namespace

int run_monitor(const Config& config, const MonitorOptions& options) {
  return Monitor(config, options).run();
}

}  // namespace qsc::agent

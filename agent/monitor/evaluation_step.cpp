// The monitor's evaluation step.
#include "monitor/evaluation_step.hpp"

#include "qsc/plugin_abi.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace qsc::agent {

EvaluationStep::EvaluationStep(const Config& config, std::string canary_model, PluginHost& host,
                               HorizonPolicy horizons)
    : config_(config),
      canary_(std::move(canary_model)),
      host_(host),
      window_(canary_, config.telemetry.window_events),
      rejected_share_(config.telemetry.window_events),
      horizons_(horizons),
      schedule_owner_(new_schedule_owner()) {
  refresh_screen(true);
}

void EvaluationStep::refresh_screen(bool always) {
  const auto& records = host_.records();
  if (!always && screened_records_ == &records && screened_record_count_ == records.size()) {
    return;
  }
  screened_records_ = &records;
  screened_record_count_ = records.size();
  window_.set_screen(FigureScreen::from_plugins(records));
}

const WindowStats& EvaluationStep::event_stats() {
  refresh_screen(false);
  window_.canary_stats_into(event_stats_);
  return event_stats_;
}

WindowStats EvaluationStep::check_stats() {
  refresh_screen(true);
  return window_.full_stats();
}

const std::string& EvaluationStep::trigger_event_id() const {
  if (trigger_event_id_stale_) {
    trigger_event_id_ =
        std::to_string(trigger_event_ms_) + "-" + std::to_string(trigger_event_seq_);
    trigger_event_id_stale_ = false;
  }
  return trigger_event_id_;
}

namespace {

// Member by member: with std::swap's three moves through a temporary, handing an event over
// cost about 240 instructions (callgrind, the held element's lookup included), with these 160.
void swap_events(qsc::TradeIntent& a, qsc::TradeIntent& b) noexcept {
  // A member added to TradeIntent must be swapped here too: the members this swaps, laid out
  // alike, must fill it.
  struct Swapped {
    std::uint64_t time_ms, seq;
    std::string symbol;
    std::optional<qsc::Vote> side;
    double confidence;
    std::vector<qsc::Prediction> predictions;
  };
  static_assert(sizeof(qsc::TradeIntent) == sizeof(Swapped),
                "TradeIntent's members changed: swap every one in swap_events");
  std::swap(a.time_ms, b.time_ms);
  std::swap(a.seq, b.seq);
  a.symbol.swap(b.symbol);
  std::swap(a.side, b.side);
  std::swap(a.confidence, b.confidence);
  a.predictions.swap(b.predictions);
}

}  // namespace

qsc::TradeIntent& EvaluationStep::next_held() {
  if (pending_end_ == pending_events_.size()) {
    const std::size_t capacity = pending_events_.capacity();
    pending_events_.emplace_back();
    // Reallocated: every held event moved, and the host's C forms of them point into the old.
    if (pending_events_.capacity() != capacity) ++storage_generation_;
  }
  return pending_events_[pending_end_];
}

void EvaluationStep::accept(const qsc::TradeIntent& event, StepTime now) {
  qsc::TradeIntent& held = next_held();
  held = event;
  note_accepted(held, now);
}

void EvaluationStep::accept(qsc::TradeIntent&& event, StepTime now) {
  qsc::TradeIntent& held = next_held();
  // A released element's number is never asked for again (release_shown_events), so its
  // storage may go to the caller as an assignment over it would have freed or reused it.
  swap_events(held, event);
  note_accepted(held, now);
}

void EvaluationStep::note_accepted(const qsc::TradeIntent& held, StepTime now) {
  const bool canary_predicted = window_.add(held);
  // The canary's watch (ABI 2.4, CheckInput::canary_watch), kept here for the period so that a
  // detector instance made by a reload judges the canary's silence from where it began: the
  // period's first event counts as its last prediction (a grace to publish), and only a newer
  // stamp moves it on.
  if (accepted_events_ == 0) canary_last_prediction_ms_ = held.time_ms;
  if (canary_predicted) {
    canary_last_prediction_ms_ = std::max(canary_last_prediction_ms_, held.time_ms);
  }
  ++pending_end_;
  ++accepted_events_;
  // The horizons' conditions (ABI 2.2, QSC_UNLESS_*): any prediction of the canary in the event
  // (the window's figures count its first one, the interval check's all) with a confidence
  // violation, or inactive. The cheap tests first: most events have neither.
  for (const auto& p : held.predictions) {
    const bool violation = is_confidence_violation(p.confidence_status);
    if ((violation || p.is_inactive()) && p.model == canary_) {
      if (violation) condition_events_[0] = accepted_events_;
      if (p.is_inactive()) condition_events_[1] = accepted_events_;
    }
  }
  // Event time as a horizon's clock reads it (ABI 2.3): the newest stamp, never moved back.
  newest_event_ms_ = std::max(newest_event_ms_, held.time_ms);
  last_arrival_ = now;
  trigger_event_ms_ = held.time_ms;
  trigger_event_seq_ = held.seq;
  trigger_event_id_stale_ = true;
}

void EvaluationStep::take(const TelemetryBatch& batch, StepTime now) {
  window_.prefetch_adds(batch.events);
  for (const auto& e : batch.events) accept(e, now);
  count_read(batch);
}

void EvaluationStep::take(TelemetryBatch&& batch, StepTime now) {
  window_.prefetch_adds(batch.events);
  for (auto& e : batch.events) accept(std::move(e), now);
  count_read(batch);
}

void EvaluationStep::count_read(const TelemetryBatch& batch) {
  source_ok_ = true;
  merge_counts(counts_, batch.counts);
  rejected_share_.add(batch.counts.accepted, batch.counts.rejected_total());
  events_lost_ += batch.events_lost;
}

void EvaluationStep::take_entry(const qsc::ParseOutcome& outcome, StepTime now) {
  source_ok_ = true;
  counts_.add(outcome);
  if (const auto* event = std::get_if<qsc::TradeIntent>(&outcome)) {
    accept(*event, now);
    rejected_share_.add(1, 0);
  } else if (std::holds_alternative<qsc::Rejection>(outcome)) {
    rejected_share_.add(0, 1);
  }
}

void EvaluationStep::take_entry(qsc::ParseOutcome&& outcome, StepTime now) {
  if (auto* event = std::get_if<qsc::TradeIntent>(&outcome)) {
    source_ok_ = true;
    counts_.add(outcome);
    accept(std::move(*event), now);
    rejected_share_.add(1, 0);
  } else {
    take_entry(std::as_const(outcome), now);  // nothing to hand over
  }
}

bool EvaluationStep::source_failed(const std::string& error, StepTime now) {
  const bool news = source_ok_ || source_error_ != error;
  if (source_ok_) source_down_since_ = now;
  source_ok_ = false;
  source_error_ = error;
  return news;
}

TelemetryHealth EvaluationStep::health(StepTime now) const {
  TelemetryHealth h;
  // A source that failed at its last read and has not answered since for longer than
  // telemetry.stale_after. A shorter outage (Redis restarting: the source reconnects and
  // resumes where it was, skipping and repeating nothing) counts as time without events, the
  // way the source interface defines it, so it becomes a violation after the same stale_after
  // as silence does, not at the first refused read.
  h.source_ok = source_ok_ || now - source_down_since_ <= config_.telemetry.stale_after;
  h.source_error = source_error_;
  h.events_seen = counts_.accepted;
  // From the last arrival on the caller's clock: the live monitor's is monotonic, because an
  // event's own timestamp is the producer's word and one stamped in the future must not hold
  // silence off (future ones are rejected by the source, and the wall clock may jump).
  h.seconds_since_last_event = std::chrono::duration<double>(now - last_arrival_).count();
  h.events_lost = events_lost_;
  h.rejected = counts_.rejected_total();
  h.rejected_pct = rejected_share_.pct();
  h.rejected_window_entries = static_cast<std::int64_t>(rejected_share_.entries());
  return h;
}

std::uint64_t EvaluationStep::events_before_call(StepTime now, std::uint64_t latest_event_ms,
                                                 std::chrono::milliseconds max_silence) const {
  if (horizons_ != HorizonPolicy::kHonour) return 1;
  const std::uint64_t skippable = host_.events_within_horizons(
      schedule_owner_, accepted_events_, QSC_UNLESS_KNOWN, condition_events_, health(now),
      latest_event_ms, std::chrono::duration<double>(max_silence).count());
  return skippable + 1;
}

const Evaluation& EvaluationStep::evaluate(const WindowStats& stats, StepTime now,
                                           EvaluationKind kind) {
  qsc::CheckInput in;
  in.canary_model = canary_;
  in.window = &stats;
  in.canary = stats.find(canary_);
  in.telemetry = health(now);
  in.min_events = config_.telemetry.min_events;
  in.new_events = std::span<const qsc::TradeIntent>(pending_events_.data() + pending_begin_,
                                                    pending_end_ - pending_begin_);
  // The ranked confidences the running figures' P10 and P90 were read from: given only with
  // those figures (an interval check's recomputed window counts every canary prediction of an
  // event, the running figures its first), so a bound read from them holds for these figures.
  if (&stats == &event_stats_) in.canary_ranks = window_.canary_ranks();
  if (accepted_events_ > 0) in.canary_watch = {true, canary_last_prediction_ms_, newest_event_ms_};
  return evaluated(host_.check_all(in, schedule_for(kind), last_.checks));
}

const Evaluation& EvaluationStep::evaluate_on_arrival(StepTime now) {
  if (host_.skips_every_detector(health(now), schedule_for(EvaluationKind::kEventDriven),
                                 last_.checks)) {
    // check_all would have skipped every one: the results are the last evaluation's, none
    // acting (skips_every_detector's condition), and so are the violations listed from them
    // then, none (not listed again: a walk over every result at every such event, most of
    // replay's; session 18).
    return evaluated(last_.checks.size(), ResultsKept::kYes);
  }
  return evaluate(event_stats(), now, EvaluationKind::kEventDriven);
}

EventSchedule EvaluationStep::schedule_for(EvaluationKind kind) const {
  EventSchedule schedule;
  schedule.owner = schedule_owner_;
  schedule.accepted_events = accepted_events_;
  schedule.previous_events = evaluated_events_;
  schedule.honour_horizons =
      kind == EvaluationKind::kEventDriven && horizons_ == HorizonPolicy::kHonour;
  schedule.watches_conditions = true;
  schedule.condition_events = condition_events_;
  schedule.watches_clock = true;
  schedule.newest_event_ms = newest_event_ms_;
  schedule.storage_generation = storage_generation_;
  return schedule;
}

const Evaluation& EvaluationStep::evaluated(std::size_t skipped, ResultsKept kept) {
  last_skipped_ = skipped;
  skipped_checks_ += last_skipped_;
  evaluated_events_ = accepted_events_;
  release_shown_events();
  // last_.checks is written only by evaluate()'s check_all, which this follows: kept results
  // were listed at that call.
  if (kept == ResultsKept::kYes) return last_;
  last_.violations.clear();
  for (const auto& c : last_.checks) {
    if (c.acts()) last_.violations.push_back(c.result.message);
  }
  return last_;
}

void EvaluationStep::release_shown_events() {
  const std::uint64_t needed = host_.oldest_event_needed(schedule_owner_, accepted_events_ + 1);
  const std::uint64_t held = pending_end_ - pending_begin_;
  const std::uint64_t oldest_held = accepted_events_ - held + 1;  // its number
  const std::uint64_t shown = needed > oldest_held ? std::min(held, needed - oldest_held) : 0;
  pending_begin_ += static_cast<std::size_t>(shown);
  if (pending_begin_ == pending_end_) {
    pending_begin_ = pending_end_ = 0;
    // The next events are assigned over released ones' elements, numbered anew: the kept C
    // forms of the released numbers are never asked for again, but a new name costs nothing.
    ++storage_generation_;
  } else if (pending_begin_ >= 64 && pending_begin_ >= pending_end_ - pending_begin_) {
    // Move the kept events to the front once the released ones outnumber them: amortised O(1)
    // per event, and swapping keeps every element's storage. Member by member (swap_events),
    // not std::swap's three moves through a temporary.
    std::size_t to = 0;
    for (std::size_t from = pending_begin_; from < pending_end_; ++from) {
      swap_events(pending_events_[to++], pending_events_[from]);
    }
    pending_begin_ = 0;
    pending_end_ = to;
    ++storage_generation_;  // the kept events moved
  }
}

}  // namespace qsc::agent

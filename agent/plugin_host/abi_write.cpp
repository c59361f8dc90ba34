// Building the C ABI's input structs (see abi_write.hpp).
#include "plugin_host/abi_write.hpp"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>
#include <string_view>

#include "qsc/same_bytes.hpp"
#include "qsc/version.hpp"

namespace qsc::agent {
namespace {

qsc_str c_str(std::string_view s) noexcept {
  return qsc_str{s.data(), s.size()};
}

// The C forms are written field by field into their place, never built aside and copied in: a
// struct returned by value was assembled on the stack with narrow stores and copied with wide
// loads over them, which the CPU cannot forward (a stall of a dozen cycles per load: about a
// tenth of the evaluation step's wall time, in write_held, against under a tenth of a percent of
// its instructions; docs/PERFORMANCE.md, "Session 12"). Each writer zeroes the whole struct
// first (its padding and any field a later minor appends read as 0), as `T c{}` did.

void write_model_stats(qsc_model_stats& c, const qsc::ModelStats& m) noexcept {
  std::memset(&c, 0, sizeof c);
  c.struct_size = sizeof c;
  c.model = c_str(m.model);
  c.predictions = m.predictions;
  for (std::size_t i = 0; i < qsc::kVoteKinds; ++i) {
    c.votes[i] = m.votes[i];
    c.share_pct[i] = m.share_pct[i];
  }
  c.confidence_samples = m.confidence_samples;
  c.conf_mean = m.conf_mean;
  c.conf_std = m.conf_std;
  c.p10 = m.p10;
  c.p90 = m.p90;
  c.range = m.range;
  c.normalized = m.normalized;
  c.confidence_violations = m.confidence_violations;
  for (std::size_t i = 0; i < m.by_status.size(); ++i) c.by_status[i] = m.by_status[i];
  c.inactive = m.inactive;
  c.last_inactive_reason = static_cast<std::uint32_t>(m.last_inactive_reason);
  c.newest_inactive = static_cast<std::uint32_t>(m.newest_inactive);
}

/// An event's votes as the detectors count them (qsc_event's ABI 2.5 count), tallied while its
/// predictions are written: the host compares each prediction's model with the canary's there
/// anyway, so the count costs the detectors' five walks of the event (count_votes) a few adds.
/// Scalars, not an array indexed by the vote: `++active_votes[action]` kept the counts on the
/// stack (a read-modify-write of memory per prediction), and write_event read two of them back
/// with one 8-byte load over those 4-byte stores, which the CPU cannot forward: a sixth of
/// write_event_form's samples sat on that load (perf annotate, session 18). As scalars they stay
/// in registers and are stored into the form one by one.
struct VoteTally {
  std::uint32_t buy = 0;
  std::uint32_t sell = 0;
  std::uint32_t hold = 0;
  std::int32_t canary_vote = -1;  // the canary's first active vote
  bool canary_predicted = false;
};
static_assert(static_cast<int>(qsc::Vote::kBuy) == 0 && static_cast<int>(qsc::Vote::kSell) == 1 &&
                  static_cast<int>(qsc::Vote::kHold) == 2 && QSC_VOTE_KINDS == 3,
              "VoteTally's counters are the votes in qsc_event::active_votes' order");

// A prediction of the canary (`canary`, never empty when given) names it with the canary's own
// bytes, the input's canary_model: a detector finds it by address (qsc::same_model). Tallied
// into `tally`.
void write_prediction(qsc_prediction& c, const qsc::Prediction& p, std::string_view canary,
                      VoteTally& tally) noexcept {
  // Inline (qsc::same_text): a memcmp call per prediction of every event otherwise.
  const bool is_canary = !canary.empty() && qsc::same_text(p.model, canary);
  std::memset(&c, 0, sizeof c);
  c.struct_size = sizeof c;
  c.model = c_str(is_canary ? canary : std::string_view(p.model));
  c.model_string = c_str(p.model_string);
  c.action = static_cast<std::uint32_t>(p.action);
  c.confidence_status = static_cast<std::uint32_t>(p.confidence_status);
  c.inactive = static_cast<std::uint32_t>(p.inactive);
  c.confidence = p.confidence;
  c.raw_confidence = p.raw_confidence;
  tally.canary_predicted = tally.canary_predicted || is_canary;
  if (p.is_inactive()) return;
  tally.buy += p.action == qsc::Vote::kBuy ? 1 : 0;
  tally.sell += p.action == qsc::Vote::kSell ? 1 : 0;
  tally.hold += p.action == qsc::Vote::kHold ? 1 : 0;
  if (is_canary && tally.canary_vote < 0) tally.canary_vote = static_cast<std::int32_t>(p.action);
}

/// `e`'s C form, its predictions the `e.predictions.size()` pointers at `predictions`, their
/// votes `tally` counted for `canary` (none given when there is no canary: the gate, the
/// scoreboard).
void write_event(qsc_event& c, const qsc::TradeIntent& e, const qsc_prediction* const* predictions,
                 std::string_view canary, const VoteTally& tally) noexcept {
  // Zeroed in two parts: one memset of all 112 bytes is compiled to `rep stos`, whose start-up
  // was a fifth of this function's samples (perf annotate); up to 72 bytes and the 40 after are
  // a few wide stores each.
  constexpr std::size_t kCountAt = offsetof(qsc_event, votes_canary);
  std::memset(&c, 0, kCountAt);
  std::memset(reinterpret_cast<char*>(&c) + kCountAt, 0, sizeof c - kCountAt);
  c.struct_size = sizeof c;
  c.time_ms = e.time_ms;
  c.seq = e.seq;
  c.symbol = c_str(e.symbol);
  c.side = e.side ? static_cast<std::int32_t>(*e.side) : -1;
  c.confidence = e.confidence;
  c.predictions = predictions;
  c.prediction_count = e.predictions.size();
  if (canary.empty()) return;  // votes_canary empty: no count given
  c.votes_canary = c_str(canary);
  c.active_votes[QSC_VOTE_BUY] = tally.buy;
  c.active_votes[QSC_VOTE_SELL] = tally.sell;
  c.active_votes[QSC_VOTE_HOLD] = tally.hold;
  c.canary_vote = tally.canary_vote;
  c.canary_predicted = tally.canary_predicted ? 1 : 0;
}

/// `e`'s C form with its predictions' (written at `predictions`, `pointers` pointing at them),
/// its votes counted for `canary` on the way.
void write_event_form(qsc_event& c, const qsc::TradeIntent& e, qsc_prediction* predictions,
                      const qsc_prediction* const* pointers, std::string_view canary) noexcept {
  VoteTally tally;
  for (std::size_t i = 0; i < e.predictions.size(); ++i) {
    write_prediction(predictions[i], e.predictions[i], canary, tally);
  }
  write_event(c, e, pointers, canary, tally);
}

}  // namespace

void AbiCheckInput::write_figures(const qsc::CheckInput& input) {
  if (input.canary_model != canary_name_) {
    canary_name_.assign(input.canary_model);
    held_owner_ = 0;  // the kept forms name the canary with the old bytes: none is kept
  }
  static const qsc::WindowStats kEmptyWindow;
  const qsc::WindowStats& window = input.window != nullptr ? *input.window : kEmptyWindow;
  // clear() keeps the capacity; reserve() before the pushes keeps the pointers taken into them.
  models_.resize(window.models.size());
  model_pointers_.clear();
  const qsc_model_stats* canary = nullptr;
  for (std::size_t i = 0; i < window.models.size(); ++i) {
    write_model_stats(models_[i], window.models[i]);
    if (&window.models[i] == input.canary) canary = &models_[i];
  }
  for (const auto& m : models_) model_pointers_.push_back(&m);
  if (canary == nullptr && input.canary != nullptr) {
    write_model_stats(own_canary_, *input.canary);
    canary = &own_canary_;
  }
  ensemble_.struct_size = sizeof ensemble_;
  ensemble_.events = window.ensemble.events;
  ensemble_.agreement_pct = window.ensemble.agreement_pct;
  ensemble_.hard_disagree_pct = window.ensemble.hard_disagree_pct;
  window_.struct_size = sizeof window_;
  window_.events = window.events;
  window_.models = model_pointers_.data();
  window_.model_count = model_pointers_.size();
  window_.ensemble = &ensemble_;

  const auto& t = input.telemetry;
  telemetry_.struct_size = sizeof telemetry_;
  telemetry_.source_ok = t.source_ok ? 1 : 0;
  telemetry_.source_error = c_str(t.source_error);
  telemetry_.events_seen = t.events_seen;
  telemetry_.seconds_since_last_event = t.seconds_since_last_event;
  telemetry_.events_lost = t.events_lost;
  telemetry_.rejected = t.rejected;
  telemetry_.rejected_pct = t.rejected_pct;
  telemetry_.rejected_window_entries = t.rejected_window_entries;

  input_.struct_size = sizeof input_;
  input_.abi_major = qsc::kAbiMajor;
  input_.abi_minor = qsc::kAbiMinor;
  input_.canary_model = c_str(canary_name_);
  input_.window = &window_;
  input_.canary = canary;
  input_.telemetry = &telemetry_;
  input_.min_events = input.min_events;
  input_.canary_ranks = input.canary_ranks.ranks;
  input_.canary_rank_count = input.canary_ranks.count;
  input_.canary_rank = input.canary_ranks.rank;
  const auto& watch = input.canary_watch;
  input_.canary_watch_given = watch.given ? 1 : 0;
  input_.canary_last_prediction_ms = watch.given ? watch.last_prediction_ms : 0;
  input_.newest_event_ms = watch.given ? watch.newest_event_ms : 0;
}

const qsc_check_input* AbiCheckInput::write(const qsc::CheckInput& input) {
  write_figures(input);
  const auto new_events = input.new_events;
  predictions_.clear();
  prediction_pointers_.clear();
  events_.clear();
  event_pointers_.clear();
  std::size_t prediction_count = 0;
  for (const auto& e : new_events) prediction_count += e.predictions.size();
  predictions_.resize(prediction_count);
  for (const auto& p : predictions_) prediction_pointers_.push_back(&p);
  events_.resize(new_events.size());
  std::size_t next_prediction = 0;
  for (std::size_t i = 0; i < new_events.size(); ++i) {
    write_event_form(events_[i], new_events[i], predictions_.data() + next_prediction,
                     prediction_pointers_.data() + next_prediction, canary_name_);
    next_prediction += new_events[i].predictions.size();
  }
  for (const auto& e : events_) event_pointers_.push_back(&e);
  input_.new_events = event_pointers_.data();
  input_.new_event_count = event_pointers_.size();
  return &input_;
}

const qsc_check_input* AbiCheckInput::write_held(const qsc::CheckInput& input,
                                                 const HeldEvents& held) {
  write_figures(input);
  const auto new_events = input.new_events;
  const std::uint64_t count = new_events.size();
  // Numbers (oldest, held.newest]; a caller that cannot number them (or whose storage is not
  // named) has every event written, as write() does.
  const bool numbered = held.owner != 0 && held.storage_generation != 0 && held.newest >= count;
  const std::uint64_t oldest = numbered ? held.newest - count : 0;
  if (!numbered || held.owner != held_owner_ || held.storage_generation != held_generation_ ||
      held_forms_.size() < count || held_newest_ > held.newest || held_newest_ < oldest) {
    // Nothing kept is usable: another owner or storage, more events than the ring holds (grown
    // at twice the need, so this is rare), or numbers that do not continue the kept ones.
    // A power of two, so a number's slot is a mask: the 64-bit division per event was a fifth
    // of write_held's samples in replay (session 16, perf annotate).
    if (held_forms_.size() < count) {
      held_forms_.resize(std::bit_ceil(std::max<std::size_t>(count * 2, 64)));
    }
    held_owner_ = numbered ? held.owner : 0;
    held_generation_ = numbered ? held.storage_generation : 0;
    held_oldest_ = held_newest_ = oldest;
  }
  event_pointers_.clear();
  event_pointers_.reserve(count);
  const std::uint64_t ring = held_forms_.size();
  const std::uint64_t slot_mask = ring - 1;  // ring is a power of two (or 0: no event)
  for (std::uint64_t k = 0; k < count; ++k) {
    const std::uint64_t number = oldest + k + 1;
    EventForm& form = held_forms_[static_cast<std::size_t>(number & slot_mask)];
    // Kept: numbered within the kept range (the ring holds at least `count` consecutive
    // numbers, so no two of (oldest, newest] share a slot).
    if (!(numbered && number > held_oldest_ && number <= held_newest_)) {
      const auto& e = new_events[static_cast<std::size_t>(k)];
      const std::size_t n = e.predictions.size();
      form.predictions.resize(n);
      // The pointers still point at the predictions when their storage kept its place and
      // size (the usual case: the engine sends as many models every event): not rewritten.
      // Told from the form itself (pointers_for), not by reading the pointers: the ring's forms
      // are cold, and that load was a cache miss on most events (perf annotate).
      if (form.prediction_pointers.size() != n || form.pointers_for != form.predictions.data()) {
        form.prediction_pointers.clear();
        for (const auto& p : form.predictions) form.prediction_pointers.push_back(&p);
        form.pointers_for = form.predictions.data();
      }
      write_event_form(form.event, e, form.predictions.data(), form.prediction_pointers.data(),
                       canary_name_);
    }
    event_pointers_.push_back(&form.event);
  }
  if (numbered) {
    // Kept now: the numbers before this call's that were kept (they stay kept for a detector
    // called later with a longer tail) and this call's, as far back as the ring holds them
    // without two sharing a slot.
    held_oldest_ = std::min(held_oldest_, oldest);
    if (held.newest - held_oldest_ > ring) held_oldest_ = held.newest - ring;
    held_newest_ = held.newest;
    // The next number's form is written at the next call (an event later, in replay): its
    // lines are cold (the ring's slots are reused once per ring), and the loads of its
    // vectors' sizes were a quarter of write_held's samples (perf annotate, session 18). A
    // hint only: asked for now, they arrive while the caller does its other work. Not while
    // the ring is empty (no event yet): there is no slot to ask for.
    if (ring > 0) {
      const EventForm& next = held_forms_[static_cast<std::size_t>((held.newest + 1) & slot_mask)];
      const char* lines = reinterpret_cast<const char*>(&next);
      for (std::size_t at = 0; at < sizeof(EventForm); at += 64) {
        __builtin_prefetch(lines + at, 1);
        asm volatile("" : : "r"(lines + at));  // kept (OrderStatistics::hint says why)
      }
    }
  }
  input_.new_events = event_pointers_.data();
  input_.new_event_count = event_pointers_.size();
  return &input_;
}

AbiIncident::AbiIncident(const qsc::Incident& incident) {
  for (const auto& v : incident.violations) violations_.push_back(c_str(v));
  earlier_.reserve(incident.earlier.size());
  for (const auto& o : incident.earlier) {
    qsc_action_outcome c{};
    c.struct_size = sizeof c;
    c.action = c_str(o.action);
    c.ok = o.ok ? 1 : 0;
    c.detail = c_str(o.detail);
    c.duration_ms = o.duration_ms;
    earlier_.push_back(c);
  }
  for (const auto& o : earlier_) earlier_pointers_.push_back(&o);
  incident_.struct_size = sizeof incident_;
  incident_.abi_major = qsc::kAbiMajor;
  incident_.abi_minor = qsc::kAbiMinor;
  incident_.kind = static_cast<std::uint32_t>(incident.kind);
  incident_.trigger = c_str(incident.trigger);
  incident_.reason = c_str(incident.reason);
  incident_.canary_model = c_str(incident.canary_model);
  incident_.canary_weight = incident.canary_weight;
  incident_.violations = violations_.data();
  incident_.violation_count = violations_.size();
  incident_.figures_json = c_str(incident.figures_json);
  incident_.state_json = c_str(incident.state_json);
  incident_.hostname = c_str(incident.hostname);
  incident_.timestamp = c_str(incident.timestamp);
  incident_.earlier = earlier_pointers_.data();
  incident_.earlier_count = earlier_pointers_.size();
}

}  // namespace qsc::agent

// The canary's window.
#include "monitor/canary_window.hpp"

#include <algorithm>
#include <limits>

#include "qsc/checks.hpp"
#include "qsc/same_bytes.hpp"

namespace qsc::agent {

CanaryWindow::CanaryWindow(std::string canary_model, std::size_t window_events)
    : canary_(std::move(canary_model)), capacity_(std::max<std::size_t>(1, window_events)) {}

std::uint32_t CanaryWindow::model_id_looked_up(const std::string& name) {
  if (const auto it = model_ids_.find(name); it != model_ids_.end()) return it->second;
  std::uint32_t id = 0;
  if (!free_model_ids_.empty()) {
    id = free_model_ids_.back();
    free_model_ids_.pop_back();
    model_names_[id] = name;
  } else {
    id = static_cast<std::uint32_t>(model_names_.size());
    model_names_.push_back(name);
    model_predictions_.push_back(0);
  }
  model_ids_.emplace(name, id);
  return id;
}

void CanaryWindow::release_unused(std::uint32_t id) {
  // No prediction of it is left: its id is reused, so a stream of ever-new model names does not
  // grow the table past what the window holds.
  model_ids_.erase(model_names_[id]);
  model_names_[id].clear();
  free_model_ids_.push_back(id);
}

void CanaryWindow::evict_oldest() {
  // The oldest predictions were last touched a window ago: the load of the first one's model
  // was half of this function's samples in replay (perf annotate, session 18), the deque's
  // front not kept in cache by the hardware's prefetcher at one event a microsecond. Asked for
  // kPredictionsAhead ahead (about 16 events of 4 models; a deque block holds 16, so the index
  // is shifts, no division).
  constexpr std::size_t kPredictionsAhead = 64;
  if (predictions_.size() > kPredictionsAhead) {
    OrderStatistics::hint(&predictions_[kPredictionsAhead]);
  }
  const EventRecord oldest = events_.front();
  events_.pop_front();
  for (std::uint32_t i = 0; i < oldest.predictions; ++i) {
    release_model(predictions_.front().model);
    predictions_.pop_front();
  }
  if (oldest.has_canary) {
    canary_figures_.remove(canary_samples_.front());
    canary_samples_.pop_front();
  }
  ensemble_figures_.remove(oldest.votes, oldest.agreement);
}

void CanaryWindow::prefetch_adds(std::span<const TradeIntent> events) const noexcept {
  // The worker, asleep between batches, finds the order statistics' buckets cold, and each
  // insert and erase waited for its own (they were 8% of its samples after worker15's bucket
  // lines): here a batch's are asked for together. A cap keeps a long batch's hints from
  // evicting what they load.
  constexpr std::size_t kMaxHints = 64;
  // Each add inserts its event's first canary confidence, as add() finds it.
  const std::size_t inserts = std::min(events.size(), kMaxHints);
  for (std::size_t i = 0; i < inserts; ++i) {
    for (const auto& p : events[i].predictions) {
      if (qsc::same_text(p.model, canary_)) {
        canary_figures_.prefetch(p.confidence);
        break;
      }
    }
  }
  // Once full, each add evicts the oldest event and with it at most its first canary sample:
  // the adds remove at most the oldest (adds - room) samples.
  const std::size_t room = capacity_ > events_.size() ? capacity_ - events_.size() : 0;
  if (events.size() <= room) return;
  const std::size_t erases = std::min({events.size() - room, canary_samples_.size(), kMaxHints});
  for (std::size_t i = 0; i < erases; ++i) canary_figures_.prefetch(canary_samples_[i].confidence);
}

bool CanaryWindow::add(const TradeIntent& event) {
  if (events_.size() == capacity_) evict_oldest();
  EventRecord& record = events_.emplace_back();
  record.predictions = static_cast<std::uint32_t>(event.predictions.size());
  // event_votes(event), counted in this walk (it walked the predictions a second time, and
  // returned its counts in a register that add() stored narrow and copied into the deque wide:
  // a store-forwarding stall, an eighth of add()'s samples; perf annotate, session 18). Scalars,
  // so the counts stay in registers; EventVotes' 16-bit counts wrap as its ++ did.
  std::uint32_t buy = 0;
  std::uint32_t sell = 0;
  std::uint32_t hold = 0;
  std::uint32_t guess = first_model_of_last_event_;
  // The count read once: the deques' stores below might alias the vector for the compiler,
  // which otherwise reloads and divides its size at every prediction.
  const std::size_t predictions = event.predictions.size();
  for (std::size_t i = 0; i < predictions; ++i) {
    const auto& p = event.predictions[i];
    // to_sample(p), built here: the SDK's out-of-line call wrote its two one-byte enums to the
    // stack and this loop read them back as one two-byte load (a store-forwarding stall).
    const Sample sample{p.action, p.confidence, p.confidence_status, p.inactive};
    const auto id = model_id(p.model, guess);
    if (i == 0) first_model_of_last_event_ = id;
    guess = id + 1;
    ++model_predictions_[id];
    predictions_.push_back({id, sample});
    if (!p.is_inactive()) {
      buy += p.action == Vote::kBuy ? 1 : 0;
      sell += p.action == Vote::kSell ? 1 : 0;
      hold += p.action == Vote::kHold ? 1 : 0;
    }
    // The canary's first prediction in the event, as compute_window_stats would not tell apart.
    if (!record.has_canary && qsc::same_text(p.model, canary_)) {
      record.has_canary = true;
      canary_samples_.push_back(sample);
      canary_figures_.add(sample);
    }
  }
  record.votes.counts[static_cast<std::size_t>(Vote::kBuy)] = static_cast<std::uint16_t>(buy);
  record.votes.counts[static_cast<std::size_t>(Vote::kSell)] = static_cast<std::uint16_t>(sell);
  record.votes.counts[static_cast<std::size_t>(Vote::kHold)] = static_cast<std::uint16_t>(hold);
  record.agreement = ensemble_figures_.add(record.votes);
  newest_ms_ = std::max(newest_ms_, event.time_ms);
  // Recompute the running sums from the window once per two windows' worth of updates: O(1) per
  // event on average, and the compensated sums' history (their error term) stays bounded.
  if (canary_figures_.moment_operations() >= 2 * capacity_) canary_figures_.rebase(canary_samples_);
  if (ensemble_figures_.operations() >= 2 * capacity_) ensemble_figures_.rebase(window_votes());
  return record.has_canary;
}

ModelStats CanaryWindow::exact_canary_model() const {
  std::vector<Sample> samples(canary_samples_.begin(), canary_samples_.end());
  return compute_model_stats(canary_, samples);
}

EnsembleStats CanaryWindow::exact_ensemble() const {
  std::vector<EventVotes> votes;
  votes.reserve(events_.size());
  for (const auto& e : events_) votes.push_back(e.votes);
  return compute_ensemble(votes);
}

WindowStats CanaryWindow::canary_stats() {
  WindowStats w;
  canary_stats_into(w);
  return w;
}

void CanaryWindow::canary_stats_into(WindowStats& w) {
  ++screen_counts_.evaluations;
  w.events = events_.size();
  // resize, not clear + push_back: the kept element keeps the canary's name (no allocation
  // per event once the name outgrows the short-string buffer).
  w.models.resize(canary_samples_.empty() ? 0 : 1);
  if (!w.models.empty()) {
    ModelStats& m = w.models.front();
    qsc::assign_changed(m.model, canary_);
    ScreenedFigure mean;
    ScreenedFigure deviation;
    // stats() writes every figure but the name, or nothing when it declines (then the exact
    // recomputation replaces the whole element). Without a usable confidence the figures are
    // counts and NaN: exact as they are.
    if (!canary_figures_.stats(m, mean, deviation) ||
        (m.confidence_samples != 0 &&
         (screen_.needs_exact(mean) || screen_.needs_exact(deviation)))) {
      ++screen_counts_.exact_canary;
      m = exact_canary_model();
      // Re-anchor at the exact mean: a shifted distribution widens the interval until then.
      canary_figures_.rebase(canary_samples_);
    }
  }
  ScreenedFigure agreement;
  w.ensemble = ensemble_figures_.stats(agreement);
  if (w.ensemble.events > 0 && screen_.needs_exact(agreement)) {
    ++screen_counts_.exact_ensemble;
    w.ensemble = exact_ensemble();
  }
}

namespace {

// qsc_check_input::canary_rank: the k-th smallest of an OrderStatistics. NaN past the end, which
// no comparison holds for, so a detector's bound read from it fails closed.
double ranked_confidence(const void* ranks, std::uint64_t k) {
  const auto& order = *static_cast<const OrderStatistics*>(ranks);
  if (k >= order.size()) return std::numeric_limits<double>::quiet_NaN();
  return order.kth(static_cast<std::size_t>(k));
}

}  // namespace

RankedConfidences CanaryWindow::canary_ranks() const noexcept {
  const OrderStatistics& order = canary_figures_.ranked_confidences();
  return {&order, order.size(), &ranked_confidence};
}

WindowStats CanaryWindow::canary_stats_exact() const {
  WindowStats w;
  w.events = events_.size();
  if (!canary_samples_.empty()) w.models.push_back(exact_canary_model());
  w.ensemble = exact_ensemble();
  return w;
}

WindowStats CanaryWindow::full_stats() const {
  WindowStats w;
  w.events = events_.size();
  // compute_window_stats over the same events: each model's samples in event order, the models
  // in name order.
  std::vector<std::vector<Sample>> per_model(model_names_.size());
  for (const auto& p : predictions_) per_model[p.model].push_back(p.sample);
  std::vector<std::uint32_t> ids;
  for (std::uint32_t id = 0; id < per_model.size(); ++id) {
    if (!per_model[id].empty()) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end(),
            [&](std::uint32_t a, std::uint32_t b) { return model_names_[a] < model_names_[b]; });
  w.models.reserve(ids.size());
  for (const auto id : ids)
    w.models.push_back(compute_model_stats(model_names_[id], per_model[id]));
  w.ensemble = exact_ensemble();
  return w;
}

}  // namespace qsc::agent

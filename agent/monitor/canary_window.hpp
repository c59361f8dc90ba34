// The canary's window: the newest N events since its weight took effect. Each event updates
// running figures (window_aggregates.hpp) as it enters and as it leaves, so the event-driven
// evaluation reads the canary's and the ensemble's figures in O(1) instead of recomputing the
// window; the interval check and the scoreboard still recompute every model's figures exactly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "monitor/figure_screen.hpp"
#include "monitor/window_aggregates.hpp"
#include "qsc/detector.hpp"
#include "qsc/event.hpp"
#include "qsc/same_bytes.hpp"
#include "qsc/stats.hpp"

namespace qsc::agent {

/// A sliding window of events for one canary model.
class CanaryWindow {
 public:
  /// Keeps at most `window_events` events; the canary is `canary_model`.
  CanaryWindow(std::string canary_model, std::size_t window_events);

  /// Adds an event (oldest first); the oldest falls out past the window's size. True when the
  /// event holds a prediction of the canary (active or not).
  bool add(const TradeIntent& event);
  /// A hint before adding `events` (oldest first), no effect on the contents: loads the order
  /// statistics' lines their adds' inserts and their evictions' erases touch.
  void prefetch_adds(std::span<const TradeIntent> events) const noexcept;
  /// Events in the window.
  std::size_t events() const noexcept { return events_.size(); }
  /// The canary's predictions in the window.
  std::size_t canary_predictions() const noexcept { return canary_samples_.size(); }
  /// The newest event's time (stream ID milliseconds), 0 when empty.
  std::uint64_t newest_event_ms() const noexcept { return newest_ms_; }

  /// The detectors' thresholds the running mean, deviation and agreement are screened against.
  void set_screen(FigureScreen screen) { screen_ = std::move(screen); }

  /// The canary's figures and the ensemble's: what the event-driven evaluation needs, from the
  /// running figures. Equal to canary_stats_exact() within 4 ULP or 1e-12 relative, and equal
  /// to it outright wherever a screened figure comes near a threshold or a printed rounding
  /// boundary (then it is that recomputation). Holds the canary's ModelStats only (when it has
  /// predictions).
  WindowStats canary_stats();
  /// The same written over `out`, whose storage is kept (the monitor's evaluation at every
  /// event).
  void canary_stats_into(WindowStats& out);
  /// The same figures recomputed from the window's samples (numpy's summation order).
  WindowStats canary_stats_exact() const;
  /// Every model's figures and the ensemble's: what the interval check and scoreboard need
  /// (equal to compute_window_stats over the window's events).
  WindowStats full_stats() const;
  /// The canary's usable confidences, ranked (the values canary_stats()'s P10 and P90 are read
  /// from; CheckInput::canary_ranks, ABI 2.2), valid until the next add().
  RankedConfidences canary_ranks() const noexcept;

  /// canary_stats() calls so far, and those whose canary or ensemble figures were recomputed.
  struct ScreenCounts {
    std::uint64_t evaluations = 0;
    std::uint64_t exact_canary = 0;
    std::uint64_t exact_ensemble = 0;
  };
  const ScreenCounts& screen_counts() const noexcept { return screen_counts_; }

 private:
  // One prediction of any model, its name interned (full_stats needs every model's samples).
  struct ModelSample {
    std::uint32_t model = 0;
    Sample sample;
  };
  // The event's votes live in its record (one deque, one push and one pop an event, where a
  // second deque of votes had its own), counted in add()'s walk over the predictions.
  struct EventRecord {
    std::uint32_t predictions = 0;  // its entries at the front of predictions_ when it leaves
    bool has_canary = false;
    EventVotes votes;        // event_votes(event)
    double agreement = 0.0;  // what VoteAggregates::add returned for `votes`
  };

  void evict_oldest();
  // The window's per-event votes, oldest first (VoteAggregates::rebase's input): the records
  // seen through their votes. Not std::views::transform: clang 14 (the sanitizer build's
  // compiler) cannot compile libstdc++ 12's ranges over a deque.
  class WindowVotes {
   public:
    class Iterator {
     public:
      explicit Iterator(std::deque<EventRecord>::const_iterator at) : at_(at) {}
      const EventVotes& operator*() const { return at_->votes; }
      Iterator& operator++() {
        ++at_;
        return *this;
      }
      bool operator!=(const Iterator& other) const { return at_ != other.at_; }

     private:
      std::deque<EventRecord>::const_iterator at_;
    };
    explicit WindowVotes(const std::deque<EventRecord>& records) : records_(records) {}
    Iterator begin() const { return Iterator(records_.begin()); }
    Iterator end() const { return Iterator(records_.end()); }

   private:
    const std::deque<EventRecord>& records_;
  };
  WindowVotes window_votes() const { return WindowVotes(events_); }
  // Engines list their models in the same order at every event: the guess (the model after
  // the previous one) is nearly always right, and costs one string comparison (inline, as the
  // canary's: four of each an event, each a memcmp call through operator==). Inline too: a
  // call per prediction of every event otherwise; the lookup and interning are the rare case.
  std::uint32_t model_id(const std::string& name, std::uint32_t guess) {
    if (guess < model_names_.size() && model_predictions_[guess] > 0 &&
        qsc::same_text(model_names_[guess], name)) {
      return guess;
    }
    return model_id_looked_up(name);
  }
  std::uint32_t model_id_looked_up(const std::string& name);
  // One prediction of model `id` left the window. Inline: evict_oldest calls it per prediction,
  // and the model nearly always keeps others (release_unused is the rare case).
  void release_model(std::uint32_t id) {
    if (--model_predictions_[id] == 0) release_unused(id);
  }
  void release_unused(std::uint32_t id);
  ModelStats exact_canary_model() const;
  EnsembleStats exact_ensemble() const;

  std::string canary_;
  std::size_t capacity_;
  std::deque<EventRecord> events_;
  std::deque<ModelSample> predictions_;
  std::deque<Sample> canary_samples_;
  std::uint64_t newest_ms_ = 0;

  SampleAggregates canary_figures_;
  VoteAggregates ensemble_figures_;
  FigureScreen screen_;
  ScreenCounts screen_counts_;

  // Interned model names: an id is bound while the window holds a prediction of its model.
  std::vector<std::string> model_names_;
  std::vector<std::size_t> model_predictions_;
  std::vector<std::uint32_t> free_model_ids_;
  std::unordered_map<std::string, std::uint32_t> model_ids_;
  std::uint32_t first_model_of_last_event_ = 0;
};

}  // namespace qsc::agent

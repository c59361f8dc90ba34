// The canary's window: the newest N events since its weight took effect, kept so that the
// canary's figures and the ensemble's can be recomputed cheaply on every evaluation.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <vector>

#include "qsc/event.hpp"
#include "qsc/stats.hpp"

namespace qsc::agent {

/// A sliding window of events for one canary model.
class CanaryWindow {
 public:
  /// Keeps at most `window_events` events; the canary is `canary_model`.
  CanaryWindow(std::string canary_model, std::size_t window_events);

  /// Adds an event (oldest first); the oldest falls out past the window's size.
  void add(const TradeIntent& event);
  /// Events in the window.
  std::size_t events() const noexcept { return events_.size(); }
  /// The canary's predictions in the window.
  std::size_t canary_predictions() const noexcept;
  /// The newest event's time (stream ID milliseconds), 0 when empty.
  std::uint64_t newest_event_ms() const noexcept { return newest_ms_; }

  /// The canary's figures and the ensemble's: what the event-driven evaluation needs. The
  /// returned WindowStats holds the canary's ModelStats only (when it has predictions).
  WindowStats canary_stats() const;
  /// Every model's figures and the ensemble's: what the interval check and scoreboard need.
  WindowStats full_stats() const;
  /// The events, oldest first (for the scoreboard).
  const std::deque<TradeIntent>& contents() const noexcept { return events_; }

 private:
  std::string canary_;
  std::size_t capacity_;
  std::deque<TradeIntent> events_;
  // Kept in step with events_: the canary's sample (if any) and the event's votes, so the hot
  // evaluation never walks strings.
  std::deque<Sample> canary_samples_;
  std::deque<bool> has_canary_;
  std::deque<EventVotes> votes_;
  std::uint64_t newest_ms_ = 0;
};

}  // namespace qsc::agent

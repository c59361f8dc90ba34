// The canary's window.
#include "monitor/canary_window.hpp"

#include <algorithm>

namespace qsc::agent {

CanaryWindow::CanaryWindow(std::string canary_model, std::size_t window_events)
    : canary_(std::move(canary_model)), capacity_(std::max<std::size_t>(1, window_events)) {}

void CanaryWindow::add(const TradeIntent& event) {
  if (events_.size() == capacity_) {
    events_.pop_front();
    if (has_canary_.front()) canary_samples_.pop_front();
    has_canary_.pop_front();
    votes_.pop_front();
  }
  events_.push_back(event);
  bool found = false;
  for (const auto& p : event.predictions) {
    if (p.model == canary_) {
      canary_samples_.push_back(to_sample(p));
      found = true;
      break;
    }
  }
  has_canary_.push_back(found);
  votes_.push_back(event_votes(event));
  newest_ms_ = std::max(newest_ms_, event.time_ms);
}

std::size_t CanaryWindow::canary_predictions() const noexcept {
  return canary_samples_.size();
}

WindowStats CanaryWindow::canary_stats() const {
  WindowStats w;
  w.events = events_.size();
  if (!canary_samples_.empty()) {
    std::vector<Sample> samples(canary_samples_.begin(), canary_samples_.end());
    w.models.push_back(compute_model_stats(canary_, samples));
  }
  std::vector<EventVotes> votes(votes_.begin(), votes_.end());
  w.ensemble = compute_ensemble(votes);
  return w;
}

WindowStats CanaryWindow::full_stats() const {
  std::vector<TradeIntent> events(events_.begin(), events_.end());
  return compute_window_stats(events);
}

}  // namespace qsc::agent

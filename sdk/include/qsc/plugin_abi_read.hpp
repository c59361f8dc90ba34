// Reading the C ABI's structs (qsc/plugin_abi.h) into the SDK's C++ types: what the C++ layer
// (qsc/plugin.hpp) hands a Detector or an Action. Header-only, so a C++ plugin needs no library
// of the agent's.
//
// Every field of ABI 2.0 is read unconditionally: any 2.x host fills them. A field appended by a
// later minor must be read only under QSC_ABI_HAS (an older host's struct does not hold it) and
// take its default otherwise.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qsc/action.hpp"
#include "qsc/detector.hpp"
#include "qsc/event.hpp"
#include "qsc/event_view.hpp"
#include "qsc/plugin_abi.h"
#include "qsc/stats.hpp"

namespace qsc::abi {

inline std::string_view view(qsc_str s) noexcept {
  return s.data == nullptr ? std::string_view() : std::string_view(s.data, s.length);
}

// Reads into `m` over its previous contents: the model name keeps its storage.
inline void read_model_stats(const qsc_model_stats& c, ModelStats& m) {
  assign_changed(m.model, view(c.model));
  m.predictions = c.predictions;
  for (std::size_t i = 0; i < kVoteKinds; ++i) {
    m.votes[i] = c.votes[i];
    m.share_pct[i] = c.share_pct[i];
  }
  m.confidence_samples = c.confidence_samples;
  m.conf_mean = c.conf_mean;
  m.conf_std = c.conf_std;
  m.p10 = c.p10;
  m.p90 = c.p90;
  m.range = c.range;
  m.normalized = c.normalized;
  m.confidence_violations = c.confidence_violations;
  for (std::size_t i = 0; i < m.by_status.size(); ++i) m.by_status[i] = c.by_status[i];
  m.inactive = c.inactive;
  m.last_inactive_reason = static_cast<InactiveReason>(c.last_inactive_reason);
  m.newest_inactive = static_cast<InactiveReason>(c.newest_inactive);
}

inline ModelStats read_model_stats(const qsc_model_stats& c) {
  ModelStats m;
  read_model_stats(c, m);
  return m;
}

inline EnsembleStats read_ensemble_stats(const qsc_ensemble_stats& c) {
  EnsembleStats e;
  e.events = c.events;
  e.agreement_pct = c.agreement_pct;
  e.hard_disagree_pct = c.hard_disagree_pct;
  return e;
}

// Reads into `t` over its previous contents (the error text keeps its storage).
inline void read_telemetry(const qsc_telemetry_health& c, TelemetryHealth& t) {
  t.source_ok = c.source_ok != 0;
  assign_changed(t.source_error, view(c.source_error));
  t.events_seen = c.events_seen;
  t.seconds_since_last_event = c.seconds_since_last_event;
  t.events_lost = c.events_lost;
  t.rejected = c.rejected;
  t.rejected_pct = c.rejected_pct;
  t.rejected_window_entries = c.rejected_window_entries;
}

inline TelemetryHealth read_telemetry(const qsc_telemetry_health& c) {
  TelemetryHealth t;
  read_telemetry(c, t);
  return t;
}

// Reads into `e` over its previous contents: strings and the prediction vector keep their
// storage.
inline void read_event(const qsc_event& c, TradeIntent& e) {
  e.time_ms = c.time_ms;
  e.seq = c.seq;
  assign_changed(e.symbol, view(c.symbol));
  e.side.reset();
  if (c.side >= 0) e.side = static_cast<Vote>(c.side);
  e.confidence = c.confidence;
  e.predictions.resize(c.prediction_count);
  for (std::size_t i = 0; i < c.prediction_count; ++i) {
    const qsc_prediction& p = *c.predictions[i];
    Prediction& out = e.predictions[i];
    assign_changed(out.model, view(p.model));
    assign_changed(out.model_string, view(p.model_string));
    out.action = static_cast<Vote>(p.action);
    out.confidence = p.confidence;
    out.raw_confidence = p.raw_confidence;
    out.confidence_status = static_cast<ConfidenceStatus>(p.confidence_status);
    out.inactive = static_cast<InactiveReason>(p.inactive);
  }
}

inline TradeIntent read_event(const qsc_event& c) {
  TradeIntent e;
  read_event(c, e);
  return e;
}

/// A qsc::CheckInput read from the C input, owning everything it points to. Not movable: the
/// input points into the object itself. read() reads the next input over the previous one, so a
/// copy kept for an instance allocates nothing once its strings and vectors have grown to the
/// host's window (the monitor calls every detector at every event).
class CheckInputCopy {
 public:
  CheckInputCopy() = default;
  /// `with_new_events`: copy the events since the previous check (CheckInput::new_events); a
  /// detector that does not read them is spared the copy.
  explicit CheckInputCopy(const qsc_check_input& c, bool with_new_events = true) {
    read(c, with_new_events);
  }
  CheckInputCopy(const CheckInputCopy&) = delete;
  CheckInputCopy& operator=(const CheckInputCopy&) = delete;

  /// Reads `c` over the previous input; returns input().
  const CheckInput& read(const qsc_check_input& c, bool with_new_events = true) {
    window_.events = c.window->events;
    // resize, not clear + push_back: the elements kept keep their strings' storage.
    window_.models.resize(c.window->model_count);
    std::optional<std::size_t> canary_index;
    for (std::size_t i = 0; i < c.window->model_count; ++i) {
      if (c.window->models[i] == c.canary) canary_index = i;
      read_model_stats(*c.window->models[i], window_.models[i]);
    }
    window_.ensemble = read_ensemble_stats(*c.window->ensemble);
    new_events_.resize(with_new_events ? c.new_event_count : 0);
    for (std::size_t i = 0; i < new_events_.size(); ++i) {
      read_event(*c.new_events[i], new_events_[i]);
    }
    input_.canary_model = view(c.canary_model);
    input_.window = &window_;
    if (canary_index) {
      input_.canary = &window_.models[*canary_index];
    } else if (c.canary != nullptr) {
      read_model_stats(*c.canary, own_canary_);
      input_.canary = &own_canary_;
    } else {
      input_.canary = nullptr;
    }
    read_telemetry(*c.telemetry, input_.telemetry);
    input_.min_events = static_cast<std::size_t>(c.min_events);
    input_.new_events = new_events_;  // the events since the previous check (owned here)
    // The same events in place: free to hand to every detector (they are the host's).
    input_.new_event_views = EventViews(c.new_events, c.new_event_count);
    // ABI 2.2: an older host's input ends before the ranks (then none).
    input_.canary_ranks = {};
    if (QSC_ABI_HAS(&c, qsc_check_input, canary_rank) && c.canary_rank != nullptr) {
      input_.canary_ranks = {c.canary_ranks, c.canary_rank_count, c.canary_rank};
    }
    // ABI 2.4: likewise the canary's watch.
    input_.canary_watch = {};
    if (QSC_ABI_HAS(&c, qsc_check_input, newest_event_ms) && c.canary_watch_given == 1) {
      input_.canary_watch = {true, c.canary_last_prediction_ms, c.newest_event_ms};
    }
    return input_;
  }

  const CheckInput& input() const noexcept { return input_; }
  const std::vector<TradeIntent>& new_events() const noexcept { return new_events_; }

 private:
  WindowStats window_;
  ModelStats own_canary_;  // the canary when it is not one of the window's models
  std::vector<TradeIntent> new_events_;
  CheckInput input_;
};

inline ActionOutcome read_outcome(const qsc_action_outcome& c) {
  ActionOutcome o;
  o.action = std::string(view(c.action));
  o.ok = c.ok != 0;
  o.detail = std::string(view(c.detail));
  o.duration_ms = c.duration_ms;
  return o;
}

inline Incident read_incident(const qsc_incident& c) {
  Incident i;
  i.kind = static_cast<IncidentKind>(c.kind);
  i.trigger = std::string(view(c.trigger));
  i.reason = std::string(view(c.reason));
  i.canary_model = std::string(view(c.canary_model));
  i.canary_weight = c.canary_weight;
  for (std::size_t k = 0; k < c.violation_count; ++k) {
    i.violations.emplace_back(view(c.violations[k]));
  }
  i.figures_json = std::string(view(c.figures_json));
  i.state_json = std::string(view(c.state_json));
  i.hostname = std::string(view(c.hostname));
  i.timestamp = std::string(view(c.timestamp));
  for (std::size_t k = 0; k < c.earlier_count; ++k)
    i.earlier.push_back(read_outcome(*c.earlier[k]));
  return i;
}

}  // namespace qsc::abi

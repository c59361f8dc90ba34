// telemetry_stale: no telemetry, no decision. Fires when no event has arrived for stale_after (on
// the agent's clock, from the last arrival), when events were lost beyond max_lost_events, when
// the source is down, or when more than max_rejected_pct of the window's entries were unreadable
// (unreadable telemetry is missing telemetry) once the window holds min_events entries, or when
// the canary alone has published no prediction for canary_silent_after while the stream goes on
// (its peers' events keep the stream fresh, so without this its predictions would only age out
// of the window and the period end inconclusive with the canary live and unwatched).
// Staleness, loss, the source and the canary's silence are judged at once, never waiting for
// min_events.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "../common/detector_support.hpp"
#include "qsc/duration.hpp"
#include "qsc/gate_config.hpp"
#include "qsc/plugin.hpp"

namespace {

constexpr double kDefaultStaleAfterS = 300.0;
constexpr double kDefaultMaxRejectedPct = 1.0;
// As telemetry.stale_after: a silence longer than an hour would keep a dead engine's canary live.
constexpr double kMaxStaleAfterS = 3600.0;
constexpr double kDefaultWindowEvents = 2000.0;

/// A number of seconds, or a duration text; nullopt when neither.
std::optional<double> seconds_of(const nlohmann::json& value) {
  if (value.is_number()) return value.get<double>();
  if (value.is_string()) {
    // The SDK's parser, the one the agent reads telemetry.stale_after with.
    const auto d = qsc::parse_duration(value.get<std::string>());
    if (!d) return std::nullopt;
    return static_cast<double>(d->count()) / 1000.0;
  }
  return std::nullopt;
}

/// Appends whole seconds, unless rounding would make a figure past its limit print as within it
/// (then tenths).
void append_seconds(std::string& out, double seconds, double limit_s) {
  const std::size_t start = out.size();
  qsc::append_fixed(out, seconds, 0);
  if (!(seconds > limit_s)) return;
  double printed = 0.0;
  const auto [end, ec] = std::from_chars(out.data() + start, out.data() + out.size(), printed);
  // A text from_chars cannot read whole (an infinity is never above a finite limit here, and
  // NaN is never above it) is left as printed.
  if (ec != std::errc{} || end != out.data() + out.size() || printed > limit_s) return;
  out.resize(start);
  qsc::append_fixed(out, seconds, 1);
}

// The defaults follow telemetry.stale_after and telemetry.max_rejected_pct; max_lost_events
// stays below telemetry.window_events (2000 by default).
// clang-format off
constexpr const char kTelemetryStaleSchema[] = R"json({
    "stale_after": {"type": "duration", "min": 1, "max": 3600, "default": 300,
                    "description": "fires when no event arrived for this long (default: telemetry.stale_after)"},
    "max_lost_events": {"type": "number", "min": 0, "max": 2000, "max_from": "telemetry.window_events",
                        "max_excluded": true,
                        "why": "at telemetry.window_events lost events a whole window could go missing unnoticed",
                        "default": 0, "description": "fires when more events than this were lost in the ring"},
    "max_rejected_pct": {"type": "number", "min": 0, "max": 50, "max_excluded": true, "why": "at 50 or more most of a window could be unreadable and the verdict would rest on the readable minority; the default is 1", "default": 1,
                         "description": "fires when more entries than this (percent) were unreadable (default: telemetry.max_rejected_pct)"},
    "canary_silent_after": {"type": "duration", "min": 1, "max": 3600, "default": 300,
                            "description": "fires when the canary published no prediction for this long while events arrive (default: stale_after)"}
})json";
// clang-format on

/// A duration key of the section: seconds from 1 to kMaxStaleAfterS (1h), or `fallback` when
/// absent; a refusal is recorded in `config`.
double duration_key(qsc::ConfigSection& config, std::string_view key, double fallback) {
  const auto* raw = config.raw(key);
  if (raw == nullptr) return fallback;
  const auto s = seconds_of(*raw);
  if (!s || !std::isfinite(*s) || *s < 1.0 || *s > kMaxStaleAfterS) {
    config.fail(key,
                "must be seconds from 1 to 3600 (1h) or a duration such as \"300s\" or \"5m\", "
                "got " +
                    raw->dump());
    return fallback;
  }
  return *s;
}

/// How long the canary has published no prediction, from the host's watch of the period
/// (CheckInput::canary_watch, ABI 2.4) or, from an older host, the events shown to the detector
/// (CheckInput::new_event_views), and the stream's own silence. Measured on event time up to the
/// newest event (the same in replay and in the live monitor, which show the same events), then
/// on the caller's clock since that event arrived (TelemetryHealth::seconds_since_last_event):
/// a canary that stops just before the whole stream stops is not granted the stream's
/// stale_after on top of its own silence. The host's watch outlives this instance: a reload
/// that replaces it does not start the canary's silence again (the events alone would, from
/// the new instance's first one).
class CanarySilence {
 public:
  /// Takes the host's watch, or folds in the events since the previous check (a new canary
  /// starts a new watch).
  void fold(const qsc::CheckInput& input) {
    if (input.canary_model != canary_) {
      *this = CanarySilence();
      canary_ = std::string(input.canary_model);
    }
    if (input.canary_watch.given) {
      // The same figures the fold below keeps, kept by the host from the period's first event.
      watching_ = true;
      newest_ms_ = input.canary_watch.newest_event_ms;
      last_prediction_ms_ = input.canary_watch.last_prediction_ms;
      return;
    }
    for (const auto& event : input.new_event_views) {
      if (!watching_) {
        // Grace before the canary's first prediction: the watch's first event (the monitor reads
        // from the activation on) counts as its last prediction, so a canary gets
        // canary_silent_after from there to publish, as after any prediction.
        watching_ = true;
        newest_ms_ = last_prediction_ms_ = event.time_ms;
      }
      // The newest time seen: an entry stamped in the past must not move the clock back.
      newest_ms_ = std::max(newest_ms_, event.time_ms);
      for (const auto& p : event.predictions) {
        // Any prediction of the canary, active or not: an inactive one is inactive_canary's.
        if (p.model == canary_) {
          last_prediction_ms_ = std::max(last_prediction_ms_, event.time_ms);
          break;
        }
      }
    }
  }

  /// Seconds without a canary prediction, given the stream's silence since its newest event;
  /// before any event the stream's silence alone (+inf when that is unknown).
  double seconds(double stream_silent_s) const {
    if (!std::isfinite(stream_silent_s)) return stream_silent_s;
    const double since_newest_s = std::max(stream_silent_s, 0.0);
    if (!watching_) return since_newest_s;
    return static_cast<double>(newest_ms_ - last_prediction_ms_) / 1000.0 + since_newest_s;
  }
  /// True when the newest event holds a canary prediction (or none was seen): the canary's
  /// silence is then the stream's own.
  bool silent_with_stream() const noexcept {
    return !watching_ || last_prediction_ms_ == newest_ms_;
  }
  /// True once the watch has begun (an event was shown).
  bool watching() const noexcept { return watching_; }
  /// The time of the canary's last prediction (or of the watch's first event).
  std::uint64_t last_prediction_ms() const noexcept { return last_prediction_ms_; }

 private:
  std::string canary_;
  bool watching_ = false;
  std::uint64_t newest_ms_ = 0;
  std::uint64_t last_prediction_ms_ = 0;
};

class TelemetryStale final : public qsc::detectors::IntoDetector<TelemetryStale> {
 public:
  static constexpr const char* kConfigSchema = kTelemetryStaleSchema;
  // The canary's silence is kept from the events shown to each check, read in place
  // (CheckInput::new_event_views): without kReadsNewEvents no C++ copy of them is made.
  TelemetryStale(double stale_after_s, double max_lost_events, double max_rejected_pct,
                 double canary_silent_after_s)
      : stale_after_s_(stale_after_s),
        max_lost_events_(max_lost_events),
        max_rejected_pct_(max_rejected_pct),
        canary_silent_after_s_(canary_silent_after_s),
        stale_limit_(qsc::format_threshold(stale_after_s)),
        canary_limit_(qsc::format_threshold(canary_silent_after_s)),
        lost_limit_(qsc::format_threshold(max_lost_events)),
        rejected_limit_(qsc::format_threshold(max_rejected_pct)) {}

  /// Keys: stale_after (seconds, or "300s"/"5m"), max_lost_events (0 to below the host's
  /// telemetry.window_events), max_rejected_pct (0 to below 50), canary_silent_after (a
  /// duration as stale_after). Defaults follow the host's telemetry.stale_after and
  /// telemetry.max_rejected_pct; canary_silent_after defaults to the effective stale_after.
  static qsc::Result<std::unique_ptr<TelemetryStale>> create(const nlohmann::json& section,
                                                             const nlohmann::json& host) {
    double stale_after_s = kDefaultStaleAfterS;
    double max_rejected_pct = kDefaultMaxRejectedPct;
    double window_events = kDefaultWindowEvents;
    if (host.is_object() && host.contains("telemetry") && host["telemetry"].is_object()) {
      const auto& t = host["telemetry"];
      if (auto s = t.contains("stale_after") ? seconds_of(t["stale_after"]) : std::nullopt) {
        stale_after_s = *s;
      }
      if (t.contains("max_rejected_pct") && t["max_rejected_pct"].is_number()) {
        max_rejected_pct = t["max_rejected_pct"].get<double>();
      }
      if (t.contains("window_events") && t["window_events"].is_number() &&
          t["window_events"].get<double>() >= 1.0) {
        window_events = t["window_events"].get<double>();
      }
    }
    qsc::ConfigSection config(section, "plugins.config.telemetry_stale");
    stale_after_s = duration_key(config, "stale_after", stale_after_s);
    // The canary's own telemetry is held to the stream's: silent as long as the stream may be.
    const double canary_silent_after_s = duration_key(config, "canary_silent_after", stale_after_s);
    // Losing a whole window's worth of events unnoticed means the window judged could be missing
    // entirely: the tolerance stays below telemetry.window_events.
    using End = qsc::ConfigSection::End;
    const double max_lost = config.number(
        "max_lost_events", 0.0, 0.0, End::kIncluded, window_events, End::kExcluded,
        "at telemetry.window_events lost events a whole window could go missing unnoticed");
    max_rejected_pct =
        config.number("max_rejected_pct", max_rejected_pct, 0.0, End::kIncluded,
                      qsc::kMaxRejectedPctLimit, End::kExcluded, qsc::kMaxRejectedPctWhy);
    if (auto status = config.finish(); !status) return status.error();
    return std::make_unique<TelemetryStale>(stale_after_s, max_lost, max_rejected_pct,
                                            canary_silent_after_s);
  }

  /// check() over the previous result (qsc/plugin.hpp): no allocation per check once its
  /// message and figures have grown.
  void check_into(const qsc::CheckInput& input, qsc::CheckResult& out) {
    const auto& t = input.telemetry;
    canary_silence_.fold(input);
    const double since_s = t.seconds_since_last_event;
    const double canary_silent_s = canary_silence_.seconds(since_s);
    qsc::detectors::set_figures(
        out, {{"seconds_since_last_event", since_s},
              {"events_lost", static_cast<double>(t.events_lost)},
              {"rejected_pct", t.rejected_pct},
              {"rejected_window_entries", static_cast<double>(t.rejected_window_entries)},
              {"source_ok", t.source_ok ? 1.0 : 0.0},
              {"canary_silent_seconds", canary_silent_s}});
    std::string& message = out.message;
    message.assign(kTitle);
    // Each problem is appended after the title, separated by ", ".
    const auto begin_problem = [&message] {
      if (message.size() > kTitle.size()) message += ", ";
    };
    if (!t.source_ok) {
      begin_problem();
      message += "source unavailable (";
      message += t.source_error.empty() ? std::string_view("no reason given")
                                        : std::string_view(t.source_error);
      message += ')';
    }
    const bool stream_stale = !std::isfinite(since_s) || since_s > stale_after_s_;
    if (!std::isfinite(since_s)) {
      begin_problem();
      message += "no event time known (>";
      message += stale_limit_;
      message += " s)";
    } else if (since_s > stale_after_s_) {
      begin_problem();
      message += "no events for ";
      append_seconds(message, since_s, stale_after_s_);
      message += " s (>";
      message += stale_limit_;
      message += " s)";
    }
    // Named apart from the stream's silence only when it says more: a canary that published in
    // the newest event is exactly as silent as the stream, already reported above.
    if (canary_silent_s > canary_silent_after_s_ &&
        !(stream_stale && canary_silence_.silent_with_stream())) {
      begin_problem();
      message += "no prediction from canary ";
      message += input.canary_model;
      message += " for ";
      append_seconds(message, canary_silent_s, canary_silent_after_s_);
      message += " s (>";
      message += canary_limit_;
      message += " s)";
    }
    if (static_cast<double>(t.events_lost) > max_lost_events_) {
      begin_problem();
      message += "events_lost=";
      message += std::to_string(t.events_lost);
      message += " (>";
      message += lost_limit_;
      message += ')';
    }
    // NaN means the share could not be computed: that is not a healthy share. A share over
    // fewer than min_events entries is not judged (one bad entry among the first few would be
    // a large share); unreadable entries alone still end in silence, which goes stale.
    const bool share_counts =
        t.rejected_window_entries < 0 || static_cast<std::uint64_t>(t.rejected_window_entries) >=
                                             static_cast<std::uint64_t>(input.min_events);
    if (std::isnan(t.rejected_pct) || (share_counts && t.rejected_pct > max_rejected_pct_)) {
      char pct[32];
      std::snprintf(pct, sizeof pct, "%.1f", t.rejected_pct);
      begin_problem();
      message += "rejected=";
      message += pct;
      message += "% (>";
      message += rejected_limit_;
      message += "%)";
    }
    if (message.size() > kTitle.size()) {
      out.verdict = qsc::Verdict::kViolation;
      return;
    }
    out.verdict = qsc::Verdict::kPass;
    message += "last event ";
    append_seconds(message, std::max(since_s, 0.0), stale_after_s_);
    message += " s ago (<=";
    message += stale_limit_;
    message += " s)";
    set_horizon(t, out);
  }

  std::string effective_config() const override {
    return nlohmann::json{{"stale_after", stale_after_s_},
                          {"max_lost_events", max_lost_events_},
                          {"max_rejected_pct", max_rejected_pct_},
                          {"canary_silent_after", canary_silent_after_s_}}
        .dump();
  }

 private:
  static constexpr std::string_view kTitle = "Telemetry stale: ";

  /// The verdict horizon of a pass (ABI 2.3, docs/writing-a-detector.md "Verdict horizons"):
  /// accepted events alone change none of its checks but the two silences, which move with time.
  /// It holds, whatever the events, while
  ///   - the source stays up, no event is lost and no unreadable entry arrives (the conditions;
  ///     without one, the rejected share over the window's newest entries can only fall, so a
  ///     share within max_rejected_pct now stays within it: given only then, whether or not the
  ///     share is judged yet),
  ///   - the stream's silence t stays <= stale_after, and
  ///   - the canary's, (N - L) / 1000 + max(t, 0) with L its last prediction (which only moves
  ///     on), stays <= canary_silent_after: (N - L0) / 1000 + max(t, 0) bounds it, L0 today's
  ///     L (the clock, read by the host at every evaluation in the same expression).
  /// Before the watch's first event the canary's silence is the stream's own and its start not
  /// yet known: no horizon.
  void set_horizon(const qsc::TelemetryHealth& t, qsc::CheckResult& out) const {
    if (!canary_silence_.watching() || !t.source_ok || std::isnan(t.rejected_pct) ||
        t.rejected_pct > max_rejected_pct_) {
      return;
    }
    // As many events as the host allows: the bound is in time and in the conditions, not in
    // the count of events.
    out.horizon_events = std::numeric_limits<std::uint64_t>::max();
    out.horizon_unless =
        QSC_UNLESS_EVENTS_LOST | QSC_UNLESS_REJECTED_ENTRY | QSC_UNLESS_SOURCE_DOWN;
    out.horizon_clock = {true, stale_after_s_, canary_silence_.last_prediction_ms(),
                         canary_silent_after_s_};
  }

  double stale_after_s_;
  double max_lost_events_;
  double max_rejected_pct_;
  double canary_silent_after_s_;
  // The thresholds as the messages print them, printed once.
  std::string stale_limit_;
  std::string canary_limit_;
  std::string lost_limit_;
  std::string rejected_limit_;
  CanarySilence canary_silence_;
};

}  // namespace

// The live watch only: its clock is the monitor's arrival clock; the gate judges telemetry with
// telemetry.stale_after, max_rejected_pct and any loss itself.
QSC_SCOPED_DETECTOR_PLUGIN(
    TelemetryStale, "telemetry_stale", "1.0.0",
    "Fires when no event arrived for stale_after, events were lost, the source is "
    "down, too many entries were unreadable or the canary published nothing for "
    "canary_silent_after",
    ::qsc::DetectorScope::kCanaryOnly)

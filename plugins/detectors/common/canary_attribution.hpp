// Canary attribution for the ensemble checks (ensemble_dysfunction, model_chaos) and the
// per-model share checks (action_collapse, quality_gate's max_share_pct and max_hold_pct):
// whether the canary's own votes are what moves a figure, as opposed to the market or the peers
// (docs/ACCURACY.md, "Ensemble attribution" and "Share attribution"). Header-only, like
// detector_support.hpp, so each detector stays one library built against the SDK alone.
//
// For the share checks the paired figure is simpler: per event and action k, 1 when the canary
// votes k minus the share of its active peers voting k (canary_share_excess); the test and its
// messages are the same (ExcessEvidence).
//
// Per event with an active canary vote and at least one active peer vote, the canary's excess
// effect on a per-event figure f (agreement, hard disagreement) is
//     x_t = mean over peers j of f(votes without peer j) - f(votes without the canary),
// the figure of an ensemble of the same size with the canary in it (in place of one peer) minus
// the figure of the peers alone. x_t is bounded: in [-1, 1] for both figures. When the canary
// is one more model like its peers, the two terms have the same expectation (the market and
// the peers cancel), so E x_t = 0: a trend that makes every model agree, or a quiet market that
// makes every model's noise split the votes, moves both terms alike.
//
// Evidence is a one-sided test by betting in each direction (Waudby-Smith and Ramdas):
//     K+_t = prod_s (1 + l+_s (x_s - d)),   K-_t = prod_s (1 + l-_s (-x_s - d)),
// predictable bets l in [0, 1 / (2 (1 + d))], so each is a nonnegative supermartingale with
// K_0 = 1 while the canary's excess in its direction is at most d, and Ville's inequality
// bounds the probability that it EVER reaches 1/alpha by alpha, however often it is read.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "betting_test.hpp"
#include "detector_support.hpp"
#include "qsc/config_section.hpp"
#include "qsc/detector.hpp"
#include "qsc/event_view.hpp"
#include "qsc/result.hpp"
#include "vote_memo.hpp"

namespace qsc::detectors {

/// Whom a check blames for an out-of-band figure.
enum class Attribution {
  kCanary,    ///< only the canary, when its own excess over its peers is what moves the figure
  kEnsemble,  ///< an ensemble check's literal rule: the figure alone, whatever moved it
  kModel,     ///< a per-model share check's literal rule: the canary's share alone
};

inline constexpr const char* kAttributionCanary = "canary";
inline constexpr const char* kAttributionEnsemble = "ensemble";
inline constexpr const char* kAttributionModel = "model";

inline const char* attribution_name(Attribution a) noexcept {
  switch (a) {
    case Attribution::kCanary:
      return kAttributionCanary;
    case Attribution::kEnsemble:
      return kAttributionEnsemble;
    case Attribution::kModel:
      break;
  }
  return kAttributionModel;
}

/// The ensemble checks' default: the accuracy benchmark's evidence (docs/ACCURACY.md, "Ensemble
/// attribution").
inline constexpr Attribution kDefaultAttribution = Attribution::kCanary;
/// The share checks' default (action_collapse, quality_gate's share checks): the accuracy
/// benchmark's evidence (docs/ACCURACY.md, "Share attribution").
inline constexpr Attribution kDefaultShareAttribution = Attribution::kCanary;

// The schema entry both ensemble detectors declare (qsc/plugin_abi.h's schema; the string's
// two values are checked by create, which names the key and the allowed values).
// clang-format off
#define QSC_ATTRIBUTION_SCHEMA_ENTRY R"json("attribution": {"type": "string", "values": ["canary", "ensemble"], "default": "canary", "description": "\"canary\": fire only when the figure is out of band and the canary's own votes, beyond what a peer's do, are what moves it there (a sequential test: a false alarm at most 0.001 over the period); \"ensemble\": the runbook's literal rule, the figure alone. The gate and the scoreboard judge a window without a canary and always use the literal rule"})json"
// The same for the share checks (action_collapse, quality_gate's max_share_pct and max_hold_pct);
// its default is kDefaultShareAttribution's name.
#define QSC_SHARE_ATTRIBUTION_SCHEMA_ENTRY R"json("attribution": {"type": "string", "values": ["canary", "model"], "default": "canary", "description": "\"canary\": fire only when the canary's share of an action is over the threshold and the canary votes that action more than its active peers do on the same events (a sequential test: a false alarm at most 0.001 over the period; a canary without peers to compare with is judged by the literal rule); \"model\": the runbook's literal rule, the canary's share alone. The gate, qsc scoreboard and the rows of models other than the watched canary always use the literal rule"})json"
// clang-format on

/// A plugin section split into its attribution and the rest (the thresholds' keys).
struct AttributedSection {
  Attribution attribution = kDefaultAttribution;
  nlohmann::json thresholds = nlohmann::json::object();
};

/// Reads and removes "attribution" from `section`; the rest is left for the thresholds' reader
/// (which refuses unknown keys). The key takes "canary" or the name of `literal` (the check's
/// literal rule); anything else is a named error. Absent, it is `fallback`.
inline Result<AttributedSection> read_attribution(const nlohmann::json& section,
                                                  const std::string& plugin,
                                                  Attribution literal = Attribution::kEnsemble,
                                                  Attribution fallback = kDefaultAttribution) {
  AttributedSection out;
  out.attribution = fallback;
  if (!section.is_object()) {
    out.thresholds = section;  // the thresholds' reader names the problem
    return out;
  }
  out.thresholds = section;
  nlohmann::json own = nlohmann::json::object();
  if (auto it = out.thresholds.find("attribution"); it != out.thresholds.end()) {
    own["attribution"] = *it;
    out.thresholds.erase(it);
  }
  ConfigSection s(own, "plugins.config." + plugin);
  const std::string value = s.string("attribution", attribution_name(fallback));
  if (value == kAttributionCanary) {
    out.attribution = Attribution::kCanary;
  } else if (value == attribution_name(literal)) {
    out.attribution = literal;
  } else if (own.contains("attribution") && own["attribution"].is_string()) {
    s.fail("attribution", std::string("must be \"canary\" or \"") + attribution_name(literal) +
                              "\", got \"" + value + "\"");
  }
  if (auto status = s.finish(); !status) return status.error();
  return out;
}

/// The per-event figures whose attribution is tested.
enum class EnsembleFigure {
  kAgreement,     ///< largest vote count / votes
  kHardDisagree,  ///< 1 when there is a BUY and a SELL vote
};

/// One event's figure over its BUY, SELL and HOLD vote counts (at least one vote).
inline double event_figure(EnsembleFigure figure, std::size_t buy, std::size_t sell,
                           std::size_t hold) noexcept {
  if (figure == EnsembleFigure::kHardDisagree) return buy > 0 && sell > 0 ? 1.0 : 0.0;
  const std::size_t total = buy + sell + hold;
  return static_cast<double>(std::max({buy, sell, hold})) / static_cast<double>(total);
}

/// The same over vote counts indexed by Vote.
inline double event_figure(EnsembleFigure figure,
                           const std::array<std::size_t, kVoteKinds>& votes) noexcept {
  return event_figure(figure, votes[0], votes[1], votes[2]);
}

// The per-event helpers below are inlined into the folds, which call them for every event, and
// write their results field by field into the caller's variables: a struct returned whole (or
// an std::optional of one) was assembled on the stack with narrow stores and copied with wide
// loads the CPU cannot forward, a stall at every event in each of five detectors (count_votes
// was about 1% of replay's samples in each, almost all on that copy; perf annotate,
// docs/PERFORMANCE.md, "Session 17: the detectors' per-event cost (votes17)").
#define QSC_PER_EVENT [[gnu::always_inline]] inline

/// One event's active votes as the attribution reads them, from one pass over its predictions.
struct EventVotes {
  /// canary_vote when the canary cast no active vote.
  static constexpr std::size_t kNoVote = kVoteKinds;
  std::array<std::size_t, kVoteKinds> votes{};  ///< every active vote, the canary's included
  std::size_t canary_vote = kNoVote;            ///< the canary's first active vote
  bool canary_predicted = false;                ///< any prediction of the canary, active or not

  bool canary_voted() const noexcept { return canary_vote < kVoteKinds; }
  std::size_t total() const noexcept { return votes[0] + votes[1] + votes[2]; }
};

/// Counts `event`'s active votes and finds the canary's by walking its predictions, into `v`
/// (as constructed). O(models). `Event` is a TradeIntent or an EventView. What count_votes does
/// when the host gave no count.
template <typename Event>
QSC_PER_EVENT void walk_votes_into(const Event& event, std::string_view canary,
                                   EventVotes& v) noexcept {
  for (const auto& p : event.predictions) {
    // By address first: the host names the canary's predictions with the input's canary_model.
    const bool is_canary = same_model(p.model, canary);
    v.canary_predicted = v.canary_predicted || is_canary;
    if (p.is_inactive()) continue;  // not voting: counted by neither figure
    const auto kind = static_cast<std::size_t>(p.action);
    if (!v.canary_voted() && is_canary) v.canary_vote = kind;
    ++v.votes[kind];
  }
}

/// `event`'s active votes and the canary's into `v` (as constructed): the host's count when it
/// made one for `canary` (ABI 2.5, EventView::votes_counted_for: O(1), written once per event
/// for every detector), else walk_votes_into. A count whose canary vote is no vote is not read
/// (fail closed: the walk decides).
template <typename Event>
QSC_PER_EVENT void count_votes_into(const Event& event, std::string_view canary,
                                    EventVotes& v) noexcept {
  if constexpr (std::is_same_v<Event, EventView>) {
    const qsc_event* counted = event.votes_counted_for(canary);
    if (counted != nullptr && counted->canary_vote < static_cast<std::int32_t>(kVoteKinds)) {
      for (std::size_t k = 0; k < kVoteKinds; ++k) v.votes[k] = counted->active_votes[k];
      if (counted->canary_vote >= 0) v.canary_vote = static_cast<std::size_t>(counted->canary_vote);
      v.canary_predicted = counted->canary_predicted != 0;
      return;
    }
  }
  walk_votes_into(event, canary, v);
}

/// walk_votes_into's count as a value.
template <typename Event>
EventVotes walk_votes(const Event& event, std::string_view canary) noexcept {
  EventVotes v;
  walk_votes_into(event, canary, v);
  return v;
}

/// count_votes_into's count as a value.
template <typename Event>
EventVotes count_votes(const Event& event, std::string_view canary) noexcept {
  EventVotes v;
  count_votes_into(event, canary, v);
  return v;
}

/// x_t for one event (see the top of this file) into `x`; false when the event has no active
/// canary vote or no active peer vote. O(1) from the event's counted votes.
QSC_PER_EVENT bool canary_excess_into(EnsembleFigure figure, const EventVotes& v,
                                      double& x) noexcept {
  const std::size_t total = v.total();
  if (!v.canary_voted() || total < 2) return false;
  // The counts are read one by one and the arrays below built from them, never copied whole:
  // a copy of v.votes was a wide load over the narrow stores that just wrote them, a stall the
  // CPU cannot forward (perf annotate, session 17).
  const std::size_t buy = v.votes[0];
  const std::size_t sell = v.votes[1];
  const std::size_t hold = v.votes[2];
  const std::size_t counts[kVoteKinds] = {buy, sell, hold};
  // The figure without one vote of each kind: without the canary, or without a peer that
  // voted that kind (every peer of a kind leaves the same counts).
  double without[kVoteKinds] = {0.0, 0.0, 0.0};
  if (buy != 0) without[0] = event_figure(figure, buy - 1, sell, hold);
  if (sell != 0) without[1] = event_figure(figure, buy, sell - 1, hold);
  if (hold != 0) without[2] = event_figure(figure, buy, sell, hold - 1);
  double with_canary = 0.0;
  for (std::size_t k = 0; k < kVoteKinds; ++k) {
    const std::size_t peer_votes = counts[k] - (k == v.canary_vote ? 1 : 0);
    with_canary += static_cast<double>(peer_votes) * without[k];
  }
  with_canary /= static_cast<double>(total - 1);
  x = with_canary - without[v.canary_vote];
  return true;
}

/// x_t of each action k for one event (the share checks' paired figure) into `x`: 1 when the
/// canary votes k, minus the share of the event's active peers that vote k; false when the
/// event has no active canary vote or no active peer vote. Each is in [-1, 1]; when the canary
/// is one more model like its peers, E x_t = 0 for every k whatever the market does. O(1) from
/// the event's counted votes.
QSC_PER_EVENT bool canary_share_excess_into(const EventVotes& v,
                                            std::array<double, kVoteKinds>& x) noexcept {
  if (!v.canary_voted()) return false;
  // Read one by one, as in canary_excess_into (an array copied and decremented at the
  // canary's index was compiled to the same wide load).
  const std::size_t canary = v.canary_vote;
  const std::size_t peer_votes[kVoteKinds] = {v.votes[0] - (canary == 0 ? 1 : 0),
                                              v.votes[1] - (canary == 1 ? 1 : 0),
                                              v.votes[2] - (canary == 2 ? 1 : 0)};
  const std::size_t peers = peer_votes[0] + peer_votes[1] + peer_votes[2];
  if (peers == 0) return false;
  for (std::size_t k = 0; k < kVoteKinds; ++k) {
    x[k] = (k == v.canary_vote ? 1.0 : 0.0) -
           static_cast<double>(peer_votes[k]) / static_cast<double>(peers);
  }
  return true;
}

/// canary_excess_into's result, as VoteMemo keeps it.
struct CanaryExcess {
  bool paired = false;
  double x = 0.0;
};

/// canary_share_excess_into's result, as VoteMemo keeps it.
struct CanaryShareExcess {
  bool paired = false;
  std::array<double, kVoteKinds> x{};
};

/// The memo of either, keyed by the event's active votes and the canary's vote (the only inputs
/// of canary_excess_into, for one figure, and of canary_share_excess_into).
template <typename Excess>
using ExcessMemo = VoteMemo<Excess>;

/// VoteMemo's key of `v`: the counts and the canary's vote (kNoVote is 3).
QSC_PER_EVENT std::uint64_t excess_key(const EventVotes& v) noexcept {
  return VoteMemo<CanaryExcess>::key(v.votes[0], v.votes[1], v.votes[2], v.canary_vote);
}

/// canary_excess_into(figure, v) through `memo` (which only ever sees `figure`): the remembered
/// result of the same counts, else computed (into `scratch` when the counts are too large to
/// key). The same doubles, without the divisions at every event.
QSC_PER_EVENT const CanaryExcess& memo_canary_excess(EnsembleFigure figure, const EventVotes& v,
                                                     ExcessMemo<CanaryExcess>& memo,
                                                     CanaryExcess& scratch) noexcept {
  return memo.get_or_compute(excess_key(v), scratch, [&](CanaryExcess& e) {
    e.paired = canary_excess_into(figure, v, e.x);
  });
}

/// canary_share_excess_into(v) through `memo`, as memo_canary_excess.
QSC_PER_EVENT const CanaryShareExcess& memo_canary_share_excess(
    const EventVotes& v, ExcessMemo<CanaryShareExcess>& memo, CanaryShareExcess& scratch) noexcept {
  return memo.get_or_compute(excess_key(v), scratch, [&](CanaryShareExcess& e) {
    e.paired = canary_share_excess_into(v, e.x);
  });
}

/// canary_share_excess_into's x_t as an optional.
inline std::optional<std::array<double, kVoteKinds>> canary_share_excess(
    const EventVotes& v) noexcept {
  std::array<double, kVoteKinds> x{};
  if (!canary_share_excess_into(v, x)) return std::nullopt;
  return x;
}

/// The same from the event. O(models).
inline std::optional<std::array<double, kVoteKinds>> canary_share_excess(
    const TradeIntent& event, std::string_view canary) noexcept {
  return canary_share_excess(count_votes(event, canary));
}

/// The evidence that the canary moves one per-event figure x_t beyond what its peers do: a
/// one-sided test by betting each way (common/betting_test.hpp), read against 1/alpha.
class ExcessEvidence {
 public:
  /// The false-alarm probability of each direction over a period (Ville's inequality).
  static constexpr double kAlpha = 0.001;
  /// The bets follow the excess over about this many events: long against the models' own
  /// memory (the benchmark's noise persists about 10 events), so a healthy canary's passing
  /// quirk is not bet on; short against a 6-hour period, so a change hours in is bet on soon.
  static constexpr double kBetMemoryEvents = 1024.0;

  /// `min_excess`: the excess per event the null allows, in x's own units.
  explicit ExcessEvidence(double min_excess)
      : test_(min_excess, kBetMemoryEvents), log_threshold_(-std::log(kAlpha)) {}

  void add(double x) noexcept { test_.add(x); }
  /// Starts again (a new canary).
  void restart() { test_ = BettingTest(test_.min_effect(), kBetMemoryEvents); }

  /// True when the evidence that the canary pushes the figure up (or down) has reached 1/alpha.
  bool attributed(bool up) const noexcept { return log_wealth(up) >= log_threshold_; }

  /// How many figures put_figures writes.
  static constexpr std::size_t kFigures = 4;
  /// The figures a verdict reports, written from figure `at` on (a result kept between checks
  /// keeps their names): the mean excess in percentage points, the evidence.
  void put_figures(std::vector<Figure>& figures, std::size_t at, bool up) const {
    put_figure(figures, at, "canary_excess_pct", 100.0 * test_.mean());
    put_figure(figures, at + 1, "log10_e_value", log_wealth(up) / std::log(10.0));
    put_figure(figures, at + 2, "log10_threshold", log_threshold_ / std::log(10.0));
    put_figure(figures, at + 3, "paired_events", static_cast<double>(test_.events()));
  }

  /// Appends "+4.1 points beyond `beyond` over 380 events (e-value 1234 >= 1000)" and the like:
  /// the canary's mean excess since activation and the evidence in the verdict's direction.
  void explain(std::string& out, bool up, std::string_view beyond) const {
    char buf[192];
    std::snprintf(buf, sizeof buf, "%+.1f points beyond %.*s over %llu events (e-value %s %s %s)",
                  100.0 * test_.mean(), static_cast<int>(beyond.size()), beyond.data(),
                  static_cast<unsigned long long>(test_.events()),
                  e_value_text(log_wealth(up)).c_str(), attributed(up) ? ">=" : "<",
                  e_value_text(log_threshold_).c_str());
    out += buf;
  }

  /// Decides a literal violation of `canary`'s check: it stands, naming the canary as its
  /// cause, when the evidence in direction `up` has reached 1/alpha; otherwise it becomes a
  /// pass that says the figure is not the canary's doing. Anything but a violation is left.
  void judge(CheckResult& literal, std::string_view canary, bool up,
             std::string_view beyond) const {
    if (literal.verdict != Verdict::kViolation) return;
    const bool blamed = attributed(up);
    // Out of band but not by the canary's doing: the market or the peers moved the figure, and
    // rolling the canary back would not move it back (docs/ACCURACY.md, "Ensemble attribution").
    if (!blamed) literal.verdict = Verdict::kPass;
    literal.message += blamed ? ", caused by " : ", not attributed to ";
    literal.message += canary;
    literal.message += ": ";
    explain(literal.message, up, beyond);
  }

 private:
  // log K: the evidence that the canary pushes the figure up (`up`) or down.
  double log_wealth(bool up) const noexcept {
    return up ? test_.log_wealth_above() : test_.log_wealth_below();
  }

  BettingTest test_;
  double log_threshold_;
};

/// The canary whose evidence a detector keeps: the model of the evaluations that bring new
/// events. An evaluation with new events for another model starts the evidence again; one
/// without events (the scoreboard's rows, an interval check right after an event) leaves it.
class WatchedCanary {
 public:
  /// True when `input`'s new events are to be folded (after a restart when the canary changed).
  template <typename Restart>
  bool follow(const CheckInput& input, Restart&& restart) {
    if (input.canary_model.empty() || input.new_event_views.empty()) return false;
    if (input.canary_model != name_) {
      name_ = std::string(input.canary_model);
      restart();
    }
    return true;
  }
  /// True when `input` judges the canary whose events were folded (not the gate, not a peer's
  /// scoreboard row, not a window judged before any event arrived).
  bool watches(const CheckInput& input) const noexcept {
    return !name_.empty() && input.canary_model == name_;
  }
  const std::string& name() const noexcept { return name_; }

 private:
  std::string name_;
};

/// Of a sequence (the canary's predictions, or the events with a vote), oldest first, whether
/// each was paired (the canary and an active peer voted): how many of the newest n were (a
/// window's), O(1) per item and per question. Cumulative counts in a ring that grows to four
/// times any n asked past half its size; items older than it remembers (before the first event,
/// or forgotten before it grew) count as not paired (fail closed).
class PairedCount {
 public:
  void add(bool paired) {
    paired_ += paired ? 1 : 0;
    ++predictions_;
    // predictions_ % size, stepped instead of divided: five detectors add at every event, and
    // the 64-bit division was most of the add.
    if (++at_ == cumulative_.size()) at_ = 0;
    cumulative_[at_] = paired_;
    if (predictions_ - oldest_ >= cumulative_.size())
      oldest_ = predictions_ + 1 - cumulative_.size();
  }
  std::size_t in_last(std::size_t n) {
    if (2 * n > cumulative_.size()) grow(4 * n);
    const std::uint64_t from =
        std::max<std::uint64_t>(predictions_ - std::min<std::uint64_t>(n, predictions_), oldest_);
    return static_cast<std::size_t>(paired_ - cumulative_[from % cumulative_.size()]);
  }
  void clear() {
    std::fill(cumulative_.begin(), cumulative_.end(), 0);
    paired_ = predictions_ = oldest_ = 0;
    at_ = 0;
  }

 private:
  void grow(std::size_t size) {
    std::vector<std::uint64_t> bigger(size, 0);
    for (std::uint64_t i = oldest_; i <= predictions_; ++i) {
      bigger[i % size] = cumulative_[i % cumulative_.size()];
    }
    cumulative_ = std::move(bigger);
    at_ = static_cast<std::size_t>(predictions_ % size);
  }

  std::vector<std::uint64_t> cumulative_ = std::vector<std::uint64_t>(4096, 0);
  std::uint64_t paired_ = 0;
  std::uint64_t predictions_ = 0;
  std::uint64_t oldest_ = 0;  // the oldest prediction count whose cumulative count is kept
  std::size_t at_ = 0;        // predictions_ % cumulative_.size(): where the newest count is
};

/// The canary's excess effect on one ensemble figure since its activation, folded from
/// CheckInput::new_event_views; started again when the canary changes.
class CanaryAttribution {
 public:
  /// The excess per event the null allows, in the figure's own units (a share of events for
  /// hard disagreement, an agreement fraction): 0.03 is 3 points of the percentage. Not 0: the
  /// models have memory, so a healthy canary's excess is 0 on average but not event by event.
  static constexpr double kMinExcess = 0.03;

  explicit CanaryAttribution(EnsembleFigure figure) : figure_(figure), evidence_(kMinExcess) {}

  /// Folds in the evaluation's new events for its canary. A call without a canary (the
  /// scoreboard the monitor and replay write at each interval check runs the same instance on
  /// the window alone) leaves the state as it is.
  void fold(const CheckInput& input) {
    if (!canary_.follow(input, [this] {
          evidence_.restart();
          paired_.clear();
        }))
      return;
    for (const auto& event : input.new_event_views) {
      EventVotes votes;
      count_votes_into(event, input.canary_model, votes);
      if (votes.total() == 0) continue;  // no active vote: not in the window's ensemble figures
      // Remembered by the counts (memo_canary_excess): the same x, without its divisions.
      const CanaryExcess& excess = memo_canary_excess(figure_, votes, memo_, scratch_);
      paired_.add(excess.paired);
      if (excess.paired) evidence_.add(excess.x);
    }
  }

  const ExcessEvidence& evidence() const noexcept { return evidence_; }
  const std::string& canary() const noexcept { return canary_.name(); }
  /// Of the newest `events` events with an active vote (a window's), how many had the canary
  /// and an active peer voting.
  std::size_t paired_in_last(std::size_t events) { return paired_.in_last(events); }

 private:
  EnsembleFigure figure_;
  ExcessEvidence evidence_;
  WatchedCanary canary_;
  PairedCount paired_;
  ExcessMemo<CanaryExcess> memo_;  // x by the event's counts, for figure_ (never stale)
  CanaryExcess scratch_;           // x of counts too large for the memo
};

/// The verdict of an ensemble check under `attribution`, written over `out` (whose storage it
/// keeps): `literal` is the runbook rule's result on the window; `up` whether its violation means
/// the figure is too high. Where there is no canary (the gate, the scoreboard) or the rule is
/// "ensemble", the literal result stands. So it does when fewer than min_events of the window's
/// events had the canary and an active peer voting (fail closed): without peers to compare with
/// (a one-model ensemble, the peers inactive, the canary not voting) the canary's part cannot be
/// told apart from the figure, and "not attributed" would be a pass on no evidence.
inline void attribute(const CheckResult& literal, Attribution attribution, const CheckInput& input,
                      CanaryAttribution& canary, bool up, CheckResult& out) {
  const bool attributed = attribution == Attribution::kCanary && !input.canary_model.empty();
  copy_result(literal, out, attributed ? ExcessEvidence::kFigures : 0);
  if (!attributed) return;
  canary.evidence().put_figures(out.figures, literal.figures.size(), up);
  if (out.verdict != Verdict::kViolation) return;
  const std::size_t window_events = input.window != nullptr ? input.window->ensemble.events : 0;
  const std::size_t paired =
      input.canary_model == canary.canary() ? canary.paired_in_last(window_events) : 0;
  if (paired < input.min_events) {
    char buf[224];
    std::snprintf(buf, sizeof buf,
                  ", judged by the literal rule: %zu of the window's %zu events had %.*s and an "
                  "active peer voting (%zu needed)",
                  paired, window_events, static_cast<int>(input.canary_model.size()),
                  input.canary_model.data(), input.min_events);
    out.message += buf;
    return;
  }
  canary.evidence().judge(out, canary.canary(), up, "a peer's");
}

/// The verdict horizon of an ensemble check written by attribute() (qsc_check_sink::set_horizon):
/// under "canary" a violation needs the literal one, so while the literal rule passes the verdict
/// is a pass; the literal rule's horizon is the verdict's. `slack_events` is how far the window's
/// figure is inside its band, as a count of events: the window's E events with an active vote
/// sum a per-event figure f in [0, 1] to S (f the agreement, or 1 for a hard disagreement), and
/// it fires when S > E * max (or S < E * min). One event adds a term, removes one, or both, and
///     E * max - S   changes by  max - f_in,  f_out - max,  or  f_out - f_in:  at least -1,
///     S - E * min   changes by  f_in - min,  min - f_out,  or  f_in - f_out:  at least -1,
/// so after k events each slack is at least its value less k: in band while k <= slack. The
/// check stays judged while k <= E - min_events (E moves by at most one an event).
inline std::uint64_t ensemble_horizon(const CheckInput& input, const CheckResult& literal,
                                      double slack_events) {
  if (literal.verdict != Verdict::kPass || input.window == nullptr) return 0;
  return std::min(horizon_of_slack(slack_events),
                  horizon_above_minimum(input.window->ensemble.events, input.min_events));
}

/// The canary's excess share of each action over its active peers on the same events since its
/// activation (canary_share_excess), folded from CheckInput::new_event_views, for the per-model
/// share checks (action_collapse, quality_gate's max_share_pct and max_hold_pct). Also counts,
/// of the canary's predictions, those that had an active peer to be compared with: a canary
/// without peers (a one-model ensemble, peers gone silent) cannot be told apart from its
/// market, so it is judged by the literal rule (fail closed).
class CanaryShareAttribution {
 public:
  /// The excess share per event the null allows: 0.12 (12 points of the share), a little above
  /// distribution_shift's min_action_tv of 0.1, from measurement (docs/ACCURACY.md, "Share
  /// attribution"): on 1,000 healthy periods of the accuracy benchmark's generator the test alone
  /// reached 1/alpha in 5 at 0.10 (its null does not hold there for models with memory), in none
  /// at 0.12 (largest e-value 10^2.55), and 0.12 delays no degraded kind measured by more than
  /// 43 events (median).
  static constexpr double kMinExcess = 0.12;

  /// Every action's evidence is kept.
  static constexpr unsigned kEveryAction = (1u << kVoteKinds) - 1;
  /// The bit of `action` in a set of actions.
  static constexpr unsigned action_bit(Vote action) noexcept {
    return 1u << static_cast<unsigned>(action);
  }

  /// `actions`: the actions whose evidence is kept (action_bit's), the others' never asked for
  /// (dead_zone judges HOLD alone: its fold kept three tests where one is read).
  explicit CanaryShareAttribution(unsigned actions = kEveryAction)
      : evidence_{ExcessEvidence(kMinExcess), ExcessEvidence(kMinExcess),
                  ExcessEvidence(kMinExcess)},
        actions_(actions & kEveryAction) {}

  /// Folds in the evaluation's new events for its canary (O(models) per event).
  void fold(const CheckInput& input) {
    if (!canary_.follow(input, [this] { restart(); })) return;
    for (const auto& event : input.new_event_views) {
      EventVotes votes;
      count_votes_into(event, input.canary_model, votes);
      if (!votes.canary_predicted) continue;
      // Remembered by the counts (memo_canary_share_excess): the same x, without its divisions.
      const CanaryShareExcess& excess = memo_canary_share_excess(votes, memo_, scratch_);
      paired_.add(excess.paired);
      if (!excess.paired) continue;
      for (std::size_t k = 0; k < kVoteKinds; ++k) {
        if ((actions_ >> k & 1u) != 0) evidence_[k].add(excess.x[k]);
      }
    }
  }

  /// The evidence on the canary's share of `action` that a check of `input` reports and judges
  /// by; nullptr outside the monitor's watch of this canary (the gate, a peer's scoreboard row),
  /// and for an action whose evidence is not kept (the literal rule then stands: fail closed).
  const ExcessEvidence* evidence(const CheckInput& input, Vote action) const noexcept {
    if (!canary_.watches(input) || input.canary == nullptr || (actions_ & action_bit(action)) == 0)
      return nullptr;
    return &evidence_[static_cast<std::size_t>(action)];
  }

  /// Decides `literal`, a share check's result for the canary's share of `action` (too high),
  /// under "canary": turns a violation the canary's excess over its peers does not explain into
  /// a pass that says so. Outside the monitor's watch of this canary the literal result stands,
  /// as it does for a canary with too few predictions compared with a peer. True when it turned
  /// a violation into a pass.
  bool judge(CheckResult& literal, const CheckInput& input, Vote action) {
    const ExcessEvidence* watched = evidence(input, action);
    if (watched == nullptr) return false;
    const auto& evidence = *watched;
    if (literal.verdict != Verdict::kViolation) return false;
    const std::size_t predictions = input.canary->predictions;
    const std::size_t compared = paired_.in_last(predictions);
    if (compared < input.min_events) {
      char buf[224];
      std::snprintf(buf, sizeof buf,
                    ", judged by the literal rule: %zu of %s's %zu predictions in the window had "
                    "an active peer to compare with (%zu needed)",
                    compared, canary_.name().c_str(), predictions, input.min_events);
      literal.message += buf;
      return false;
    }
    char beyond[48];
    std::snprintf(beyond, sizeof beyond, "its peers' %.*s share",
                  static_cast<int>(vote_name(action).size()), vote_name(action).data());
    evidence.judge(literal, canary_.name(), /*up=*/true, beyond);
    return literal.verdict == Verdict::kPass;
  }

 private:
  void restart() {
    for (auto& e : evidence_) e.restart();
    paired_.clear();
  }

  std::array<ExcessEvidence, kVoteKinds> evidence_;
  unsigned actions_;  // action_bit's of the evidence kept
  PairedCount paired_;
  WatchedCanary canary_;
  ExcessMemo<CanaryShareExcess> memo_;  // x by the event's counts (never stale)
  CanaryShareExcess scratch_;           // x of counts too large for the memo
};

}  // namespace qsc::detectors

#undef QSC_PER_EVENT

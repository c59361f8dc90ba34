// CheckInput::new_event_views (qsc/event_view.hpp): the new events read in place from the host's
// C input. The in-tree detectors fold these instead of the C++ copy (CheckInput::new_events), so
// every field a view gives must be the field the copy gives, for every kind of event the host
// writes: the host's real writer (AbiCheckInput) and the SDK's real reader (CheckInputCopy).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "plugin_host/abi_write.hpp"
#include "qsc/plugin_abi_read.hpp"

namespace {

qsc::Prediction prediction(std::string model, qsc::Vote action, double confidence,
                           qsc::ConfidenceStatus status, qsc::InactiveReason inactive,
                           std::string model_string) {
  qsc::Prediction p;
  p.model = std::move(model);
  p.model_string = std::move(model_string);
  p.action = action;
  p.confidence = confidence;
  p.raw_confidence = std::isnan(confidence) ? confidence : confidence * 2.0;
  p.confidence_status = status;
  p.inactive = inactive;
  return p;
}

// Events of every shape the host hands on: no prediction, a missing side, an empty symbol, NaN
// confidences, inactive and fallback predictions, names past the short-string buffer, the
// canary twice in one event.
std::vector<qsc::TradeIntent> varied_events() {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<qsc::TradeIntent> events(5);
  events[0].time_ms = 1'768'000'000'000ULL;
  events[0].seq = 0;
  events[0].symbol = "BTCUSDT";
  events[0].side = qsc::Vote::kSell;
  events[0].confidence = 0.61;
  events[0].predictions = {
      prediction("patchtst", qsc::Vote::kBuy, 0.7, qsc::ConfidenceStatus::kOk,
                 qsc::InactiveReason::kNone, "patchtst-v3"),
      prediction("a_model_name_longer_than_sso", qsc::Vote::kSell, 0.9,
                 qsc::ConfidenceStatus::kNormalized, qsc::InactiveReason::kShadow, ""),
      prediction("xgboost", qsc::Vote::kHold, nan, qsc::ConfidenceStatus::kNaN,
                 qsc::InactiveReason::kFallback, "xgb")};
  events[1].time_ms = 1'768'000'000'007ULL;
  events[1].seq = 3;
  events[1].confidence = nan;  // no side, no symbol
  events[2].time_ms = 1'768'000'000'007ULL;
  events[2].seq = 4;
  events[2].symbol = "ETHUSDT";
  events[2].side = qsc::Vote::kHold;
  events[2].predictions = {
      prediction("patchtst", qsc::Vote::kHold, 0.0, qsc::ConfidenceStatus::kOk,
                 qsc::InactiveReason::kInactive, ""),
      prediction("patchtst", qsc::Vote::kSell, nan, qsc::ConfidenceStatus::kNotNumber,
                 qsc::InactiveReason::kNone, "")};
  events[3] = events[0];
  events[3].seq = 5;
  events[3].predictions[0].action = qsc::Vote::kSell;
  events[4].time_ms = 1'768'000'000'100ULL;
  events[4].predictions = {prediction("tft", qsc::Vote::kBuy, 1.0, qsc::ConfidenceStatus::kOk,
                                      qsc::InactiveReason::kNone, "tft")};
  return events;
}

// Compares a bit pattern, so that NaN equals NaN and 0.0 is told from -0.0.
void expect_same_double(double a, double b, const std::string& what) {
  if (std::isnan(a) || std::isnan(b)) {
    EXPECT_TRUE(std::isnan(a) && std::isnan(b)) << what;
  } else {
    EXPECT_EQ(a, b) << what;
  }
}

template <typename Event>
void expect_event(const qsc::TradeIntent& want, const Event& got, const std::string& where) {
  EXPECT_EQ(got.time_ms, want.time_ms) << where;
  EXPECT_EQ(got.seq, want.seq) << where;
  EXPECT_EQ(got.symbol, want.symbol) << where;
  EXPECT_EQ(got.side, want.side) << where;
  expect_same_double(got.confidence, want.confidence, where + " confidence");
  ASSERT_EQ(got.predictions.size(), want.predictions.size()) << where;
  std::size_t i = 0;
  // Range-for over the view (its iterator) and indexing (operator[]) must agree.
  for (const auto& p : got.predictions) {
    const auto& w = want.predictions[i];
    const std::string at = where + " prediction " + std::to_string(i);
    EXPECT_EQ(p.model, w.model) << at;
    EXPECT_EQ(p.model_string, w.model_string) << at;
    EXPECT_EQ(p.action, w.action) << at;
    expect_same_double(p.confidence, w.confidence, at + " confidence");
    expect_same_double(p.raw_confidence, w.raw_confidence, at + " raw_confidence");
    EXPECT_EQ(p.confidence_status, w.confidence_status) << at;
    EXPECT_EQ(p.inactive, w.inactive) << at;
    EXPECT_EQ(p.is_inactive(), w.is_inactive()) << at;
    EXPECT_EQ(got.predictions[i].model, w.model) << at;
    ++i;
  }
  EXPECT_EQ(i, want.predictions.size()) << where;
}

// The host's side of a check carrying varied_events(): its C++ input and the C form it writes.
struct HostInput {
  HostInput() {
    input.canary_model = "patchtst";
    input.new_events = events;
  }
  HostInput(const HostInput&) = delete;
  HostInput& operator=(const HostInput&) = delete;
  const qsc_check_input& write() { return *c_input.write(input); }

  const std::vector<qsc::TradeIntent> events = varied_events();
  qsc::CheckInput input;
  qsc::agent::AbiCheckInput c_input;
};

TEST(EventViews, GiveEveryFieldTheCopyGivesForEveryEventTheHostWrites) {
  HostInput host;
  const auto& events = host.events;
  qsc::abi::CheckInputCopy copy;
  const qsc::CheckInput& read = copy.read(host.write(), /*with_new_events=*/true);
  ASSERT_EQ(read.new_events.size(), events.size());
  ASSERT_EQ(read.new_event_views.size(), events.size());
  std::size_t k = 0;
  for (const auto& view : read.new_event_views) {
    const std::string where = "event " + std::to_string(k);
    expect_event(events[k], view, where + " (view)");
    expect_event(events[k], read.new_events[k], where + " (copy)");
    expect_event(events[k], read.new_event_views[k], where + " (view by index)");
    ++k;
  }
  EXPECT_EQ(k, events.size());
}

// A detector that does not declare kReadsNewEvents gets no copy, but the views all the same:
// they cost nothing to hand on, and the in-tree detectors that fold events read only them.
TEST(EventViews, AreGivenWithoutTheCopy) {
  HostInput host;
  const auto& events = host.events;
  qsc::abi::CheckInputCopy copy;
  const qsc::CheckInput& read = copy.read(host.write(), /*with_new_events=*/false);
  EXPECT_TRUE(read.new_events.empty());
  ASSERT_EQ(read.new_event_views.size(), events.size());
  for (std::size_t k = 0; k < events.size(); ++k) {
    expect_event(events[k], read.new_event_views[k], "event " + std::to_string(k));
  }
  // The next check without new events shows none: no view is left over from this one.
  host.input.new_events = {};
  const qsc::CheckInput& next = copy.read(host.write(), false);
  EXPECT_TRUE(next.new_event_views.empty());
  EXPECT_EQ(next.new_event_views.begin(), next.new_event_views.end());
}

double second_of(const void* values, std::uint64_t k) {
  return static_cast<const double*>(values)[k];
}

// ABI 2.2's ranked confidences (qsc_check_input::canary_rank) reach the detector from a 2.2
// host, and from an older host's input, which ends before them, nothing is read: whatever lies
// past its struct_size is not the host's.
TEST(CanaryRanks, ReachTheDetectorFromA22HostAndNeverFromAnOlderOne) {
  static const double kRanked[] = {0.1, 0.4, 0.7};
  qsc::CheckInput host_input;
  host_input.canary_model = "patchtst";
  host_input.canary_ranks = {kRanked, 3, &second_of};
  qsc::agent::AbiCheckInput c_input;
  qsc_check_input c = *c_input.write(host_input);
  qsc::abi::CheckInputCopy copy;
  {
    const auto& ranks = copy.read(c, false).canary_ranks;
    ASSERT_TRUE(ranks.available());
    EXPECT_EQ(ranks.count, 3u);
    EXPECT_EQ(ranks.kth(1), 0.4);
  }
  // A 2.1 host's input: its struct ends at new_event_count.
  c.struct_size = static_cast<std::uint32_t>(offsetof(qsc_check_input, canary_ranks));
  EXPECT_FALSE(copy.read(c, false).canary_ranks.available());
  // A 2.2 host with none to give (the gate, the scoreboard).
  host_input.canary_ranks = {};
  EXPECT_FALSE(copy.read(*c_input.write(host_input), false).canary_ranks.available());
}

// ABI 2.4's canary watch (qsc_check_input::canary_last_prediction_ms) reaches the detector from
// a 2.4 host that gives it, and from an older host's input, which ends before it, nothing is
// read: telemetry_stale then watches from the events itself.
TEST(CanaryWatch, ReachesTheDetectorFromA24HostAndNeverFromAnOlderOne) {
  qsc::CheckInput host_input;
  host_input.canary_model = "patchtst";
  host_input.canary_watch = {true, 1'768'000'000'500ULL, 1'768'000'007'250ULL};
  qsc::agent::AbiCheckInput c_input;
  qsc_check_input c = *c_input.write(host_input);
  qsc::abi::CheckInputCopy copy;
  {
    const auto& watch = copy.read(c, false).canary_watch;
    ASSERT_TRUE(watch.given);
    EXPECT_EQ(watch.last_prediction_ms, 1'768'000'000'500ULL);
    EXPECT_EQ(watch.newest_event_ms, 1'768'000'007'250ULL);
  }
  // A 2.3 host's input: its struct ends at canary_rank.
  c.struct_size = static_cast<std::uint32_t>(offsetof(qsc_check_input, canary_watch_given));
  EXPECT_FALSE(copy.read(c, false).canary_watch.given);
  // A 2.4 host with none to give (the gate, the scoreboard, a period before its first event).
  host_input.canary_watch = {};
  EXPECT_FALSE(copy.read(*c_input.write(host_input), false).canary_watch.given);
}

// AbiCheckInput::write_held keeps each event's C form between calls, by number: what it hands a
// detector must be exactly the events of the call, whichever of them were written before, and an
// event whose storage moved (a new storage generation) must be read again from its new place.
// The caller here holds numbered events as EvaluationStep does and hands varying tails of them
// (a detector called after a skip gets a longer tail than one called at every event).
TEST(EventViews, HeldFormsAreTheCallsEventsWhetherKeptOrWritten) {
  const auto kinds = varied_events();
  // The events numbered 1..40, each a varied event with its own time, seq and symbol.
  std::vector<qsc::TradeIntent> held;
  for (std::uint64_t n = 1; n <= 40; ++n) {
    held.push_back(kinds[n % kinds.size()]);
    held.back().time_ms += n;
    held.back().seq = n;
    held.back().symbol = "SYMBOL_LONGER_THAN_SSO_" + std::to_string(n);
  }
  qsc::agent::AbiCheckInput c_input;
  qsc::abi::CheckInputCopy copy;
  qsc::CheckInput input;
  input.canary_model = "patchtst";
  std::uint64_t generation = 7;
  // (newest, tail): the newest event's number and how many events before it are handed on.
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> calls = {
      {1, 1}, {2, 1},  {3, 3},   {5, 2},  {5, 5},   {9, 1},
      {9, 9}, {12, 4}, {30, 30}, {31, 2}, {40, 10}, {40, 40}};
  std::vector<qsc::TradeIntent> moved;  // the storage moved from, kept alive and overwritten
  for (const auto& [newest, tail] : calls) {
    if (newest == 12) {
      // The caller's storage moves (as a compaction does): the old copies are overwritten in
      // place afterwards (same length, same buffer), so a C form still pointing into them reads
      // a symbol of 'X's.
      moved = held;
      held.swap(moved);
      for (auto& e : moved) std::fill(e.symbol.begin(), e.symbol.end(), 'X');
      ++generation;
    }
    input.new_events = std::span<const qsc::TradeIntent>(held).subspan(newest - tail, tail);
    const auto& c = *c_input.write_held(input, {1, generation, newest});
    const auto& read = copy.read(c, true);
    ASSERT_EQ(read.new_event_views.size(), tail) << "newest " << newest;
    for (std::uint64_t k = 0; k < tail; ++k) {
      const std::string where = "call (" + std::to_string(newest) + ", " + std::to_string(tail) +
                                "), event " + std::to_string(newest - tail + k + 1);
      expect_event(held[newest - tail + k], read.new_event_views[k], where + " (view)");
      expect_event(held[newest - tail + k], read.new_events[k], where + " (copy)");
    }
  }
  // Another owner numbers its own events: nothing of the first owner's is handed to it.
  std::vector<qsc::TradeIntent> other(held.begin(), held.begin() + 3);
  for (auto& e : other) e.symbol = "OTHER_OWNER";
  input.new_events = other;
  const auto& read = copy.read(*c_input.write_held(input, {2, generation, 40}), true);
  ASSERT_EQ(read.new_event_views.size(), 3u);
  for (std::size_t k = 0; k < 3; ++k) {
    expect_event(other[k], read.new_event_views[k], "other owner, event " + std::to_string(k));
  }
  // write() between the two still writes its own events (the gate's, a scoreboard row's).
  input.new_events = std::span<const qsc::TradeIntent>(held).subspan(0, 2);
  const auto& plain = copy.read(*c_input.write(input), true);
  ASSERT_EQ(plain.new_event_views.size(), 2u);
  expect_event(held[0], plain.new_event_views[0], "write()");
}

// The host names every prediction of the canary with the input's canary_model bytes, so that a
// detector finds it by address (qsc::same_model) instead of comparing names at each event; the
// others keep their own names. Before session 16 each pointed into its event: this test fails
// there. A new canary must never leave a kept form naming the old one (the forms point at the
// host's copy of the name): checked by content after the canary changes, same numbers.
TEST(EventViews, TheCanarysPredictionsPointAtTheInputsCanaryName) {
  std::vector<qsc::TradeIntent> held;
  for (std::uint64_t n = 1; n <= 10; ++n) {
    auto kinds = varied_events();
    held.push_back(kinds[n % kinds.size()]);
    held.back().seq = n;
  }
  qsc::agent::AbiCheckInput c_input;
  qsc::abi::CheckInputCopy copy;
  qsc::CheckInput input;
  const std::string patchtst = "patchtst";
  const std::string tft = "tft";
  std::size_t canary_predictions = 0;
  const auto check = [&](const qsc::CheckInput& read, const std::string& where) {
    for (std::size_t k = 0; k < read.new_event_views.size(); ++k) {
      for (const auto& p : read.new_event_views[k].predictions) {
        EXPECT_EQ(p.model == read.canary_model, p.model.data() == read.canary_model.data())
            << where << ", event " << k << ", model " << p.model;
        canary_predictions += p.model == read.canary_model ? 1 : 0;
        EXPECT_TRUE(qsc::same_model(p.model, read.canary_model) == (p.model == read.canary_model))
            << where;
      }
      expect_event(held[held.size() - read.new_event_views.size() + k], read.new_event_views[k],
                   where);
    }
  };
  input.canary_model = patchtst;
  input.new_events = held;
  check(copy.read(*c_input.write_held(input, {1, 1, 10}), true), "held, patchtst");
  check(copy.read(*c_input.write(input), true), "write(), patchtst");
  const std::size_t patchtst_predictions = canary_predictions;
  EXPECT_GT(patchtst_predictions, 0u);
  // The same events, numbers and storage under another canary: none may read "patchtst" where
  // the event says "tft", nor miss the new canary's address.
  input.canary_model = tft;
  canary_predictions = 0;
  check(copy.read(*c_input.write_held(input, {1, 1, 10}), true), "held, tft");
  EXPECT_GT(canary_predictions, 0u);
  EXPECT_TRUE(qsc::same_model("abc", std::string("abc")));
  EXPECT_FALSE(qsc::same_model("abc", "abd"));
  EXPECT_FALSE(qsc::same_model("abc", "ab"));
  EXPECT_TRUE(qsc::same_model("", std::string_view()));
}

}  // namespace

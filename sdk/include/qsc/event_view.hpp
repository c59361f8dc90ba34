// The events since a detector's previous check, read in place from the host's C input
// (qsc_check_input::new_events, qsc/plugin_abi.h) instead of copied into qsc::TradeIntent: what
// CheckInput::new_event_views holds. A view holds the fields of qsc::TradeIntent and
// qsc::Prediction under the same names, with the strings as std::string_view into the host's
// input, so a detector's fold reads either alike (`for (const auto& p : event.predictions)`,
// `p.model == canary`, `p.is_inactive()`).
//
// Why: copying every new event into C++ form (strings compared and assigned, a vector per
// event) for every detector that folds events was a sixth of an evaluation's instructions
// (5,035 of 29,991 an event, docs/PERFORMANCE.md, "Session 11"); a view reads each field where
// the host wrote it.
// Valid only during the check that received it, like everything the host passes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string_view>

#include "qsc/event.hpp"
#include "qsc/plugin_abi.h"
#include "qsc/same_bytes.hpp"

namespace qsc {

/// True when two model names are equal, as `a == b`. The host points every prediction of the
/// canary it hands a detector (the events' and the held events' qsc_prediction::model) at the
/// same bytes as qsc_check_input::canary_model, so comparing a prediction's name with
/// CheckInput::canary_model finds the canary by its address, without reading the name: the
/// in-tree detectors compared it by bytes in every event they fold, a libc memcmp per event
/// and detector (4-6% of the monitor's worker; docs/PERFORMANCE.md, "Session 16: the worker's
/// cost per check and per event (worker16)"). Any other pair is compared by size and bytes.
inline bool same_model(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && (a.data() == b.data() || same_bytes(a.data(), b.data(), a.size()));
}

namespace detail {

inline std::string_view view_of(qsc_str s) noexcept {
  return s.data == nullptr ? std::string_view() : std::string_view(s.data, s.length);
}

/// A range over an ABI array of pointers to structs (the ABI's arrays of versioned structs),
/// yielding `View::of(element)` by value.
template <typename CStruct, typename View>
class PointerArrayViews {
 public:
  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = View;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = View;

    iterator() = default;
    explicit iterator(const CStruct* const* at) noexcept : at_(at) {}
    View operator*() const noexcept { return View::of(**at_); }
    iterator& operator++() noexcept {
      ++at_;
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator before = *this;
      ++at_;
      return before;
    }
    bool operator==(const iterator& other) const noexcept = default;

   private:
    const CStruct* const* at_ = nullptr;
  };

  PointerArrayViews() = default;
  /// `items` may be NULL when `count` is 0 (an empty C array).
  PointerArrayViews(const CStruct* const* items, std::size_t count) noexcept
      : items_(count == 0 ? nullptr : items), count_(count) {}

  std::size_t size() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }
  View operator[](std::size_t i) const noexcept { return View::of(*items_[i]); }
  iterator begin() const noexcept { return iterator(items_); }
  iterator end() const noexcept { return iterator(items_ + count_); }

 private:
  const CStruct* const* items_ = nullptr;
  std::size_t count_ = 0;
};

}  // namespace detail

/// One prediction of a new event, in place: qsc::Prediction's fields, its strings as views.
struct PredictionView {
  std::string_view model;         ///< key in model_breakdown, e.g. "patchtst"
  std::string_view model_string;  ///< the "model" field (may be empty)
  Vote action = Vote::kHold;
  double confidence = 0.0;      ///< in [0, 1] after normalization; NaN for a violation
  double raw_confidence = 0.0;  ///< as sent; NaN when it was not a number
  ConfidenceStatus confidence_status = ConfidenceStatus::kOk;
  InactiveReason inactive = InactiveReason::kNone;

  bool is_inactive() const noexcept { return inactive != InactiveReason::kNone; }

  /// The same fields qsc::abi::read_event copies (qsc/plugin_abi_read.hpp), read in place.
  static PredictionView of(const qsc_prediction& p) noexcept {
    PredictionView v;
    v.model = detail::view_of(p.model);
    v.model_string = detail::view_of(p.model_string);
    v.action = static_cast<Vote>(p.action);
    v.confidence = p.confidence;
    v.raw_confidence = p.raw_confidence;
    v.confidence_status = static_cast<ConfidenceStatus>(p.confidence_status);
    v.inactive = static_cast<InactiveReason>(p.inactive);
    return v;
  }
};

/// An event's predictions, in the event's order.
using PredictionViews = detail::PointerArrayViews<qsc_prediction, PredictionView>;

/// One new event, in place: qsc::TradeIntent's fields, its strings and predictions as views.
struct EventView {
  std::uint64_t time_ms = 0;  ///< the stream ID's milliseconds (event time)
  std::uint64_t seq = 0;      ///< the stream ID's sequence part
  std::string_view symbol;    ///< may be empty
  std::optional<Vote> side;   ///< the ensemble's decision, when sent
  double confidence = 0.0;    ///< the ensemble's confidence, NaN when not sent
  PredictionViews predictions;
  /// The host's C event when it carries the host's vote count (ABI 2.5, qsc_event's
  /// votes_canary ... canary_predicted); nullptr otherwise. Read through votes_counted_for.
  const qsc_event* counted = nullptr;

  /// The host's count of this event's votes (active_votes, canary_vote, canary_predicted) when
  /// it was made for `canary`, else nullptr: an older host's event, one the host counted for
  /// no canary (the gate, the scoreboard), or another model asked for. Then walk `predictions`.
  /// The host names the count's canary with the input's canary_model bytes, so asking with
  /// CheckInput::canary_model is matched by address (same_model).
  const qsc_event* votes_counted_for(std::string_view canary) const noexcept {
    if (counted == nullptr || !same_model(detail::view_of(counted->votes_canary), canary))
      return nullptr;
    return counted;
  }

  static EventView of(const qsc_event& e) noexcept {
    EventView v;
    v.time_ms = e.time_ms;
    v.seq = e.seq;
    v.symbol = detail::view_of(e.symbol);
    if (e.side >= 0) v.side = static_cast<Vote>(e.side);
    v.confidence = e.confidence;
    v.predictions = PredictionViews(e.predictions, e.prediction_count);
    // ABI 2.5: a 2.0-2.4 host's event ends before the count (struct_size says so); a count
    // with no canary named is none.
    if (QSC_ABI_HAS(&e, qsc_event, canary_predicted) && e.votes_canary.length != 0) {
      v.counted = &e;
    }
    return v;
  }
};

/// The events since a detector's previous check, oldest first (CheckInput::new_event_views).
using EventViews = detail::PointerArrayViews<qsc_event, EventView>;

}  // namespace qsc

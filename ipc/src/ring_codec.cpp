// The ring's codec: an event into a fixed-size record (refusing what the layout cannot hold,
// as a rejected-entry record) and a record back into an event or a rejection.
#include "ring_internal.hpp"

#include <linux/futex.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <limits>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include "qsc/checks.hpp"

namespace qsc::ipc {
using namespace detail;

Result<Record> RingProducer::encode(const TradeIntent& event) {
  return guarded<Result<Record>>("encoding an event", [&]() -> Result<Record> {
    Record r{};
    if (event.predictions.size() > kMaxPredictions) {
      return impl_
          ->refuse("event has " + std::to_string(event.predictions.size()) +
                       " predictions; the ring layout holds at most " +
                       std::to_string(kMaxPredictions) + " (refused, not truncated)",
                   RejectReason::kTooLarge, "model_breakdown")
          .error();
    }
    if (event.symbol.size() > kSymbolBytes) {
      return impl_
          ->refuse("symbol '" + event.symbol + "' is " + std::to_string(event.symbol.size()) +
                       " bytes; the ring layout holds at most " + std::to_string(kSymbolBytes),
                   RejectReason::kTooLarge, "symbol")
          .error();
    }
    if (event.predictions.empty()) {
      // As the parser rejects an empty model_breakdown: an event without predictions says
      // nothing about any model, and readers reject such a record anyway.
      return impl_
          ->refuse("event has no predictions (an empty model_breakdown)",
                   RejectReason::kMissingField, "model_breakdown")
          .error();
    }
    r.time_ms = event.time_ms;
    r.seq = event.seq;
    r.confidence = event.confidence;
    r.producer_id = impl_->producer_id;
    r.side = event.side ? static_cast<std::uint8_t>(*event.side) : kNoSide;
    r.prediction_count = static_cast<std::uint8_t>(event.predictions.size());
    r.symbol_len = static_cast<std::uint8_t>(event.symbol.size());
    std::memcpy(r.symbol, event.symbol.data(), event.symbol.size());
    for (std::size_t i = 0; i < event.predictions.size(); ++i) {
      const Prediction& p = event.predictions[i];
      // A name consumers would refuse the whole segment for (check_segment_limits) is refused
      // here, for this event only.
      if (p.model.empty()) {
        return impl_
            ->refuse("a prediction has an empty model name", RejectReason::kMissingField,
                     "model_breakdown")
            .error();
      }
      if (std::any_of(p.model.begin(), p.model.end(), [](char ch) {
            const auto c = static_cast<unsigned char>(ch);
            return c < 0x20 || c == 0x7F;
          })) {
        return impl_
            ->refuse("model name of prediction " + std::to_string(i) +
                         " contains a control byte; the ring layout refuses it",
                     RejectReason::kWrongType, "model_breakdown")
            .error();
      }
      auto index = impl_->intern(p.model);
      if (!index) {
        return impl_
            ->refuse(index.error().message, RejectReason::kTooLarge, "model_breakdown." + p.model)
            .error();
      }
      PredictionRecord& out = r.predictions[i];
      out.confidence = p.confidence;
      out.raw_confidence = p.raw_confidence;
      out.model_index = *index;
      out.action = static_cast<std::uint8_t>(p.action);
      out.confidence_status = static_cast<std::uint8_t>(p.confidence_status);
      out.inactive_reason = static_cast<std::uint8_t>(p.inactive);
      const std::size_t len = std::min(p.model_string.size(), kModelStringBytes);
      out.model_string_len = static_cast<std::uint8_t>(len);
      std::memcpy(out.model_string, p.model_string.data(), len);
      if (len < p.model_string.size()) out.flags |= kPredictionModelStringTruncated;
      if (p.model_string.find("fallback") != std::string::npos) {
        out.flags |= kPredictionModelStringHasFallback;
      }
    }
    return r;
  });
}

Record rejected_record(std::uint64_t time_ms, std::uint64_t seq, RejectReason reason,
                       std::string_view field) noexcept {
  Record r{};
  r.time_ms = time_ms;
  r.seq = seq;
  r.confidence = std::numeric_limits<double>::quiet_NaN();
  r.flags = kRecordRejected;
  r.side = static_cast<std::uint8_t>(reason);
  r.prediction_count = 0;
  const std::size_t len = std::min(field.size(), kSymbolBytes);
  r.symbol_len = static_cast<std::uint8_t>(len);
  std::memcpy(r.symbol, field.data(), len);
  return r;
}

namespace {

// A prediction's confidence checked against its status. The status says how the producer
// read the number, but only the value reaches the statistics, and every comparison with NaN
// is false: an OK status on a NaN would pass every spread check. So a value that breaks its
// status's contract is read the way the parser reads that number (NaN, infinite, negative:
// a violation), and a violation's confidence is NaN, as the parser leaves it. False: the
// value fits no reading (above 1 with status OK), the record is refused.
bool reconcile_confidence(Prediction& p) noexcept {
  if (!is_confidence_violation(p.confidence_status)) {
    const double x = p.confidence;
    if (std::isnan(x)) {
      p.confidence_status = ConfidenceStatus::kNaN;
    } else if (std::isinf(x)) {
      p.confidence_status = ConfidenceStatus::kInfinite;
    } else if (x < 0.0) {
      p.confidence_status = ConfidenceStatus::kNegative;
    } else if (x > 1.0) {
      return false;
    } else {
      return true;
    }
  }
  p.confidence = std::numeric_limits<double>::quiet_NaN();
  return true;
}

}  // namespace

ParseOutcome RingConsumer::read(const Record& r) {
  TradeIntent event;
  if (auto rejection = read_into(r, event)) return ParseOutcome(std::move(*rejection));
  return ParseOutcome(std::move(event));
}

std::optional<Rejection> RingConsumer::read_into(const Record& r, TradeIntent& event) {
  Impl& c = *impl_;
  // The entry's ID is text only a rejection needs: built for every record it was two
  // allocations an event, about 5% of the monitor's worker at 1,000 events/s (perf, session 14).
  const auto reject = [&](RejectReason reason, std::string field, const std::string& why) {
    const std::string id = std::to_string(r.time_ms) + "-" + std::to_string(r.seq);
    std::string message = "ring '" + c.options.name + "' entry " + id + ": " + why;
    return std::optional<Rejection>(Rejection{reason, id, std::move(field), std::move(message)});
  };
  const auto corrupt = [&](const std::string& what) {
    return reject(RejectReason::kWrongType, "record", "corrupt record (" + what + ")");
  };
  if (r.prediction_count > kMaxPredictions) return corrupt("prediction count");
  if ((r.flags & kRecordRejected) != 0) {
    const std::string field(r.symbol, std::min<std::size_t>(r.symbol_len, kSymbolBytes));
    if (r.side >= kRejectReasons) {
      return corrupt("rejected-entry record with reason code " + std::to_string(r.side));
    }
    const auto reason = static_cast<RejectReason>(r.side);
    return reject(reason, field.empty() ? "payload" : field,
                  "rejected by its producer (" + std::string(reject_reason_name(reason)) +
                      (field.empty() ? std::string() : ", field " + field) + ")");
  }
  if (r.flags != 0) return corrupt("unknown flags " + std::to_string(r.flags));
  if (r.prediction_count == 0) {
    return reject(RejectReason::kMissingField, "model_breakdown",
                  "empty model_breakdown: the record has no predictions");
  }
  if (r.symbol_len > kSymbolBytes) return corrupt("symbol length");
  if (r.side != kNoSide && r.side >= kVoteKinds) return corrupt("side");
  // Every member is written (assigned, so the strings and the vector keep their storage): an
  // event read over another must carry none of the older one's values.
  event.time_ms = r.time_ms;
  event.seq = r.seq;
  // Names written only where they differ (qsc::assign_changed): an event read over a recycled
  // one (ShmSource keeps its spent events) almost always holds the same names at the same
  // places, where an assignment was a call into libstdc++ for every prediction (5-6% of the
  // monitor's worker at 1,000 events/s, perf, sessions 16 and 17).
  qsc::assign_changed(event.symbol, std::string_view(r.symbol, r.symbol_len));
  event.side = r.side != kNoSide ? std::optional<Vote>(static_cast<Vote>(r.side)) : std::nullopt;
  // As the parser: the ensemble's confidence when a finite number, else NaN.
  event.confidence =
      std::isfinite(r.confidence) ? r.confidence : std::numeric_limits<double>::quiet_NaN();
  // resize keeps the elements already there (their names' storage); past the count read
  // they are dropped, as a fresh event would not have them.
  event.predictions.resize(r.prediction_count);
  for (std::size_t i = 0; i < r.prediction_count; ++i) {
    const PredictionRecord& p = r.predictions[i];
    if (p.model_index >= kModelTableEntries) return corrupt("model index");
    if (p.action >= kVoteKinds || p.confidence_status > 5 || p.inactive_reason > 3 ||
        p.model_string_len > kModelStringBytes) {
      return corrupt("prediction " + std::to_string(i) + " fields");
    }
    auto& name = c.names[p.model_index];
    if (!name) {
      const ModelEntry& entry = c.segment->header().models[p.model_index];
      // acquire: pairs with the interning release; names never change once Ready.
      if (entry.state.load(std::memory_order_acquire) != kModelEntryReady) {
        return corrupt("model index " + std::to_string(p.model_index) + " is not interned");
      }
      if (entry.name_len == 0 || entry.name_len > kModelNameMaxBytes) {
        // Refused, never clamped: the table breaks the layout (check_segment_limits).
        return corrupt("corrupt segment " + c.options.name + ": model table entry " +
                       std::to_string(p.model_index) + " has a name of " +
                       std::to_string(entry.name_len) + " bytes, the layout allows 1 to " +
                       std::to_string(kModelNameMaxBytes));
      }
      name.emplace(entry.name, entry.name_len);
    }
    Prediction& out = event.predictions[i];
    qsc::assign_changed(out.model, *name);
    qsc::assign_changed(out.model_string, std::string_view(p.model_string, p.model_string_len));
    out.action = static_cast<Vote>(p.action);
    out.confidence = p.confidence;
    out.raw_confidence = p.raw_confidence;
    out.confidence_status = static_cast<ConfidenceStatus>(p.confidence_status);
    out.inactive = static_cast<InactiveReason>(p.inactive_reason);
    if (!reconcile_confidence(out)) {
      return reject(RejectReason::kWrongType, "model_breakdown." + out.model + ".confidence",
                    "confidence " + std::to_string(p.confidence) + " disagrees with status " +
                        std::string(confidence_status_name(out.confidence_status)));
    }
  }
  return std::nullopt;
}

Result<TradeIntent> RingConsumer::decode(const Record& r) {
  return guarded<Result<TradeIntent>>("decoding a record", [&]() -> Result<TradeIntent> {
    auto outcome = read(r);
    if (auto* rejection = std::get_if<Rejection>(&outcome)) return Error{rejection->message};
    return std::move(std::get<TradeIntent>(outcome));
  });
}

}  // namespace qsc::ipc

// Tells two parse outcomes apart field by field: the same kind (event, skipped, rejected), the
// same rejection reason, entry, field and message, and for an event every field, numbers bit for
// bit (NaN as NaN). Shared by the tests and fuzz targets that hold a fast reader to the one it
// stands for.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <string>
#include <variant>

#include "qsc/parse.hpp"

namespace qsc::test {

inline bool same_double(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

// "" when equal, else what differs.
inline std::string outcome_diff(const ParseOutcome& fast, const ParseOutcome& ref) {
  if (fast.index() != ref.index()) {
    return "outcome kind " + std::to_string(fast.index()) + " vs " + std::to_string(ref.index()) +
           (ref.index() == 2 ? " (reference: " + std::get<qsc::Rejection>(ref).message + ")"
                             : std::string());
  }
  if (const auto* a = std::get_if<qsc::Rejection>(&fast)) {
    const auto& b = std::get<qsc::Rejection>(ref);
    if (a->reason != b.reason || a->entry_id != b.entry_id || a->field != b.field ||
        a->message != b.message) {
      return "rejection " + a->message + " vs " + b.message;
    }
    return "";
  }
  if (const auto* a = std::get_if<qsc::Skipped>(&fast)) {
    return a->event_type == std::get<qsc::Skipped>(ref).event_type ? "" : "skipped type";
  }
  const auto& a = std::get<qsc::TradeIntent>(fast);
  const auto& b = std::get<qsc::TradeIntent>(ref);
  if (a.time_ms != b.time_ms || a.seq != b.seq) return "id";
  if (a.symbol != b.symbol) return "symbol " + a.symbol + " vs " + b.symbol;
  if (a.side != b.side) return "side";
  if (!same_double(a.confidence, b.confidence)) return "confidence";
  if (a.predictions.size() != b.predictions.size()) return "prediction count";
  for (std::size_t i = 0; i < a.predictions.size(); ++i) {
    const auto& p = a.predictions[i];
    const auto& q = b.predictions[i];
    const std::string at = "prediction " + std::to_string(i) + " ";
    if (p.model != q.model) return at + "model " + p.model + " vs " + q.model;
    if (p.model_string != q.model_string) return at + "model_string";
    if (p.action != q.action) return at + "action";
    if (!same_double(p.confidence, q.confidence)) return at + "confidence";
    if (!same_double(p.raw_confidence, q.raw_confidence)) return at + "raw_confidence";
    if (p.confidence_status != q.confidence_status) return at + "confidence_status";
    if (p.inactive != q.inactive) return at + "inactive";
  }
  return "";
}

}  // namespace qsc::test

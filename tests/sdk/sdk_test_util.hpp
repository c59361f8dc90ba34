// Helpers shared by the SDK tests: building stream entries and unpacking parse outcomes.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <variant>

#include "qsc/parse.hpp"

namespace qsc::test {

inline constexpr const char* kEntryId = "1768023795123-7";

/// docs/design.md's example payload.
inline const std::string kDesignPayload =
    R"({"symbol":"BTCUSDT","side":"BUY","confidence":0.71,"model_breakdown":{)"
    R"("xgb":{"action":"BUY","confidence":0.82,"model":"xgboost"},)"
    R"("patchtst":{"action":"HOLD","confidence":0.61,"model":"patchtst","shadow":false}}})";

/// A trade.intent entry whose payload is `payload`.
inline StreamEntry intent_entry(std::string payload, std::string id = kEntryId) {
  return StreamEntry{std::move(id),
                     {{"event_type", "trade.intent"}, {"payload", std::move(payload)}}};
}

/// A payload whose breakdown holds one model "xgb" with the given prediction object.
inline std::string one_model_payload(const std::string& prediction_json) {
  return R"({"symbol":"BTCUSDT","side":"BUY","confidence":0.7,"model_breakdown":{"xgb":)" +
         prediction_json + "}}";
}

/// The TradeIntent of an outcome, or nullptr (with a failure naming what came instead).
inline const TradeIntent* accepted(const ParseOutcome& outcome) {
  if (const auto* r = std::get_if<Rejection>(&outcome)) {
    ADD_FAILURE() << "expected an accepted intent, got a rejection: " << r->message;
  } else if (const auto* s = std::get_if<Skipped>(&outcome)) {
    ADD_FAILURE() << "expected an accepted intent, got skipped type " << s->event_type;
  }
  return std::get_if<TradeIntent>(&outcome);
}

/// The Rejection of an outcome, or nullptr (with a failure).
inline const Rejection* rejected(const ParseOutcome& outcome) {
  const auto* r = std::get_if<Rejection>(&outcome);
  if (!r) ADD_FAILURE() << "expected a rejection, got outcome #" << outcome.index();
  return r;
}

/// The prediction of `model` in an intent, or nullptr.
inline const Prediction* prediction(const TradeIntent& intent, std::string_view model) {
  for (const auto& p : intent.predictions) {
    if (p.model == model) return &p;
  }
  return nullptr;
}

}  // namespace qsc::test

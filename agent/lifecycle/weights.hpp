// Ensemble weights: reading, validating, the canary split and printing.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "qsc/result.hpp"

namespace qsc::agent {

/// Model name -> share of the ensemble (sums to 1 within rounding).
using Weights = std::map<std::string, double>;

/// Parses a weights document: a JSON object of model -> finite, non-negative number, not all 0.
/// `where` names the source in errors.
Result<Weights> parse_weights(const std::string& text, const std::string& where);
/// Reads and parses a weights file.
Result<Weights> read_weights(const std::filesystem::path& path);
/// Serialises weights as the files hold them (pretty JSON, newline-terminated).
std::string weights_json(const Weights& weights);

/// The live weights: the configured live weights file, else the configured default weights.
/// Also returns the exact bytes to back up (the file's, or the defaults serialised).
struct LiveWeights {
  Weights weights;
  std::string bytes;
  std::string source;  ///< the file, or "built-in defaults"
};
Result<LiveWeights> load_live_weights(const Config& config);

/// The canary split: the canary gets `canary_weight`, every other model is scaled so the others
/// sum to 1 - canary_weight in their existing proportion. patchtst at 0.10 from docs/design.md's
/// defaults gives patchtst 10.0%, xgb 28.1%, lgbm 28.1%, nhits 33.8%.
Result<Weights> canary_weights(const Weights& live, const std::string& canary,
                               double canary_weight);

/// The weights block the runbook prints: the canary first with `[*]`, then the others in the
/// configured model order (then any other model by name).
std::string format_weights_block(const Weights& weights, const std::string& canary,
                                 const std::vector<std::string>& model_order);

}  // namespace qsc::agent

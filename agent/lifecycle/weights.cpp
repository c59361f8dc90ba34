// Ensemble weights.
#include "lifecycle/weights.hpp"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/files.hpp"
#include "qsc/json_limits.hpp"

namespace qsc::agent {

Result<Weights> parse_weights(const std::string& text, const std::string& where) {
  if (auto deep = qsc::json_depth_problem(text); !deep.empty()) {
    return Error{where + " is not a weights file: its JSON " + deep +
                 "; restore it from its backup or rewrite it as {\"model\": weight, ...}"};
  }
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || doc.empty()) {
    return Error{where +
                 " is not a JSON object of model -> weight (e.g. {\"xgb\": 0.25, ...}); "
                 "check it with `jq . " +
                 where + "`"};
  }
  Weights w;
  double sum = 0.0;
  for (const auto& [model, v] : doc.items()) {
    if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0.0) {
      return Error{where + ": weight of \"" + model + "\" must be a non-negative number, got " +
                   v.dump()};
    }
    w[model] = v.get<double>();
    sum += v.get<double>();
  }
  if (sum <= 0.0) return Error{where + ": all weights are zero"};
  return w;
}

Result<Weights> read_weights(const std::filesystem::path& path) {
  auto text = read_file(path);
  if (!text) return text.error();
  return parse_weights(*text, path.string());
}

std::string weights_json(const Weights& weights) {
  nlohmann::ordered_json doc = nlohmann::ordered_json::object();
  for (const auto& [k, v] : weights) doc[k] = v;
  return doc.dump(2) + "\n";
}

Result<LiveWeights> load_live_weights(const Config& config) {
  if (!config.paths.live_weights.empty()) {
    auto text = read_file(config.paths.live_weights);
    if (!text) {
      return Error{"cannot read the live weights (paths.live_weights): " + text.error().message};
    }
    auto w = parse_weights(*text, config.paths.live_weights);
    if (!w) return w.error();
    return LiveWeights{std::move(w).value(), std::move(text).value(), config.paths.live_weights};
  }
  Weights w(config.canary.default_weights.begin(), config.canary.default_weights.end());
  return LiveWeights{w, weights_json(w), "built-in defaults (canary.default_weights)"};
}

Result<Weights> canary_weights(const Weights& live, const std::string& canary,
                               double canary_weight) {
  if (!(canary_weight > 0.0 && canary_weight < 1.0)) {
    return Error{"canary weight must be above 0 and below 1"};
  }
  double others = 0.0;
  for (const auto& [model, w] : live) {
    if (model != canary) others += w;
  }
  if (others <= 0.0) {
    return Error{"the live weights hold no model besides " + canary + " to carry the other " +
                 std::to_string(1.0 - canary_weight)};
  }
  Weights out;
  const double scale = (1.0 - canary_weight) / others;
  for (const auto& [model, w] : live) {
    if (model != canary) out[model] = w * scale;
  }
  out[canary] = canary_weight;
  return out;
}

std::string format_weights_block(const Weights& weights, const std::string& canary,
                                 const std::vector<std::string>& model_order) {
  std::vector<std::string> order{canary};
  for (const auto& m : model_order) {
    if (m != canary && weights.contains(m)) order.push_back(m);
  }
  for (const auto& [m, w] : weights) {
    if (std::find(order.begin(), order.end(), m) == order.end()) order.push_back(m);
  }
  std::string out;
  for (const auto& m : order) {
    auto it = weights.find(m);
    if (it == weights.end()) continue;
    char line[160];
    std::snprintf(line, sizeof line, "  %s %-11s %5.1f%%%s\n", m == canary ? "[*]" : "[ ]",
                  m.c_str(), it->second * 100.0, m == canary ? "  (canary)" : "");
    out += line;
  }
  return out;
}

}  // namespace qsc::agent

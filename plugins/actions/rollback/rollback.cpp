// The rollback action: put the baseline weights back and take the canary's files away.
//
// kRollback restores paths.baseline_weights byte for byte over paths.live_weights (when a live
// weights file is configured) and removes paths.canary_weights and the local drop-in
// <paths.override_dir>/qsc_canary.conf. kFinalize removes the canary files only (the agent has
// written the new live weights). Running it again finds nothing active and reports so.
#include <sys/stat.h>

#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/host_config.hpp"
#include "qsc/action.hpp"
#include "qsc/canary_files.hpp"
#include "qsc/config_section.hpp"
#include "qsc/durable_file.hpp"
#include "qsc/json_limits.hpp"
#include "qsc/plugin.hpp"

namespace qsc::actions {
namespace {

/// Checks that a baseline backup is a non-empty JSON object of model -> finite weight >= 0 and
/// returns a short summary ("xgb 0.25, lgbm 0.25") or why it is not.
Result<std::string> validate_baseline(const std::string& text) {
  if (auto deep = qsc::json_depth_problem(text); !deep.empty()) {
    return Error{"not a weights backup: its JSON " + deep};
  }
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return Error{std::string("not valid JSON: ") + e.what()};
  }
  if (!doc.is_object()) return Error{std::string("expected a JSON object, got ") + doc.type_name()};
  if (doc.empty()) return Error{"the object names no model"};
  std::string summary;
  for (const auto& [model, weight] : doc.items()) {
    if (!weight.is_number() || !std::isfinite(weight.get<double>()) || weight.get<double>() < 0) {
      return Error{"the weight of \"" + model + "\" is " + weight.dump() + ", not a number >= 0"};
    }
    summary += (summary.empty() ? "" : ", ") + model + " " + weight.dump();
  }
  return summary;
}

}  // namespace

/// Restores the baseline weights and removes the canary weights and the local drop-in.
class RollbackAction final : public Action {
 public:
  // The agent's built-in rollback can stand in for it; its section takes no keys.
  static constexpr std::uint64_t kPluginFlags = QSC_FLAG_RESTORES_WEIGHTS;
  static constexpr const char* kConfigSchema = "{}";
  /// The section takes no keys (any key is refused); the paths come from the host's `paths`.
  static Result<std::unique_ptr<RollbackAction>> create(const nlohmann::json& section,
                                                        const nlohmann::json& host) {
    ConfigSection cfg(section, "plugins.config.rollback");
    if (auto done = cfg.finish(); !done.ok()) return done.error();
    auto action = std::unique_ptr<RollbackAction>(new RollbackAction());
    action->live_weights_ = host_string(host, "paths", "live_weights", "");
    action->baseline_weights_ =
        host_string(host, "paths", "baseline_weights", std::string(kDefaultBaselineWeights));
    action->canary_weights_ =
        host_string(host, "paths", "canary_weights", std::string(kDefaultCanaryWeights));
    const std::string override_dir =
        host_string(host, "paths", "override_dir", std::string(kDefaultOverrideDir));
    action->local_dropin_ = dropin_path(override_dir);
    if (action->baseline_weights_.empty()) {
      return Error{
          "plugins.config.rollback: paths.baseline_weights is empty; the rollback needs "
          "the baseline backup's path"};
    }
    return action;
  }

  ActionOutcome execute(const Incident& incident) override {
    ActionOutcome out;
    out.action = "rollback";
    switch (incident.kind) {
      case IncidentKind::kRollback:
        roll_back(out);
        break;
      case IncidentKind::kFinalize:
        remove_canary_files(out, "nothing to remove: no canary weights and no local drop-in");
        break;
      default:
        out.ok = true;
        out.detail = "nothing to do for " + std::string(incident_kind_name(incident.kind));
        break;
    }
    return out;
  }

  std::string effective_config() const override {
    return nlohmann::json{{"live_weights", live_weights_},
                          {"baseline_weights", baseline_weights_},
                          {"canary_weights", canary_weights_},
                          {"local_dropin", local_dropin_}}
        .dump();
  }

 private:
  RollbackAction() = default;

  void roll_back(ActionOutcome& out) const {
    const bool canary_present = file_exists(canary_weights_);
    const bool dropin_present = file_exists(local_dropin_);
    if (!canary_present && !dropin_present) {
      out.ok = true;
      out.detail = "nothing to roll back: no canary weights (" + canary_weights_ +
                   ") and no local drop-in (" + local_dropin_ + ")";
      return;
    }
    // The baseline is what we roll back to: without a readable one, touching anything could
    // leave the engine with neither the canary's weights nor the baseline's.
    auto baseline = read_file(baseline_weights_);
    if (!baseline.ok()) {
      out.ok = false;
      out.detail = "cannot roll back: the baseline backup " + baseline_weights_ +
                   " is missing or unreadable (" + baseline.error().message +
                   "); it is written at activation: check paths.baseline_weights and restore the "
                   "live weights by hand; nothing was changed (" +
                   canary_weights_ + " and " + local_dropin_ + " left in place)";
      return;
    }
    auto summary = validate_baseline(baseline.value());
    if (!summary.ok()) {
      out.ok = false;
      out.detail = "cannot roll back: the baseline backup " + baseline_weights_ +
                   " is not a JSON object of model -> weight (" + summary.error().message +
                   "); check its contents, e.g. {\"xgb\":0.25,\"lgbm\":0.25,\"nhits\":0.30,"
                   "\"patchtst\":0.20}; nothing was changed";
      return;
    }
    std::vector<std::string> done;
    if (!live_weights_.empty()) {
      struct stat st {};
      const unsigned mode = ::stat(live_weights_.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
      if (auto wrote = write_file_atomic(live_weights_, baseline.value(), mode); !wrote.ok()) {
        out.ok = false;
        out.detail = "cannot restore the live weights " + live_weights_ + " from " +
                     baseline_weights_ + ": " + wrote.error().message +
                     "; the canary files were left in place so that a retry starts over";
        return;
      }
      done.push_back("restored " + live_weights_ + " from " + baseline_weights_ + " (" +
                     summary.value() + ")");
    } else {
      done.push_back("baseline " + baseline_weights_ + " verified (" + summary.value() +
                     "); no live weights file configured (paths.live_weights)");
    }
    remove_canary_files(out, "");
    if (!out.detail.empty()) done.push_back(out.detail);
    std::string detail;
    for (const auto& d : done) detail += (detail.empty() ? "" : "; ") + d;
    out.detail = detail;
  }

  /// Removes the canary weights and the local drop-in; `when_none` is the detail when neither
  /// was there.
  void remove_canary_files(ActionOutcome& out, const std::string& when_none) const {
    std::vector<std::string> removed;
    std::vector<std::string> failed;
    for (const auto& path : {canary_weights_, local_dropin_}) {
      auto r = remove_file_durable(path);
      if (!r.ok()) {
        failed.push_back(r.error().message);
      } else if (r.value()) {
        removed.push_back(path);
      }
    }
    std::string detail;
    for (const auto& f : failed) detail += (detail.empty() ? "" : "; ") + f;
    if (!removed.empty()) {
      std::string list;
      for (const auto& r : removed) list += (list.empty() ? "" : " and ") + r;
      detail += (detail.empty() ? "" : "; ") + std::string("removed ") + list;
    }
    out.ok = failed.empty();
    out.detail = detail.empty() ? when_none : detail;
  }

  std::string live_weights_;
  std::string baseline_weights_;
  std::string canary_weights_;
  std::string local_dropin_;
};

}  // namespace qsc::actions

QSC_ACTION_PLUGIN(qsc::actions::RollbackAction, "rollback", "1.0.0",
                  "Restores the baseline weights and removes the canary weights and drop-in")

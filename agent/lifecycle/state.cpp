// The canary's recorded state.
#include "lifecycle/state.hpp"

#include <cmath>

#include "core/files.hpp"
#include "qsc/json_limits.hpp"

namespace qsc::agent {
namespace {

const std::pair<Phase, const char*> kPhases[] = {
    {Phase::kIdle, "idle"},
    {Phase::kCanaryActive, "canary_active"},
    {Phase::kMonitoring, "monitoring"},
    {Phase::kCompleted, "completed"},
    {Phase::kRolledBack, "rolled_back"},
    {Phase::kPromoted, "promoted"},
    {Phase::kFinalized, "finalized"},
    {Phase::kRollbackIncomplete, "rollback_incomplete"}};

std::string time_or_empty(EpochMs ms) {
  return ms == 0 ? "" : format_iso(ms);
}

}  // namespace

std::string phase_name(Phase p) {
  for (auto [phase, name] : kPhases) {
    if (phase == p) return name;
  }
  return "?";
}

bool CanaryState::active() const {
  return phase == Phase::kCanaryActive || phase == Phase::kMonitoring ||
         phase == Phase::kCompleted || phase == Phase::kPromoted;
}

bool CanaryState::needs_rollback() const {
  return active() || phase == Phase::kRollbackIncomplete;
}

Status refuse_if_rollback_incomplete(const CanaryState& state, const std::string& command) {
  if (state.phase != Phase::kRollbackIncomplete) return ok_status();
  return Error{command + " refused: the last rollback of " +
               (state.model.empty() ? std::string("the canary") : state.model) +
               " is incomplete (phase rollback_incomplete): part of the canary may still be "
               "live. Finish it first: qsc rollback (it says what is still live and how to "
               "remove it)."};
}

bool CanaryState::clean_at_current_weight() const {
  return phase == Phase::kCompleted && last_result == "safe" &&
         std::fabs(last_result_weight - weight) < 1e-12;
}

nlohmann::ordered_json CanaryState::to_json() const {
  nlohmann::ordered_json w = nlohmann::ordered_json::object();
  for (const auto& [k, v] : weights) w[k] = v;
  nlohmann::ordered_json where = nlohmann::ordered_json::object();
  if (places.recorded()) {
    where = {
        {"live_weights", places.live_weights},     {"baseline_weights", places.baseline_weights},
        {"canary_weights", places.canary_weights}, {"override_dir", places.override_dir},
        {"dropin_dir", places.dropin_dir},         {"unit", places.unit}};
  }
  nlohmann::ordered_json detectors = nullptr;
  if (period_detectors) {
    detectors = nlohmann::ordered_json::object();
    for (const auto& [name, sha] : *period_detectors) detectors[name] = sha;
  }
  return {{"phase", phase_name(phase)},
          {"canary_model", model},
          {"canary_weight", weight},
          {"weights", w},
          {"canary_places", where},
          {"cutover_ts", time_or_empty(cutover_ms)},
          {"cutover_ms", cutover_ms},
          {"activated_at", time_or_empty(activated_ms)},
          {"activated_ms", activated_ms},
          {"weight_since_ms", weight_since_ms},
          {"period_start", time_or_empty(period_start_ms)},
          {"period_start_ms", period_start_ms},
          {"period_end", time_or_empty(period_end_ms)},
          {"period_end_ms", period_end_ms},
          {"checks_done", checks_done},
          {"checks_total", checks_total},
          {"last_verdict", last_verdict},
          {"last_result", last_result},
          {"last_result_weight", last_result_weight},
          {"last_result_period_ms", last_result_period_ms},
          {"interval_ms", interval_ms},
          {"last_watched_ms", last_watched_ms},
          {"last_watched_boot_id", last_watched_boot_id},
          {"last_watched_boot_ms", last_watched_boot_ms},
          {"checks_missed", checks_missed},
          {"unwatched_ms", unwatched_ms},
          {"clock_skipped_ms", clock_skipped_ms},
          {"held_up_ms", held_up_ms},
          {"period_config_sha256", period_config_sha256},
          {"period_config_changed", period_config_changed},
          {"period_detectors", detectors},
          {"period_detectors_changed", period_detectors_changed},
          {"period_not_deployed", period_not_deployed},
          {"finalize_still_live", finalize_still_live},
          {"monitor_session_open", monitor_session_open},
          {"monitor_unclean_ends", monitor_unclean_ends},
          {"monitor_unclean_since_ms", monitor_unclean_since_ms}};
}

Result<CanaryState> load_state(const std::filesystem::path& path) {
  CanaryState s;
  if (!std::filesystem::exists(path)) return s;
  auto text = read_file(path);
  if (!text) return text.error();
  auto bad = [&](const std::string& why) {
    return Error{"state file " + path.string() + " is unreadable (" + why +
                 "); restore it from the audit log or remove it only after checking that no "
                 "canary is active (qsc rollback restores the baseline)"};
  };
  if (auto deep = qsc::json_depth_problem(*text); !deep.empty()) return bad("JSON " + deep);
  auto doc = nlohmann::json::parse(*text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return bad("not a JSON object");
  try {
    const auto phase = doc.value("phase", std::string("idle"));
    bool known = false;
    for (auto [p, name] : kPhases) {
      if (phase == name) {
        s.phase = p;
        known = true;
      }
    }
    if (!known) return bad("unknown phase \"" + phase + "\"");
    s.model = doc.value("canary_model", std::string());
    s.weight = doc.value("canary_weight", 0.0);
    if (doc.contains("weights")) {
      for (const auto& [k, v] : doc["weights"].items()) s.weights[k] = v.get<double>();
    }
    if (const auto where = doc.find("canary_places"); where != doc.end() && where->is_object()) {
      s.places.live_weights = where->value("live_weights", std::string());
      s.places.baseline_weights = where->value("baseline_weights", std::string());
      s.places.canary_weights = where->value("canary_weights", std::string());
      s.places.override_dir = where->value("override_dir", std::string());
      s.places.dropin_dir = where->value("dropin_dir", std::string());
      s.places.unit = where->value("unit", std::string());
    }
    s.cutover_ms = doc.value("cutover_ms", EpochMs{0});
    s.activated_ms = doc.value("activated_ms", EpochMs{0});
    s.weight_since_ms = doc.value("weight_since_ms", s.activated_ms);
    s.period_start_ms = doc.value("period_start_ms", EpochMs{0});
    s.period_end_ms = doc.value("period_end_ms", EpochMs{0});
    s.checks_done = doc.value("checks_done", std::uint64_t{0});
    s.checks_total = doc.value("checks_total", std::uint64_t{0});
    s.last_verdict = doc.value("last_verdict", std::string());
    s.last_result = doc.value("last_result", std::string());
    s.last_result_weight = doc.value("last_result_weight", 0.0);
    s.last_result_period_ms = doc.value("last_result_period_ms", std::int64_t{0});
    s.interval_ms = doc.value("interval_ms", std::int64_t{0});
    s.last_watched_ms = doc.value("last_watched_ms", EpochMs{0});
    s.last_watched_boot_id = doc.value("last_watched_boot_id", std::string());
    s.last_watched_boot_ms = doc.value("last_watched_boot_ms", std::int64_t{0});
    s.checks_missed = doc.value("checks_missed", std::uint64_t{0});
    s.unwatched_ms = doc.value("unwatched_ms", std::int64_t{0});
    s.clock_skipped_ms = doc.value("clock_skipped_ms", std::int64_t{0});
    s.held_up_ms = doc.value("held_up_ms", std::int64_t{0});
    s.period_config_sha256 = doc.value("period_config_sha256", std::string());
    s.period_config_changed = doc.value("period_config_changed", false);
    if (const auto d = doc.find("period_detectors"); d != doc.end() && d->is_object()) {
      s.period_detectors.emplace();
      for (const auto& [name, sha] : d->items())
        (*s.period_detectors)[name] = sha.get<std::string>();
    }
    if (const auto c = doc.find("period_detectors_changed"); c != doc.end()) {
      s.period_detectors_changed = c->get<std::vector<std::string>>();
    }
    s.period_not_deployed = doc.value("period_not_deployed", false);
    if (const auto f = doc.find("finalize_still_live"); f != doc.end()) {
      s.finalize_still_live = f->get<std::vector<std::string>>();
    }
    s.monitor_session_open = doc.value("monitor_session_open", false);
    s.monitor_unclean_ends = doc.value("monitor_unclean_ends", std::uint64_t{0});
    s.monitor_unclean_since_ms = doc.value("monitor_unclean_since_ms", EpochMs{0});
  } catch (const nlohmann::json::exception& e) {
    return bad(e.what());
  }
  return s;
}

Status save_state(const std::filesystem::path& path, const CanaryState& state) {
  return write_file_atomic(path, state.to_json().dump(2) + "\n");
}

}  // namespace qsc::agent

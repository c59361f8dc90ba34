// The configuration file: every key known, every value checked, every problem reported at once.
#include "core/config.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "core/duration.hpp"
#include "core/files.hpp"
#include "core/listen_address.hpp"
#include "core/sha256.hpp"
#include "qsc/event.hpp"
#include "qsc/file_trust.hpp"
#include "qsc/gate_config.hpp"
#include "qsc/json_limits.hpp"
#include "qsc/plugin_abi.h"

#ifndef QSC_INSTALL_PLUGIN_DIR
#define QSC_INSTALL_PLUGIN_DIR "/usr/local/lib/qsc/plugins"
#endif

namespace qsc::agent {
namespace {

using nlohmann::json;

// The least memory one windowed event takes in the monitor worker: the event and the canary's
// own prediction (the strings' heap, other models' predictions and the running figures come on
// top), so the bound below refuses only windows that certainly do not fit.
constexpr std::uint64_t kWindowEventFloorBytes = sizeof(TradeIntent) + sizeof(Prediction);

// The most events plugins.max_rss can hold in the worker's window. A larger window is never
// honest: filled, it gets the worker killed (a rollback for want of memory); never filled, it is
// every event since the weight took effect, where a fault late in a period is diluted by the
// hours of healthy events before it and can complete clean.
std::uint64_t max_window_events(std::uint64_t max_rss_bytes) {
  return max_rss_bytes / kWindowEventFloorBytes;
}

// The longest silence the monitor tolerates, and the key that sets it: telemetry.stale_after, or
// telemetry_stale's own stale_after or canary_silent_after (the canary's silence) when its section
// sets a longer one (they override it in the monitor). A value the plugin's schema refuses is
// left to that refusal.
std::pair<std::chrono::milliseconds, std::string> longest_tolerated_silence(const Config& c) {
  std::pair<std::chrono::milliseconds, std::string> longest{c.telemetry.stale_after,
                                                            "telemetry.stale_after"};
  const auto section = c.plugins.config.find("telemetry_stale");
  if (section == c.plugins.config.end() || !section->is_object()) return longest;
  for (const char* key : {"stale_after", "canary_silent_after"}) {
    const auto value = section->find(key);
    if (value == section->end()) continue;
    std::optional<std::chrono::milliseconds> silence;
    if (value->is_number() && std::isfinite(value->get<double>()) && value->get<double>() >= 0.0 &&
        value->get<double>() <= 366.0 * 86'400.0) {
      silence = std::chrono::milliseconds(std::llround(value->get<double>() * 1000.0));
    } else if (value->is_string()) {
      if (auto d = parse_duration(value->get<std::string>())) silence = *d;
    }
    if (silence && *silence > longest.first) {
      longest = {*silence, std::string("plugins.config.telemetry_stale.") + key};
    }
  }
  return longest;
}

// A silence is a violation once it outlasts the tolerated silence, and a check sees it up to an
// interval later: a shorter period ends before a silence from its start (an engine dead since
// the monitor began) could ever be called stale, and completes clean.
void check_period_sees_silence(const Config& c, std::vector<std::string>& problems) {
  if (!check_period(c.canary.duration, c.canary.interval, "canary.duration", "canary.interval")) {
    return;  // refused already, with its own message
  }
  const auto [silence, key] = longest_tolerated_silence(c);
  const auto least = silence + c.canary.interval;
  if (c.canary.duration >= least) return;
  problems.push_back(
      "canary.duration: must be at least " + key + " + canary.interval (" + format_duration(least) +
      "): a shorter period ends before a silence from its start is stale, so an "
      "engine dead all period would complete clean; got \"" +
      format_duration(c.canary.duration) + "\": lengthen canary.duration or shorten " + key);
}

// Walks one JSON object, reading known keys and collecting problems with their full key path.
class Reader {
 public:
  Reader(const json& obj, std::string where, std::vector<std::string>& problems)
      : obj_(obj), where_(std::move(where)), problems_(problems) {
    if (!obj_.is_object()) problem("", std::string("must be an object, got ") + obj_.type_name());
  }
  ~Reader() {
    if (!obj_.is_object()) return;
    for (const auto& [k, v] : obj_.items()) {
      if (!known_.contains(k)) {
        std::string allowed;
        for (const auto& n : known_) allowed += (allowed.empty() ? "" : ", ") + n;
        problems_.push_back("unknown key \"" + path(k) + "\" (allowed here: " + allowed + ")");
      }
    }
  }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  const json* get(const std::string& key) {
    known_.insert(key);
    if (!obj_.is_object()) return nullptr;
    auto it = obj_.find(key);
    return it == obj_.end() ? nullptr : &*it;
  }
  void string(const std::string& key, std::string& out) {
    if (const auto* v = get(key)) {
      if (v->is_string()) {
        out = v->get<std::string>();
      } else {
        problem(key, std::string("must be a string, got ") + v->type_name());
      }
    }
  }
  void one_of(const std::string& key, std::string& out, const std::set<std::string>& allowed) {
    std::string value = out;
    string(key, value);
    if (!allowed.contains(value)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      problem(key, "must be one of " + list + ", got \"" + value + "\"");
      return;
    }
    out = value;
  }
  void count(const std::string& key, std::size_t& out, std::size_t min, std::size_t max) {
    if (const auto* v = get(key)) {
      if (!v->is_number_integer() || v->get<long long>() < static_cast<long long>(min) ||
          v->get<long long>() > static_cast<long long>(max)) {
        problem(key, "must be a whole number from " + std::to_string(min) + " to " +
                         std::to_string(max) + ", got " + v->dump());
      } else {
        out = static_cast<std::size_t>(v->get<long long>());
      }
    }
  }
  /// `why` (may be empty) says why a bound is open: the value at which a check could never fire.
  void number(const std::string& key, double& out, double min, double max, bool open_min,
              bool open_max = false, const std::string& why = "") {
    if (const auto* v = get(key)) {
      const bool ok = v->is_number() && std::isfinite(v->get<double>()) &&
                      (open_min ? v->get<double>() > min : v->get<double>() >= min) &&
                      (open_max ? v->get<double>() < max : v->get<double>() <= max);
      if (!ok) {
        char range[96];
        std::snprintf(range, sizeof range, "a number %s %.10g and %s %.10g",
                      open_min ? "above" : "from", min, open_max ? "below" : "at most", max);
        problem(key, std::string("must be ") + range + (why.empty() ? "" : " (" + why + ")") +
                         ", got " + v->dump());
      } else {
        out = v->get<double>();
      }
    }
  }
  void duration(const std::string& key, std::chrono::milliseconds& out,
                std::chrono::milliseconds min) {
    if (const auto* v = get(key)) {
      if (!v->is_string()) {
        problem(key,
                std::string("must be a duration string like \"30s\", \"90m\" or \"6h\", got ") +
                    v->dump());
        return;
      }
      auto d = parse_duration(v->get<std::string>());
      if (!d) {
        problem(key, d.error().message);
      } else if (*d < min) {
        problem(key, "must be at least " + format_duration(min) + ", got " + v->dump());
      } else {
        out = *d;
      }
    }
  }
  // A byte count: a whole number, or a string with a binary unit ("512MiB", "2GiB", "4096KiB").
  void bytes(const std::string& key, std::uint64_t& out, std::uint64_t min) {
    const auto* v = get(key);
    if (v == nullptr) return;
    std::optional<std::uint64_t> value;
    if (v->is_number_unsigned()) {
      value = v->get<std::uint64_t>();
    } else if (v->is_number_integer()) {
      if (v->get<long long>() >= 0) value = static_cast<std::uint64_t>(v->get<long long>());
    } else if (v->is_string()) {
      const auto text = v->get<std::string>();
      std::size_t used = 0;
      unsigned long long n = 0;
      try {
        n = std::stoull(text, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      const std::string unit = used == 0 ? "?" : text.substr(used);
      const std::map<std::string, std::uint64_t> units{
          {"", 1}, {"B", 1}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}};
      if (auto u = units.find(unit);
          u != units.end() && n <= std::numeric_limits<std::uint64_t>::max() / u->second) {
        value = n * u->second;
      }
    }
    if (!value || *value < min) {
      problem(key, "must be a byte count of at least " + std::to_string(min >> 20) +
                       " MiB, as a whole number or a string like \"512MiB\" or \"2GiB\", got " +
                       v->dump());
      return;
    }
    out = *value;
  }
  void strings(const std::string& key, std::vector<std::string>& out, bool non_empty) {
    if (const auto* v = get(key)) {
      std::vector<std::string> list;
      bool ok = v->is_array();
      if (ok) {
        for (const auto& e : *v) {
          if (!e.is_string() || e.get<std::string>().empty()) {
            ok = false;
            break;
          }
          list.push_back(e.get<std::string>());
        }
      }
      if (!ok || (non_empty && list.empty())) {
        problem(key, std::string("must be a") + (non_empty ? " non-empty" : "n") +
                         " array of non-empty strings, got " + v->dump());
      } else {
        out = std::move(list);
      }
    }
  }
  void problem(const std::string& key, const std::string& why) {
    problems_.push_back(path(key) + ": " + why);
  }
  std::string path(const std::string& key) const {
    if (key.empty()) return where_;
    return where_.empty() ? key : where_ + "." + key;
  }

 private:
  const json& obj_;
  std::string where_;
  std::vector<std::string>& problems_;
  std::set<std::string> known_;
};

// The systemd action's section, whose unit, drop-in directory and systemctl the agent reads too.
constexpr const char* kSystemdSection = "systemd";
constexpr const char* kSystemdSectionPath = "plugins.config.systemd";

// Reads the systemd action's settings the agent needs (SystemdConfig) from plugins.config.systemd,
// or from the top-level "systemd" section, their deprecated alias for one release: read with a
// warning naming each key and its new place. Both at once are refused rather than merged: which
// one would win is not something an operator should have to guess.
void read_systemd_settings(const json* deprecated, Config& c, std::vector<std::string>& problems) {
  const std::pair<const char*, std::string*> keys[] = {{"unit", &c.systemd.unit},
                                                       {"dropin_dir", &c.systemd.dropin_dir},
                                                       {"systemctl", &c.systemd.systemctl}};
  auto section = c.plugins.config.find(kSystemdSection);
  std::string new_keys;
  if (section != c.plugins.config.end()) {
    for (const auto& [key, out] : keys) {
      const auto v = section->find(key);
      if (v == section->end()) continue;
      new_keys += std::string(new_keys.empty() ? "" : ", ") + kSystemdSectionPath + "." + key;
      if (!v->is_string() || v->get<std::string>().empty()) {
        problems.push_back(std::string(kSystemdSectionPath) + "." + key +
                           ": must be a non-empty string, got " + v->dump());
      } else {
        *out = v->get<std::string>();
      }
      section->erase(key);
    }
  }
  if (deprecated == nullptr) return;
  if (!new_keys.empty()) {
    problems.push_back(std::string("systemd: the deprecated top-level \"systemd\" section and ") +
                       new_keys +
                       " are both set: keep only plugins.config.systemd (move unit, dropin_dir "
                       "and systemctl there and delete the top-level \"systemd\" section)");
    return;
  }
  Reader r(*deprecated, kSystemdSection, problems);
  for (const auto& [key, out] : keys) {
    if (r.get(key) == nullptr) continue;
    r.string(key, *out);
    c.warnings.push_back(std::string("configuration key \"systemd.") + key +
                         "\" is deprecated: move it to \"" + kSystemdSectionPath + "." + key +
                         "\" (the top-level \"systemd\" section is read for this release only)");
  }
  if (deprecated->is_object() && deprecated->empty()) {
    c.warnings.push_back(
        "configuration section \"systemd\" is deprecated: delete it (its keys belong in "
        "\"plugins.config.systemd\")");
  }
}

}  // namespace

json Config::to_json() const {
  json weights = json::object();
  for (const auto& [k, v] : canary.default_weights) weights[k] = v;
  return json{
      {"telemetry",
       {{"source", telemetry.source},
        {"redis_url", telemetry.redis_url},
        {"stream", telemetry.stream},
        {"shm_name", telemetry.shm_name},
        {"shm_owner", telemetry.shm_owner},
        {"file", telemetry.file},
        {"min_events", telemetry.min_events},
        {"window_events", telemetry.window_events},
        {"stale_after", format_duration(telemetry.stale_after)},
        {"max_clock_skew", format_duration(telemetry.max_clock_skew)},
        {"max_rejected_pct", telemetry.max_rejected_pct},
        {"shm_wait", telemetry.shm_wait}}},
      {"canary",
       {{"models", canary.models},
        {"default_weights", weights},
        {"weight", canary.weight},
        {"duration", format_duration(canary.duration)},
        {"interval", format_duration(canary.interval)},
        {"max_restarts", canary.max_restarts}}},
      {"paths",
       {{"live_weights", paths.live_weights},
        {"baseline_weights", paths.baseline_weights},
        {"canary_weights", paths.canary_weights},
        {"override_dir", paths.override_dir},
        {"audit_log", paths.audit_log},
        {"reports_dir", paths.reports_dir},
        {"state", paths.state}}},
      {"plugins",
       {{"dir", plugins.dir},
        {"actions", plugins.actions},
        {"required", plugins.required},
        {"config", plugin_sections()},
        {"check_timeout", format_duration(plugins.check_timeout)},
        {"max_rss", plugins.max_rss_bytes},
        {"memory_watch", plugins.memory_watch},
        {"action_timeout", format_duration(plugins.action_timeout)}}},
      {"metrics", {{"listen", metrics.listen}, {"linger", format_duration(metrics.linger)}}},
  };
}

std::string config_sha256(const Config& config) {
  // nlohmann::json keeps object keys sorted, so the compact dump is canonical.
  return sha256_hex(config.to_json().dump(-1, ' ', false, json::error_handler_t::replace));
}

json Config::plugin_sections() const {
  json sections = plugins.config;
  // Without a section and with the defaults, none is made: a directory without the systemd
  // action (actions: ["rollback"]) must not be refused for a section nobody wrote.
  if (!sections.contains(kSystemdSection) && systemd == SystemdConfig{}) return sections;
  auto& section = sections[kSystemdSection];
  section["unit"] = systemd.unit;
  section["dropin_dir"] = systemd.dropin_dir;
  section["systemctl"] = systemd.systemctl;
  return sections;
}

json Config::plugin_section(const std::string& name) const {
  const auto sections = plugin_sections();
  auto it = sections.find(name);
  return it == sections.end() ? json::object() : *it;
}

std::filesystem::path Config::lock_path() const {
  return std::filesystem::path(paths.state).parent_path() / ".qsc.lock";
}

std::filesystem::path Config::monitor_lock_path() const {
  return std::filesystem::path(paths.state).parent_path() / ".qsc.monitor.lock";
}

Result<Config> parse_config(const json& doc, const std::string& source) {
  Config c;
  c.loaded_from = source;
  std::vector<std::string> problems;
  {
    Reader root(doc, "", problems);
    if (const auto* t = root.get("telemetry")) {
      Reader r(*t, "telemetry", problems);
      r.one_of("source", c.telemetry.source, {"shm", "redis", "file"});
      r.string("redis_url", c.telemetry.redis_url);
      r.string("stream", c.telemetry.stream);
      r.string("shm_name", c.telemetry.shm_name);
      r.string("shm_owner", c.telemetry.shm_owner);
      r.string("file", c.telemetry.file);
      // Fewer events than docs/design.md's minimum window cannot be judged: a smaller min_events
      // would let the gate and the detectors decide on noise.
      if (const auto* v = r.get("min_events");
          v && v->is_number_integer() && v->get<long long>() >= 1 &&
          v->get<long long>() < static_cast<long long>(kMinEventsFloor)) {
        r.problem("min_events", "must be a whole number from " + std::to_string(kMinEventsFloor) +
                                    " to 100000000 (fewer events are too few to judge a model), "
                                    "got " +
                                    v->dump());
      } else {
        r.count("min_events", c.telemetry.min_events, kMinEventsFloor, 100'000'000);
      }
      r.count("window_events", c.telemetry.window_events, 1, 100'000'000);
      r.duration("stale_after", c.telemetry.stale_after, std::chrono::seconds(1));
      // A silence is a rollback only once it outlasts stale_after: beyond an hour a dead engine
      // would keep its canary live that long, and the gate would judge hour-old telemetry fresh.
      if (c.telemetry.stale_after > std::chrono::hours(1)) {
        r.problem("stale_after", "must be at most 1h (longer silences would go unnoticed), got \"" +
                                     format_duration(c.telemetry.stale_after) + "\"");
      }
      r.duration("max_clock_skew", c.telemetry.max_clock_skew, std::chrono::milliseconds(0));
      // Beyond an hour a future-stamped event could hold silence off for that long: refused.
      if (c.telemetry.max_clock_skew > std::chrono::hours(1)) {
        r.problem("max_clock_skew", "must be at most 1h (a clock that far off is broken), got \"" +
                                        format_duration(c.telemetry.max_clock_skew) + "\"");
      }
      r.number("max_rejected_pct", c.telemetry.max_rejected_pct, 0.0, qsc::kMaxRejectedPctLimit,
               false,
               /*open_max=*/true, qsc::kMaxRejectedPctWhy);
      r.one_of("shm_wait", c.telemetry.shm_wait, {"spin", "spin_then_sleep", "block"});
      if (c.telemetry.stream.empty()) r.problem("stream", "must not be empty");
      if (c.telemetry.shm_name.empty()) r.problem("shm_name", "must not be empty");
      if (c.telemetry.window_events < c.telemetry.min_events) {
        r.problem("window_events",
                  "must be at least min_events (" + std::to_string(c.telemetry.min_events) + ")");
      }
    }
    if (const auto* t = root.get("canary")) {
      Reader r(*t, "canary", problems);
      r.strings("models", c.canary.models, true);
      if (const auto* w = r.get("default_weights")) {
        std::map<std::string, double> weights;
        bool ok = w->is_object() && !w->empty();
        double sum = 0.0;
        if (ok) {
          for (const auto& [k, v] : w->items()) {
            if (!v.is_number() || v.get<double>() < 0.0 || !std::isfinite(v.get<double>())) {
              ok = false;
              break;
            }
            weights[k] = v.get<double>();
            sum += v.get<double>();
          }
        }
        if (!ok || sum <= 0.0) {
          r.problem("default_weights",
                    "must be an object of model name to a non-negative weight, not all zero");
        } else {
          c.canary.default_weights = std::move(weights);
        }
      }
      r.number("weight", c.canary.weight, 0.0, 0.5, true);
      r.duration("duration", c.canary.duration, std::chrono::seconds(1));
      r.duration("interval", c.canary.interval, std::chrono::milliseconds(kMinCheckIntervalMs));
      if (auto period = check_period(c.canary.duration, c.canary.interval, "canary.duration",
                                     "canary.interval");
          !period) {
        r.problem("interval", period.error().message);
      }
      r.count("max_restarts", c.canary.max_restarts, 0, 100);
    }
    if (const auto* t = root.get("paths")) {
      Reader r(*t, "paths", problems);
      r.string("live_weights", c.paths.live_weights);
      r.string("baseline_weights", c.paths.baseline_weights);
      r.string("canary_weights", c.paths.canary_weights);
      r.string("override_dir", c.paths.override_dir);
      r.string("audit_log", c.paths.audit_log);
      r.string("reports_dir", c.paths.reports_dir);
      r.string("state", c.paths.state);
      for (const auto& [k, v] : {std::pair{"baseline_weights", &c.paths.baseline_weights},
                                 {"canary_weights", &c.paths.canary_weights},
                                 {"override_dir", &c.paths.override_dir},
                                 {"audit_log", &c.paths.audit_log},
                                 {"reports_dir", &c.paths.reports_dir},
                                 {"state", &c.paths.state}}) {
        if (v->empty()) r.problem(k, "must not be empty");
      }
    }
    const json* deprecated_systemd = root.get(kSystemdSection);
    if (const auto* t = root.get("plugins")) {
      Reader r(*t, "plugins", problems);
      r.string("dir", c.plugins.dir);
      r.strings("actions", c.plugins.actions, false);
      // Without the rollback action a violation would be detected and then nothing undone.
      if (std::find(c.plugins.actions.begin(), c.plugins.actions.end(), "rollback") ==
          c.plugins.actions.end()) {
        r.problem("actions", "must contain \"rollback\" (a violation must be rolled back), got " +
                                 json(c.plugins.actions).dump() +
                                 "; e.g. [\"rollback\", \"systemd\", \"notify\"]");
      }
      r.strings("required", c.plugins.required, true);
      std::string missing;
      for (const auto& name : kRequiredPlugins) {
        if (std::find(c.plugins.required.begin(), c.plugins.required.end(), name) ==
            c.plugins.required.end()) {
          missing += (missing.empty() ? "" : ", ") + name;
        }
      }
      if (!missing.empty()) {
        r.problem("required", "may extend the built-in required set but not shrink it: missing " +
                                  missing + " (omit the key to use the built-in set)");
        c.plugins.required = kRequiredPlugins;
      }
      // At least 100 ms: a worker is never judged hung on its own scheduling noise.
      r.duration("check_timeout", c.plugins.check_timeout, std::chrono::milliseconds(100));
      r.duration("action_timeout", c.plugins.action_timeout, std::chrono::milliseconds(100));
      r.bytes("max_rss", c.plugins.max_rss_bytes, 64ull << 20);
      r.one_of("memory_watch", c.plugins.memory_watch, {"page_faults", "rounds"});
      if (const auto* cfg = r.get("config")) {
        bool ok = cfg->is_object();
        if (ok) {
          for (const auto& [k, v] : cfg->items()) ok = ok && v.is_object();
        }
        if (!ok) {
          r.problem("config", "must be an object of plugin name to an object section");
        } else {
          c.plugins.config = *cfg;
        }
      }
    }
    read_systemd_settings(deprecated_systemd, c, problems);
    if (const auto* t = root.get("metrics")) {
      Reader r(*t, "metrics", problems);
      r.string("listen", c.metrics.listen);
      if (!c.metrics.listen.empty()) {
        if (auto address = parse_listen_address(c.metrics.listen); !address) {
          r.problem("listen", address.error().message);
        }
      }
      r.duration("linger", c.metrics.linger, std::chrono::milliseconds(0));
      // Longer would hold a finished monitor (and a systemd restart) back for no gain: one
      // scrape interval is all the final figures need.
      if (c.metrics.linger > std::chrono::minutes(10)) {
        r.problem("linger",
                  "must be at most 10m (one Prometheus scrape interval is enough), got \"" +
                      format_duration(c.metrics.linger) + "\"");
      }
    }
  }
  if (c.telemetry.window_events > max_window_events(c.plugins.max_rss_bytes)) {
    problems.push_back(
        "telemetry.window_events: must be at most " +
        std::to_string(max_window_events(c.plugins.max_rss_bytes)) +
        " (the events plugins.max_rss " + std::to_string(c.plugins.max_rss_bytes >> 20) +
        " MiB holds at " + std::to_string(kWindowEventFloorBytes) +
        " bytes or more each: a larger window either gets the monitor killed when it fills, or "
        "never fills and dilutes a late fault with every event since the weight took effect), "
        "got " +
        std::to_string(c.telemetry.window_events) +
        ": lower it (the default is 2000) or raise plugins.max_rss");
  }
  check_period_sees_silence(c, problems);
  for (const auto& m : c.canary.models) {
    if (!c.canary.default_weights.contains(m)) {
      problems.push_back("canary.models: \"" + m + "\" has no entry in canary.default_weights");
    }
  }
  if (!problems.empty()) {
    std::string message = "configuration " + source + " is invalid:";
    for (const auto& p : problems) message += "\n  - " + p;
    return Error{message};
  }
  c.sha256 = config_sha256(c);
  return c;
}

Result<Config> load_config(const std::optional<std::string>& explicit_path) {
  std::optional<std::filesystem::path> path;
  if (explicit_path) {
    path = *explicit_path;
    if (!std::filesystem::exists(*path)) {
      return Error{"configuration file " + *explicit_path +
                   " does not exist: check --config, or omit it to use ./qsc.json, "
                   "/etc/qsc/qsc.json or the built-in defaults"};
    }
  } else if (std::filesystem::exists("qsc.json")) {
    path = "qsc.json";
  } else if (std::filesystem::exists("/etc/qsc/qsc.json")) {
    path = "/etc/qsc/qsc.json";
  }
  Result<Config> config = Config{};
  if (path) {
    // It names the programs the agent runs (systemctl, often as root): only its owner or root
    // may have written it, checked on the file as opened.
    auto text = qsc::read_trusted_file(*path, "configuration file " + path->string());
    if (!text) return text.error();
    if (auto deep = qsc::json_depth_problem(*text); !deep.empty()) {
      return Error{"configuration file " + path->string() + " is refused: its JSON " + deep +
                   "; no configuration nests that deep, check it with `jq . " + path->string() +
                   "`"};
    }
    auto doc = json::parse(*text, nullptr, false);
    if (doc.is_discarded()) {
      return Error{"configuration file " + path->string() +
                   " is not valid JSON: check it with `jq . " + path->string() + "`"};
    }
    config = parse_config(doc, path->string());
  } else {
    config->loaded_from = "built-in defaults";
  }
  if (!config) return config;
  if (const char* url = std::getenv("QSC_REDIS_URL"); url && *url)
    config->telemetry.redis_url = url;
  // After the environment: the digest is of what every command will actually use.
  config->sha256 = config_sha256(*config);
  return config;
}

std::filesystem::path resolve_plugin_dir(const Config& config) {
  if (!config.plugins.dir.empty()) return config.plugins.dir;
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    // Installed (<prefix>/bin/qsc) and built (<build>/bin/qsc) alike: <prefix>/lib/qsc/plugins.
    const auto candidate = exe.parent_path().parent_path() / "lib" / "qsc" / "plugins";
    if (std::filesystem::is_directory(candidate, ec)) return candidate;
  }
  return QSC_INSTALL_PLUGIN_DIR;
}

std::uint64_t default_action_flags(std::string_view action) {
  if (action == "rollback") return QSC_FLAG_RESTORES_WEIGHTS;
  if (action == "systemd") return QSC_FLAG_RESTARTS_SERVICES | QSC_FLAG_NEEDS_PRIVILEGE;
  if (action == "notify") return QSC_FLAG_BEST_EFFORT;
  return QSC_FLAG_ESSENTIAL;
}

}  // namespace qsc::agent

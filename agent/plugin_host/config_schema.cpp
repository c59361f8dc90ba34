// Plugin configuration schemas (see config_schema.hpp).
#include "plugin_host/config_schema.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <set>

#include "core/duration.hpp"
#include "qsc/config_section.hpp"
#include "qsc/json_limits.hpp"

namespace qsc::agent::config_schema {
namespace {

const std::set<std::string, std::less<>> kTypes = {
    "number", "integer", "duration", "string", "boolean", "string_list", "object", "object_list"};
const std::set<std::string, std::less<>> kEntryKeys = {
    "type",     "min",       "max",     "min_excluded", "max_excluded", "why",
    "max_from", "not_above", "default", "description",  "values"};

// "\"a\" or \"b\"", "\"a\", \"b\" or \"c\"": a string key's allowed values, for refusals.
std::string one_of(const nlohmann::json& values) {
  std::string text;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += i + 1 == values.size() ? " or " : ", ";
    text += values[i].dump();
  }
  return text;
}

double bound(const nlohmann::json& entry, const char* key, double unbounded) {
  const auto it = entry.find(key);
  return it == entry.end() ? unbounded : it->get<double>();
}

ConfigSection::End end(const nlohmann::json& entry, const char* key) {
  return entry.value(key, false) ? ConfigSection::End::kExcluded : ConfigSection::End::kIncluded;
}

/// The number at a dotted path ("telemetry.window_events") of the host configuration.
std::optional<double> host_number(const nlohmann::json& host, const std::string& path) {
  const nlohmann::json* at = &host;
  std::size_t start = 0;
  while (true) {
    const auto dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? dot : dot - start);
    if (!at->is_object() || !at->contains(part)) return std::nullopt;
    at = &(*at)[part];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (!at->is_number()) return std::nullopt;
  return at->get<double>();
}

/// Reads one key of `config` as its entry says; the problems go into `config`. A "max_from"
/// bound is read from `host` (the whole configuration) when it has a number there.
void check_key(ConfigSection& config, const std::string& key, const nlohmann::json& entry,
               const nlohmann::json& host) {
  const std::string type = entry.at("type").get<std::string>();
  if (type == "number" || type == "integer") {
    constexpr double kInf = std::numeric_limits<double>::infinity();
    const double min = bound(entry, "min", -kInf);
    double max = bound(entry, "max", kInf);
    if (entry.contains("max_from")) {
      if (auto from = host_number(host, entry["max_from"].get<std::string>())) max = *from;
    }
    const double value =
        config.number(key, std::isfinite(min) ? min : 0.0, min, end(entry, "min_excluded"), max,
                      end(entry, "max_excluded"), entry.value("why", std::string()));
    if (type == "integer" && config.raw(key) != nullptr && std::trunc(value) != value) {
      config.fail(key, "must be a whole number, got " + std::to_string(value));
    }
  } else if (type == "duration") {
    const auto* v = config.raw(key);
    if (v == nullptr) return;
    constexpr double kInf = std::numeric_limits<double>::infinity();
    const double min = bound(entry, "min", 0.0);
    const double max = bound(entry, "max", kInf);
    std::optional<double> seconds;
    if (v->is_number()) {
      seconds = v->get<double>();
    } else if (v->is_string()) {
      if (auto d = parse_duration(v->get<std::string>())) {
        seconds = static_cast<double>(d.value().count()) / 1000.0;
      }
    }
    if (!seconds || !std::isfinite(*seconds) || *seconds < min || *seconds > max) {
      char range[96];
      std::snprintf(range, sizeof range, "seconds from %.10g to %.10g", min, max);
      config.fail(key, std::string("must be ") + range +
                           " or a duration such as \"300s\" or \"5m\", got " + v->dump());
    }
  } else if (type == "string") {
    // "values": the only strings allowed (e.g. the ensemble checks' "attribution"), so that
    // `qsc config` refuses what the plugin's create would.
    const auto* v = config.raw(key);
    config.string(key, "");
    const auto values = entry.find("values");
    if (v != nullptr && v->is_string() && values != entry.end() &&
        std::find(values->begin(), values->end(), *v) == values->end()) {
      config.fail(key, "must be " + one_of(*values) + ", got " + v->dump());
    }
  } else if (type == "boolean") {
    config.boolean(key, false);
  } else if (const auto* v = config.raw(key); v != nullptr) {
    const bool objects = type == "object_list";
    const bool ok =
        type == "object"
            ? v->is_object()
            : v->is_array() && std::all_of(v->begin(), v->end(), [objects](const auto& item) {
                return objects ? item.is_object() : item.is_string();
              });
    if (!ok) {
      const char* what = type == "object"        ? "an object"
                         : type == "object_list" ? "a list of objects"
                                                 : "a list of strings";
      config.fail(key, std::string("must be ") + what + ", got " + v->dump());
    }
  }
}

std::string entry_problem(const std::string& key, const nlohmann::json& entry) {
  if (!entry.is_object()) return "key \"" + key + "\" is not described by an object";
  for (const auto& [name, value] : entry.items()) {
    if (!kEntryKeys.contains(name))
      return "key \"" + key + "\" has an unknown field \"" + name + "\"";
  }
  const auto type = entry.find("type");
  if (type == entry.end() || !type->is_string() || !kTypes.contains(type->get<std::string>())) {
    return "key \"" + key +
           "\" has no valid type (number, integer, duration, string, boolean, string_list, "
           "object, object_list)";
  }
  for (const char* b : {"min", "max"}) {
    if (entry.contains(b) && !entry[b].is_number())
      return "key \"" + key + "\": " + b + " is not a number";
  }
  for (const char* text : {"why", "max_from", "not_above"}) {
    if (entry.contains(text) && !entry[text].is_string()) {
      return "key \"" + key + "\": " + text + " is not a string";
    }
  }
  if (const auto values = entry.find("values"); values != entry.end()) {
    if (type->get<std::string>() != "string" || !values->is_array() || values->empty() ||
        !std::all_of(values->begin(), values->end(), [](const auto& v) { return v.is_string(); }))
      return "key \"" + key + "\": values is not a list of strings of a string key";
  }
  for (const char* b : {"min_excluded", "max_excluded"}) {
    if (entry.contains(b) && !entry[b].is_boolean())
      return "key \"" + key + "\": " + b + " is not true or false";
  }
  if (const auto d = entry.find("default"); d != entry.end() && !d->is_null()) {
    nlohmann::json probe = nlohmann::json::object();
    probe[key] = *d;
    ConfigSection config(probe, "default of");
    check_key(config, key, entry, nlohmann::json::object());
    if (auto s = config.finish(); !s) return "key \"" + key + "\": " + s.error().message;
  }
  return {};
}

}  // namespace

Result<nlohmann::json> parse(const std::string& text) {
  const std::string prefix = "config schema is invalid: ";
  if (qsc::json_too_deep_at(text)) return Error{prefix + "nested too deeply"};
  auto schema = nlohmann::json::parse(text, nullptr, false);
  if (schema.is_discarded() || !schema.is_object()) return Error{prefix + "not a JSON object"};
  for (const auto& [key, entry] : schema.items()) {
    if (auto problem = entry_problem(key, entry); !problem.empty()) return Error{prefix + problem};
    if (entry.contains("not_above") && !schema.contains(entry["not_above"].get<std::string>())) {
      return Error{prefix + "key \"" + key + "\": not_above names no key of the schema"};
    }
  }
  return schema;
}

Status validate(const nlohmann::json& schema, const nlohmann::json& section,
                const std::string& plugin, const nlohmann::json& host) {
  const std::string where = "plugins.config." + plugin;
  if (section.is_null()) return ok_status();
  if (!section.is_object()) return Error{where + ": must be an object, got " + section.dump()};
  ConfigSection config(section, where);
  for (const auto& [key, entry] : schema.items()) check_key(config, key, entry, host);
  // An order between two keys (a lower bound not above its upper bound), each as given or at
  // its default.
  const auto value_of = [&](const std::string& key) -> std::optional<double> {
    if (section.contains(key) && section[key].is_number()) return section[key].get<double>();
    const auto& entry = schema[key];
    if (entry.contains("default") && entry["default"].is_number()) {
      return entry["default"].get<double>();
    }
    return std::nullopt;
  };
  for (const auto& [key, entry] : schema.items()) {
    if (!entry.contains("not_above")) continue;
    const std::string other = entry["not_above"].get<std::string>();
    const auto low = value_of(key);
    const auto high = value_of(other);
    if (low && high && *low > *high) config.fail(key, "must not exceed " + other);
  }
  return config.finish();
}

}  // namespace qsc::agent::config_schema

// A plugin's configuration schema (qsc_plugin_descriptor::config_schema): the keys of its
// plugins.config.<name> section with their types, ranges and defaults. `qsc config` checks a
// section against it without creating the plugin (no plugin code runs), with the messages the
// SDK's ConfigSection gives when the plugin reads the section itself.
//
// The schema is a JSON object, key -> entry:
//   {"type": "number" | "integer" | "duration" | "string" | "boolean" | "string_list" |
//            "object" | "object_list",
//    "min": N, "max": N,   numbers, integers and durations (in seconds), both optional
//    "min_excluded": true, "max_excluded": true,   the end itself is not allowed
//    "why": "at 100 the check could never fire",   shown when an excluded end is refused
//    "max_from": "telemetry.window_events",   the maximum is that number of the host's
//                                              configuration (when it has one there)
//    "not_above": "other_key",                 the value must not exceed the other key's
//    "default": V, "description": "..."}
// A duration is seconds as a number or a text such as "300s" or "5m". A schema is what the
// section may hold; the plugin may still refuse a value whose range depends on other settings
// (telemetry_stale's max_lost_events stays below telemetry.window_events) when it is created.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "qsc/result.hpp"

namespace qsc::agent::config_schema {

/// Parses and checks a schema text: an object of entries as above, each default valid for its
/// own entry. The error names the key and what is wrong (the plugin is then rejected).
Result<nlohmann::json> parse(const std::string& text);

/// Checks `section` (plugins.config.<plugin>) against `schema`, with `host` the whole
/// configuration (for max_from): unknown keys, wrong types and values out of range are every
/// one named, with the key and the allowed range.
Status validate(const nlohmann::json& schema, const nlohmann::json& section,
                const std::string& plugin, const nlohmann::json& host);

}  // namespace qsc::agent::config_schema

// Reading the host's effective configuration (Config::to_json) from inside an action plugin.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace qsc::actions {

/// host[group][key] when it is a string, else `fallback` (the default, from qsc/canary_files.hpp
/// for its paths), so that a plugin created with a partial host configuration (tests, older agents)
/// still behaves.
std::string host_string(const nlohmann::json& host, const char* group, const char* key,
                        const std::string& fallback);

}  // namespace qsc::actions

// Reading the host's effective configuration from inside an action plugin.
#include "host_config.hpp"

namespace qsc::actions {

std::string host_string(const nlohmann::json& host, const char* group, const char* key,
                        const std::string& fallback) {
  if (!host.is_object()) return fallback;
  const auto g = host.find(group);
  if (g == host.end() || !g->is_object()) return fallback;
  const auto k = g->find(key);
  if (k == g->end() || !k->is_string()) return fallback;
  return k->get<std::string>();
}

}  // namespace qsc::actions

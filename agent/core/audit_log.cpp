// The audit log.
#include "core/audit_log.hpp"

#include <sstream>

#include "core/files.hpp"
#include "core/timestamp.hpp"
#include "qsc/json_limits.hpp"

namespace qsc::agent {

Status AuditLog::append(std::string_view action, const nlohmann::ordered_json& fields) const {
  nlohmann::ordered_json entry;
  entry["timestamp"] = format_iso(now_ms());
  entry["action"] = action;
  entry["config_sha256"] = config_sha256_;
  if (fields.is_object()) {
    for (const auto& [k, v] : fields.items()) {
      if (k != "timestamp" && k != "action" && k != "config_sha256") entry[k] = v;
    }
  }
  // Replace invalid UTF-8 rather than throw: an audit entry must always be written.
  return append_line_synced(path_,
                            entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

Result<std::vector<nlohmann::json>> AuditLog::read_all() const {
  std::vector<nlohmann::json> out;
  if (!std::filesystem::exists(path_)) return out;
  auto text = read_file(path_);
  if (!text) return text.error();
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (qsc::json_too_deep_at(line)) continue;  // never written by the agent: not an entry
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

}  // namespace qsc::agent

// The audit log (logs/qsc_canary.jsonl): one JSON object a line, synced entry by entry.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "qsc/result.hpp"

namespace qsc::agent {

/// Appends audit entries; each carries `timestamp` (ISO-8601 UTC with Z) and `action` first.
class AuditLog {
 public:
  explicit AuditLog(std::filesystem::path path) : path_(std::move(path)) {}

  /// Appends {"timestamp": now, "action": action, ...fields}; synced before returning.
  Status append(std::string_view action, const nlohmann::ordered_json& fields = {}) const;
  /// Reads every entry; lines that do not parse are skipped (a torn tail cannot exist, since
  /// each line is one write, but a hand-edited file might have anything).
  Result<std::vector<nlohmann::json>> read_all() const;
  /// The file's path.
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace qsc::agent

// The audit log (logs/qsc_canary.jsonl): one JSON object a line, synced entry by entry.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "qsc/result.hpp"

namespace qsc::agent {

/// Appends audit entries; each carries `timestamp` (ISO-8601 UTC with Z), `action` and
/// `config_sha256` (the effective configuration's digest) first, so a threshold changed between
/// two entries shows in the log.
class AuditLog {
 public:
  /// The configuration's audit log (paths.audit_log), its entries stamped with config.sha256.
  explicit AuditLog(const Config& config)
      : path_(config.paths.audit_log), config_sha256_(config.sha256) {}
  AuditLog(std::filesystem::path path, std::string config_sha256)
      : path_(std::move(path)), config_sha256_(std::move(config_sha256)) {}

  /// Appends {"timestamp": now, "action": action, "config_sha256": ..., ...fields}; synced
  /// before returning.
  Status append(std::string_view action, const nlohmann::ordered_json& fields = {}) const;
  /// Reads every entry; lines that do not parse are skipped (a torn tail cannot exist, since
  /// each line is one write, but a hand-edited file might have anything).
  Result<std::vector<nlohmann::json>> read_all() const;
  /// The file's path.
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::string config_sha256_;
};

}  // namespace qsc::agent

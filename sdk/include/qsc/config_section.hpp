// Reading a plugin's configuration section: typed keys with ranges, unknown keys refused.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "qsc/result.hpp"

namespace qsc {

/// Reads keys from a JSON object section, collecting every problem; `finish()` reports them all
/// at once and refuses keys that were never read (a typo must not silently keep a default).
class ConfigSection {
 public:
  /// `where` names the section in messages, e.g. "plugins.config.action_collapse".
  ConfigSection(const nlohmann::json& section, std::string where);

  /// Whether a range includes its end. A threshold's end is open where a value there would
  /// switch its check off (nothing can exceed a 100% ceiling, nothing is below a 0 floor).
  enum class End { kIncluded, kExcluded };

  /// A number in [min, max], or `fallback` when the key is absent.
  double number(std::string_view key, double fallback, double min, double max);
  /// A number from min to max where an excluded end is not allowed itself; `why` (shown in the
  /// refusal) says what that value would do, e.g. "at 100 the check could never fire".
  double number(std::string_view key, double fallback, double min, End min_end, double max,
                End max_end, std::string_view why);
  /// A string, or `fallback` when absent.
  std::string string(std::string_view key, std::string fallback);
  /// A boolean, or `fallback` when absent.
  bool boolean(std::string_view key, bool fallback);
  /// The raw value, or nullptr when absent (the key counts as known).
  const nlohmann::json* raw(std::string_view key);
  /// Adds a problem found by the caller's own validation.
  void fail(std::string_view key, std::string_view why);

  /// Ok, or an Error listing every problem and every unknown key.
  Status finish() const;

 private:
  const nlohmann::json* find(std::string_view key);
  nlohmann::json section_;
  std::string where_;
  std::set<std::string, std::less<>> known_;
  std::vector<std::string> problems_;
};

}  // namespace qsc

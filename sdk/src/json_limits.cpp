// The bracket-depth pre-scan behind every JSON reader's depth limit.
#include "qsc/json_limits.hpp"

namespace qsc {

std::optional<std::size_t> json_too_deep_at(std::string_view text, std::size_t max_depth) noexcept {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) return i;
        break;
      case ']':
      case '}':
        // An unbalanced closer is the parser's to refuse; it must not buy extra depth here.
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return std::nullopt;
}

std::string json_depth_problem(std::string_view text, std::size_t max_depth) {
  const auto at = json_too_deep_at(text, max_depth);
  if (!at) return {};
  return "nesting deeper than " + std::to_string(max_depth) + " levels (at byte " +
         std::to_string(*at) + ")";
}

}  // namespace qsc

// Finds a key repeated within one JSON object while nlohmann parses. nlohmann keeps the last
// value of a repeated key (RFC 8259 leaves it to the reader), so an entry that lists the canary
// twice, a NaN first and a healthy prediction after it, read as healthy: a reader that must not
// pass over what it was sent refuses such a document instead.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace qsc {

/// Parses `text` into `out` (nlohmann's Json or ordered_json) and returns the first key that an
/// object repeats, or nullopt. Throws what Json::parse throws for text that is not JSON. Keys are
/// kept in a hash set per open object, so a hostile object of many keys costs linear time.
template <typename Json>
std::optional<std::string> parse_with_unique_keys(std::string_view text, Json& out) {
  std::vector<std::unordered_set<std::string>> open_objects;
  std::optional<std::string> repeated;
  using Event = typename Json::parse_event_t;
  out = Json::parse(text, [&](int /*depth*/, Event event, Json& parsed) {
    switch (event) {
      case Event::object_start:
        open_objects.emplace_back();
        break;
      case Event::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case Event::key:
        if (!open_objects.empty() &&
            !open_objects.back().insert(parsed.template get<std::string>()).second &&
            !repeated) {
          repeated = parsed.template get<std::string>();
        }
        break;
      default:
        break;
    }
    return true;  // keep everything: the caller refuses the whole document
  });
  return repeated;
}

}  // namespace qsc

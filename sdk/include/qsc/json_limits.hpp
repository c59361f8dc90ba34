// The nesting limit every JSON reader applies before it parses. nlohmann's parser is iterative,
// but dump(), copies and comparisons recurse once per level, so a document a million levels deep
// overflows the stack of whoever touches it after the parse; it is refused before the parse.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace qsc {

/// Levels of arrays/objects a configuration, state, weights or recording line may nest. Real
/// documents nest fewer than ten; 64 leaves room and keeps every recursive walk shallow.
inline constexpr std::size_t kMaxJsonDepth = 64;

/// The byte offset of the first `[` or `{` that opens a level past `max_depth`, or nullopt when
/// the text never nests deeper. Brackets inside strings (escaped quotes included) do not count.
/// One pass, no recursion, no allocation; the text need not be valid JSON.
std::optional<std::size_t> json_too_deep_at(std::string_view text,
                                            std::size_t max_depth = kMaxJsonDepth) noexcept;

/// "nesting deeper than 64 levels (at byte N)", or empty when within `max_depth`. Callers put the
/// input's name in front.
std::string json_depth_problem(std::string_view text, std::size_t max_depth = kMaxJsonDepth);

}  // namespace qsc

// Fuzz target: durations ("30s", "1h30m") and timestamps (ISO-8601, systemd's form) as users
// type them. Byte 0 chooses which; the rest is the text. Each is read or refused, never
// crashes; a duration that is read must read back the same from format_duration, and a
// timestamp from 1970 to 9998 must read back from format_iso as the same second, and the
// hand-written timestamp reader must accept exactly what the two regular expressions it replaced
// accept (less offsets past 23:59), at the same instant. A difference is a finding:
// __builtin_trap().
#include <chrono>
#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <string_view>

#include "core/duration.hpp"
#include "core/timestamp.hpp"

namespace {

// The grammar as it was, by std::regex (agent/core/timestamp.cpp until session 11): the
// instant, or nullopt; dates and offsets are judged by the reader under test.
struct Reference {
  bool matched = false;
  int offset_hours = 0, offset_minutes = 0;
};

Reference reference_match(std::string_view text) {
  static const std::regex iso(
      R"(^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$)");
  static const std::regex systemd(
      R"(^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) )?(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(\.(\d{1,9}))? UTC$)");
  const std::string s(text);
  std::smatch m;
  Reference r;
  if (std::regex_match(s, m, iso)) {
    r.matched = true;
    const std::string off = m[9].str();
    if (off != "Z") {
      r.offset_hours = std::stoi(off.substr(1, 2));
      r.offset_minutes = std::stoi(off.substr(off.size() - 2));
    }
  } else {
    r.matched = std::regex_match(s, m, systemd);
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  using namespace qsc::agent;
  switch (data[0] % 3) {
    case 0: {
      auto d = parse_duration(text);
      if (!d) return 0;
      if (d->count() < 0) __builtin_trap();
      auto again = parse_duration(format_duration(*d));
      if (!again || *again != *d) __builtin_trap();
      (void)format_remaining(*d);
      break;
    }
    case 1: {
      // "DURATION INTERVAL": the monitoring period's shape check.
      const auto space = text.find(' ');
      if (space == std::string_view::npos) return 0;
      auto d = parse_duration(text.substr(0, space));
      auto i = parse_duration(text.substr(space + 1));
      if (d && i) (void)check_period(*d, *i, "--duration", "--interval");
      break;
    }
    default: {
      auto t = parse_timestamp(text);
      // Accepted forms only: the reader under test may refuse a matched text for its date or
      // offset, never accept an unmatched one or refuse a valid one.
      const Reference ref = reference_match(text);
      if (t && !ref.matched) __builtin_trap();
      if (!t && ref.matched && ref.offset_hours <= 23 && ref.offset_minutes <= 59 &&
          t.error().message.find("no such date") == std::string::npos) {
        __builtin_trap();
      }
      // 9999-01-01: later instants (an offset past 9999-12-31) print a five-digit year that
      // no accepted form has.
      constexpr qsc::agent::EpochMs kYear9999Ms = 253'370'764'800'000;
      if (!t || *t < 0 || *t >= kYear9999Ms) return 0;
      auto again = parse_timestamp(format_iso(*t));
      if (!again || *again != *t - *t % 1000) __builtin_trap();
      (void)format_compact(*t);
      break;
    }
  }
  return 0;
}

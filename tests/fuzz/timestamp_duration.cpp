// Fuzz target: durations ("30s", "1h30m") and timestamps (ISO-8601, systemd's form) as users
// type them. Byte 0 chooses which; the rest is the text. Each is read or refused, never
// crashes; a duration that is read must read back the same from format_duration, and a
// timestamp from 1970 to 9998 must read back from format_iso as the same second. A difference is
// a finding: __builtin_trap().
#include <chrono>
#include <cstdint>
#include <string_view>

#include "core/duration.hpp"
#include "core/timestamp.hpp"

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

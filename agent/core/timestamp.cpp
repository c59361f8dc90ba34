// Timestamp parsing and formatting, UTC only: a trading cutover must not depend on the host TZ.
#include "core/timestamp.hpp"

#include <cstdio>
#include <ctime>
#include <regex>

namespace qsc::agent {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool valid_date(int y, int mo, int d, int h, int mi, int s) {
  static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 60) {
    return false;
  }
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= (mo == 2 && !leap ? 28 : days[mo - 1]);
}

std::tm to_tm(EpochMs ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

}  // namespace

EpochMs now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string format_iso(EpochMs ms) {
  const auto tm = to_tm(ms);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string format_compact(EpochMs ms) {
  const auto tm = to_tm(ms);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d_%H%M%S", &tm);
  return buf;
}

Result<EpochMs> parse_timestamp(std::string_view text) {
  static const std::regex iso(
      R"(^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$)");
  static const std::regex systemd(
      R"(^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) )?(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(\.(\d{1,9}))? UTC$)");
  const std::string s(text);
  std::smatch m;
  bool is_iso = std::regex_match(s, m, iso);
  if (!is_iso && !std::regex_match(s, m, systemd)) {
    return Error{"invalid timestamp \"" + s + "\": use " + std::string(kTimestampForms)};
  }
  const int y = std::stoi(m[1]), mo = std::stoi(m[2]), d = std::stoi(m[3]);
  const int h = std::stoi(m[4]), mi = std::stoi(m[5]), sec = std::stoi(m[6]);
  if (!valid_date(y, mo, d, h, mi, sec)) {
    return Error{"invalid timestamp \"" + s + "\": no such date or time; use " +
                 std::string(kTimestampForms)};
  }
  EpochMs ms = (days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 +
                h * 3600 + mi * 60 + sec) *
               1000;
  if (m[8].matched) {
    std::string frac = m[8].str();
    frac.resize(3, '0');
    ms += std::stoi(frac);
  }
  if (is_iso && m[9].str() != "Z") {
    const std::string off = m[9].str();
    const int sign = off[0] == '-' ? -1 : 1;
    const int oh = std::stoi(off.substr(1, 2));
    const int om = std::stoi(off.substr(off.size() - 2));
    ms -= sign * (oh * 3600 + om * 60) * 1000LL;
  }
  return ms;
}

}  // namespace qsc::agent

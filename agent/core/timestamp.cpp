// Timestamp parsing and formatting, UTC only: a trading cutover must not depend on the host TZ.
#include "core/timestamp.hpp"

#include <cstdio>
#include <ctime>
#include <string>

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

// The fields of an accepted form, as written (validated by the caller).
struct TimestampFields {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  int millis = 0;  // the fraction's first three digits; later digits are dropped, not rounded
  int offset_sign = 1, offset_hours = 0, offset_minutes = 0;
};

// A cursor over the text: each take_* consumes what it matched, or fails leaving `at` anywhere
// (the caller gives up at the first failure). Hand-written because std::regex compiled the two
// forms' patterns in about 54 million instructions (8 ms) at the first call of every command.
class TimestampCursor {
 public:
  explicit TimestampCursor(std::string_view text) : text_(text) {}

  bool done() const { return at_ == text_.size(); }
  bool take(std::string_view literal) {
    if (text_.substr(at_, literal.size()) != literal) return false;
    at_ += literal.size();
    return true;
  }
  bool take_one_of(std::string_view chars, char& out) {
    if (at_ >= text_.size() || chars.find(text_[at_]) == std::string_view::npos) return false;
    out = text_[at_++];
    return true;
  }
  // Exactly `n` ASCII digits.
  bool take_digits(std::size_t n, int& out) {
    out = 0;
    for (std::size_t i = 0; i < n; ++i, ++at_) {
      if (at_ >= text_.size() || text_[at_] < '0' || text_[at_] > '9') return false;
      out = out * 10 + (text_[at_] - '0');
    }
    return true;
  }
  // ".d" to ".ddddddddd" (1 to 9 digits), if present; milliseconds from the first three.
  bool take_fraction(int& millis) {
    millis = 0;
    if (!take(".")) return true;
    std::size_t digits = 0;
    while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9') {
      if (digits < 3) millis += (text_[at_] - '0') * (digits == 0 ? 100 : digits == 1 ? 10 : 1);
      ++digits;
      ++at_;
    }
    return digits >= 1 && digits <= 9;
  }

 private:
  std::string_view text_;
  std::size_t at_ = 0;
};

// "YYYY-MM-DD" sep "hh:mm:ss[.f]" with sep one of `separators`.
bool read_date_time(TimestampCursor& c, std::string_view separators, TimestampFields& f) {
  char sep = 0;
  return c.take_digits(4, f.year) && c.take("-") && c.take_digits(2, f.month) && c.take("-") &&
         c.take_digits(2, f.day) && c.take_one_of(separators, sep) && c.take_digits(2, f.hour) &&
         c.take(":") && c.take_digits(2, f.minute) && c.take(":") && c.take_digits(2, f.second) &&
         c.take_fraction(f.millis);
}

// ISO-8601: date [T or space] time, then Z or +-hh[:]mm.
bool read_iso(std::string_view text, TimestampFields& f) {
  TimestampCursor c(text);
  if (!read_date_time(c, "T ", f)) return false;
  if (c.take("Z")) return c.done();
  char sign = 0;
  if (!c.take_one_of("+-", sign) || !c.take_digits(2, f.offset_hours)) return false;
  c.take(":");
  f.offset_sign = sign == '-' ? -1 : 1;
  return c.take_digits(2, f.offset_minutes) && c.done();
}

// systemd's form: an optional English weekday (not checked against the date, as systemd's own
// parser does not), date space time, " UTC".
bool read_systemd(std::string_view text, TimestampFields& f) {
  TimestampCursor c(text);
  for (std::string_view day : {"Mon ", "Tue ", "Wed ", "Thu ", "Fri ", "Sat ", "Sun "}) {
    if (c.take(day)) break;
  }
  return read_date_time(c, " ", f) && c.take(" UTC") && c.done();
}

bool read_timestamp(std::string_view text, TimestampFields& f) {
  f = TimestampFields{};
  if (read_iso(text, f)) return true;
  f = TimestampFields{};
  return read_systemd(text, f);
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
  const std::string s(text);
  const auto malformed = [&s] {
    return Error{"invalid timestamp \"" + s + "\": use " + std::string(kTimestampForms)};
  };
  TimestampFields f;
  if (!read_timestamp(text, f)) return malformed();
  if (!valid_date(f.year, f.month, f.day, f.hour, f.minute, f.second)) {
    return Error{"invalid timestamp \"" + s + "\": no such date or time; use " +
                 std::string(kTimestampForms)};
  }
  // An offset is an hour of the day and a minute of the hour (ISO 8601 stops at +14:00; any
  // hour up to 23 is taken): "+99:99" is a typing error, never four days and a bit.
  if (f.offset_hours > 23 || f.offset_minutes > 59) {
    return Error{"invalid timestamp \"" + s + "\": the UTC offset must be HH:MM with HH at most " +
                 "23 and MM at most 59; use " + std::string(kTimestampForms)};
  }
  EpochMs ms =
      (days_from_civil(f.year, static_cast<unsigned>(f.month), static_cast<unsigned>(f.day)) *
           86400 +
       f.hour * 3600 + f.minute * 60 + f.second) *
          1000 +
      f.millis;
  ms -= f.offset_sign * (f.offset_hours * 3600 + f.offset_minutes * 60) * 1000LL;
  return ms;
}

}  // namespace qsc::agent

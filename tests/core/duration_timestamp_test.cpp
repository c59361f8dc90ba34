// Durations ("30s", "6h") and timestamps (ISO-8601, systemd's form) as users write them.
#include <gtest/gtest.h>

#include "core/duration.hpp"
#include "core/timestamp.hpp"

namespace qsc::agent {
namespace {

using std::chrono::milliseconds;

TEST(Duration, AcceptsTheDocumentedForms) {
  EXPECT_EQ(*parse_duration("30s"), milliseconds(30'000));
  EXPECT_EQ(*parse_duration("90m"), milliseconds(90 * 60'000));
  EXPECT_EQ(*parse_duration("6h"), milliseconds(6 * 3'600'000));
  EXPECT_EQ(*parse_duration("250ms"), milliseconds(250));
  EXPECT_EQ(*parse_duration("1h30m"), milliseconds(90 * 60'000));
}

TEST(Duration, RefusesOtherFormsWithTheAcceptedOnes) {
  for (const char* bad : {"", "30", "s", "6 h", "-5s", "1.5h", "10y", "5sec"}) {
    auto d = parse_duration(bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_NE(d.error().message.find("e.g. 250ms, 30s, 90m, 6h"), std::string::npos) << bad;
  }
  EXPECT_FALSE(parse_duration("9999999d").ok());
}

TEST(Duration, TwelveDigitsOfDaysAreRefusedNotWrappedAround) {
  // 999999999999d overflows 64 bits when multiplied first; it must be refused, never wrap to a
  // value that passes the range check (UBSan flags the old multiplication).
  for (const char* huge : {"999999999999d", "999999999999h", "106751991167d", "367d", "365d24h1ms",
                           "1d999999999999h"}) {
    auto d = parse_duration(huge);
    ASSERT_FALSE(d.ok()) << huge << " gave " << d->count() << " ms";
    EXPECT_NE(d.error().message.find("longer than a year"), std::string::npos) << huge;
  }
  EXPECT_EQ(*parse_duration("366d"), milliseconds(366LL * 86'400'000));
}

TEST(Period, NeedsAPositiveDurationAndAnIntervalWithinIt) {
  EXPECT_TRUE(
      check_period(milliseconds(6'000), milliseconds(1'000), "--duration", "--interval").ok());
  EXPECT_TRUE(
      check_period(milliseconds(1'000), milliseconds(1'000), "--duration", "--interval").ok());
  auto zero = check_period(milliseconds(0), milliseconds(1'000), "--duration", "--interval");
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(zero.error().message.find("--duration 0s is no period"), std::string::npos)
      << zero.error().message;
  auto longer =
      check_period(milliseconds(1'000), milliseconds(2'000), "canary.duration", "canary.interval");
  ASSERT_FALSE(longer.ok());
  EXPECT_NE(longer.error().message.find("canary.interval 2s is longer than canary.duration 1s"),
            std::string::npos)
      << longer.error().message;
  auto short_interval =
      check_period(milliseconds(1'000), milliseconds(10), "--duration", "--interval");
  ASSERT_FALSE(short_interval.ok());
  EXPECT_NE(short_interval.error().message.find("at least 100ms"), std::string::npos)
      << short_interval.error().message;
}

TEST(Duration, FormatsRoundTrip) {
  for (auto ms : {milliseconds(30'000), milliseconds(6 * 3'600'000), milliseconds(5'400'250)}) {
    EXPECT_EQ(*parse_duration(format_duration(ms)), ms);
  }
  EXPECT_EQ(format_remaining(milliseconds(21'240'000)), "5h 54m 0s");
}

TEST(Timestamp, IsoAndSystemdFormsGiveTheSameInstant) {
  auto iso = parse_timestamp("2026-01-10T05:43:15Z");
  auto systemd = parse_timestamp("Fri 2026-01-10 05:43:15 UTC");
  ASSERT_TRUE(iso.ok());
  ASSERT_TRUE(systemd.ok());
  EXPECT_EQ(*iso, *systemd);
  EXPECT_EQ(*iso, 1768023795000);  // date -ud 2026-01-10T05:43:15Z +%s
  EXPECT_EQ(format_iso(*iso), "2026-01-10T05:43:15Z");
  EXPECT_EQ(format_compact(*iso), "20260110_054315");
}

TEST(Timestamp, FractionsAndOffsets) {
  EXPECT_EQ(*parse_timestamp("2026-01-10T05:43:15.250Z"), 1768023795250);
  EXPECT_EQ(*parse_timestamp("2026-01-10T07:43:15+02:00"), 1768023795000);
  EXPECT_EQ(*parse_timestamp("2026-01-10T05:43:15-0030"), 1768023795000 + 1'800'000);
}

TEST(Timestamp, EveryPartOfBothFormsIsRead) {
  // A space for the T, nine fraction digits (the first three are the milliseconds, the rest
  // dropped), an offset without its colon, a systemd form without its weekday.
  EXPECT_EQ(*parse_timestamp("2026-01-10 05:43:15Z"), 1768023795000);
  EXPECT_EQ(*parse_timestamp("2026-01-10T05:43:15.123456789Z"), 1768023795123);
  EXPECT_EQ(*parse_timestamp("2026-01-10T05:43:15.5Z"), 1768023795500);
  EXPECT_EQ(*parse_timestamp("2026-01-10T06:43:15+0100"), 1768023795000);
  EXPECT_EQ(*parse_timestamp("2026-01-10 05:43:15.250 UTC"), 1768023795250);
  EXPECT_EQ(*parse_timestamp("Sun 2026-01-10 05:43:15 UTC"), 1768023795000);
}

TEST(Timestamp, AnOffsetPastTwentyThreeFiftyNineIsATypingErrorNamedAsSuch) {
  for (const char* bad : {"2026-01-10T05:43:15+99:00", "2026-01-10T05:43:15-00:60"}) {
    auto t = parse_timestamp(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_NE(t.error().message.find("UTC offset"), std::string::npos) << t.error().message;
  }
  EXPECT_EQ(*parse_timestamp("2026-01-10T05:43:15+23:59"), 1768023795000 - 86'340'000);
}

TEST(Timestamp, MalformedShowsTheAcceptedForms) {
  for (const char* bad :
       {"2026-01-10", "yesterday", "2026-13-10T05:43:15Z", "2026-02-30T00:00:00Z",
        "Fri 2026-01-10 05:43:15 CET", "", "2026-01-10T05:43:15.1234567890Z",
        "2026-01-10T05:43:15.Z", "2026-01-10T05:43:15", "Fri 2026-01-10T05:43:15 UTC",
        "Fri 2026-01-10 05:43:15Z", "2026-01-10T05:43:15+1:00", "2026-01-10T05:43:15Z ",
        " 2026-01-10T05:43:15Z", "Fr 2026-01-10 05:43:15 UTC", "2026-1-10T05:43:15Z",
        "２026-01-10T05:43:15Z"}) {
    auto t = parse_timestamp(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_NE(t.error().message.find("Fri 2026-01-10 05:43:15 UTC"), std::string::npos) << bad;
  }
}

}  // namespace
}  // namespace qsc::agent

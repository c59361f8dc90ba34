// The canary-silence rule of telemetry_stale (issue 17: a canary that stops publishing while its
// peers go on): the built telemetry_stale.so loaded by the real plugin host and fed
// CheckInput::new_events as the monitor and `qsc replay` feed them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "plugins/plugin_test_support.hpp"
#include "support/sanitizer_scale.hpp"

namespace qsc {
namespace {

using test::DetectorHost;
using test::figure;
using test::record_named;
using test::Scenario;

constexpr const char* kCanary = "patchtst";

// One event at `time_ms` from the three peers, and from the canary when `with_canary`.
TradeIntent event_at(std::uint64_t time_ms, bool with_canary) {
  TradeIntent e;
  e.time_ms = time_ms;
  for (const char* model : {"xgb", "lgbm", "nhits", kCanary}) {
    if (!with_canary && std::string_view(model) == kCanary) continue;
    Prediction p;
    p.model = model;
    p.model_string = model;
    p.confidence = p.raw_confidence = 0.6;
    e.predictions.push_back(p);
  }
  return e;
}

// `count` events `spacing_ms` apart from `first_ms`.
std::vector<TradeIntent> events_from(std::uint64_t first_ms, std::size_t count,
                                     std::uint64_t spacing_ms, bool with_canary) {
  std::vector<TradeIntent> out;
  for (std::size_t i = 0; i < count; ++i)
    out.push_back(event_at(first_ms + i * spacing_ms, with_canary));
  return out;
}

// telemetry_stale alone in a plugin directory, checked as the evaluation step checks it.
class StaleHost {
 public:
  explicit StaleHost(const nlohmann::json& section = nlohmann::json::object(),
                     nlohmann::json config = nlohmann::json())
      : host_({"telemetry_stale"}, {{"telemetry_stale", section}}, std::move(config)) {}

  // One evaluation that brings `events`, `stream_silent_s` after the newest event arrived.
  CheckResult check(std::span<const TradeIntent> events, double stream_silent_s = 0.0,
                    const char* canary = kCanary) {
    Scenario s;
    s.telemetry.seconds_since_last_event = stream_silent_s;
    CheckInput in = s.input();
    in.canary_model = canary;
    in.new_events = events;
    for (auto& c : host_.host.check_all(in)) {
      if (c.detector == "telemetry_stale") return c.result;
    }
    ADD_FAILURE() << "telemetry_stale did not run: "
                  << record_named(host_.host, "telemetry_stale").reason;
    return {};
  }
  CheckResult check_one(const TradeIntent& e, double stream_silent_s = 0.0) {
    return check(std::span<const TradeIntent>(&e, 1), stream_silent_s);
  }
  agent::PluginHost& host() { return host_.host; }

 private:
  DetectorHost host_;
};

// The canary publishes for 60 s, then only its peers do (an event every 500 ms): the rule fires
// at the first event more than canary_silent_after (the default: telemetry.stale_after, 300 s)
// after its last prediction, and not at 300 s itself.
TEST(CanarySilence, FiresPastTheThresholdWhileThePeersPublish) {
  StaleHost h;
  const auto speaking = events_from(0, 121, 500, true);  // 0 .. 60 s
  EXPECT_EQ(h.check(speaking).verdict, Verdict::kPass);
  CheckResult r;
  std::uint64_t t = 60'000;
  while (t < 360'000) {
    t += 500;
    r = h.check_one(event_at(t, false));
    ASSERT_EQ(r.verdict, Verdict::kPass) << "at " << t << " ms: " << r.message;
  }
  EXPECT_EQ(figure(r, "canary_silent_seconds"), 300.0);
  r = h.check_one(event_at(t + 500, false));
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.message, "Telemetry stale: no prediction from canary patchtst for 300.5 s (>300 s)");
  EXPECT_DOUBLE_EQ(figure(r, "canary_silent_seconds"), 300.5);
  // The canary's next prediction ends the silence.
  EXPECT_EQ(h.check_one(event_at(t + 1000, true)).verdict, Verdict::kPass);
}

// Evaluated once per 30 s of events instead of at every event, the rule reads the same clock:
// it fires at the first evaluation after the crossing, measuring up to that batch's newest
// event.
TEST(CanarySilence, FiresAtTheFirstEvaluationPastTheThresholdHoweverRarelyEvaluated) {
  StaleHost h;
  EXPECT_EQ(h.check(events_from(0, 121, 500, true)).verdict, Verdict::kPass);
  std::uint64_t first = 60'500;
  CheckResult r;
  for (; first < 400'000; first += 30'000) {
    r = h.check(events_from(first, 60, 500, false));
    if (r.verdict != Verdict::kPass) break;
  }
  // The batch ending at 390 s (330 s after the last prediction): the first one past 300 s.
  EXPECT_EQ(first, 360'500u);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_DOUBLE_EQ(figure(r, "canary_silent_seconds"), 330.0);
}

// Before the canary's first prediction the watch's first event counts as one: a grace of
// canary_silent_after from the start of the watch (the monitor reads from the activation on).
TEST(CanarySilence, GraceFromTheWatchsFirstEventUntilTheFirstPrediction) {
  const nlohmann::json section{{"canary_silent_after", "60s"}};
  {
    StaleHost h(section);
    EXPECT_EQ(h.check(events_from(1'000'000, 121, 500, false)).verdict, Verdict::kPass);  // 60 s
    const auto r = h.check_one(event_at(1'060'500, false));
    EXPECT_EQ(r.verdict, Verdict::kViolation);
    EXPECT_EQ(r.message, "Telemetry stale: no prediction from canary patchtst for 60.5 s (>60 s)");
  }
  {
    // A first prediction 50 s in starts the count again.
    StaleHost h(section);
    EXPECT_EQ(h.check(events_from(1'000'000, 100, 500, false)).verdict, Verdict::kPass);
    EXPECT_EQ(h.check_one(event_at(1'050'000, true)).verdict, Verdict::kPass);
    EXPECT_EQ(h.check(events_from(1'050'500, 120, 500, false)).verdict, Verdict::kPass);  // 110 s
    EXPECT_EQ(h.check_one(event_at(1'110'500, false)).verdict, Verdict::kViolation);
  }
  {
    // No event at all yet: the canary is as silent as the stream (since the period began).
    StaleHost h(section);
    EXPECT_EQ(h.check({}, 60.0).verdict, Verdict::kPass);
    const auto r = h.check({}, 61.0);
    EXPECT_EQ(r.verdict, Verdict::kViolation);
    EXPECT_EQ(r.message, "Telemetry stale: no prediction from canary patchtst for 61 s (>60 s)");
  }
}

// The canary's silence goes on while the whole stream pauses: its silence before the pause
// plus the pause (on the agent's clock). When the stream itself is stale, the canary is named
// apart only if it was silent before the stream went quiet.
TEST(CanarySilence, CountsTheStreamsPauseAndIsNamedApartFromStaleness) {
  StaleHost h;
  EXPECT_EQ(h.check(events_from(0, 11, 500, true)).verdict, Verdict::kPass);        // last at 5 s
  EXPECT_EQ(h.check(events_from(5'500, 390, 500, false)).verdict, Verdict::kPass);  // to 200 s
  EXPECT_EQ(h.check({}, 105.0).verdict, Verdict::kPass);  // 195 + 105 = 300 s
  auto r = h.check({}, 106.0);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.message, "Telemetry stale: no prediction from canary patchtst for 301 s (>300 s)");
  r = h.check({}, 312.0);
  EXPECT_EQ(r.message,
            "Telemetry stale: no events for 312 s (>300 s), no prediction from canary patchtst for "
            "507 s (>300 s)");

  // A canary that published in the newest event is only as silent as the stream: one message.
  StaleHost with_stream;
  EXPECT_EQ(with_stream.check(events_from(0, 11, 500, true)).verdict, Verdict::kPass);
  r = with_stream.check({}, 312.0);
  EXPECT_EQ(r.message, "Telemetry stale: no events for 312 s (>300 s)");
  EXPECT_EQ(figure(r, "canary_silent_seconds"), 312.0);
  r = with_stream.check({}, INFINITY);
  EXPECT_EQ(r.message, "Telemetry stale: no event time known (>300 s)");
}

// An entry stamped in the past does not move the clock back, and another canary starts a new
// watch.
TEST(CanarySilence, OldStampsDoNotRewindAndANewCanaryStartsANewWatch) {
  StaleHost h(nlohmann::json{{"canary_silent_after", "10s"}});
  EXPECT_EQ(h.check(events_from(100'000, 3, 500, true)).verdict, Verdict::kPass);  // to 101 s
  EXPECT_EQ(h.check_one(event_at(111'500, false)).verdict, Verdict::kViolation);
  // A canary prediction stamped before its last one is no newer prediction.
  EXPECT_EQ(h.check_one(event_at(50'000, true)).verdict, Verdict::kViolation);
  const std::vector<TradeIntent> lgbm_speaks{event_at(112'000, false)};
  EXPECT_EQ(h.check(lgbm_speaks, 0.0, "lgbm").verdict, Verdict::kPass);
}

// A healthy canary at 2 events/s with exponential gaps (a Poisson stream) over 6 hours never
// fires, whether it votes in every event or leaves one in ten out (an engine that skips the
// canary on some decisions). One host is evaluated at each event and just before the next one
// arrives (the stream silent for the whole gap), the other at every 30 s of the clock with the
// events of those 30 s (an interval check: silent since the newest of them).
// A sanitized build streams 1 hour (at least 6,500 events), not 6: the 6 hours took 56 s of
// ASan -O0 time; the never-fires claim is the plain build's (support/sanitizer_scale.hpp).
TEST(CanarySilence, HealthyCanaryWithExponentialGapsNeverFires) {
  constexpr std::uint64_t kStreamHours = qsc::test::sanitizer_sized(6, 1);
  constexpr std::size_t kLeastEvents = qsc::test::sanitizer_sized(40'000, 6'500);
  for (double skip_share : {0.0, 0.1}) {
    // mt19937_64 is specified exactly by the standard; its raw output (not a <random>
    // distribution, whose algorithm is the library's) gives the same stream everywhere.
    std::mt19937_64 rng(20261129);
    auto uniform = [&rng] { return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53; };
    StaleHost each_event;
    StaleHost every_30s;
    std::vector<TradeIntent> batch;
    double largest_s = 0.0;
    auto expect_pass = [&](const CheckResult& r) {
      EXPECT_EQ(r.verdict, Verdict::kPass) << "skip " << skip_share << ": " << r.message;
      largest_s = std::max(largest_s, figure(r, "canary_silent_seconds"));
      return r.verdict == Verdict::kPass;
    };
    std::uint64_t t_ms = 1'768'024'800'000;
    const std::uint64_t end_ms = t_ms + kStreamHours * 3600 * 1000;
    std::uint64_t check_ms = t_ms + 30'000;
    std::size_t events = 0;
    while (t_ms < end_ms) {
      // Exponential, mean 500 ms.
      const auto next_ms = t_ms + static_cast<std::uint64_t>(-std::log(uniform()) * 500.0);
      for (; check_ms <= next_ms; check_ms += 30'000) {
        ASSERT_TRUE(
            expect_pass(every_30s.check(batch, static_cast<double>(check_ms - t_ms) / 1000.0)));
        batch.clear();
      }
      ASSERT_TRUE(expect_pass(each_event.check({}, static_cast<double>(next_ms - t_ms) / 1000.0)));
      t_ms = next_ms;
      const auto e = event_at(t_ms, uniform() >= skip_share);
      ++events;
      ASSERT_TRUE(expect_pass(each_event.check_one(e)));
      batch.push_back(e);
    }
    EXPECT_GT(events, kLeastEvents);
    std::printf("[ healthy ] skip %.1f: %zu events, longest canary silence %.1f s\n", skip_share,
                events, largest_s);
    // The longest silence seen is a few seconds: far below 300 s, and not 0 (the gaps count).
    EXPECT_GT(largest_s, 1.0);
    EXPECT_LT(largest_s, 60.0);
  }
}

// canary_silent_after defaults to the effective stale_after (the host's telemetry.stale_after
// unless the section sets its own), takes a duration of 1 s to 1 h, and is refused otherwise
// with the key, the range and the value.
TEST(CanarySilence, ConfigurationDefaultsAndRefusals) {
  auto config = test::host_config();
  config["telemetry"]["stale_after"] = "90s";
  {
    StaleHost h({}, config);
    EXPECT_EQ(record_named(h.host(), "telemetry_stale").effective_config["canary_silent_after"],
              90.0);
  }
  {
    StaleHost h(nlohmann::json{{"stale_after", "2m"}});
    EXPECT_EQ(record_named(h.host(), "telemetry_stale").effective_config["canary_silent_after"],
              120.0);
  }
  {
    StaleHost h(nlohmann::json{{"canary_silent_after", "45s"}});
    const auto& effective = record_named(h.host(), "telemetry_stale").effective_config;
    EXPECT_EQ(effective["canary_silent_after"], 45.0);
    EXPECT_EQ(effective["stale_after"], 300.0);
  }
  for (const nlohmann::json& bad : {nlohmann::json("0.5s"), nlohmann::json("2h"),
                                    nlohmann::json("soon"), nlohmann::json(true)}) {
    StaleHost h(nlohmann::json{{"canary_silent_after", bad}});
    EXPECT_EQ(record_named(h.host(), "telemetry_stale").reason,
              "configuration refused: plugins.config.telemetry_stale.canary_silent_after: must be "
              "seconds from 1 to 3600 (1h) or a duration such as \"300s\" or \"5m\", got " +
                  bad.dump());
  }
}

}  // namespace
}  // namespace qsc

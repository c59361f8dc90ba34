// The ensemble bands' edges (docs/design.md, "The ensemble bands are inclusive"): windows built
// so that agreement is exactly 80.00% or exactly 55.00% and hard disagree exactly 20.00%, judged
// by the gate, the scoreboard and replay (the monitor's own evaluation step) through the built
// qsc: all three call them in band. The agreement windows are ones where the floating-point mean
// (numpy's too) lands just outside the band (80.00000000000001, 54.99999999999999): the checks
// used to fire there while printing "agreement=80.0% (target 55-80%)".
#include <nlohmann/json.hpp>

#include "lifecycle/lifecycle_harness.hpp"
#include "qsc/stats.hpp"

namespace qsc::test {
namespace {

using nlohmann::json;

// One event's votes: the action of each model of kModels (xgb first, patchtst last), and whether
// xgb votes (false: it reports shadow, so three models vote).
struct Votes {
  std::array<qsc::Vote, 4> action;
  bool xgb_votes = true;
};

constexpr qsc::Vote kCycle[3] = {qsc::Vote::kBuy, qsc::Vote::kSell, qsc::Vote::kHold};

// Event i's confidence for model k: 0.30 .. 0.70 (std about 0.13, P10-P90 about 0.32), so no
// per-model check is near its bound and only the ensemble figures are at stake.
double confidence(int i, std::size_t k) {
  return 0.30 + 0.05 * static_cast<double>((i * 7 + static_cast<int>(k) * 3) % 9);
}

// Agreement exactly 80%: blocks of five events, three where three models vote 2-1 (66.7%) and
// then two unanimous (100%). In ascending order every prefix of the period is at most 80%; no
// BUY against SELL (hard disagree 0%). The action rotates so that every model's shares stay
// near a third each.
Votes agreement_80_event(int i) {
  const qsc::Vote x = kCycle[i % 3];
  const qsc::Vote other = x == qsc::Vote::kHold ? qsc::Vote::kBuy : qsc::Vote::kHold;
  if (i % 5 >= 3) return {{x, x, x, x}, true};
  Votes v{{x, x, x, x}, false};
  v.action[1 + static_cast<std::size_t>(i % 3)] = other;  // lgbm, nhits or patchtst dissents
  return v;
}

// Agreement exactly 55% and hard disagree exactly 20%: blocks of five, in descending agreement
// (every prefix at least 55%): 3-1 (75%), three votes 2-1 (66.7%), two 2-2 of HOLD and BUY or
// SELL (50%, no hard disagreement), three votes BUY/SELL/HOLD (33.3%, the block's one hard
// disagreement, last: every prefix at most 20%).
Votes agreement_55_event(int i) {
  const qsc::Vote x = kCycle[(i / 5) % 3];
  const qsc::Vote other = x == qsc::Vote::kHold ? qsc::Vote::kBuy : qsc::Vote::kHold;
  const qsc::Vote side = (i / 5) % 2 == 0 ? qsc::Vote::kBuy : qsc::Vote::kSell;
  const std::size_t rotate = static_cast<std::size_t>(i / 5) % 4;
  switch (i % 5) {
    case 0: {
      Votes v{{x, x, x, x}, true};
      v.action[rotate] = other;
      return v;
    }
    case 1: {
      Votes v{{x, x, x, x}, false};
      v.action[1 + rotate % 3] = other;
      return v;
    }
    case 2:
    case 3: {
      Votes v{{qsc::Vote::kHold, qsc::Vote::kHold, side, side}, true};
      if (rotate % 2 == 1) v.action = {side, side, qsc::Vote::kHold, qsc::Vote::kHold};
      return v;
    }
    default: {
      const qsc::Vote a[3] = {qsc::Vote::kBuy, qsc::Vote::kSell, qsc::Vote::kHold};
      return {{qsc::Vote::kHold, a[rotate % 3], a[(rotate + 1) % 3], a[(rotate + 2) % 3]}, false};
    }
  }
}

std::string payload(int i, const Votes& v) {
  json breakdown = json::object();
  for (std::size_t k = 0; k < kModels.size(); ++k) {
    json p{{"action", std::string(qsc::vote_name(v.action[k]))},
           {"confidence", confidence(i, k)},
           {"model", kModels[k]}};
    if (k == 0 && !v.xgb_votes) p["shadow"] = true;
    breakdown[kModels[k]] = p;
  }
  return json{{"symbol", "BTCUSDT"}, {"model_breakdown", breakdown}}.dump();
}

// The first `count` events of a construction.
std::vector<Votes> window_of(Votes (*event)(int), int count) {
  std::vector<Votes> events;
  for (int i = 0; i < count; ++i) events.push_back(event(i));
  return events;
}

// The window's figures as the SDK (numpy's definitions) computes them.
qsc::EnsembleStats ensemble_of(const std::vector<Votes>& events) {
  std::vector<qsc::TradeIntent> intents;
  for (std::size_t i = 0; i < events.size(); ++i) {
    qsc::TradeIntent t;
    t.time_ms = i;
    for (std::size_t k = 0; k < kModels.size(); ++k) {
      qsc::Prediction p;
      p.model = kModels[k];
      p.action = events[i].action[k];
      p.confidence = p.raw_confidence = confidence(static_cast<int>(i), k);
      if (k == 0 && !events[i].xgb_votes) p.inactive = qsc::InactiveReason::kShadow;
      t.predictions.push_back(p);
    }
    intents.push_back(std::move(t));
  }
  return qsc::compute_window_stats(intents).ensemble;
}

class EnsembleBand : public LifecycleTest {
 protected:
  static constexpr std::int64_t kSpacingMs = 100;

  // Publishes the events after the cutover (Redis, for the gate and the scoreboard) and writes
  // the same entries as a recording (for replay), with one entry past the replayed period so
  // that the recording reaches the period's end.
  void publish(const std::vector<Votes>& events) {
    std::string recording;
    const auto entry = [&](int i, std::int64_t ms, const Votes& v) {
      const std::string id = std::to_string(ms) + "-0";
      const std::vector<std::pair<std::string, std::string>> fields{{"event_type", "trade.intent"},
                                                                    {"payload", payload(i, v)}};
      recording +=
          json{{"id", id},
               {"fields", {{"event_type", fields[0].second}, {"payload", fields[1].second}}}}
              .dump() +
          "\n";
      return std::pair{id, fields};
    };
    for (std::size_t i = 0; i < events.size(); ++i) {
      const auto [id, fields] = entry(static_cast<int>(i), first_ms() + i * kSpacingMs, events[i]);
      ASSERT_EQ(ws.writer().xadd(kStream, id, fields), "") << id;
    }
    entry(0, first_ms() + period_ms(events.size()) + 1000, events.front());
    spit(ws.path("rec.jsonl"), recording);
  }
  static std::int64_t first_ms() { return kRecentCutoverMs + 1000; }
  // The events' span rounded up to whole seconds: every event is inside the period.
  static std::int64_t period_ms(std::size_t events) {
    return (static_cast<std::int64_t>(events) * kSpacingMs / 1000 + 1) * 1000;
  }

  // Gate, scoreboard and replay on the published window: each must call it healthy.
  void expect_all_in_band(std::size_t events) {
    const auto gate = ws.run({"gate", "--after", kRecentCutoverIso});
    EXPECT_EQ(gate.exit_code, 0) << gate.all();
    EXPECT_TRUE(gate.has("✅ QUALITY GATE: PASS")) << gate.all();

    const auto sb = ws.run({"scoreboard"});
    ASSERT_EQ(sb.exit_code, 0) << sb.all();
    const auto board = json::parse(ws.read("reports/safety/scoreboard_latest.json"));
    EXPECT_EQ(board["overall"], "ALL-GO") << board.dump(2);
    for (const auto& row : board["models"]) EXPECT_EQ(row["status"], "GO") << row.dump();

    const auto replay = run_replay(events);
    EXPECT_EQ(replay.exit_code, 0) << replay.all();
    EXPECT_TRUE(replay.has("WOULD HAVE COMPLETED CLEAN")) << replay.all();
  }

  // Replays the recording over the whole period the events span.
  QscRun run_replay(std::size_t events) {
    return ws.run({"replay", "--file", ws.path("rec.jsonl").string(), "--model", "patchtst",
                   "--activated-at", iso(first_ms()), "--duration",
                   std::to_string(period_ms(events) / 1000) + "s", "--interval", "10s"});
  }

  static std::string iso(std::int64_t ms) {
    const std::time_t s = ms / 1000;
    std::tm tm{};
    gmtime_r(&s, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
  }
};

TEST_F(EnsembleBand, AgreementOfExactly80PercentIsInBandForGateScoreboardAndReplay) {
  // 55 blocks: the exact mean is 80, the floating-point one just above it.
  const auto events = window_of(agreement_80_event, 275);
  const auto e = ensemble_of(events);
  ASSERT_GT(e.agreement_pct, 80.0) << "the window no longer exercises the rounding case";
  ASSERT_NEAR(e.agreement_pct, 80.0, 1e-12);
  ASSERT_EQ(e.hard_disagree_pct, 0.0);
  publish(events);
  expect_all_in_band(events.size());
}

TEST_F(EnsembleBand, AgreementOf55AndHardDisagreeOf20PercentAreInBandForAll) {
  // 59 blocks: the exact agreement is 55 (the floating-point one just below), hard disagree is
  // exactly 20%.
  const auto events = window_of(agreement_55_event, 295);
  const auto e = ensemble_of(events);
  ASSERT_LT(e.agreement_pct, 55.0) << "the window no longer exercises the rounding case";
  ASSERT_NEAR(e.agreement_pct, 55.0, 1e-12);
  ASSERT_EQ(e.hard_disagree_pct, 20.0);
  publish(events);
  expect_all_in_band(events.size());
}

TEST_F(EnsembleBand, HardDisagreeJustAbove20PercentIsChaosForAll) {
  // The same window with one more hard disagreement (60 of 295 = 20.34%): every judge fires.
  auto events = window_of(agreement_55_event, 295);
  events.back() = {{qsc::Vote::kBuy, qsc::Vote::kSell, qsc::Vote::kBuy, qsc::Vote::kHold}, true};
  events[293] = {{qsc::Vote::kHold, qsc::Vote::kBuy, qsc::Vote::kSell, qsc::Vote::kHold}, true};
  const auto e = ensemble_of(events);
  ASSERT_GT(e.hard_disagree_pct, 20.0);
  ASSERT_GE(e.agreement_pct, 55.0);
  publish(events);
  const auto gate = ws.run({"gate", "--after", kRecentCutoverIso});
  EXPECT_EQ(gate.exit_code, 2) << gate.all();
  EXPECT_TRUE(gate.has("Model chaos: hard_disagree=")) << gate.all();
  const auto sb = ws.run({"scoreboard"});
  ASSERT_EQ(sb.exit_code, 0) << sb.all();
  const auto board = json::parse(ws.read("reports/safety/scoreboard_latest.json"));
  EXPECT_EQ(board["overall"], "WAIT") << board.dump(2);
  // The edge is the literal rule's (replay's default attribution, "canary", judges the same
  // figure against the same edge, then asks whether the canary put it there).
  ws.config["plugins"]["config"]["model_chaos"] = {{"attribution", "ensemble"}};
  const auto replay = run_replay(events.size());
  EXPECT_EQ(replay.exit_code, 1) << replay.all();
  EXPECT_TRUE(replay.has("Model chaos: hard_disagree=")) << replay.all();
}

}  // namespace
}  // namespace qsc::test

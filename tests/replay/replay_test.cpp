// `qsc replay` as a user runs it: the built qsc and detector plugins over recordings written in
// the `qsc telemetry --record` form. The first test runs the live, supervised monitor over the
// same recorded events (telemetry.source "file") and checks that both roll back at the same
// event with the same messages.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

#include "monitor/e2e_harness.hpp"
#include "replay/recording.hpp"

namespace qsc::replay_test {
namespace {

using agent::CanaryBehaviour;
using monitor_test::Child;
using monitor_test::read_text;
using std::chrono::milliseconds;
namespace fs = std::filesystem;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "2026-01-10T05:43:15.123Z" for a time in milliseconds.
std::string iso(std::int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

// The audit entries written so far: complete lines only (the monitor may be writing one).
std::vector<nlohmann::json> complete_entries(const fs::path& path) {
  std::vector<nlohmann::json> entries;
  const std::string text = read_text(path);
  std::size_t start = 0;
  for (std::size_t nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
    entries.push_back(nlohmann::json::parse(text.substr(start, nl - start)));
    start = nl + 1;
  }
  return entries;
}

class Replay : public monitor_test::MonitorE2E {
 protected:
  fs::path recording() const { return dir_ / "rec.jsonl"; }
  fs::path json_out() const { return dir_ / "replay.json"; }

  // Every file under the test's directory but the recording and the JSON report, with its
  // bytes: what replay must leave as it was.
  std::map<std::string, std::string> snapshot() const {
    std::map<std::string, std::string> files;
    for (const auto& e : fs::recursive_directory_iterator(dir_)) {
      if (!e.is_regular_file() || e.path() == recording() || e.path() == json_out()) continue;
      if (e.path().filename().string().rfind("qsc_replay", 0) == 0) continue;  // its own output
      files[e.path().string()] = read_text(e.path());
    }
    return files;
  }

  // Runs qsc replay and asserts it changed no other file.
  Child replay(std::vector<std::string> args) {
    const auto before = snapshot();
    args.insert(args.begin(), "replay");
    Child c = run_qsc(args);
    EXPECT_EQ(snapshot(), before) << "qsc replay changed a file it must not touch";
    return c;
  }

  nlohmann::json report() const { return nlohmann::json::parse(read_text(json_out())); }

  // The live monitor's setup on the file source: the recording as telemetry.file, 500 healthy
  // events from the cutover (1-2 s ago, 1 ms apart: enough for the gate), patchtst activated and
  // its weights live. Returns when its weight took effect (where the monitor's window starts).
  std::int64_t activate_on_the_recording(RecordingWriter& writer) {
    write_config({{"telemetry",
                   {{"source", "file"}, {"file", recording().string()}, {"stale_after", "120s"}}}});
    writer.append(CanaryBehaviour::kHealthy, 500, cutover_ms_ + 1, 1);
    auto activated = run_qsc({"activate", "--model", "patchtst", "--cutover", cutover_iso_});
    EXPECT_EQ(activated.exit_code, 0) << activated.stdout_text() << activated.stderr_text();
    std::ofstream(live_weights(), std::ios::binary | std::ios::trunc)
        << read_text(canary_weights());
    return state()["weight_since_ms"].get<std::int64_t>();
  }

  // Replays a minute (checks every 10 s) and expects it inconclusive, never clean, on `count`
  // entries out of stream order, the first at `first_line` with `first_id`.
  void expect_out_of_order(int count, int first_line, const std::string& first_id) {
    auto c = replay({"--file", recording().string(), "--model", "patchtst", "--duration", "60s",
                     "--interval", "10s", "--json", json_out().string()});
    EXPECT_EQ(c.stdout_text().find("WOULD HAVE COMPLETED CLEAN"), std::string::npos)
        << c.stdout_text();
    ASSERT_EQ(c.exit_code, 3) << c.stdout_text() << c.stderr_text();
    const auto r = report();
    EXPECT_EQ(r["outcome"], "inconclusive");
    EXPECT_EQ(r["entries_out_of_order"], count);
    const auto reason = r["inconclusive_reason"].get<std::string>();
    EXPECT_NE(reason.find(std::to_string(count) + (count == 1 ? " entry" : " entries") +
                          " not in stream order (the first at line " + std::to_string(first_line) +
                          ", ID " + first_id),
              std::string::npos)
        << reason;
    EXPECT_NE(reason.find("sort"), std::string::npos) << reason;
  }

  // A recording in the past: `healthy` events 100 ms apart from one hour ago.
  std::int64_t past_start_ms() const { return (wall_ms() / 1000) * 1000 - 3'600'000; }

  // 700 events from an hour ago, 100 ms apart, NaN confidences from the 401st (40 s in): a
  // recording that rolls back within its 70 s.
  void write_nan_after_40s(std::uint64_t seed) {
    RecordingWriter writer(recording(), seed);
    const auto start = past_start_ms();
    writer.append(CanaryBehaviour::kHealthy, 400, start, 100);
    writer.append(CanaryBehaviour::kNaNConfidence, 300, start + 40'000, 100);  // to 70 s
  }

  // Replay's arguments for the 70 s of `file` with checks every 10 s, the report to json_out().
  std::vector<std::string> seventy_seconds_of(const fs::path& file) const {
    return {"--file", file.string(), "--model", "patchtst", "--duration",
            "70s",    "--interval",  "10s",     "--json",   json_out().string()};
  }
};

// The live monitor over a recording's events, then replay over the same events and more: the
// same verdict (rollback), at the same event, with the same messages.
TEST_F(Replay, LiveMonitorAndReplayRollBackAtTheSameEvent) {
  RecordingWriter writer(recording(), 7);
  // The canary's weight took effect at activation: the monitor's window starts there.
  const std::int64_t weight_since_ms = activate_on_the_recording(writer);
  ASSERT_FALSE(HasFailure());
  const auto watched = writer.append(CanaryBehaviour::kHealthy, 300, weight_since_ms + 1, 1);

  auto& monitor = start_qsc({"monitor", "--duration", "10m", "--interval", "200ms"});
  // The live monitor has read every event since the activation (a check counts them) and found
  // nothing.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool prefix_read = false;
  while (!prefix_read && std::chrono::steady_clock::now() < deadline && !monitor.done) {
    for (const auto& e : complete_entries(dir_ / "logs/qsc_canary.jsonl")) {
      if (e.value("action", "") == "check" && e.value("accepted", 0) >= 300) prefix_read = true;
    }
    if (!prefix_read) std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_TRUE(prefix_read) << monitor.stdout_text() << monitor.stderr_text();
  // One NaN confidence from the canary: the quality gate's confidence check acts on it.
  const auto bad = writer.append(CanaryBehaviour::kNaNConfidence, 1,
                                 std::max(watched.back().time_ms + 1, wall_ms()), 1);
  ASSERT_TRUE(monitor.wait(milliseconds(60000)));
  ASSERT_EQ(monitor.exit_code, 1) << monitor.stdout_text() << monitor.stderr_text();
  const auto trail = audit();
  ASSERT_FALSE(trail.empty());
  const auto& rolled = trail.back();
  ASSERT_EQ(rolled.value("action", ""), "rollback_executed") << rolled.dump(2);
  ASSERT_EQ(rolled["trigger"], "qsc_monitor_violation");
  const auto live_trigger = rolled["figures"]["detection"]["trigger_event"];
  EXPECT_EQ(live_trigger, bad.front().id);

  // The recording goes on after the bad event (the engine kept publishing).
  writer.append(CanaryBehaviour::kHealthy, 300, bad.front().time_ms + 1, 1);
  auto c = replay({"--file", recording().string(), "--model", "patchtst", "--activated-at",
                   iso(weight_since_ms), "--duration", "1h", "--interval", "200ms", "--json",
                   json_out().string()});
  ASSERT_EQ(c.exit_code, 1) << c.stdout_text() << c.stderr_text();
  const auto r = report();
  EXPECT_EQ(r["outcome"], "rolled_back");
  EXPECT_EQ(r["rollback"]["cause"], "event");
  EXPECT_EQ(r["rollback"]["trigger_event"], live_trigger);
  EXPECT_EQ(r["rollback"]["trigger_event_ms"], bad.front().time_ms);
  EXPECT_EQ(r["rollback"]["event_index"], 300);  // the 301st event since the activation
  EXPECT_EQ(r["rollback"]["violations"], rolled["violations"]);
  EXPECT_NE(c.stdout_text().find("WOULD HAVE ROLLED BACK"), std::string::npos);
  EXPECT_NE(c.stdout_text().find(bad.front().id), std::string::npos);
}

// The prefix alone (what the live monitor found clean) does not roll back in replay either: the
// replay's rollback above is at the bad event, not before it.
TEST_F(Replay, PrefixBeforeTheBadEventDoesNotRollBack) {
  RecordingWriter writer(recording(), 7);
  const auto start = past_start_ms();
  writer.append(CanaryBehaviour::kHealthy, 500, start + 1, 1);
  auto c =
      replay({"--file", recording().string(), "--model", "patchtst", "--activated-at", iso(start),
              "--duration", "1h", "--interval", "200ms", "--json", json_out().string()});
  ASSERT_EQ(c.exit_code, 3) << c.stdout_text() << c.stderr_text();
  EXPECT_EQ(report()["rollback"], nullptr);
}

// A clean recording that covers the period: exit 0, every check taken, nothing written.
TEST_F(Replay, CleanRecordingCompletesClean) {
  RecordingWriter writer(recording(), 11);
  const auto start = past_start_ms();
  writer.append(CanaryBehaviour::kHealthy, 700, start, 100);  // 70 s
  auto c = replay({"--file", recording().string(), "--model", "patchtst", "--duration", "60s",
                   "--interval", "10s", "--json", json_out().string()});
  ASSERT_EQ(c.exit_code, 0) << c.stdout_text() << c.stderr_text();
  const auto r = report();
  EXPECT_EQ(r["outcome"], "clean");
  EXPECT_EQ(r["checks_total"], 6);
  ASSERT_EQ(r["checks"].size(), 6u);
  for (const auto& check : r["checks"]) EXPECT_TRUE(check["violations"].empty()) << check;
  EXPECT_EQ(r["checks"].back()["status"], "GO") << r["checks"].back();
  EXPECT_TRUE(r["first_violations"].empty());
  EXPECT_EQ(r["counts"]["accepted"], 600);  // the 60 s of the period
  EXPECT_NE(c.stdout_text().find("[Check 6/6]"), std::string::npos) << c.stdout_text();
  EXPECT_NE(c.stdout_text().find("WOULD HAVE COMPLETED CLEAN"), std::string::npos);
}

// A recording that ends before the period does: nothing after it was watched, exit 3.
TEST_F(Replay, RecordingEndingBeforeThePeriodIsInconclusive) {
  RecordingWriter writer(recording(), 11);
  writer.append(CanaryBehaviour::kHealthy, 700, past_start_ms(), 100);  // 70 s
  auto c = replay({"--file", recording().string(), "--model", "patchtst", "--duration", "2m",
                   "--interval", "10s", "--json", json_out().string()});
  ASSERT_EQ(c.exit_code, 3) << c.stdout_text() << c.stderr_text();
  const auto r = report();
  EXPECT_EQ(r["outcome"], "inconclusive");
  EXPECT_NE(r["inconclusive_reason"].get<std::string>().find("before the period's end"),
            std::string::npos);
  EXPECT_EQ(r["checks"].size(), 6u);  // the checks due by the recording's end were taken
}

// Clean means judged: a detector that never had enough data to judge (a test detector answering
// kInsufficient at every check, as a third-party detector fed nothing it can read would) leaves
// the period inconclusive, never clean. Before, the replay said "would have completed clean".
TEST_F(Replay, ADetectorThatNeverJudgedLeavesThePeriodInconclusive) {
  write_config(
      {{"plugins", {{"dir", plugin_dir_with({{QSC_TP_UNDECIDED, "undecided.so"}}).string()}}}});
  RecordingWriter writer(recording(), 11);
  writer.append(CanaryBehaviour::kHealthy, 700, past_start_ms(), 100);  // 70 s
  auto c = replay({"--file", recording().string(), "--model", "patchtst", "--duration", "60s",
                   "--interval", "10s", "--json", json_out().string()});
  ASSERT_EQ(c.exit_code, 3) << c.stdout_text() << c.stderr_text();
  const auto r = report();
  EXPECT_EQ(r["outcome"], "inconclusive");
  const auto reason = r["inconclusive_reason"].get<std::string>();
  EXPECT_NE(reason.find("1 detector(s) could not judge"), std::string::npos) << reason;
  EXPECT_NE(reason.find("undecided: Needs data: no order-book depth"), std::string::npos) << reason;
  EXPECT_TRUE(r["first_violations"].empty());  // nothing fired: it is not a rollback either
  EXPECT_EQ(c.stdout_text().find("WOULD HAVE COMPLETED CLEAN"), std::string::npos)
      << c.stdout_text();
}

// A gap between events longer than telemetry.stale_after (5 s here): the monitor would have
// rolled back on silence, stale_after after the last event before the gap.
TEST_F(Replay, GapLongerThanStaleAfterRollsBackAsStale) {
  write_config({{"telemetry", {{"stale_after", "5s"}}}});
  RecordingWriter writer(recording(), 13);
  const auto start = past_start_ms();
  const auto before_gap = writer.append(CanaryBehaviour::kHealthy, 300, start, 100);  // 30 s
  writer.append(CanaryBehaviour::kHealthy, 400, before_gap.back().time_ms + 8000, 100);
  auto c = replay({"--file", recording().string(), "--model", "patchtst", "--duration", "60s",
                   "--interval", "10s", "--json", json_out().string()});
  ASSERT_EQ(c.exit_code, 1) << c.stdout_text() << c.stderr_text();
  const auto r = report();
  const auto& rollback = r["rollback"];
  EXPECT_EQ(rollback["cause"], "silence");
  EXPECT_EQ(rollback["detectors"], nlohmann::json::array({"telemetry_stale"}));
  EXPECT_EQ(rollback["trigger_event"], before_gap.back().id);
  EXPECT_EQ(rollback["event_index"], 299);
  EXPECT_EQ(rollback["at_ms"], before_gap.back().time_ms + 5001);
  EXPECT_NE(rollback["violations"][0].get<std::string>().find("Telemetry stale"),
            std::string::npos);
}

// The same gap, shorter than stale_after, is clean: the silence rule is on event time.
TEST_F(Replay, GapShorterThanStaleAfterIsClean) {
  write_config({{"telemetry", {{"stale_after", "5s"}}}});
  RecordingWriter writer(recording(), 13);
  const auto start = past_start_ms();
  const auto before_gap = writer.append(CanaryBehaviour::kHealthy, 300, start, 100);
  writer.append(CanaryBehaviour::kHealthy, 400, before_gap.back().time_ms + 4000, 100);
  auto c = replay({"--file", recording().string(), "--model", "patchtst", "--duration", "60s",
                   "--interval", "10s"});
  EXPECT_EQ(c.exit_code, 0) << c.stdout_text() << c.stderr_text();
}

// A degraded canary in the recording: rolled back at a detector's first violation, which the
// timeline names.
TEST_F(Replay, CollapseRollsBackAndNamesEachDetectorsFirstViolation) {
  // The share checks' literal rule: the collapse's 300 events in a 400-event window cross 70%
  // before their excess over the peers is evidence enough under the default attribution
  // (tests/attribution covers that).
  write_config({{"plugins",
                 {{"config",
                   {{"action_collapse", {{"attribution", "model"}}},
                    {"quality_gate", {{"attribution", "model"}}}}}}}});
  RecordingWriter writer(recording(), 17);
  const auto start = past_start_ms();
  const auto healthy = writer.append(CanaryBehaviour::kHealthy, 400, start, 100);
  writer.append(CanaryBehaviour::kHoldCollapse, 400, healthy.back().time_ms + 100, 100);
  auto c = replay({"--file", recording().string(), "--model", "patchtst", "--duration", "70s",
                   "--interval", "10s", "--json", json_out().string()});
  ASSERT_EQ(c.exit_code, 1) << c.stdout_text() << c.stderr_text();
  const auto r = report();
  EXPECT_EQ(r["rollback"]["cause"], "event");
  EXPECT_GE(r["rollback"]["event_index"].get<int>(), 400);
  ASSERT_FALSE(r["first_violations"].empty());
  EXPECT_EQ(r["first_violations"][0]["trigger_event"], r["rollback"]["trigger_event"]);
  EXPECT_NE(c.stdout_text().find("First violation of each detector"), std::string::npos);
}

// Bad input: exit 2, the input named with the fix; nothing judged.
TEST_F(Replay, BadInputsExitTwoNamingTheInput) {
  RecordingWriter writer(recording(), 19);
  writer.append(CanaryBehaviour::kHealthy, 10, past_start_ms(), 100);
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases{
      {{"--file", (dir_ / "missing.jsonl").string(), "--model", "patchtst"},
       "cannot open the recording"},
      {{"--file", recording().string(), "--model", "patchtst", "--duration", "soon"}, "--duration"},
      {{"--file", recording().string(), "--model", "patchtst", "--interval", "0s"}, "interval"},
      {{"--file", recording().string(), "--model", "patchtst", "--activated-at", "yesterday"},
       "--activated-at"},
      {{"--file", recording().string()}, "--model"},
  };
  for (const auto& k : cases) {
    auto c = replay(k.args);
    EXPECT_EQ(c.exit_code, 2) << k.message << "\n" << c.stdout_text() << c.stderr_text();
    EXPECT_NE(c.stderr_text().find(k.message), std::string::npos) << c.stderr_text();
  }
  // An empty recording.
  std::ofstream(dir_ / "empty.jsonl").flush();
  auto empty = replay({"--file", (dir_ / "empty.jsonl").string(), "--model", "patchtst"});
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_NE(empty.stderr_text().find("holds no entry"), std::string::npos) << empty.stderr_text();
  // Without a required detector (an empty plugin directory) nothing is judged.
  fs::create_directories(dir_ / "no-plugins");
  write_config({{"plugins", {{"dir", (dir_ / "no-plugins").string()}}}});
  auto unplugged = replay({"--file", recording().string(), "--model", "patchtst"});
  EXPECT_EQ(unplugged.exit_code, 2);
  EXPECT_NE(unplugged.stderr_text().find("plugins"), std::string::npos) << unplugged.stderr_text();
}

// --help explains the command and its exit codes.
TEST_F(Replay, HelpExplains) {
  auto c = run_qsc({"replay", "--help"});
  EXPECT_EQ(c.exit_code, 0);
  EXPECT_NE(c.stdout_text().find("event time"), std::string::npos) << c.stdout_text();
  EXPECT_NE(c.stdout_text().find("3: inconclusive"), std::string::npos) << c.stdout_text();
}

// Session 9: an entry older than one before it (an unsorted or merged recording) was passed over
// without a word. A NaN confidence from the canary, which rolls the canary back when it is in
// order (LiveMonitorAndReplayRollBackAtTheSameEvent), was never judged, and replay said "WOULD
// HAVE COMPLETED CLEAN", exit 0. The file source reads a stream in ID order, so a recording
// that is not in it cannot be replayed as the monitor would have seen it: never clean.
TEST_F(Replay, AnEntryOutOfStreamOrderIsNeverPassedOverAsClean) {
  write_config();
  RecordingWriter writer(recording(), 17);
  const auto start = past_start_ms();
  const auto before = writer.append(CanaryBehaviour::kHealthy, 400, start, 100);  // 40 s
  // Line 401: stamped 50 ms before line 400.
  const auto bad = writer.append(CanaryBehaviour::kNaNConfidence, 1, before.back().time_ms - 50, 1);
  writer.append(CanaryBehaviour::kHealthy, 300, before.back().time_ms + 100, 100);  // 30 s more
  expect_out_of_order(1, 401, bad[0].id);
}

// Session 11: unreadable lines before the recording's first entry were passed over when the
// period starts there (no --activated-at): ten of them heading 700 healthy events gave "✅ WOULD
// HAVE COMPLETED CLEAN", exit 0, where --activated-at at that entry's time (the same period)
// counted them and rolled back (10 of 610 entries is over max_rejected_pct 1%), as the live
// file source counts unreadable lines wherever they are. They count at the period's start now.
TEST_F(Replay, UnreadableLinesBeforeTheFirstEntryCountAsWithActivatedAt) {
  write_config();
  RecordingWriter writer(recording(), 11);
  for (int i = 0; i < 10; ++i) writer.append_line("not json {");
  const auto start = past_start_ms();
  writer.append(CanaryBehaviour::kHealthy, 700, start, 100);  // 70 s
  for (const auto& extra :
       {std::vector<std::string>{}, std::vector<std::string>{"--activated-at", iso(start)}}) {
    std::vector<std::string> args{
        "--file", recording().string(), "--model", "patchtst", "--duration",
        "60s",    "--interval",         "10s",     "--json",   json_out().string()};
    args.insert(args.end(), extra.begin(), extra.end());
    auto c = replay(args);
    EXPECT_EQ(c.stdout_text().find("WOULD HAVE COMPLETED CLEAN"), std::string::npos)
        << c.stdout_text();
    ASSERT_EQ(c.exit_code, 1) << c.stdout_text() << c.stderr_text();
    const auto r = report();
    EXPECT_EQ(r["counts"]["rejected"], 10) << r["counts"];
    EXPECT_EQ(r["counts"]["accepted"], 600) << r["counts"];
    EXPECT_EQ(r["rollback"]["detectors"], nlohmann::json::array({"telemetry_stale"}))
        << r["rollback"];
  }
}

// Session 9: the live monitor's file source passed over a line whose stream ID was not after the
// newest one delivered, unseen and uncounted: with 12 such lines after the activation (each a
// NaN confidence from the canary) among 300 healthy ones, the period ended "✅ MONITORING
// COMPLETED - NO VIOLATIONS", exit 0. They are unreadable entries now, in the window's rejected
// share like any other: 12 of 312 is over max_rejected_pct 1%.
TEST_F(Replay, TheLiveFileSourceCountsLinesOutOfStreamOrder) {
  RecordingWriter writer(recording(), 7);
  const std::int64_t weight_since_ms = activate_on_the_recording(writer);
  ASSERT_FALSE(HasFailure());
  const auto watched = writer.append(CanaryBehaviour::kHealthy, 300, weight_since_ms + 1, 1);
  for (std::size_t k = 0; k < 12; ++k) {
    writer.append(CanaryBehaviour::kNaNConfidence, 1, watched[k * 20].time_ms, 1);
  }
  auto monitor = run_qsc({"monitor", "--duration", "3s", "--interval", "1s"});
  const auto out = monitor.stdout_text();
  EXPECT_EQ(out.find("MONITORING COMPLETED - NO VIOLATIONS"), std::string::npos) << out;
  ASSERT_EQ(monitor.exit_code, 1) << out << monitor.stderr_text();
  EXPECT_NE(out.find("rejected=3.8% (>1"), std::string::npos) << out;
  EXPECT_NE(monitor.stderr_text().find("unreadable telemetry (bad_stream_id)"), std::string::npos)
      << monitor.stderr_text();
}

// Session 9: replay stopped reading at the first entry past the period's end, so entries of the
// period that came after it in the file (a concatenated recording: the whole period, then 50
// NaN confidences from its first minute) were never read, and replay said "WOULD HAVE
// COMPLETED CLEAN", exit 0. They are entries out of stream order too: inconclusive.
TEST_F(Replay, EntriesOfThePeriodAfterItsEndInTheFileAreNeverPassedOver) {
  write_config();
  RecordingWriter writer(recording(), 19);
  const auto start = past_start_ms();
  writer.append(CanaryBehaviour::kHealthy, 700, start, 100);  // 70 s: past the 60 s period
  const auto late = writer.append(CanaryBehaviour::kNaNConfidence, 50, start + 10'000, 100);
  expect_out_of_order(50, 701, late[0].id);
}

// Session 12: replay reads the recording a block of 256 KiB at a time, each line a view into the
// block, where getline copied every line out (session 16: a regular file is mapped, each line a
// view into the mapping, and its unfinished last line read on as before). A recording written
// unevenly (CRLF line ends, blank lines, a line of 600 KiB, no newline after the last line) is
// the same recording: the same verdict at the same event, the same counts.
TEST_F(Replay, ARecordingWrittenUnevenlyIsReadAsTheSameRecording) {
  write_config();
  write_nan_after_40s(23);
  const auto args = seventy_seconds_of(recording());
  auto plain = replay(args);
  ASSERT_EQ(plain.exit_code, 1) << plain.stdout_text() << plain.stderr_text();
  const auto expected = report();

  std::istringstream lines(read_text(recording()));
  std::string uneven = "\n  \t \n";  // two blank lines first
  std::size_t number = 0;
  for (std::string line; std::getline(lines, line); ++number) {
    if (number == 250) {
      // JSON allows the spaces between the line's members; the scanner's way reads it.
      const auto comma = line.find(",\"fields\"");
      ASSERT_NE(comma, std::string::npos) << line;
      line.insert(comma + 1, std::string(600 * 1024, ' '));
    }
    uneven += line;
    if (number + 1 < 700) uneven += number % 7 == 0 ? "\r\n" : "\n";
  }
  ASSERT_EQ(number, 700u);
  std::ofstream(recording(), std::ios::binary | std::ios::trunc) << uneven;
  auto c = replay(args);
  ASSERT_EQ(c.exit_code, 1) << c.stdout_text() << c.stderr_text();
  const auto r = report();
  for (const char* key :
       {"outcome", "counts", "entries", "evaluations", "canary_predictions", "checks"}) {
    EXPECT_EQ(r[key], expected[key]) << key;
  }
  ASSERT_TRUE(r["rollback"].is_object()) << r;
  for (const char* key : {"trigger_event", "event_index", "detectors", "violations"}) {
    EXPECT_EQ(r["rollback"][key], expected["rollback"][key]) << key;
  }
  EXPECT_EQ(r["rollback"]["line"], expected["rollback"]["line"].get<int>() + 2) << r["rollback"];
  // Every line is in the period, the last (no newline after it) too.
  EXPECT_EQ(r["counts"]["accepted"], 700) << r["counts"];
  EXPECT_EQ(r["entries"], 700) << r;
}

// Replay maps a regular file (session 16) and reads anything else, a pipe here, a block at a
// time: the same recording, over 256 KiB (one block), whose last line has no newline, must
// read alike both ways, to the same rollback at the same line. Session 17: the mapping is
// populated 1 MiB at a time ahead of the reader; the recording spans several such blocks, one
// line (spaces between its members, as JSON allows) longer than two of them.
TEST_F(Replay, ARecordingReadFromAPipeIsReadAsTheMappedFile) {
  write_config();
  write_nan_after_40s(29);
  std::string text = read_text(recording());
  ASSERT_EQ(text.back(), '\n');
  text.pop_back();
  const auto line_300 = [&text] {
    std::size_t at = 0;
    for (int n = 0; n < 300; ++n) at = text.find('\n', at) + 1;
    return at;
  }();
  const auto comma = text.find(",\"fields\"", line_300);
  ASSERT_NE(comma, std::string::npos);
  text.insert(comma + 1, std::string(2816 * 1024, ' '));
  ASSERT_GT(text.size(), 3u * 1024u * 1024u);
  std::ofstream(recording(), std::ios::binary | std::ios::trunc) << text;
  auto mapped = replay(seventy_seconds_of(recording()));
  ASSERT_EQ(mapped.exit_code, 1) << mapped.stdout_text() << mapped.stderr_text();
  const auto expected = report();

  const fs::path pipe = dir_ / "rec.pipe";
  ASSERT_EQ(::mkfifo(pipe.c_str(), 0600), 0) << std::strerror(errno);
  std::thread feeder([&pipe, &text] {
    // A write to a pipe its reader closed early fails (EPIPE) instead of killing the test.
    sigset_t pipe_signal;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
    const int fd = ::open(pipe.c_str(), O_WRONLY);  // until replay opens it
    if (fd < 0) return;
    for (std::size_t at = 0; at < text.size();) {
      const ssize_t n = ::write(fd, text.data() + at, text.size() - at);
      if (n <= 0) break;
      at += static_cast<std::size_t>(n);
    }
    ::close(fd);
  });
  auto piped = replay(seventy_seconds_of(pipe));
  // Should replay have failed before opening the pipe, the feeder's open is released here.
  if (const int fd = ::open(pipe.c_str(), O_RDONLY | O_NONBLOCK); fd >= 0) ::close(fd);
  feeder.join();
  ASSERT_EQ(piped.exit_code, 1) << piped.stdout_text() << piped.stderr_text();
  const auto r = report();
  for (const char* key : {"outcome", "counts", "entries", "evaluations", "canary_predictions",
                          "checks", "rollback", "first_violations"}) {
    EXPECT_EQ(r[key], expected[key]) << key;
  }
  EXPECT_EQ(r["entries"], 700) << r;
}

// A recording cut shorter while replay reads it (truncated in place, here by a test detector at
// its first call, so the cut falls past what was read, deterministically) ends as bad input
// naming the file: never a verdict, never the signal's core dump. Before, SIGBUS killed the
// replay (the mapped recording's pages past its new end).
TEST_F(Replay, ARecordingCutShorterWhileItIsReadEndsAsBadInputNamingIt) {
  write_config({{"plugins",
                 {{"dir", plugin_dir_with({{QSC_TP_FAULT_TRUNCATE, "fault_truncate.so"}}).string()},
                  {"config", {{"fault_truncate", {{"trigger_file", recording().string()}}}}}}}});
  RecordingWriter writer(recording(), 29);
  writer.append(CanaryBehaviour::kHealthy, 700, past_start_ms(), 100);  // 70 s
  auto c = replay({"--file", recording().string(), "--model", "patchtst", "--duration", "60s",
                   "--interval", "10s", "--json", json_out().string()});
  EXPECT_EQ(c.signal, 0) << c.stderr_text();
  EXPECT_EQ(c.exit_code, 2) << c.stdout_text() << c.stderr_text();
  EXPECT_EQ(fs::file_size(recording()), 0u);  // the detector did cut it
  EXPECT_NE(c.stderr_text().find("the recording " + recording().string() +
                                 " was cut shorter while it was read"),
            std::string::npos)
      << c.stderr_text();
  EXPECT_EQ(c.stdout_text().find("WOULD HAVE"), std::string::npos) << c.stdout_text();
  EXPECT_FALSE(fs::exists(json_out()));
}

// The handler for a cut recording takes only the recording's own bus errors: a plugin's (replay
// runs them in-process) still ends the replay by the signal, not as a cut recording.
TEST_F(Replay, APluginsOwnBusErrorIsNotTakenForACutRecording) {
  const auto trigger = dir_ / "now";
  std::ofstream(trigger) << "";
  write_config({{"plugins",
                 {{"dir", plugin_dir_with({{QSC_TP_FAULT_SIGBUS, "fault_sigbus.so"}}).string()},
                  {"config", {{"fault_sigbus", {{"trigger_file", trigger.string()}}}}}}}});
  RecordingWriter writer(recording(), 31);
  writer.append(CanaryBehaviour::kHealthy, 700, past_start_ms(), 100);
  auto c = replay({"--file", recording().string(), "--model", "patchtst", "--duration", "60s",
                   "--interval", "10s", "--json", json_out().string()});
  EXPECT_EQ(c.signal, SIGBUS) << c.exit_code << c.stderr_text();
  EXPECT_EQ(c.stderr_text().find("was cut shorter"), std::string::npos) << c.stderr_text();
  EXPECT_FALSE(fs::exists(json_out()));
}

// Session 11: a repeated key was read as its last value, so a canary listed twice in each event
// (a NaN confidence first, its healthy prediction after) replayed "WOULD HAVE COMPLETED CLEAN",
// exit 0, where the same NaN sent once rolls back; so did a model_breakdown field saying NaN
// beside a payload that says otherwise, and a line whose payload field came twice. Each form
// of every entry is now refused as unreadable: the period cannot be clean.
TEST_F(Replay, AnEntryThatSaysTwoThingsAtOnceIsRefusedNeverReadAsOneOfThem) {
  write_config();
  const std::string nan_canary =
      R"("patchtst":{"action":"HOLD","confidence":NaN,"model":"patchtst"})";
  // Each healthy line rewritten by `rewrite` (its ordered fields, the payload text).
  const auto replay_rewritten = [&](const std::function<void(nlohmann::ordered_json&)>& rewrite) {
    fs::remove(recording());
    RecordingWriter writer(recording(), 23);
    writer.append(CanaryBehaviour::kHealthy, 700, past_start_ms(), 100);
    std::string text;
    std::istringstream lines(read_text(recording()));
    for (std::string line; std::getline(lines, line);) {
      auto entry = nlohmann::ordered_json::parse(line);
      rewrite(entry);
      text += entry.dump() + "\n";
    }
    std::ofstream(recording(), std::ios::trunc) << text;
    return replay({"--file", recording().string(), "--model", "patchtst", "--duration", "60s",
                   "--interval", "10s", "--json", json_out().string()});
  };
  // The recording as written replays clean: each rewrite below is what changes the verdict.
  auto clean = replay_rewritten([](nlohmann::ordered_json&) {});
  ASSERT_EQ(clean.exit_code, 0) << clean.stdout_text() << clean.stderr_text();
  const auto expect_refused = [&](const Child& c, const std::string& message) {
    const auto out = c.stdout_text();
    EXPECT_EQ(out.find("WOULD HAVE COMPLETED CLEAN"), std::string::npos) << out;
    EXPECT_EQ(c.exit_code, 1) << out << c.stderr_text();
    EXPECT_GE(report()["counts"]["rejected"].get<int>(), 600) << report()["counts"];
    EXPECT_NE(out.find(message), std::string::npos) << out;
  };
  // The canary twice in the breakdown, the NaN first.
  expect_refused(replay_rewritten([&](nlohmann::ordered_json& e) {
                   auto payload = e["fields"]["payload"].get<std::string>();
                   const std::string at = "\"model_breakdown\":{";
                   payload.insert(payload.find(at) + at.size(), nan_canary + ",");
                   e["fields"]["payload"] = payload;
                 }),
                 "the key \"patchtst\" appears twice in one object");
  // The breakdown also as a field of its own, where the canary is NaN.
  expect_refused(replay_rewritten([&](nlohmann::ordered_json& e) {
                   auto payload = nlohmann::json::parse(e["fields"]["payload"].get<std::string>());
                   auto breakdown = payload["model_breakdown"];
                   breakdown["patchtst"]["confidence"] = "NaN-sentinel";
                   std::string field = breakdown.dump();
                   const auto sentinel = field.find("\"NaN-sentinel\"");
                   field.replace(sentinel, std::string("\"NaN-sentinel\"").size(), "NaN");
                   e["fields"]["model_breakdown"] = field;
                 }),
                 "differs from the payload's model_breakdown");
}

// A line that holds a field twice: nlohmann would keep the last, the live source read the first.
TEST_F(Replay, ALineThatRepeatsAFieldIsRefusedNeverReadAsOneOfItsValues) {
  write_config();
  RecordingWriter writer(recording(), 29);
  const auto start = past_start_ms();
  writer.append(CanaryBehaviour::kHealthy, 700, start, 100);
  std::string text;
  std::istringstream lines(read_text(recording()));
  const std::string nan_payload =
      R"({"model_breakdown":{"patchtst":{"action":"HOLD","confidence":NaN},"xgb":{"action":"HOLD","confidence":0.5}}})";
  for (std::string line; std::getline(lines, line);) {
    // {"id":...,"fields":{"event_type":...,"payload":"<NaN first>","payload":"<healthy>"}}
    const std::string at = "\"fields\":{";
    line.insert(line.find(at) + at.size(),
                "\"payload\":" + nlohmann::json(nan_payload).dump() + ",");
    text += line + "\n";
  }
  std::ofstream(recording(), std::ios::trunc) << text;
  auto c =
      replay({"--file", recording().string(), "--model", "patchtst", "--activated-at", iso(start),
              "--duration", "60s", "--interval", "10s", "--json", json_out().string()});
  const auto out = c.stdout_text();
  EXPECT_EQ(out.find("WOULD HAVE COMPLETED CLEAN"), std::string::npos) << out;
  EXPECT_EQ(c.exit_code, 1) << out << c.stderr_text();
  EXPECT_NE(out.find("the key \"payload\" appears twice in one object"), std::string::npos) << out;
}

}  // namespace
}  // namespace qsc::replay_test

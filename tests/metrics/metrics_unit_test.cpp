// The metrics pieces without a monitor run: the worker-to-supervisor block across real
// processes, the families (checked by promtool), the textfile for `qsc replay`, the threshold
// table, the age and checks-due figures, and the metrics.* configuration keys.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/config.hpp"
#include "core/listen_address.hpp"
#include "metrics/detector_thresholds.hpp"
#include "metrics/metrics_block.hpp"
#include "metrics/metrics_families.hpp"
#include "metrics/metrics_publisher.hpp"
#include "metrics/metrics_textfile.hpp"
#include "scrape.hpp"

namespace qsc::agent::metrics {
namespace {

namespace fs = std::filesystem;
using qsc::metrics_test::parse_samples;
using qsc::metrics_test::promtool_problems;

// A view as a monitor worker would publish it: two detectors (one violating), plugin records.
MetricsView sample_view() {
  // No block: the figures stay in the publisher, as `qsc replay` uses it.
  MetricsPublisher publisher(nullptr);
  publisher.set_source("shm");
  PluginRecord collapse;
  collapse.name = "action_collapse";
  collapse.kind = "detector";
  collapse.status = "loaded";
  collapse.effective_config = {{"max_share_pct", 70.0}};
  PluginRecord ensemble = collapse;
  ensemble.name = "ensemble_dysfunction";
  ensemble.effective_config = {{"min_agreement_pct", 55.0}, {"max_agreement_pct", 80.0}};
  PluginRecord broken;
  broken.name = "broken";
  broken.status = "rejected";
  publisher.set_plugins({collapse, ensemble, broken});
  qsc::ParseCounts counts;
  counts.accepted = 1234;
  counts.rejected[0] = 3;
  publisher.set_telemetry(counts, 7, std::chrono::steady_clock::now(), 400);
  publisher.set_checks(4, 30, 1, 1'000'000, 1'000);
  NamedCheck c1{
      "action_collapse",
      {qsc::Verdict::kViolation, "Action collapse: HOLD=78.3% (>70%)", {{"max_share_pct", 78.3}}}};
  NamedCheck c2{"ensemble_dysfunction", {qsc::Verdict::kPass, "ok", {{"agreement_pct", 66.0}}}};
  publisher.set_detectors({c1, c2});
  publisher.add_rollback("qsc_monitor_violation", false, 0.004);
  MetricsView view;
  view.worker = publisher.snapshot();
  view.telemetry_age_seconds = 0.5;
  view.checks_due = 5;
  view.canary = CanaryFigures{"rolled_back", "patchtst", 0.1};
  view.supervisor_rollbacks = {{"qsc_monitor_worker_failed", 2}};
  view.worker_restarts = 1;
  return view;
}

TEST(MetricsFamilies, RenderEveryIssueFamilyWithItsValuesAndPassPromtool) {
  const auto text = render_text(sample_view());
  EXPECT_EQ(promtool_problems(text), "") << text;
  const auto s = parse_samples(text);
  auto at = [&s](const std::string& series) {
    const auto it = s.find(series);
    EXPECT_NE(it, s.end()) << "missing " << series;
    return it == s.end() ? -1.0 : it->second;
  };
  EXPECT_EQ(at("qsc_events_total{source=\"shm\"}"), 1234);
  EXPECT_EQ(at("qsc_events_rejected_total{reason=\"" +
               std::string(qsc::reject_reason_name(static_cast<qsc::RejectReason>(0))) + "\"}"),
            3);
  EXPECT_EQ(at("qsc_events_lost_total"), 7);
  EXPECT_EQ(at("qsc_telemetry_age_seconds"), 0.5);
  EXPECT_EQ(at("qsc_window_events"), 400);
  EXPECT_EQ(at("qsc_detector_violation{detector=\"action_collapse\"}"), 1);
  EXPECT_EQ(at("qsc_detector_violation{detector=\"ensemble_dysfunction\"}"), 0);
  EXPECT_NEAR(at("qsc_detector_figure{detector=\"action_collapse\",figure=\"max_share_pct\"}"),
              78.3, 1e-9);
  EXPECT_EQ(at("qsc_detector_threshold{bound=\"max\",detector=\"action_collapse\",figure=\"max_"
               "share_pct\"}"),
            70);
  EXPECT_EQ(at("qsc_detector_threshold{bound=\"min\",detector=\"ensemble_dysfunction\",figure="
               "\"agreement_pct\"}"),
            55);
  EXPECT_EQ(at("qsc_detector_threshold{bound=\"max\",detector=\"ensemble_dysfunction\",figure="
               "\"agreement_pct\"}"),
            80);
  EXPECT_EQ(at("qsc_checks_total"), 4);
  EXPECT_EQ(at("qsc_checks_due"), 5);
  EXPECT_EQ(at("qsc_checks_planned"), 30);
  EXPECT_EQ(at("qsc_rollbacks_total{trigger=\"qsc_monitor_violation\"}"), 1);
  EXPECT_EQ(at("qsc_rollbacks_total{trigger=\"qsc_monitor_worker_failed\"}"), 2);
  EXPECT_EQ(at("qsc_rollbacks_total{trigger=\"qsc_monitor_crash_loop\"}"), 0);
  EXPECT_EQ(at("qsc_rollback_postcondition_failures_total"), 0);
  EXPECT_EQ(at("qsc_detection_latency_seconds_count"), 1);
  EXPECT_NEAR(at("qsc_detection_latency_seconds_sum"), 0.004, 1e-12);
  EXPECT_EQ(at("qsc_detection_latency_seconds_bucket{le=\"0.0025\"}"), 0);
  EXPECT_EQ(at("qsc_detection_latency_seconds_bucket{le=\"0.005\"}"), 1);
  EXPECT_EQ(at("qsc_detection_latency_seconds_bucket{le=\"+Inf\"}"), 1);
  EXPECT_NEAR(at("qsc_canary_weight{model=\"patchtst\"}"), 0.1, 1e-12);
  EXPECT_EQ(at("qsc_canary_phase{phase=\"rolled_back\"}"), 1);
  EXPECT_EQ(at("qsc_canary_phase{phase=\"monitoring\"}"), 0);
  EXPECT_EQ(at("qsc_plugin_loaded{kind=\"detector\",plugin=\"action_collapse\"}"), 1);
  EXPECT_EQ(at("qsc_plugin_loaded{kind=\"unknown\",plugin=\"broken\"}"), 0);
  EXPECT_EQ(at("qsc_worker_restarts_total"), 1);
  bool build_info = false;
  for (const auto& [series, value] : s) {
    if (series.rfind("qsc_build_info{abi=\"", 0) == 0 && value == 1) build_info = true;
  }
  EXPECT_TRUE(build_info) << text;
}

TEST(MetricsFamilies, AnEmptyViewStillPassesPromtoolAndCountsNothing) {
  // Before the worker has published: every family present, nothing counted, nothing violating.
  const auto text = render_text(MetricsView{});
  EXPECT_EQ(promtool_problems(text), "") << text;
  const auto s = parse_samples(text);
  EXPECT_EQ(s.at("qsc_events_total{source=\"none\"}"), 0);
  EXPECT_EQ(s.at("qsc_rollbacks_total{trigger=\"qsc_monitor_violation\"}"), 0);
}

TEST(MetricsBlock, AReaderInAnotherProcessNeverSeesATornSnapshot) {
  auto block = MetricsBlock::create();
  ASSERT_TRUE(block) << block.error().message;
  constexpr std::uint64_t kLast = 20'000;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The writer, attached by fd as the worker is (the fd survives fork as it survives exec).
    auto writer = MetricsBlock::attach(block->fd());
    if (!writer) ::_exit(3);
    MetricsSnapshot s{};
    for (std::uint64_t i = 1; i <= kLast; ++i) {
      // Fields far apart in the record, tied together: a torn copy breaks the tie.
      s.events_accepted = i;
      s.latency_buckets[kLatencyBucketsSeconds.size() - 1] = i * 3;
      s.plugin_count = static_cast<std::uint32_t>(i % kMaxPlugins);
      s.plugins[kMaxPlugins - 1].loaded = static_cast<std::uint8_t>(i % 2);
      s.rollback_postcondition_failures = i * 7;
      ++s.publications;
      writer->publish(s);
    }
    ::_exit(0);
  }
  std::uint64_t reads = 0;
  std::uint64_t last_seen = 0;
  auto copy = std::make_unique<MetricsSnapshot>();
  for (;;) {
    int status = 0;
    const bool done = ::waitpid(child, &status, WNOHANG) == child;
    if (block->read(*copy)) {
      const auto* s = copy.get();
      ++reads;
      ASSERT_EQ(s->latency_buckets[kLatencyBucketsSeconds.size() - 1], s->events_accepted * 3);
      ASSERT_EQ(s->rollback_postcondition_failures, s->events_accepted * 7);
      ASSERT_EQ(s->plugins[kMaxPlugins - 1].loaded, s->events_accepted % 2);
      ASSERT_GE(s->events_accepted, last_seen) << "a copy went back in time";
      last_seen = s->events_accepted;
    }
    if (done) {
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
      break;
    }
  }
  ASSERT_TRUE(block->read(*copy));
  EXPECT_EQ(copy->events_accepted, kLast);
  EXPECT_GT(reads, 0u);
}

// The block as the writer sees it, mapped from the block's fd: lets a test hold the sequence
// odd, as a writer preempted (or killed) in the middle of its copy does.
struct MappedLayout {
  explicit MappedLayout(int fd)
      : layout(static_cast<MetricsBlockLayout*>(::mmap(
            nullptr, sizeof(MetricsBlockLayout), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0))) {}
  ~MappedLayout() {
    if (layout != MAP_FAILED) ::munmap(layout, sizeof(MetricsBlockLayout));
  }
  MetricsBlockLayout* layout;
};

TEST(MetricsBlock, AReaderWaitsOutAWriterStalledMidCopy) {
  // A scrape that arrived while the worker was preempted mid-write gave up after 1,000 spins
  // (microseconds) and, before any consistent read, served no worker figures at all (seen under
  // ASan in CI). The writer here stays mid-write for 5 ms: well inside the reader's 250 ms.
  auto block = MetricsBlock::create();
  ASSERT_TRUE(block) << block.error().message;
  MappedLayout mapped(block->fd());
  ASSERT_NE(mapped.layout, MAP_FAILED);
  MetricsSnapshot published{};
  published.events_accepted = 42;
  block->publish(published);
  const auto even = mapped.layout->sequence.load();
  mapped.layout->sequence.store(even + 1);  // a write begins
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    mapped.layout->sequence.store(even + 2, std::memory_order_release);  // and ends
  });
  auto copy = std::make_unique<MetricsSnapshot>();
  const bool read = block->read(*copy);
  writer.join();
  ASSERT_TRUE(read) << "the reader gave up while the writer was 5 ms into its copy";
  EXPECT_EQ(copy->events_accepted, 42u);
}

TEST(MetricsBlock, AWriterThatDiedMidCopyCostsTheReaderABoundedWaitNotAHang) {
  auto block = MetricsBlock::create();
  ASSERT_TRUE(block) << block.error().message;
  MappedLayout mapped(block->fd());
  ASSERT_NE(mapped.layout, MAP_FAILED);
  mapped.layout->sequence.store(1);  // odd for ever: the writer died in the middle
  auto copy = std::make_unique<MetricsSnapshot>();
  EXPECT_FALSE(block->read(*copy));  // returns (no upper bound asserted: a functional test)
}

TEST(MetricsTextfile, WritesTheSameFamiliesAtomicallyAndRefusesOtherNames) {
  const auto dir =
      fs::temp_directory_path() / ("qsc-metrics-textfile-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto view = sample_view();
  auto s = write_textfile(view, dir / "qsc_replay.prom");
  ASSERT_TRUE(s) << s.error().message;
  std::ifstream in(dir / "qsc_replay.prom");
  std::ostringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), render_text(view));
  EXPECT_EQ(promtool_problems(text.str()), "");
  // No temporary left beside it (the collector would read a *.prom temporary).
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1u);
  auto refused = write_textfile(view, dir / "qsc_replay.txt");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("*.prom"), std::string::npos) << refused.error().message;
  EXPECT_FALSE(fs::exists(dir / "qsc_replay.txt"));
  fs::remove_all(dir);
}

TEST(DetectorThresholds, ComeFromTheEffectiveConfigurationOfEachBuiltIn) {
  const auto agreement = thresholds_for("ensemble_dysfunction", "agreement_pct",
                                        {{"min_agreement_pct", 50.0}, {"max_agreement_pct", 90.0}});
  EXPECT_EQ(agreement.min, 50.0);
  EXPECT_EQ(agreement.max, 90.0);
  const auto flat = thresholds_for("flat_predictions", "conf_std", {{"min_conf_std", 0.05}});
  EXPECT_EQ(flat.min, 0.05);
  EXPECT_FALSE(flat.max);
  // A key missing from the effective configuration is not replaced by a guess.
  EXPECT_FALSE(thresholds_for("dead_zone", "hold_pct", nlohmann::json::object()).max);
  EXPECT_FALSE(thresholds_for("third_party", "x", {{"x", 1}}).max);
  EXPECT_EQ(thresholds_for("inactive_canary", "inactive_predictions", {}).max, 0.0);
}
// The publisher keeps the thresholds it found per figure slot (MetricsPublisher::thresholds):
// a slot that comes to name another detector or figure, or a reload that changes a detector's
// effective configuration (set_plugins), must publish the thresholds thresholds_for gives for
// what the slot holds now, never the kept ones.
TEST(DetectorThresholds, APublishedSlotFollowsItsDetectorItsFigureAndAReloadedConfiguration) {
  MetricsPublisher publisher(nullptr);
  PluginRecord ensemble;
  ensemble.name = "ensemble_dysfunction";
  ensemble.kind = "detector";
  ensemble.status = "loaded";
  ensemble.effective_config = {{"min_agreement_pct", 55.0}, {"max_agreement_pct", 80.0}};
  PluginRecord collapse = ensemble;
  collapse.name = "action_collapse";
  collapse.effective_config = {{"max_share_pct", 70.0}};
  publisher.set_plugins({ensemble, collapse});
  const auto figure0 = [&] { return publisher.snapshot().detectors[0].figures[0]; };
  const NamedCheck agreement{"ensemble_dysfunction",
                             {qsc::Verdict::kPass, "ok", {{"agreement_pct", 66.0}}}};
  publisher.set_detectors({agreement});
  ASSERT_EQ(figure0().has_min, 1);
  EXPECT_EQ(figure0().min_threshold, 55.0);
  EXPECT_EQ(figure0().max_threshold, 80.0);
  // Another figure of the same detector in the same slot: it has no thresholds.
  publisher.set_detectors(
      {{"ensemble_dysfunction", {qsc::Verdict::kPass, "ok", {{"active_models", 3.0}}}}});
  EXPECT_EQ(figure0().has_min, 0);
  EXPECT_EQ(figure0().has_max, 0);
  // Another detector in the slot, with a figure its configuration bounds.
  publisher.set_detectors(
      {{"action_collapse", {qsc::Verdict::kPass, "ok", {{"max_share_pct", 40.0}}}}});
  EXPECT_EQ(figure0().has_min, 0);
  ASSERT_EQ(figure0().has_max, 1);
  EXPECT_EQ(figure0().max_threshold, 70.0);
  // A reload that changes the configuration: the same slot, detector and figure as first.
  publisher.set_detectors({agreement});
  ensemble.effective_config = {{"min_agreement_pct", 40.0}, {"max_agreement_pct", 95.0}};
  publisher.set_plugins({ensemble, collapse});
  publisher.set_detectors({agreement});
  EXPECT_EQ(figure0().min_threshold, 40.0);
  EXPECT_EQ(figure0().max_threshold, 95.0);
}

TEST(MetricsFigures, TelemetryAgeAndChecksDueAreMeasuredAtReadTime) {
  MetricsSnapshot w{};
  // Nothing published yet: the age runs from the monitor's start, never reads as fresh.
  EXPECT_DOUBLE_EQ(telemetry_age_seconds(w, 5'000'000'000, 2'000'000'000), 3.0);
  w.publications = 1;
  w.last_arrival_monotonic_ns = 4'500'000'000;
  EXPECT_DOUBLE_EQ(telemetry_age_seconds(w, 5'000'000'000, 2'000'000'000), 0.5);
  w.period_start_ms = 10'000;
  w.interval_ms = 1'000;
  w.checks_planned = 30;
  EXPECT_EQ(checks_due(w, 9'000), 0u);
  EXPECT_EQ(checks_due(w, 13'500), 3u);
  EXPECT_EQ(checks_due(w, 100'000), 30u);  // never more than the period holds
}

TEST(MetricsConfig, ListenIsCheckedWhereTheConfigurationIsRead) {
  for (const char* good : {"127.0.0.1:9464", "0.0.0.0:0", "[::1]:9464", ""}) {
    auto c = parse_config({{"metrics", {{"listen", good}}}}, "test");
    EXPECT_TRUE(c) << good << ": " << c.error().message;
  }
  for (const char* bad :
       {"localhost:9464", "127.0.0.1", "127.0.0.1:65536", "127.0.0.1:x", ":9464", "::1:9464"}) {
    auto c = parse_config({{"metrics", {{"listen", bad}}}}, "test");
    ASSERT_FALSE(c) << bad;
    EXPECT_NE(c.error().message.find("metrics.listen"), std::string::npos) << c.error().message;
    EXPECT_NE(c.error().message.find("127.0.0.1:9464"), std::string::npos) << c.error().message;
  }
  auto linger = parse_config({{"metrics", {{"linger", "1h"}}}}, "test");
  ASSERT_FALSE(linger);
  EXPECT_NE(linger.error().message.find("metrics.linger"), std::string::npos);
  auto unknown = parse_config({{"metrics", {{"port", 9464}}}}, "test");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("metrics.port"), std::string::npos);
  const auto defaults = parse_config(nlohmann::json::object(), "test");
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->metrics.listen, "127.0.0.1:9464");
  EXPECT_TRUE(parse_listen_address(defaults->metrics.listen)->loopback());
  EXPECT_FALSE(parse_listen_address("0.0.0.0:9464")->loopback());
}

}  // namespace
}  // namespace qsc::agent::metrics

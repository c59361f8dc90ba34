// /metrics of the built `qsc monitor`, scraped with curl and validated by promtool while a
// scripted run goes healthy -> HOLD collapse -> automatic rollback, and while the worker is
// killed under the supervisor (the endpoint stays up; the supervisor's rollback is counted).
// Each monitor binds 127.0.0.1:0 (a free port) and the test reads the port it logged.
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <regex>
#include <thread>

#include "e2e_harness.hpp"
#include "scrape.hpp"

namespace qsc::metrics_test {
namespace {

namespace fs = std::filesystem;
using monitor_test::Child;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kDeadline{60'000};

// True once the process has exited (a zombie not yet reaped counts), without reaping it.
bool exited(const Child& c) {
  std::ifstream stat("/proc/" + std::to_string(c.pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return true;
  const auto paren = text.rfind(')');
  return paren == std::string::npos || paren + 2 >= text.size() || text[paren + 2] == 'Z';
}

class MetricsE2E : public monitor_test::MonitorE2E {
 protected:
  // The metrics keys for these tests: any free port; the endpoint waits (at most 2 minutes) for
  // one scrape after the monitor ended, so the final figures can be read.
  static nlohmann::json metrics_config() {
    return {{"metrics", {{"listen", "127.0.0.1:0"}, {"linger", "2m"}}}};
  }

  // HOST:PORT from the monitor's "metrics: serving http://HOST:PORT/metrics" line.
  std::string wait_for_endpoint(const Child& monitor) {
    const std::regex line(R"(metrics: serving http://([0-9.]+:[0-9]+)/metrics)");
    const auto until = Clock::now() + kDeadline;
    while (Clock::now() < until) {
      std::smatch m;
      const auto err = monitor.stderr_text();
      if (std::regex_search(err, m, line)) return m[1].str();
      if (exited(monitor)) break;
      std::this_thread::sleep_for(milliseconds(20));
    }
    ADD_FAILURE() << "no 'metrics: serving' line:\n" << monitor.stderr_text();
    return "";
  }

  // One scrape, checked by promtool.
  Samples scrape_checked(const std::string& endpoint) {
    std::string error;
    auto text = scrape(endpoint, dir_, &error);
    EXPECT_TRUE(text) << error;
    if (!text) return {};
    EXPECT_EQ(promtool_problems(*text), "") << *text;
    last_text_ = *text;
    return parse_samples(*text);
  }

  // Scrapes until the monitor has exited: the endpoint lingers until one scrape after the end.
  void scrape_until_exit(Child& monitor, const std::string& endpoint) {
    const auto until = Clock::now() + kDeadline;
    while (!exited(monitor) && Clock::now() < until) {
      std::string ignored;
      (void)scrape(endpoint, dir_, &ignored);
      std::this_thread::sleep_for(milliseconds(50));
    }
    ASSERT_TRUE(monitor.wait(kDeadline)) << monitor.stderr_text();
  }

  static double value(const Samples& s, const std::string& series) {
    const auto it = s.find(series);
    EXPECT_NE(it, s.end()) << "no sample " << series;
    return it == s.end() ? -1.0 : it->second;
  }

  std::string last_text_;
};

TEST_F(MetricsE2E, ScrapedFiguresFollowAScriptedRun) {
  // The share checks' literal rule, so action_collapse is what rolls back: under the default
  // attribution the collapse is blamed a few hundred events in, and dead_zone's literal 85% in
  // this 400-event window comes first (tests/attribution).
  auto config = metrics_config();
  config["plugins"]["config"]["action_collapse"] = {{"attribution", "model"}};
  config["plugins"]["config"]["quality_gate"] = {{"attribution", "model"}};
  write_config(config);
  const auto to_bad = switch_file("bad");
  auto& publisher = start_publisher(
      {"--rate", "2000", "--phase", "healthy:@" + to_bad.string(), "--phase", "hold_collapse:25s"});
  ASSERT_NO_FATAL_FAILURE(activate());
  auto& monitor = start_qsc({"monitor", "--duration", "30s", "--interval", "1s"});
  ASSERT_TRUE(monitor.wait_for_output("[Check 2/30]", kDeadline))
      << monitor.stdout_text() << monitor.stderr_text();
  const auto endpoint = wait_for_endpoint(monitor);
  ASSERT_FALSE(endpoint.empty());

  // Healthy: events counted (at least what the last check had logged), nothing violating.
  std::uint64_t accepted_at_check = 0;
  for (const auto& e : audit()) {
    if (e.value("action", "") == "check") accepted_at_check = e.value("accepted", 0ull);
  }
  ASSERT_GT(accepted_at_check, 0u);
  const auto healthy = scrape_checked(endpoint);
  const double events_healthy = value(healthy, "qsc_events_total{source=\"shm\"}");
  EXPECT_GE(events_healthy, static_cast<double>(accepted_at_check));
  EXPECT_EQ(value(healthy, "qsc_detector_violation{detector=\"action_collapse\"}"), 0);
  std::size_t detectors = 0;
  for (const auto& [series, v] : healthy) {
    if (series.rfind("qsc_detector_violation{", 0) != 0) continue;
    ++detectors;
    EXPECT_EQ(v, 0) << series;
  }
  EXPECT_EQ(detectors, 11u) << last_text_;  // the eleven built-in detectors
  EXPECT_EQ(value(healthy, "qsc_rollbacks_total{trigger=\"qsc_monitor_violation\"}"), 0);
  EXPECT_EQ(value(healthy, "qsc_canary_phase{phase=\"monitoring\"}"), 1);
  EXPECT_NEAR(value(healthy, "qsc_canary_weight{model=\"patchtst\"}"),
              state().value("canary_weight", -1.0), 1e-12);
  EXPECT_EQ(value(healthy, "qsc_checks_planned"), 30);
  EXPECT_GE(value(healthy, "qsc_checks_total"), 2);
  EXPECT_GE(value(healthy, "qsc_checks_due"), value(healthy, "qsc_checks_total") - 1);
  EXPECT_EQ(value(healthy, "qsc_plugin_loaded{kind=\"detector\",plugin=\"action_collapse\"}"), 1);
  EXPECT_EQ(value(healthy, "qsc_plugin_loaded{kind=\"action\",plugin=\"rollback\"}"), 1);
  EXPECT_EQ(value(healthy,
                  "qsc_detector_threshold{bound=\"max\",detector=\"action_collapse\","
                  "figure=\"max_share_pct\"}"),
            70);
  EXPECT_LT(value(healthy,
                  "qsc_detector_figure{detector=\"action_collapse\",figure=\"max_share_"
                  "pct\"}"),
            70);
  EXPECT_LT(value(healthy, "qsc_telemetry_age_seconds"), 5);  // stale_after is 5 s here

  // Events keep being counted between scrapes.
  const auto until = Clock::now() + kDeadline;
  double events_later = events_healthy;
  while (events_later <= events_healthy && Clock::now() < until) {
    std::this_thread::sleep_for(milliseconds(100));
    events_later = value(scrape_checked(endpoint), "qsc_events_total{source=\"shm\"}");
  }
  EXPECT_GT(events_later, events_healthy);

  // The canary collapses: the violation and the rollback show on the endpoint.
  touch(to_bad);
  ASSERT_TRUE(monitor.wait_for_output("Rollback completed successfully", kDeadline))
      << monitor.stdout_text() << monitor.stderr_text();
  const auto after = scrape_checked(endpoint);
  EXPECT_EQ(value(after, "qsc_detector_violation{detector=\"action_collapse\"}"), 1) << last_text_;
  EXPECT_GT(value(after,
                  "qsc_detector_figure{detector=\"action_collapse\",figure=\"max_share_"
                  "pct\"}"),
            70);
  EXPECT_EQ(value(after, "qsc_rollbacks_total{trigger=\"qsc_monitor_violation\"}"), 1);
  EXPECT_EQ(value(after, "qsc_rollbacks_total{trigger=\"qsc_monitor_worker_failed\"}"), 0);
  EXPECT_EQ(value(after, "qsc_rollback_postcondition_failures_total"), 0);
  EXPECT_EQ(value(after, "qsc_detection_latency_seconds_count"), 1);
  EXPECT_EQ(value(after, "qsc_canary_phase{phase=\"rolled_back\"}"), 1);
  EXPECT_EQ(value(after, "qsc_canary_phase{phase=\"monitoring\"}"), 0);
  EXPECT_GE(value(after, "qsc_events_total{source=\"shm\"}"), events_later);

  // The dashboard's names are all in a real scrape.
  const auto names = sample_names(after);
  const std::regex name(R"(\bqsc_[a-z0-9_]+)");
  const auto dash =
      monitor_test::read_text(fs::path(QSC_TEST_SOURCE_DIR) / "agent/dashboards/qsc.json");
  for (auto it = std::sregex_iterator(dash.begin(), dash.end(), name); it != std::sregex_iterator();
       ++it) {
    // Family names of empty families (no sample yet) would be absent; none is empty here.
    EXPECT_TRUE(names.contains(it->str())) << it->str() << " not in the scrape";
  }

  ASSERT_NO_FATAL_FAILURE(scrape_until_exit(monitor, endpoint));
  EXPECT_EQ(monitor.exit_code, 1) << monitor.stdout_text();
  publisher.send(SIGTERM);
  publisher.wait(milliseconds(10'000));
  if (auto published = monitor_test::published_total(publisher.stdout_text())) {
    EXPECT_LE(value(after, "qsc_events_total{source=\"shm\"}"), static_cast<double>(*published));
  }

  // Plain log lines (stderr is a file, no journal): a UTC timestamp, and the rollback line names
  // the canary and the trigger.
  const auto err = monitor.stderr_text();
  const std::regex rollback_line(
      R"((^|\n)\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z critical rollback of canary patchtst \(trigger qsc_monitor_violation\): Action collapse)");
  EXPECT_TRUE(std::regex_search(err, rollback_line)) << err;
  EXPECT_EQ(err.find("\n<"), std::string::npos) << err;
}

// Verdict horizons (docs/design.md, ABI 2.1): the worker's event-driven evaluation may skip a
// detector within its horizon, and such an evaluation is never published: /metrics shows only
// evaluations that called every detector. The probe detector (tests/plugins/test_plugins) counts
// the events it was shown and asks for a horizon of 1,000 events; in a published evaluation it
// was called with every event accepted so far, so its "events" figure equals
// qsc_events_total in every scrape (one snapshot holds both). A published skipped evaluation
// would show the probe up to 1,000 events behind. (Checked to fail with the worker publishing
// every evaluation: the probe showed 59 events while qsc_events_total showed 99 to 248.)
TEST_F(MetricsE2E, APublishedEvaluationNeverSkippedADetector) {
  auto config = metrics_config();
  config["plugins"]["dir"] = plugin_dir_with({{QSC_TP_HORIZON_PROBE, "horizon_probe.so"}}).string();
  config["plugins"]["config"]["horizon_probe"] = {{"horizon", 1000}};
  write_config(config);
  const auto stop = switch_file("stop");
  auto& publisher = start_healthy_canary(stop);
  ASSERT_FALSE(HasFatalFailure());
  auto& monitor = start_qsc({"monitor", "--duration", "8s", "--interval", "1s"});
  const auto endpoint = wait_for_endpoint(monitor);
  ASSERT_FALSE(endpoint.empty());
  const std::string probe_events =
      "qsc_detector_figure{detector=\"horizon_probe\",figure=\"events\"}";
  const std::string probe_calls =
      "qsc_detector_figure{detector=\"horizon_probe\",figure=\"calls\"}";
  int compared = 0;
  double last_events = 0.0;
  double last_calls = 0.0;
  const auto until = Clock::now() + kDeadline;
  while (!exited(monitor) && Clock::now() < until) {
    std::string ignored;
    if (auto text = scrape(endpoint, dir_, &ignored)) {
      const auto s = parse_samples(*text);
      const auto events = s.find(probe_events);
      const auto total = s.find("qsc_events_total{source=\"shm\"}");
      if (events != s.end() && total != s.end()) {
        // Counts of events: exact.
        EXPECT_EQ(events->second, total->second) << *text;
        ++compared;
        last_events = events->second;
        last_calls = s.count(probe_calls) != 0 ? s.at(probe_calls) : 0.0;
      }
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_TRUE(monitor.wait(kDeadline)) << monitor.stderr_text();
  touch(stop);
  publisher.wait(milliseconds(10'000));
  EXPECT_EQ(monitor.exit_code, 0) << monitor.stdout_text() << monitor.stderr_text();
  EXPECT_GE(compared, 20) << "too few scrapes showed the probe";
  // The horizon was in use: far fewer calls than events (about 1,000 events/s for 8 s).
  EXPECT_GT(last_events, 2000.0);
  EXPECT_LT(last_calls * 4, last_events) << "calls " << last_calls << ", events " << last_events;
}

TEST_F(MetricsE2E, TheEndpointOutlivesAKilledWorkerAndCountsTheSupervisorsRollback) {
  write_config(metrics_config());
  const auto stop = switch_file("stop");
  auto& publisher = start_healthy_canary(stop);
  // Under the journal: JOURNAL_STREAM names stderr's device and inode, as systemd sets it.
  const auto err_file = dir_ / "journal_monitor.err";
  std::ofstream(err_file).close();
  struct stat st {};
  ASSERT_EQ(::stat(err_file.c_str(), &st), 0);
  children_.push_back(monitor_test::spawn(
      {QSC_BINARY, "monitor", "--duration", "60s", "--interval", "1s"}, dir_, "journal_monitor",
      {"JOURNAL_STREAM=" + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino)}));
  auto& monitor = children_.back();
  ASSERT_TRUE(monitor.wait_for_output("[Check 1/60]", kDeadline))
      << monitor.stdout_text() << monitor.stderr_text();
  const auto endpoint = wait_for_endpoint(monitor);
  ASSERT_FALSE(endpoint.empty());
  const auto before = scrape_checked(endpoint);
  EXPECT_GT(value(before, "qsc_events_total{source=\"shm\"}"), 0);

  // The worker is the supervisor's only child.
  std::ifstream children("/proc/" + std::to_string(monitor.pid) + "/task/" +
                         std::to_string(monitor.pid) + "/children");
  pid_t worker = 0;
  ASSERT_TRUE(children >> worker) << "no worker under the supervisor";
  ASSERT_EQ(::kill(worker, SIGKILL), 0);
  ASSERT_TRUE(monitor.wait_for_output("Rollback completed successfully", kDeadline))
      << monitor.stdout_text() << monitor.stderr_text();

  const auto after = scrape_checked(endpoint);
  EXPECT_EQ(value(after, "qsc_rollbacks_total{trigger=\"qsc_monitor_worker_failed\"}"), 1)
      << last_text_;
  EXPECT_EQ(value(after, "qsc_rollbacks_total{trigger=\"qsc_monitor_violation\"}"), 0);
  EXPECT_EQ(value(after, "qsc_canary_phase{phase=\"rolled_back\"}"), 1);
  // The dead worker's last figures are still served; its telemetry only ages.
  EXPECT_GE(value(after, "qsc_events_total{source=\"shm\"}"),
            value(before, "qsc_events_total{source=\"shm\"}"));
  EXPECT_GE(value(after, "qsc_telemetry_age_seconds"), 0);
  ASSERT_NO_FATAL_FAILURE(scrape_until_exit(monitor, endpoint));
  EXPECT_EQ(monitor.exit_code, 1) << monitor.stdout_text() << monitor.stderr_text();
  touch(stop);
  publisher.wait(milliseconds(10'000));

  // Journal lines: syslog priorities, no timestamp of our own; the rollback lines carry the
  // canary and the trigger.
  const auto err = monitor.stderr_text();
  EXPECT_NE(err.find("<6>info metrics: serving http://"), std::string::npos) << err;
  EXPECT_NE(err.find("<2>critical rollback of canary patchtst (trigger qsc_monitor_worker_failed): "
                     "Monitor worker failed"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("<6>info rollback of canary patchtst (trigger qsc_monitor_worker_failed): "
                     "completed"),
            std::string::npos)
      << err;
  EXPECT_FALSE(std::regex_search(err, std::regex(R"((^|\n)\d{4}-\d\d-\d\dT)"))) << err;
}

TEST_F(MetricsE2E, AnUnusableListenAddressIsRefusedWithTheKeyAndAnExample) {
  write_config({{"metrics", {{"listen", "localhost:9464"}}}});
  auto c = run_qsc({"monitor", "--duration", "10s", "--interval", "1s"});
  EXPECT_EQ(c.exit_code, 2);
  const auto err = c.stderr_text();
  EXPECT_NE(err.find("metrics.listen"), std::string::npos) << err;
  EXPECT_NE(err.find("\"127.0.0.1:9464\""), std::string::npos) << err;
}

}  // namespace
}  // namespace qsc::metrics_test

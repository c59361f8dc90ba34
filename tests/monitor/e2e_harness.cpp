// The monitor's end-to-end harness.
#include "e2e_harness.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

namespace qsc::monitor_test {

namespace {

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string iso(std::int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::atomic<int> g_counter{0};

// The context switches of `pid`'s main thread so far, voluntary and not.
std::uint64_t context_switches_of_main_thread(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/status");
  std::uint64_t total = 0;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("voluntary_ctxt_switches:", 0) == 0 ||
        line.rfind("nonvoluntary_ctxt_switches:", 0) == 0) {
      total += std::stoull(line.substr(line.find(':') + 1));
    }
  }
  return total;
}

// The supervisor's main thread's context switches a second between the worker's checks 2 and
// 5, printed; nullopt when a check did not come within 30 s.
std::optional<double> switches_per_second_between_checks_2_and_5(Child& monitor,
                                                                 const std::string& label) {
  if (!monitor.wait_for_output("[Check 2/60]", milliseconds(30000))) return std::nullopt;
  const auto switches_before = context_switches_of_main_thread(monitor.pid);
  const auto window_start = std::chrono::steady_clock::now();
  if (!monitor.wait_for_output("[Check 5/60]", milliseconds(30000))) return std::nullopt;
  const auto switches = context_switches_of_main_thread(monitor.pid) - switches_before;
  const double window_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - window_start).count();
  const double per_second = static_cast<double>(switches) / window_s;
  std::cout << "[ measured ] supervisor at " << label << ": " << switches << " context switches in "
            << window_s << " s (" << per_second << " a second)\n";
  return per_second;
}

}  // namespace

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<nlohmann::json> read_jsonl(const fs::path& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(needle) != std::string::npos) out.push_back(line);
  }
  return out;
}

std::vector<PhaseStart> phase_starts(const std::string& text) {
  std::vector<PhaseStart> out;
  for (const auto& line : lines_with(text, "PHASE ")) {
    if (line.rfind("PHASE ", 0) != 0) continue;
    std::istringstream in(line);
    std::string word, index, start, first;
    PhaseStart p;
    in >> word >> index >> p.behaviour >> start >> first;
    p.start_us = std::stoll(start.substr(start.find('=') + 1));
    p.first_event_ms = std::stoll(first.substr(first.find('=') + 1));
    out.push_back(p);
  }
  return out;
}

std::optional<std::uint64_t> published_total(const std::string& text) {
  const auto lines = lines_with(text, "DONE published=");
  if (lines.empty()) return std::nullopt;
  const auto& l = lines.back();
  return std::stoull(l.substr(l.find('=') + 1));
}

std::string Child::stdout_text() const {
  return read_text(out);
}
std::string Child::stderr_text() const {
  return read_text(err);
}

bool Child::wait(milliseconds timeout) {
  if (done) return true;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      done = true;
      if (WIFEXITED(status)) exit_code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) signal = WTERMSIG(status);
      return true;
    }
    if (r < 0) {
      done = true;
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      done = true;
      signal = SIGKILL;
      return false;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
}

void Child::send(int sig) const {
  if (!done && pid > 0) ::kill(pid, sig);
}

bool Child::wait_for_output(const std::string& text, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (stdout_text().find(text) != std::string::npos) return true;
    if (!done) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        done = true;
        if (WIFEXITED(status)) exit_code = WEXITSTATUS(status);
        if (WIFSIGNALED(status)) signal = WTERMSIG(status);
      }
    } else {
      return stdout_text().find(text) != std::string::npos;
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  return false;
}

Child spawn(const std::vector<std::string>& argv, const fs::path& cwd, const std::string& tag,
            const std::vector<std::string>& env) {
  Child c;
  c.out = cwd / (tag + ".out");
  c.err = cwd / (tag + ".err");
  std::vector<std::string> args = argv;
  std::vector<char*> raw;
  for (auto& a : args) raw.push_back(a.data());
  raw.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    const int out = ::open(c.out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int err = ::open(c.err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out < 0 || err < 0) ::_exit(126);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    ::close(out);
    ::close(err);
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    ::execv(raw[0], raw.data());
    ::_exit(127);
  }
  c.pid = pid;
  return c;
}

void MonitorE2E::SetUp() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "_" + info->name();
  for (auto& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  std::string pattern = (fs::temp_directory_path() / ("qsc-monitor-e2e-XXXXXX")).string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  dir_ = pattern;
  ring_ = "qsc_e2e_" + std::to_string(::getpid()) + "_" + std::to_string(g_counter++) + "_" +
          std::to_string(wall_ms() % 100000);
  // The cutover: a whole second, just before the publisher starts.
  cutover_ms_ = (wall_ms() / 1000) * 1000 - 1000;
  cutover_iso_ = iso(cutover_ms_);
  write_config();
  write_live_weights();
}

// libfaketime gives each process it is loaded into a shared-memory segment and a semaphore
// named after its PID (/dev/shm/faketime_shm_<pid>, sem.faketime_sem_<pid>), removed when the
// process exits and left behind when it is killed (these tests kill monitors and publishers):
// those whose process is gone are removed. A live process's (another test's) are left alone.
static void remove_dead_faketime_segments() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/dev/shm", ec)) {
    const std::string name = entry.path().filename().string();
    for (const std::string prefix : {"faketime_shm_", "sem.faketime_sem_"}) {
      if (name.rfind(prefix, 0) != 0) continue;
      const std::string pid = name.substr(prefix.size());
      if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
      std::error_code gone;
      if (!fs::exists(fs::path("/proc") / pid, gone)) fs::remove(entry.path(), gone);
    }
  }
}

void MonitorE2E::TearDown() {
  for (auto& c : children_) {
    if (!c.done) {
      c.send(SIGKILL);
      c.wait(milliseconds(5000));
    }
  }
  std::error_code ec;
  fs::remove(fs::path("/dev/shm") / ring_, ec);
  if (!child_env_.empty()) remove_dead_faketime_segments();
  if (HasFailure()) {
    std::cerr << "[ kept ] " << dir_ << " (the test failed)\n";
    for (const auto& c : children_) {
      std::cerr << "---- " << c.out.filename() << "\n"
                << c.stdout_text() << "---- " << c.err.filename() << "\n"
                << c.stderr_text().substr(0, 4000) << "\n";
    }
  } else {
    fs::remove_all(dir_, ec);
  }
}

void MonitorE2E::write_config(const nlohmann::json& patch) {
  config_ = {{"telemetry",
              {{"source", "shm"},
               {"shm_name", ring_},
               {"min_events", 200},
               {"window_events", 400},
               // Tests of staleness set their own; for the rest 30 s is far more than a
               // publisher descheduled on a loaded machine stays silent (6 s was seen at a load
               // average of 23 on 2 cores: with 5 s, a healthy canary went stale).
               {"stale_after", "30s"}}},
             {"paths", {{"live_weights", "data/live_model_weights.json"}}},
             {"plugins",
              {{"actions", {"rollback"}},
               {"config",
                {{"systemd",
                  {{"dropin_dir", (dir_ / "systemd/quantum-ai_engine.service.d").string()},
                   {"systemctl", (dir_ / "no-systemctl").string()}}}}}}}};
  config_.merge_patch(patch);
  std::ofstream(dir_ / "qsc.json") << config_.dump(2) << "\n";
}

void MonitorE2E::write_live_weights() {
  fs::create_directories(dir_ / "data");
  std::ofstream(live_weights(), std::ios::binary) << kLiveWeights;
}

fs::path MonitorE2E::plugin_dir_with(
    const std::vector<std::pair<std::string, std::string>>& extra) {
  const fs::path dir = dir_ / "plugins";
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec);
  // The build's plugin directory, where qsc itself finds it: bin/qsc -> lib/qsc/plugins.
  const fs::path built = fs::path(QSC_BINARY).parent_path().parent_path() / "lib/qsc/plugins";
  for (const auto& entry : fs::directory_iterator(built)) {
    if (entry.path().extension() == ".so") {
      fs::copy_file(entry.path(), dir / entry.path().filename(),
                    fs::copy_options::overwrite_existing);
    }
  }
  for (const auto& [library, installed] : extra) {
    fs::copy_file(library, dir / installed, fs::copy_options::overwrite_existing);
  }
  for (const auto& entry : fs::directory_iterator(dir)) ::chmod(entry.path().c_str(), 0644);
  return dir;
}

void MonitorE2E::touch(const fs::path& path) {
  std::ofstream(path) << "go\n";
}

Child& MonitorE2E::start_publisher(const std::vector<std::string>& args,
                                   std::optional<std::vector<std::string>> sink_args) {
  std::vector<std::string> argv{QSC_PUBLISHER};
  // 500 events/s unless the test says: the ring (16,384 records) then holds 28 s of them, so a
  // monitor descheduled for seconds on a loaded machine loses nothing (at the publisher's own
  // 2,000/s a 9 s stall lapped the ring: real loss, rightly a rollback, but not the test's).
  if (std::find(args.begin(), args.end(), "--rate") == args.end()) {
    argv.insert(argv.end(), {"--rate", "500"});
  }
  if (sink_args) {
    argv.insert(argv.end(), sink_args->begin(), sink_args->end());
  } else {
    argv.insert(argv.end(), {"--ring", ring_});
  }
  argv.insert(argv.end(), args.begin(), args.end());
  children_.push_back(
      spawn(argv, dir_, "publisher" + std::to_string(children_.size()), child_env_));
  return children_.back();
}

Child MonitorE2E::run_qsc(const std::vector<std::string>& args, milliseconds timeout) {
  std::vector<std::string> argv{QSC_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  Child c = spawn(argv, dir_, "qsc_" + args.front() + std::to_string(g_counter++), child_env_);
  const bool ended = c.wait(timeout);
  EXPECT_TRUE(ended) << "qsc " << args.front() << " did not end within " << timeout.count()
                     << " ms";
  return c;
}

Child& MonitorE2E::start_qsc(const std::vector<std::string>& args) {
  std::vector<std::string> argv = qsc_launcher_;
  argv.push_back(QSC_BINARY);
  argv.insert(argv.end(), args.begin(), args.end());
  children_.push_back(
      spawn(argv, dir_, "qsc_" + args.front() + std::to_string(g_counter++), child_env_));
  return children_.back();
}

nlohmann::json MonitorE2E::state() const {
  const auto text = read_text(dir_ / "data/qsc_state.json");
  return text.empty() ? nlohmann::json() : nlohmann::json::parse(text);
}

void MonitorE2E::activate() {
  ASSERT_FALSE(children_.empty()) << "start the publisher first";
  ASSERT_TRUE(children_.back().wait_for_output("PHASE 0", milliseconds(60000)))
      << "the publisher did not start: " << children_.back().stderr_text();
  // The gate needs telemetry.min_events post-cutover events, and how fast a publisher gets
  // there on a loaded machine is unknown: wait until `qsc telemetry --after` says they are
  // there (the same source and rules as the gate), never for a fixed time.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    auto t = run_qsc({"telemetry", "--after", cutover_iso_});
    if (t.exit_code == 0) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "the telemetry never sufficed for activation:\n"
        << t.stdout_text() << t.stderr_text();
    std::this_thread::sleep_for(milliseconds(100));  // poll interval
  }
  auto c = run_qsc({"activate", "--model", "patchtst", "--cutover", cutover_iso_});
  ASSERT_EQ(c.exit_code, 0) << c.stdout_text() << c.stderr_text();
  ASSERT_NE(c.stdout_text().find("[ACTIVATED] CANARY ACTIVATED"), std::string::npos)
      << c.stdout_text();
  ASSERT_EQ(read_text(baseline_weights()), kLiveWeights);
  const auto canary = read_text(canary_weights());
  ASSERT_FALSE(canary.empty());
  // The engine now runs the canary weights.
  std::ofstream(live_weights(), std::ios::binary | std::ios::trunc) << canary;
}

Child& MonitorE2E::start_healthy_canary(const fs::path& stop) {
  auto& publisher = start_publisher({"--rate", "1000", "--phase", "healthy:@" + stop.string()});
  activate();
  return publisher;
}

Child& MonitorE2E::start_monitor_until(const std::string& duration, const std::string& interval,
                                       const std::string& check_line) {
  auto& monitor = start_qsc({"monitor", "--duration", duration, "--interval", interval});
  EXPECT_TRUE(monitor.wait_for_output(check_line, milliseconds(60000)))
      << "no " << check_line << " line:\n"
      << monitor.stdout_text() << monitor.stderr_text();
  return monitor;
}

void MonitorE2E::expect_supervisor_wakes_below(double max_per_second, const nlohmann::json& patch,
                                               const std::string& label) {
  const auto stop = switch_file("stop");
  start_healthy_canary(stop);
  write_config(patch);
  auto& monitor = start_qsc({"monitor", "--duration", "60s", "--interval", "1s"});
  const auto per_second = switches_per_second_between_checks_2_and_5(monitor, label);
  ASSERT_TRUE(per_second) << monitor.stdout_text() << monitor.stderr_text();
  EXPECT_LT(*per_second, max_per_second);
  monitor.send(SIGTERM);
  ASSERT_TRUE(monitor.wait(milliseconds(30000)));
  EXPECT_EQ(monitor.exit_code, 2) << monitor.stdout_text() << monitor.stderr_text();
  touch(stop);
}

void MonitorE2E::expect_inconclusive(Child& monitor, const std::string& banner) {
  const auto out = monitor.stdout_text();
  EXPECT_EQ(monitor.exit_code, 3) << out << monitor.stderr_text();
  EXPECT_NE(out.find("MONITORING INCONCLUSIVE - " + banner), std::string::npos) << out;
  EXPECT_EQ(out.find("NO VIOLATIONS"), std::string::npos) << out;
  EXPECT_EQ(out.find("safe to promote"), std::string::npos) << out;
  EXPECT_EQ(out.find("VIOLATION DETECTED"), std::string::npos) << out;
}

void MonitorE2E::expect_rolled_back(Child& monitor, const std::string& expected, int checks_total) {
  const auto out = monitor.stdout_text();
  EXPECT_EQ(monitor.exit_code, 1) << out << monitor.stderr_text();
  EXPECT_NE(out.find("🚨 VIOLATION DETECTED - EXECUTING ROLLBACK"), std::string::npos) << out;
  bool found = false;
  for (const auto& line : lines_with(out, "❌")) {
    if (line.find("❌ " + expected) != std::string::npos) found = true;
  }
  EXPECT_TRUE(found) << "no ❌ line with \"" << expected << "\" in:\n" << out;
  EXPECT_NE(out.find("✅ Rollback completed successfully"), std::string::npos) << out;
  EXPECT_EQ(out.find("MONITORING COMPLETED"), std::string::npos) << out;

  // The live weights are the baseline again, byte for byte; the canary's files are gone.
  EXPECT_EQ(read_text(live_weights()), kLiveWeights);
  EXPECT_EQ(read_text(baseline_weights()), kLiveWeights);
  EXPECT_FALSE(fs::exists(canary_weights()));
  EXPECT_FALSE(fs::exists(dropin()));
  const auto st = state();
  EXPECT_EQ(st.value("phase", ""), "rolled_back") << st.dump();
  EXPECT_EQ(st.value("last_result", ""), "violation") << st.dump();

  // The audit trail, in order and complete.
  const auto entries = audit();
  std::optional<std::size_t> activated, started, rolled;
  std::vector<std::size_t> checks;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto action = entries[i].value("action", "");
    EXPECT_TRUE(entries[i].contains("timestamp")) << entries[i].dump();
    if (action == "canary_activated") activated = i;
    if (action == "monitoring_started") started = i;
    if (action == "check") checks.push_back(i);
    if (action == "rollback_executed") rolled = i;
  }
  ASSERT_TRUE(activated && started && rolled) << "audit log incomplete";
  EXPECT_LT(*activated, *started);
  EXPECT_LT(*started, *rolled);
  EXPECT_EQ(*rolled, entries.size() - 1) << "entries after the rollback";
  ASSERT_FALSE(checks.empty()) << "no check before the violation";
  for (std::size_t k = 0; k < checks.size(); ++k) {
    const auto& c = entries[checks[k]];
    EXPECT_GT(checks[k], *started);
    EXPECT_LT(checks[k], *rolled);
    EXPECT_EQ(c.value("check", 0), static_cast<int>(k + 1)) << c.dump();
    EXPECT_EQ(c.value("of", 0), checks_total) << c.dump();
    EXPECT_EQ(c.value("canary_model", ""), "patchtst");
    EXPECT_TRUE(c.contains("detectors") && c["detectors"].size() >= 10) << c.dump();
  }
  // No check before the rollback called the canary NO-GO (it would have been rolled back).
  for (const auto i : checks) {
    const auto status = entries[i].value("status", "");
    EXPECT_TRUE(status == "GO" || status == "WAIT") << entries[i].dump();
  }

  const auto& r = entries[*rolled];
  EXPECT_EQ(r.value("trigger", ""), "qsc_monitor_violation") << r.dump();
  EXPECT_EQ(r.value("canary_model", ""), "patchtst");
  EXPECT_EQ(r.value("result", ""), "ok") << r.dump();
  bool logged = false;
  for (const auto& v : r["violations"]) {
    if (v.get<std::string>().rfind(expected, 0) == 0) logged = true;
  }
  EXPECT_TRUE(logged) << r["violations"].dump();
  ASSERT_TRUE(r.contains("figures") && r["figures"].contains("detection")) << r.dump();
  const auto& d = r["figures"]["detection"];
  for (const auto* key :
       {"trigger_event", "trigger_event_ms", "detected_at_us", "detection_latency_ms"}) {
    EXPECT_TRUE(d.contains(key)) << key << " missing: " << d.dump();
  }
  EXPECT_GE(d.value("detection_latency_ms", -1.0), 0.0) << d.dump();
  EXPECT_GE(d.value("detected_at_us", std::int64_t{0}) / 1000,
            d.value("trigger_event_ms", std::int64_t{0}))
      << d.dump();
  EXPECT_NE(r["actions"].dump().find("rollback"), std::string::npos) << r.dump();
}

}  // namespace qsc::monitor_test

// The end-to-end harness: events, the workspace, running qsc.
#include "lifecycle/lifecycle_harness.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace qsc::test {

const std::int64_t kRecentCutoverMs = recent_cutover_ms();
const std::string kRecentCutoverIso = utc_text(kRecentCutoverMs, false);
const std::string kRecentCutoverSystemd = utc_text(kRecentCutoverMs, true);

namespace {

const char* const kActions[] = {"BUY", "SELL", "HOLD"};
const char* const kModelStrings[] = {"xgboost", "lightgbm", "nhits", "patchtst"};

std::string number_token(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Three of four models follow the signal (BUY, SELL, HOLD in turn); model k dissents in every
// fourth event, cautiously (HOLD against a direction, BUY against HOLD): agreement 75%, no
// hard disagreement, every share well under 70%.
std::string healthy_action(long i, std::size_t k) {
  const long signal = i % 3;
  if (i % 4 == static_cast<long>(k)) return signal == 2 ? "BUY" : "HOLD";
  return kActions[signal];
}

// Eleven levels from 0.45 to 0.85: std about 0.13, P10-P90 about 0.32.
double healthy_confidence(long i, std::size_t k) {
  return 0.45 + 0.04 * static_cast<double>((i * 7 + static_cast<long>(k) * 3) % 11);
}

double percentile(std::vector<double> sorted, double q) {
  std::sort(sorted.begin(), sorted.end());
  const double pos = static_cast<double>(sorted.size() - 1) * q / 100.0;
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

}  // namespace

Prediction prediction(int index, std::size_t k, Flaw flaw) {
  const long i = index;
  Prediction p{healthy_action(i, k), healthy_confidence(i, k), ""};
  if (flaw == Flaw::kUnanimous) p.action = kActions[i % 3];
  if (k == 3) {
    switch (flaw) {
      case Flaw::kCollapse:
        p.action = i % 10 == 0 ? "SELL" : i % 10 == 1 ? "HOLD" : "BUY";
        break;
      case Flaw::kDeadZone:
        p.action = i % 10 == 0 ? "BUY" : "HOLD";
        break;
      case Flaw::kFlat:
        p.confidence = i % 25 < 3 ? 0.53 : i % 25 < 6 ? 0.67 : 0.60;
        break;
      case Flaw::kNarrow:
        p.confidence = i % 20 == 0    ? 0.2
                       : i % 20 == 10 ? 1.0
                                      : 0.56 + 0.01 * static_cast<double>(i % 9);
        break;
      case Flaw::kConstant:
        p.confidence = 0.6;
        break;
      case Flaw::kNaN:
        if (i % 100 == 7) {
          p.confidence = std::nan("");
          p.confidence_token = "NaN";
        }
        break;
      case Flaw::kLogit:
        if (i % 4 == 1) p.confidence = 1.5 + 0.5 * static_cast<double>(i % 3);
        break;
      default:
        break;
    }
  }
  if (p.confidence_token.empty()) p.confidence_token = number_token(p.confidence);
  return p;
}

std::vector<std::pair<std::string, std::string>> event_fields(int i, Flaw flaw) {
  std::string breakdown = "{";
  for (std::size_t k = 0; k < kModels.size(); ++k) {
    if (k == 3 && flaw == Flaw::kAbsent) continue;
    const auto p = prediction(i, k, flaw);
    const char* shadow = k != 3                  ? ""
                         : flaw == Flaw::kShadow ? ", \"shadow\": true"
                                                 : ", \"shadow\": false";
    breakdown += std::string(k == 0 ? "" : ", ") + "\"" + kModels[k] + "\": {\"action\": \"" +
                 p.action + "\", \"confidence\": " + p.confidence_token + ", \"model\": \"" +
                 kModelStrings[k] + "\"" + shadow + "}";
  }
  breakdown += "}";
  const std::string head = std::string("{\"symbol\": \"BTCUSDT\", \"side\": \"") + kActions[i % 3] +
                           "\", \"confidence\": 0.7";
  if (i % 4 == 2) {
    return {
        {"event_type", "trade.intent"}, {"payload", head + "}"}, {"model_breakdown", breakdown}};
  }
  return {{"event_type", "trade.intent"},
          {"payload", head + ", \"model_breakdown\": " + breakdown + "}"}};
}

ExpectedStats expected_stats(const std::vector<int>& events, std::size_t k, Flaw flaw) {
  ExpectedStats s;
  std::vector<double> conf;
  for (int i : events) {
    const auto p = prediction(i, k, flaw);
    ++s.n;
    (p.action == "BUY" ? s.buy : p.action == "SELL" ? s.sell : s.hold) += 1;
    if (std::isnan(p.confidence)) continue;
    conf.push_back(p.confidence > 1.0 ? 1.0 / (1.0 + std::exp(-p.confidence)) : p.confidence);
  }
  for (double* share : {&s.buy, &s.sell, &s.hold}) *share = *share * 100.0 / s.n;
  double sum = 0;
  for (double c : conf) sum += c;
  s.mean = sum / conf.size();
  double sq = 0;
  for (double c : conf) sq += (c - s.mean) * (c - s.mean);
  s.std = std::sqrt(sq / conf.size());
  s.p10 = percentile(conf, 10);
  s.p90 = percentile(conf, 90);
  return s;
}

bool wait_for_text(const fs::path& path, const std::string& text) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (slurp(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Makes the next qsc runs of `ws` unable to write the unit directory (and its parents), as for
// an operator without root: under root (directory permissions do not stop root) qsc is run as
// the unprivileged user nobody through setpriv, owning the working directory but not the side
// directory where the unit directory lives. Returns the user name qsc runs as ("" when the
// tests do not run as root: then the current user, with the unit directory made read-only).
std::string drop_unit_directory_permission(Workspace& ws) {
  const auto unit_dir = ws.installed_dropin().parent_path();
  if (::geteuid() != 0) {
    fs::create_directories(unit_dir);
    ::chmod(unit_dir.c_str(), 0555);
    return "";
  }
  EXPECT_TRUE(fs::exists("/usr/bin/setpriv")) << "setpriv is needed to drop root";
  for (const auto& e : fs::recursive_directory_iterator(ws.dir())) {
    EXPECT_EQ(::lchown(e.path().c_str(), 65534, 65534), 0) << e.path();
  }
  EXPECT_EQ(::lchown(ws.dir().c_str(), 65534, 65534), 0);
  // The configuration, the stub and its call log are readable (and the log writable).
  ::chmod(ws.side().c_str(), 0755);
  ::chmod((ws.side() / "bin").c_str(), 0777);
  spit(ws.side() / "bin/calls.log", slurp(ws.side() / "bin/calls.log"));
  ::chmod((ws.side() / "bin/calls.log").c_str(), 0666);
  ws.command_prefix = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
  return "nobody";
}

void spit(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) out.push_back(line);
  return out;
}

Workspace::Workspace() {
  auto make = [](const char* tag) {
    std::string pattern = (fs::temp_directory_path() / tag).string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    return fs::canonical(pattern);
  };
  dir_ = make("qsc-lifecycle-XXXXXX");
  side_ = make("qsc-lifecycle-side-XXXXXX");
  const auto bin = side_ / "bin";
  spit(bin / "systemctl",
       "#!/bin/sh\n"
       "d='" +
           bin.string() +
           "'\n"
           "printf '%s\\n' \"$*\" >> \"$d/calls.log\"\n"
           "if [ -f \"$d/fail_once_$1\" ]; then rm -f \"$d/fail_once_$1\";"
           " echo \"Job for $2 failed.\" >&2; exit 1; fi\n"
           "case \"$1\" in\n"
           "  show) echo 'ActiveEnterTimestamp=" +
           kRecentCutoverSystemd +
           "' ;;\n"
           "  is-active) echo active ;;\n"
           "esac\n"
           "exit 0\n");
  fs::permissions(bin / "systemctl", fs::perms::owner_all | fs::perms::group_read |
                                         fs::perms::group_exec | fs::perms::others_read |
                                         fs::perms::others_exec);
  config = {
      {"telemetry",
       {{"source", "redis"}, {"min_events", 200}, {"window_events", 2000}, {"stale_after", "1h"}}},
      {"plugins",
       {{"actions", {"rollback", "systemd", "notify"}},
        {"config",
         {{"systemd",
           {{"unit", kUnit},
            {"dropin_dir", (side_ / "etc/systemd/system" / (std::string(kUnit) + ".d")).string()},
            {"systemctl", (bin / "systemctl").string()},
            {"verify_timeout_ms", 3000},
            {"verify_interval_ms", 20}}}}}}}};
}

Engine::Engine(int port, Flaw flaw) : thread_([this, port, flaw] { run(port, flaw); }) {}

Engine::~Engine() {
  stop_ = true;
  thread_.join();
}

void Engine::run(int port, Flaw flaw) {
  RawRedis w(port);
  std::int64_t last = 0;
  for (int i = 0; !stop_; ++i) {
    const std::int64_t wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
    last = std::max(wall, last + 1);
    if (w.xadd(kStream, sid(last), event_fields(i, flaw)).empty()) ++published_;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Workspace::~Workspace() {
  writer_.reset();
  std::error_code ec;
  if (!::testing::Test::HasFailure()) fs::remove_all(dir_, ec);
  if (!::testing::Test::HasFailure()) fs::remove_all(side_, ec);
  if (::testing::Test::HasFailure()) {
    std::fprintf(stderr, "kept for inspection: %s and %s\n", dir_.c_str(), side_.c_str());
  }
}

bool Workspace::start_redis(std::string* why) {
  if (!redis_.start()) {
    *why = redis_.error();
    return false;
  }
  config["telemetry"]["redis_url"] = redis_.url();
  return true;
}

RawRedis& Workspace::writer() {
  if (!writer_) writer_.emplace(redis_.port());
  return *writer_;
}

void Workspace::publish(int first, int count, std::int64_t start_ms, std::int64_t step_ms,
                        Flaw flaw) {
  for (int n = 0; n < count; ++n) publish_at(first + n, start_ms + n * step_ms, flaw);
}

void Workspace::publish_at(int i, std::int64_t ms, Flaw flaw, std::uint64_t seq) {
  ASSERT_EQ(writer().xadd(kStream, sid(ms, seq), event_fields(i, flaw)), "") << "XADD " << ms;
}

void Workspace::set_min_events(int n) {
  config["telemetry"]["min_events"] = n;
  config["telemetry"]["window_events"] = std::max(2000, n);
}

fs::path Workspace::use_live_weights(const std::string& content) {
  const auto path = dir_ / "engine/live_weights.json";
  spit(path, content);
  config["paths"]["live_weights"] = path.string();
  return path;
}

QscChild Workspace::spawn(const std::vector<std::string>& args,
                          const std::vector<std::string>& env) {
  const auto cfg = side_ / "qsc.json";
  spit(cfg, config.dump(2));
  QscChild child;
  ++runs_;
  child.out = side_ / ("run" + std::to_string(runs_) + ".out");
  child.err = side_ / ("run" + std::to_string(runs_) + ".err");
  std::vector<std::string> argv_s = command_prefix;
  argv_s.insert(argv_s.end(), {QSC_BINARY, "--config", cfg.string()});
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    if (kv.rfind("QSC_", 0) == 0) continue;  // the test decides every QSC_ variable
    env_s.push_back(kv);
  }
  env_s.insert(env_s.end(), env.begin(), env.end());
  std::vector<char*> argv, envp;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  const int out = ::open(child.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err = ::open(child.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::chdir(dir_.c_str()) != 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) ::_exit(126);
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(out);
  ::close(err);
  child.pid = pid;
  EXPECT_GT(pid, 0) << "fork failed";
  return child;
}

QscRun Workspace::wait(const QscChild& child, std::chrono::seconds timeout) {
  QscRun r;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    const pid_t got = ::waitpid(child.pid, &status, WNOHANG);
    if (got == child.pid) break;
    if (got < 0) {
      ADD_FAILURE() << "waitpid: " << std::strerror(errno);
      return r;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(child.pid, SIGKILL);
      ::waitpid(child.pid, &status, 0);
      ADD_FAILURE() << "qsc did not finish within " << timeout.count() << " s";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  r.out = slurp(child.out);
  r.err = slurp(child.err);
  return r;
}

QscRun Workspace::run(const std::vector<std::string>& args, const std::vector<std::string>& env,
                      std::chrono::seconds timeout) {
  return wait(spawn(args, env), timeout);
}

bool Workspace::exists(const std::string& relative) const {
  std::error_code ec;
  return fs::exists(dir_ / relative, ec);
}

std::string Workspace::read(const std::string& relative) const {
  return slurp(dir_ / relative);
}

std::vector<nlohmann::json> Workspace::audit() const {
  std::vector<nlohmann::json> out;
  for (const auto& line : lines(read("logs/qsc_canary.jsonl"))) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "audit log line is not JSON: " << line;
    EXPECT_TRUE(j.is_object() && j.contains("timestamp") && j.contains("action")) << line;
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

std::vector<nlohmann::json> Workspace::audit(const std::string& action) const {
  std::vector<nlohmann::json> out;
  for (auto& j : audit()) {
    if (j.value("action", "") == action) out.push_back(j);
  }
  return out;
}

std::optional<nlohmann::json> Workspace::state() const {
  if (!exists("data/qsc_state.json")) return std::nullopt;
  auto j = nlohmann::json::parse(read("data/qsc_state.json"), nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << read("data/qsc_state.json");
  return j;
}

std::vector<std::string> Workspace::systemctl_calls() const {
  return lines(slurp(side_ / "bin/calls.log"));
}

void Workspace::fail_systemctl_once(const std::string& verb) {
  spit(side_ / "bin" / ("fail_once_" + verb), "");
}

fs::path Workspace::installed_dropin() const {
  return fs::path(config["plugins"]["config"]["systemd"]["dropin_dir"].get<std::string>()) /
         "qsc_canary.conf";
}

std::vector<std::string> Workspace::files() const {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir_)) {
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir_).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void LifecycleTest::SetUp() {
  std::string why;
  if (!ws.start_redis(&why)) GTEST_SKIP() << why;
}

}  // namespace qsc::test

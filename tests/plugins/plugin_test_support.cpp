// Helpers of the plugin tests (see plugin_test_support.hpp).
#include "plugin_test_support.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace qsc::test {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "qsc_plugins_XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
  fs::permissions(path_, static_cast<fs::perms>(0755));
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::permissions(path_, static_cast<fs::perms>(0755), ec);
  fs::remove_all(path_, ec);
}

fs::path install_plugin(const fs::path& library, const fs::path& dir, const std::string& name,
                        mode_t mode) {
  const auto target = dir / name;
  const auto temporary = dir / (".installing." + name);
  fs::copy_file(library, temporary, fs::copy_options::overwrite_existing);
  ::chmod(temporary.c_str(), mode);
  fs::rename(temporary, target);
  return target;
}

fs::path detector_library(const std::string& name) {
  return fs::path(QSC_TEST_BUILD_PLUGIN_DIR) / (name + ".so");
}

std::vector<std::string> detector_names() {
  std::vector<std::string> names;
  std::stringstream list(QSC_TEST_DETECTORS);
  for (std::string name; std::getline(list, name, ',');) names.push_back(name);
  return names;
}

nlohmann::json host_config(const nlohmann::json& sections) {
  return {{"telemetry", {{"stale_after", "5m"}, {"max_rejected_pct", 1}, {"min_events", 200}}},
          {"plugins", {{"dir", ""}, {"config", sections}}}};
}

const agent::PluginRecord& record_named(const agent::PluginHost& host, const std::string& name) {
  for (const auto& r : host.records()) {
    if (r.name == name) return r;
  }
  ADD_FAILURE() << "no plugin named " << name;
  static const agent::PluginRecord none;
  return none;
}

const agent::PluginRecord& record_of_file(const agent::PluginHost& host,
                                          const std::string& file_name) {
  for (const auto& r : host.records()) {
    if (fs::path(r.file).filename() == file_name) return r;
  }
  ADD_FAILURE() << "no record for file " << file_name;
  static const agent::PluginRecord none;
  return none;
}

double figure(const CheckResult& r, const std::string& name) {
  for (const auto& f : r.figures) {
    if (f.name == name) return f.value;
  }
  ADD_FAILURE() << "no figure " << name << " in \"" << r.message << "\"";
  return NAN;
}

Scenario::Scenario() {
  ModelStats m;
  m.model = "patchtst";
  m.predictions = 200;
  m.confidence_samples = 200;
  m.conf_mean = 0.6;
  m.conf_std = 0.1;
  m.p10 = 0.45;
  m.p90 = 0.75;
  m.range = 0.3;
  window.models.push_back(m);
  set_shares(35.0, 30.0, 35.0);
  window.events = 200;
  window.ensemble.events = 200;
  window.ensemble.agreement_pct = 65.0;
  window.ensemble.hard_disagree_pct = 10.0;
  telemetry.source_ok = true;
  telemetry.events_seen = 200;
  telemetry.seconds_since_last_event = 1.0;
}

void Scenario::set_shares(double buy_pct, double sell_pct, double hold_pct) {
  auto& m = canary();
  m.share_pct = {buy_pct, sell_pct, hold_pct};
  const auto n = static_cast<double>(m.predictions);
  m.votes = {static_cast<std::size_t>(buy_pct * n / 100.0),
             static_cast<std::size_t>(sell_pct * n / 100.0),
             static_cast<std::size_t>(hold_pct * n / 100.0)};
}

CheckInput Scenario::input() const {
  CheckInput in;
  in.canary_model = "patchtst";
  in.window = window_present ? &window : nullptr;
  in.canary = canary_present && window_present ? &window.models.front() : nullptr;
  in.telemetry = telemetry;
  in.min_events = min_events;
  return in;
}

DetectorHost::DetectorHost(const std::vector<std::string>& detectors,
                           const nlohmann::json& sections, nlohmann::json config)
    : host([&]() {
        for (const auto& d : detectors) install_plugin(detector_library(d), dir.path(), d + ".so");
        if (config.is_null()) config = host_config(sections);
        auto opened = agent::PluginHost::open(dir.path(), config);
        if (!opened) throw std::runtime_error(opened.error().message);
        return std::move(opened).value();
      }()) {}

CheckResult DetectorHost::check(const std::string& detector, const Scenario& s) {
  for (auto& c : host.check_all(s.input())) {
    if (c.detector == detector) return c.result;
  }
  ADD_FAILURE() << "detector " << detector << " did not run";
  return {};
}

ProgramResult run_program(const std::string& command, bool merge_stderr) {
  ProgramResult result;
  FILE* pipe = ::popen((command + (merge_stderr ? " 2>&1" : "")).c_str(), "r");
  if (pipe == nullptr) return result;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) result.output.append(buf, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string shell_quote(const std::string& word) {
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

}  // namespace qsc::test

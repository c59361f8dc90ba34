// Loads action plugins through the plugin host, each from a private directory holding only its
// .so (so that no other plugin's section or rejection gets in the way).
#include "action_harness.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "plugin_host/plugin_host.hpp"

namespace qsc::test {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "qsc_actions_XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

struct LoadedAction::State {
  TempDir dir;
  std::string name;
  std::unique_ptr<agent::PluginHost> host;
};

Result<std::unique_ptr<LoadedAction>> LoadedAction::load(const std::string& name,
                                                         const nlohmann::json& section,
                                                         nlohmann::json host) {
  auto state = std::make_unique<State>();
  state->name = name;
  fs::copy_file(fs::path(QSC_TEST_PLUGIN_DIR) / (name + ".so"), state->dir / (name + ".so"));
  host["plugins"]["config"][name] = section;
  auto opened = agent::PluginHost::open(state->dir.path(), host);
  if (!opened.ok()) return opened.error();
  if (auto s = opened->startup_status(); !s.ok()) return s.error();
  for (const auto& r : opened->records()) {
    if (!r.loaded()) return Error{r.file + ": " + r.reason};
  }
  state->host = std::make_unique<agent::PluginHost>(std::move(opened).value());
  return std::unique_ptr<LoadedAction>(new LoadedAction(std::move(state)));
}

ActionOutcome LoadedAction::run(const Incident& incident) {
  return state_->host->run_action(state_->name, incident);
}

std::string LoadedAction::effective_config() const {
  for (const auto& r : state_->host->records()) {
    if (r.name == state_->name) return r.effective_config.dump();
  }
  return "{}";
}

LoadedAction::LoadedAction(std::unique_ptr<State> state) : state_(std::move(state)) {}
LoadedAction::~LoadedAction() = default;

void write_text(const fs::path& path, const std::string& content, unsigned mode) {
  fs::create_directories(path.parent_path());
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
  }
  ::chmod(path.c_str(), static_cast<mode_t>(mode));
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Incident sample_incident(IncidentKind kind) {
  Incident i;
  i.kind = kind;
  i.trigger = "qsc_monitor_violation";
  i.canary_model = "patchtst";
  i.canary_weight = 0.10;
  i.violations = {"Action collapse: HOLD=78.3% (>70%)",
                  "Flat predictions: conf_std=0.0412 (<0.05)"};
  i.figures_json = R"({"patchtst":{"hold_pct":78.3,"conf_std":0.0412}})";
  i.state_json =
      R"({"phase":"monitoring","canary_model":"patchtst","canary_weight":0.1,)"
      R"("activated_at":"2026-01-10T12:00:00Z","period_start":"2026-01-10T12:00:00Z","checks_done":17})";
  i.hostname = "engine-01";
  i.timestamp = "2026-01-10T12:08:30Z";
  return i;
}

}  // namespace qsc::test

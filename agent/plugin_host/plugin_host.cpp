// The plugin host: the loaded plugin set of one directory and its reloads. Every check a library
// must pass happens before anything of it is called, in the order that keeps the host safe: file
// permissions (plugin_file: nobody else may have planted or changed it, nor the directories above
// it), ELF header (a garbage file never reaches dlopen), the ABI block and the descriptor
// (abi_check), then create (plugin_calls). The file is opened once, without following a symlink,
// and every check and the load itself go through that descriptor, so nothing can be swapped in
// between. A refusal is a record with a one-line reason, never an exception.
#include "plugin_host/plugin_host.hpp"

#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/dll/shared_library.hpp>
#include <chrono>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "plugin_host/abi_check.hpp"
#include "plugin_host/abi_write.hpp"
#include "plugin_host/config_schema.hpp"
#include "plugin_host/plugin_calls.hpp"
#include "plugin_host/plugin_file.hpp"
#include "qsc/json_limits.hpp"
#include "qsc/plugin_abi.h"
#include "qsc/same_bytes.hpp"

namespace qsc::agent {
namespace {

namespace fs = std::filesystem;
using plugin_file::FileIdentity;
using plugin_file::identity_of;
using plugin_file::OpenFile;

nlohmann::json section_for(const nlohmann::json& host_config, const std::string& name) {
  const auto plugins = host_config.find("plugins");
  if (plugins == host_config.end() || !plugins->is_object()) return nlohmann::json::object();
  const auto config = plugins->find("config");
  if (config == plugins->end() || !config->is_object()) return nlohmann::json::object();
  const auto section = config->find(name);
  if (section == config->end() || section->is_null()) return nlohmann::json::object();
  return *section;
}

constexpr const char* kConfigRefused = "configuration refused: ";

PluginCallObserver* g_call_observer = nullptr;

/// Tells the observer, if any, that plugin code runs for the scope's lifetime.
class ObservedCall {
 public:
  ObservedCall(std::string_view plugin, std::string_view activity) noexcept {
    if (g_call_observer != nullptr) g_call_observer->entering(plugin, activity);
  }
  ~ObservedCall() {
    if (g_call_observer != nullptr) g_call_observer->left();
  }
  ObservedCall(const ObservedCall&) = delete;
  ObservedCall& operator=(const ObservedCall&) = delete;
};

/// True when a detector's error message is the SDK's rendering of std::bad_alloc (or of its
/// array form): the allocation was refused, most likely by the worker's address-space backstop.
bool reports_allocation_failure(const std::string& message) {
  return message.find("bad_alloc") != std::string::npos ||
         message.find("bad_array_new_length") != std::string::npos;
}

/// The host configuration less the plugin sections: a plugin whose own section and this are
/// unchanged keeps its instance on reload, whatever happened to other plugins' sections.
std::string host_identity(const nlohmann::json& host_config) {
  auto copy = host_config;
  if (copy.is_object() && copy.contains("plugins") && copy["plugins"].is_object()) {
    copy["plugins"].erase("config");
  }
  return copy.dump();
}

}  // namespace

namespace detail {

/// One loaded plugin: its library and the one instance made from it.
struct Loaded {
  // Declared first so that it is destroyed last: the instance's code lives in the library.
  boost::dll::shared_library library;
  abi_check::Descriptor descriptor;  ///< as this host read it
  void* instance = nullptr;
  std::string name;
  std::string file;
  FileIdentity identity;
  std::string section_text;   ///< the section the instance was created with
  std::string host_identity;  ///< host_identity() of the configuration it was created with
  // Its place in an EventSchedule (PluginHost::check_all): a reload that replaces the instance
  // starts these afresh with it.
  std::uint64_t schedule_owner = 0;  ///< whose accepted events seen_events counts (0: none)
  std::uint64_t seen_events = 0;     ///< the newest accepted event it was shown
  bool has_horizon = false;          ///< its verdict holds through horizon_until
  std::uint64_t horizon_until = 0;   ///< the last accepted event its horizon covers
  std::uint64_t horizon_unless = 0;  ///< its horizon's conditions (QSC_UNLESS_* bits)
  qsc::CheckResult::HorizonClock horizon_clock;  ///< its horizon's clock (ABI 2.3)
  // The telemetry it was shown at its call, for the ABI 2.3 conditions on the telemetry.
  std::uint64_t shown_events_lost = 0;
  std::uint64_t shown_rejected = 0;

  Loaded() = default;
  Loaded(const Loaded&) = delete;
  Loaded& operator=(const Loaded&) = delete;
  ~Loaded() {
    if (instance != nullptr) descriptor.table.destroy(instance);
  }
};

/// The detectors' horizons, as within_horizon reads them, folded over every detector under one
/// schedule owner: skips_every_detector's answer at an event is then a few comparisons instead
/// of within_horizon's eleven (within_horizon and skips_every_detector were 4-5% of replay's
/// samples on main d1cbb30, for eleven detectors at each of the 8 in 9 events that call none).
/// Each fold keeps the test exact: `accepted <= until` for all is `accepted <= min(until)`; a
/// condition event newer than some detector's seen_events is one newer than their minimum; the
/// telemetry differs from some detector's shown count unless all were shown one count and it is
/// that one. The horizons' clocks are floating-point expressions and are kept as they are, one
/// per detector that has one (evaluated as within_horizon evaluates them).
struct HorizonSummary {
  bool valid = false;       ///< false: rebuilt at the next use (a check wrote a horizon)
  std::uint64_t owner = 0;  ///< the schedule owner it was folded for
  /// Every detector is this owner's and has a horizon (else some detector is always called).
  bool every_one = false;
  std::uint64_t until = 0;   ///< the smallest horizon_until
  std::uint64_t unless = 0;  ///< the union of the horizons' conditions
  /// Per event condition (bit i), the smallest seen_events of the detectors naming it.
  std::array<std::uint64_t, kHorizonConditions> seen{};
  /// Over the detectors naming QSC_UNLESS_EVENTS_LOST (_REJECTED_ENTRY): whether all were shown
  /// one count, and that count.
  bool one_events_lost = true;
  std::uint64_t events_lost = 0;
  bool one_rejected = true;
  std::uint64_t rejected = 0;
  /// The horizons' clocks that are set, copied: read at every event, they were a cache miss
  /// each in the detectors' objects.
  std::vector<qsc::CheckResult::HorizonClock> clocks;
  /// The results vector it was folded with (its storage and size), and whether it held each
  /// detector's result in order, none acting. Only a check writes results (and then the fold
  /// is rebuilt), so the results are not compared again at every event.
  const NamedCheck* results = nullptr;
  std::size_t result_count = 0;
  bool results_match = false;
  /// oldest_event_needed()'s fold, for `oldest_owner`: the smallest seen_events + 1 of its
  /// detectors (max when none). Asked at every evaluation, it changes only at a check.
  bool oldest_valid = false;
  std::uint64_t oldest_owner = 0;
  std::uint64_t oldest = 0;
  /// A check wrote owners, seen events or horizons: both folds are rebuilt at their next use.
  void invalidate() noexcept { valid = oldest_valid = false; }
};

/// Everything a PluginHost holds; replaced as a whole by reload.
struct PluginHostState {
  fs::path dir;
  /// False for PluginHost::describe: descriptors are read, no plugin is created.
  bool create_instances = true;
  /// Whether each library is digested before it is loaded (PluginRecord::sha256).
  LibraryDigests digests = LibraryDigests::kCompute;
  nlohmann::json host_config;
  std::string host_text;
  std::vector<PluginRecord> records;            ///< file name order
  std::vector<std::unique_ptr<Loaded>> loaded;  ///< plugin name order
  /// The detectors of `loaded`, in its order: the schedule's loops over every detector at every
  /// event (skips_every_detector, oldest_event_needed) read no action's object and no kind.
  std::vector<Loaded*> detectors;
  /// What skips_every_detector reads of the detectors' horizons, folded over all of them
  /// (HorizonSummary), for one owner; rebuilt at its first use after a check wrote a horizon.
  HorizonSummary horizons;
  std::vector<std::string> startup_errors;
  RefusedFiles refused;  ///< files never to be loaded here (a probe child crashed on them)
  /// The C input of the last check, written over at each (its arrays keep their storage).
  AbiCheckInput check_input;
  /// An EventSchedule's detectors to call and to skip: (index in loaded, index in the results),
  /// kept for their storage.
  std::vector<std::pair<std::size_t, std::size_t>> scheduled_calls;
  std::vector<std::pair<std::size_t, std::size_t>> scheduled_skips;

  bool is_detector(const Loaded& p) const { return p.descriptor.table.kind == QSC_KIND_DETECTOR; }
  const Loaded* find(const std::string& name) const {
    for (const auto& p : loaded) {
      if (p->name == name) return p.get();
    }
    return nullptr;
  }
};

}  // namespace detail

namespace {

using detail::Loaded;
using State = detail::PluginHostState;

PluginRecord rejected(PluginRecord record, std::string reason) {
  record.status = "rejected";
  record.reason = std::move(reason);
  record.effective_config = nullptr;
  spdlog::warn("plugin {} rejected: {}", record.file, record.reason);
  return record;
}

PluginRecord load_file(const fs::path& file, const OpenFile& opened, const FileIdentity& identity,
                       const nlohmann::json& host_config, const std::string& host_text,
                       const std::map<std::string, std::string>& names_taken, bool create_instances,
                       LibraryDigests digests, std::unique_ptr<Loaded>& out) {
  PluginRecord record;
  record.file = file.string();
  record.name = file.stem().string();
  if (!plugin_file::has_elf_header(opened)) {
    return rejected(record, "not a shared library: no ELF header");
  }
  // Digested before the load, through the same descriptor: the code that is loaded.
  if (digests == LibraryDigests::kCompute) {
    auto digest = plugin_file::content_sha256(opened);
    if (!digest) return rejected(record, digest.error().message);
    record.sha256 = std::move(digest).value();
  }

  auto loaded = std::make_unique<Loaded>();
  loaded->file = record.file;
  loaded->identity = identity;
  boost::dll::fs::error_code ec;
  // rtld_now: an unresolved symbol is a refusal now, not a crash at the first call.
  // rtld_local: a plugin's symbols never interpose on the host's or another plugin's.
  ::dlerror();
  // Through the descriptor that was checked: the path may name another file by now.
  OpenFile alias;
  auto name = plugin_file::load_name(opened, identity, alias);
  if (!name) return rejected(record, "cannot be loaded: " + name.error().message);
  const std::string& proc_path = name.value();
  loaded->library.load(proc_path,
                       boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
  if (ec || !loaded->library.is_loaded()) {
    const char* why = ::dlerror();  // Boost.DLL leaves dlopen's own reason in place on failure
    std::string reason = why ? why : ec.message();
    // dlopen names the file it was given: name the plugin's own path instead.
    if (reason.rfind(proc_path, 0) == 0) reason.replace(0, proc_path.size(), file.string());
    return rejected(record, "cannot be loaded: " + reason);
  }
  if (!loaded->library.has("qsc_plugin_abi")) {
    return rejected(record,
                    "missing symbol qsc_plugin_abi: not a QSC plugin (export it with "
                    "QSC_DETECTOR_PLUGIN or QSC_ACTION_PLUGIN, or see qsc/plugin_abi.h)");
  }
  const auto& abi = loaded->library.get<const struct qsc_plugin_abi>("qsc_plugin_abi");
  record.abi_major = abi.major;
  record.abi_minor = abi.minor;
  if (auto problem = abi_check::abi_problem(abi); !problem.empty()) {
    return rejected(record, problem);
  }
  if (!loaded->library.has("qsc_plugin_descriptor")) {
    return rejected(record,
                    "missing symbol qsc_plugin_descriptor (export it with "
                    "QSC_DETECTOR_PLUGIN or QSC_ACTION_PLUGIN, or see qsc/plugin_abi.h)");
  }
  const auto& symbol = loaded->library.get<const unsigned char>("qsc_plugin_descriptor");
  // The loader must have mapped the very file that was checked: never judge with another
  // library's code under this file's name (see names_handed_to_dlopen).
  if (!plugin_file::loaded_from(&symbol, proc_path, identity)) {
    return rejected(record,
                    "cannot be loaded: the dynamic loader returned another library for this file; "
                    "restart qsc");
  }
  auto& d = loaded->descriptor;
  if (auto problem = abi_check::read_descriptor(&symbol, abi, d); !problem.empty()) {
    return rejected(record, problem);
  }
  record.name = d.name;
  record.kind = d.kind;
  record.version = d.version;
  record.description = d.description;
  record.flags = d.flags;
  if (d.table.kind == QSC_KIND_DETECTOR) {
    record.scope = std::string(qsc::detector_scope_name(d.scope));
  }
  if (auto taken = names_taken.find(record.name); taken != names_taken.end()) {
    return rejected(record, "duplicate plugin name \"" + record.name + "\": already loaded from " +
                                taken->second);
  }
  if (!d.config_schema.empty()) {
    auto schema = config_schema::parse(d.config_schema);
    if (!schema) return rejected(record, schema.error().message);
    record.config_schema = std::move(schema).value();
  }

  if (!create_instances) {
    record.status = "described";
    record.effective_config = nullptr;
    return record;  // the library is unloaded with `loaded`
  }
  loaded->name = record.name;
  loaded->host_identity = host_identity(host_config);
  loaded->section_text = section_for(host_config, record.name).dump();
  std::string error;
  loaded->instance = plugin_calls::create(d.table, loaded->section_text, host_text, &error);
  if (loaded->instance == nullptr) {
    return rejected(record,
                    std::string(kConfigRefused) + (error.empty() ? "no reason given" : error));
  }
  const std::string effective = plugin_calls::effective_config(d.table, loaded->instance);
  record.effective_config = qsc::json_too_deep_at(effective)
                                ? nlohmann::json(nullptr)
                                : nlohmann::json::parse(effective, nullptr, false);
  if (record.effective_config.is_discarded() || !record.effective_config.is_object()) {
    record.effective_config = {{"error",
                                "the plugin's effective configuration is not a JSON "
                                "object"}};
  }
  record.status = "loaded";
  spdlog::debug("plugin {} {} {} loaded from {}", record.kind, record.name, record.version,
                record.file);
  out = std::move(loaded);
  return record;
}

/// Fills startup_errors from the records and the configured sections.
void collect_startup_errors(State& s, const std::string& dir_problem) {
  s.startup_errors.clear();
  if (!dir_problem.empty()) s.startup_errors.push_back(dir_problem);
  std::set<std::string> names;
  for (const auto& r : s.records) {
    names.insert(r.name);
    if (r.reason.rfind(kConfigRefused, 0) == 0) {
      s.startup_errors.push_back("plugin " + r.name + ": " + r.reason);
    }
  }
  const auto plugins = s.host_config.find("plugins");
  if (plugins == s.host_config.end() || !plugins->is_object()) return;
  const auto config = plugins->find("config");
  if (config == plugins->end() || !config->is_object()) return;
  for (const auto& [name, section] : config->items()) {
    if (!names.contains(name)) {
      s.startup_errors.push_back("plugins.config." + name + ": no plugin named \"" + name +
                                 "\" in " + s.dir.string() + " (a misspelt section would " +
                                 "silently keep the defaults)");
    }
  }
}

/// Builds `next` from the directory, keeping `previous`'s instances whose file and configuration
/// did not change. Plugins that will not be kept are unloaded before anything new is loaded, so
/// a library rewritten under the same name is never confused with its old copy.
void build(State& next, const std::vector<fs::path>& files,
           std::vector<std::unique_ptr<Loaded>> previous,
           const std::vector<PluginRecord>& previous_records, PluginHost::ReloadReport* report) {
  const std::string dir_problem = plugin_file::directory_problem(next.dir);
  std::map<std::string, std::string> previous_names;  // name -> file, of loaded plugins
  for (const auto& p : previous) previous_names.emplace(p->name, p->file);

  struct Candidate {
    fs::path file;
    OpenFile opened;  ///< held until the library is loaded
    struct stat st {};
    std::string problem;
  };
  std::vector<Candidate> candidates;
  for (const auto& file : files) {
    Candidate c;
    c.file = file;
    c.problem =
        dir_problem.empty() ? plugin_file::open_plugin_file(file, c.opened, c.st) : dir_problem;
    if (const auto refused = next.refused.find(file.string());
        c.problem.empty() && refused != next.refused.end()) {
      c.problem = refused->second;
    }
    candidates.push_back(std::move(c));
  }

  // Keep the instances whose file, section and host configuration are unchanged.
  std::map<std::string, std::unique_ptr<Loaded>> keep;  // file -> loaded
  for (auto& p : previous) {
    for (const auto& c : candidates) {
      if (c.file.string() == p->file && c.problem.empty() && identity_of(c.st) == p->identity &&
          p->host_identity == host_identity(next.host_config) &&
          p->section_text == section_for(next.host_config, p->name).dump()) {
        keep.emplace(p->file, std::move(p));
        break;
      }
    }
  }
  previous.clear();  // destroys the instances not kept, then unloads their libraries

  std::map<std::string, std::string> names_taken;  // name -> file
  std::set<std::string> kept_names;
  for (const auto& c : candidates) {
    PluginRecord record;
    std::unique_ptr<Loaded> loaded;
    if (!c.problem.empty()) {
      PluginRecord base;
      base.file = c.file.string();
      base.name = c.file.stem().string();
      record = rejected(std::move(base), c.problem);
    } else if (auto it = keep.find(c.file.string()); it != keep.end()) {
      loaded = std::move(it->second);
      for (const auto& r : previous_records) {
        if (r.file == loaded->file) record = r;
      }
      if (names_taken.contains(loaded->name)) {
        record =
            rejected(std::move(record), "duplicate plugin name \"" + loaded->name +
                                            "\": already loaded from " + names_taken[loaded->name]);
        loaded.reset();
      } else {
        kept_names.insert(loaded->name);
      }
    } else {
      ObservedCall call(c.file.filename().string(), "load");
      record = load_file(c.file, c.opened, identity_of(c.st), next.host_config, next.host_text,
                         names_taken, next.create_instances, next.digests, loaded);
    }
    if (loaded) {
      names_taken.emplace(loaded->name, loaded->file);
      next.loaded.push_back(std::move(loaded));
    }
    next.records.push_back(std::move(record));
  }
  std::sort(next.loaded.begin(), next.loaded.end(),
            [](const auto& a, const auto& b) { return a->name < b->name; });
  for (const auto& p : next.loaded) {
    if (next.is_detector(*p)) next.detectors.push_back(p.get());
  }
  // fold_horizons (noexcept, through skips_every_detector) never allocates.
  next.horizons.clocks.reserve(next.detectors.size());
  collect_startup_errors(next, dir_problem);

  if (report == nullptr) return;
  *report = {};
  for (const auto& p : next.loaded) {
    if (kept_names.contains(p->name)) continue;
    (previous_names.contains(p->name) ? report->replaced : report->added).push_back(p->name);
  }
  for (const auto& [name, file] : previous_names) {
    if (!names_taken.contains(name)) report->removed.push_back(name);
  }
  for (const auto& r : next.records) {
    if (!r.loaded()) report->rejected.push_back(r.file + ": " + r.reason);
  }
}

}  // namespace

PluginCallObserver* set_plugin_call_observer(PluginCallObserver* observer) noexcept {
  return std::exchange(g_call_observer, observer);
}

PluginHost::PluginHost(std::unique_ptr<State> state) : state_(std::move(state)) {}
PluginHost::PluginHost(PluginHost&&) noexcept = default;
PluginHost& PluginHost::operator=(PluginHost&&) noexcept = default;
PluginHost::~PluginHost() = default;

Result<PluginHost> PluginHost::open(const Config& config, RefusedFiles refused,
                                    LibraryDigests digests) {
  return open(resolve_plugin_dir(config), config.to_json(), std::move(refused), digests);
}

Result<PluginHost> PluginHost::describe(const Config& config) {
  auto files = plugin_file::list_libraries(resolve_plugin_dir(config));
  if (!files) return files.error();
  auto state = std::make_unique<State>();
  state->create_instances = false;
  state->digests = LibraryDigests::kSkip;  // qsc config reads descriptors, never digests
  state->dir = resolve_plugin_dir(config);
  state->host_config = config.to_json();
  state->host_text = state->host_config.dump();
  build(*state, files.value(), {}, {}, nullptr);
  return PluginHost(std::move(state));
}

Result<PluginHost> PluginHost::open(std::filesystem::path dir, nlohmann::json host_config,
                                    RefusedFiles refused, LibraryDigests digests) {
  auto files = plugin_file::list_libraries(dir);
  if (!files) return files.error();
  auto state = std::make_unique<State>();
  state->refused = std::move(refused);
  state->digests = digests;
  state->dir = std::move(dir);
  state->host_text = host_config.dump();
  state->host_config = std::move(host_config);
  build(*state, files.value(), {}, {}, nullptr);
  return PluginHost(std::move(state));
}

const std::filesystem::path& PluginHost::dir() const noexcept {
  return state_->dir;
}

const std::vector<PluginRecord>& PluginHost::records() const noexcept {
  return state_->records;
}

Status PluginHost::startup_status() const {
  if (state_->startup_errors.empty()) return ok_status();
  std::string message;
  for (const auto& e : state_->startup_errors) message += (message.empty() ? "" : "; ") + e;
  return Error{message};
}

namespace {

/// Runs one detector into `c` (kept between checks); fails closed on an error or an unknown
/// verdict.
void run_check(const detail::Loaded& p, const qsc_check_input& input, NamedCheck& c) {
  qsc::assign_changed(c.detector, p.name);
  {
    ObservedCall call(p.name, "check");
    plugin_calls::check(p.descriptor.table, p.instance, input, c.result);
    if (c.result.verdict == qsc::Verdict::kError && g_call_observer != nullptr &&
        reports_allocation_failure(c.result.message)) {
      g_call_observer->allocation_refused(p.name, "check", c.result.message);
    }
  }
  if (c.result.verdict == qsc::Verdict::kError) {
    if (c.result.message.empty()) c.result.message = "reported an error without a message";
    c.result.message = p.name + ": " + c.result.message;
    spdlog::error("detector {} failed, counted as a violation: {}", p.name, c.result.message);
  }
}

}  // namespace

void PluginHost::check_all(const qsc::CheckInput& input, std::vector<NamedCheck>& out) {
  check_detectors(input, std::nullopt, out);
}

std::vector<NamedCheck> PluginHost::check_all(const qsc::CheckInput& input) {
  std::vector<NamedCheck> out;
  check_all(input, out);
  return out;
}

std::vector<NamedCheck> PluginHost::check_scope(const qsc::CheckInput& input,
                                                qsc::DetectorScope scope) {
  std::vector<NamedCheck> out;
  check_detectors(input, scope, out);
  return out;
}

void PluginHost::check_detectors(const qsc::CheckInput& input,
                                 std::optional<qsc::DetectorScope> scope,
                                 std::vector<NamedCheck>& out) {
  const qsc_check_input* c_input = state_->check_input.write(input);
  state_->horizons.invalidate();  // horizons are dropped below
  std::size_t n = 0;
  for (const auto& p : state_->loaded) {
    if (!state_->is_detector(*p) || (scope && p->descriptor.scope != *scope)) continue;
    if (n == out.size()) out.emplace_back();
    run_check(*p, *c_input, out[n++]);
    // Its horizon was promised for the live canary's evaluations; this call judged another
    // input (the gate, a scoreboard row), so the next scheduled evaluation calls it again.
    p->has_horizon = false;
  }
  out.resize(n);
}

namespace {

// True when a horizon's clock `c` (ABI 2.3) would be past at an evaluation with event time at
// `newest_event_ms` after `silence_s` without events, or `watches_clock` is false (the caller
// does not say where event time stands): the same expressions, in the same order, as the bound
// promised (qsc_check_sink::set_horizon_clock), so that rounding cannot pass where the promise
// would not.
bool horizon_clock_past(const qsc::CheckResult::HorizonClock& c, bool watches_clock,
                        std::uint64_t newest_event_ms, double silence_s) {
  if (!c.set) return false;
  if (!watches_clock || newest_event_ms < c.since_event_ms) return true;
  const double t = silence_s;
  // NaN and +inf fail the comparisons: called.
  if (!(t <= c.max_silence_s)) return true;
  const double since_s =
      static_cast<double>(newest_event_ms - c.since_event_ms) / 1000.0 + std::max(t, 0.0);
  return !(since_s <= c.max_since_s);
}

// True when `p`'s horizon names a condition (ABI 2.2) that an event it has not seen brought, or
// (ABI 2.3) that the telemetry shows since its call, or that the caller does not watch for: it
// is called, whatever its horizon's length.
bool horizon_condition_met(const detail::Loaded& p, const qsc::TelemetryHealth& t,
                           bool watches_conditions,
                           const std::array<std::uint64_t, kHorizonConditions>& condition_events) {
  if (p.horizon_unless == 0) return false;
  if (!watches_conditions) return true;
  for (std::size_t i = 0; i < kHorizonConditions; ++i) {
    if ((p.horizon_unless >> i & 1u) != 0 && condition_events[i] > p.seen_events) {
      return true;
    }
  }
  return ((p.horizon_unless & QSC_UNLESS_EVENTS_LOST) != 0 &&
          t.events_lost != p.shown_events_lost) ||
         ((p.horizon_unless & QSC_UNLESS_REJECTED_ENTRY) != 0 && t.rejected != p.shown_rejected) ||
         ((p.horizon_unless & QSC_UNLESS_SOURCE_DOWN) != 0 && !t.source_ok);
}

// check_all's test: the `n`-th detector `p` is skipped within its horizon at an evaluation
// given `telemetry` (only a result still in its place in `out` is kept: a reload may have moved
// the others). A detector new to the schedule's owner never is. Every detector's name is
// compared at every event on arrival (skips_every_detector): inline, not a memcmp call each.
bool within_horizon(const detail::Loaded& p, std::size_t n, const qsc::TelemetryHealth& telemetry,
                    const EventSchedule& schedule, const std::vector<NamedCheck>& out) {
  return schedule.honour_horizons && p.schedule_owner == schedule.owner && p.has_horizon &&
         schedule.accepted_events <= p.horizon_until &&
         !horizon_condition_met(p, telemetry, schedule.watches_conditions,
                                schedule.condition_events) &&
         !horizon_clock_past(p.horizon_clock, schedule.watches_clock, schedule.newest_event_ms,
                             telemetry.seconds_since_last_event) &&
         n < out.size() && qsc::same_text(out[n].detector, p.name) && !out[n].acts();
}

// Folds `detectors`' horizons under `owner` into `h` (HorizonSummary).
void fold_horizons(const std::vector<Loaded*>& detectors, std::uint64_t owner,
                   const std::vector<NamedCheck>& out, detail::HorizonSummary& h) {
  h.valid = true;
  h.owner = owner;
  h.results = out.data();
  h.result_count = out.size();
  h.results_match = out.size() == detectors.size();
  for (std::size_t n = 0; h.results_match && n < detectors.size(); ++n) {
    h.results_match = qsc::same_text(out[n].detector, detectors[n]->name) && !out[n].acts();
  }
  h.every_one = true;
  h.until = std::numeric_limits<std::uint64_t>::max();
  h.unless = 0;
  h.seen.fill(std::numeric_limits<std::uint64_t>::max());
  h.one_events_lost = h.one_rejected = true;
  bool any_events_lost = false;
  bool any_rejected = false;
  h.clocks.clear();
  for (const Loaded* p : detectors) {
    if (p->schedule_owner != owner || !p->has_horizon) {
      h.every_one = false;
      return;
    }
    h.until = std::min(h.until, p->horizon_until);
    h.unless |= p->horizon_unless;
    for (std::size_t i = 0; i < kHorizonConditions; ++i) {
      if ((p->horizon_unless >> i & 1u) != 0) h.seen[i] = std::min(h.seen[i], p->seen_events);
    }
    if ((p->horizon_unless & QSC_UNLESS_EVENTS_LOST) != 0) {
      if (any_events_lost && p->shown_events_lost != h.events_lost) h.one_events_lost = false;
      h.events_lost = p->shown_events_lost;
      any_events_lost = true;
    }
    if ((p->horizon_unless & QSC_UNLESS_REJECTED_ENTRY) != 0) {
      if (any_rejected && p->shown_rejected != h.rejected) h.one_rejected = false;
      h.rejected = p->shown_rejected;
      any_rejected = true;
    }
    if (p->horizon_clock.set) h.clocks.push_back(p->horizon_clock);
  }
}

}  // namespace

std::size_t PluginHost::check_all(const qsc::CheckInput& input, const EventSchedule& schedule,
                                  std::vector<NamedCheck>& out) {
  auto& call = state_->scheduled_calls;
  auto& skip = state_->scheduled_skips;
  call.clear();
  skip.clear();
  state_->horizons.invalidate();  // owners, seen events and horizons are written below
  std::size_t n = 0;
  for (std::size_t i = 0; i < state_->loaded.size(); ++i) {
    auto& p = *state_->loaded[i];
    if (!state_->is_detector(p)) continue;
    if (p.schedule_owner != schedule.owner) {
      // New to this owner (loaded since its previous evaluation, or another step's): shown the
      // events since that evaluation, as every detector was before horizons.
      p.schedule_owner = schedule.owner;
      p.seen_events = schedule.previous_events;
      p.has_horizon = false;
    }
    (within_horizon(p, n, input.telemetry, schedule, out) ? skip : call).emplace_back(i, n);
    ++n;
  }
  out.resize(n);
  call_scheduled(input, schedule, call, out);
  if (skip.empty()) return 0;
  for (const auto& [i, at] : call) {
    if (out[at].acts()) {
      // This evaluation acts: what it reports (a rollback's record) lists every detector's
      // result of now, not a skipped one's of up to kMaxHorizonEvents ago.
      call_scheduled(input, schedule, skip, out);
      return 0;
    }
  }
  return skip.size();
}

bool PluginHost::skips_every_detector(const qsc::TelemetryHealth& telemetry,
                                      const EventSchedule& schedule,
                                      const std::vector<NamedCheck>& out) const noexcept {
  const auto& detectors = state_->detectors;
  // check_all would drop results of detectors no longer loaded
  if (!schedule.honour_horizons || detectors.size() != out.size()) return false;
  detail::HorizonSummary& h = state_->horizons;
  if (!h.valid || h.owner != schedule.owner || h.results != out.data() ||
      h.result_count != out.size()) {
    fold_horizons(detectors, schedule.owner, out, h);
  }
  // within_horizon's tests for every detector at once, in its order.
  if (!h.every_one || !h.results_match || schedule.accepted_events > h.until) return false;
  if (h.unless != 0) {
    if (!schedule.watches_conditions) return false;
    for (std::size_t i = 0; i < kHorizonConditions; ++i) {
      if ((h.unless >> i & 1u) != 0 && schedule.condition_events[i] > h.seen[i]) return false;
    }
    if ((h.unless & QSC_UNLESS_EVENTS_LOST) != 0 &&
        (!h.one_events_lost || telemetry.events_lost != h.events_lost)) {
      return false;
    }
    if ((h.unless & QSC_UNLESS_REJECTED_ENTRY) != 0 &&
        (!h.one_rejected || telemetry.rejected != h.rejected)) {
      return false;
    }
    if ((h.unless & QSC_UNLESS_SOURCE_DOWN) != 0 && !telemetry.source_ok) return false;
  }
  for (const auto& clock : h.clocks) {
    if (horizon_clock_past(clock, schedule.watches_clock, schedule.newest_event_ms,
                           telemetry.seconds_since_last_event)) {
      return false;
    }
  }
  return true;
}

void PluginHost::call_scheduled(const qsc::CheckInput& input, const EventSchedule& schedule,
                                const std::vector<std::pair<std::size_t, std::size_t>>& call,
                                std::vector<NamedCheck>& out) {
  if (call.empty()) return;
  const std::uint64_t accepted = schedule.accepted_events;
  const std::uint64_t held = std::min<std::uint64_t>(input.new_events.size(), accepted);
  const std::uint64_t oldest_held = accepted - held;  // the events after it are in new_events
  std::uint64_t first = accepted;
  for (const auto& [i, at] : call) {
    first = std::min(first, std::clamp(state_->loaded[i]->seen_events, oldest_held, accepted));
  }
  // One C input for every detector called, holding the events the one furthest behind has not
  // seen; each is handed the tail of it that it has not seen.
  qsc::CheckInput shown = input;
  shown.new_events = input.new_events.subspan(input.new_events.size() - (accepted - first));
  const qsc_check_input* c_input = state_->check_input.write_held(
      shown, {schedule.owner, schedule.storage_generation, accepted});
  for (const auto& [i, at] : call) {
    auto& p = *state_->loaded[i];
    if (p.seen_events < oldest_held) {
      // The caller no longer holds events this detector was never shown (it must hold them back
      // to oldest_event_needed()): a detector that folds every event would judge without them,
      // so it is not called and fails closed.
      auto& c = out[at];
      qsc::assign_changed(c.detector, p.name);
      c.result.verdict = qsc::Verdict::kError;
      c.result.message = p.name + ": " + std::to_string(oldest_held - p.seen_events) +
                         " accepted events it was never shown are no longer held (an "
                         "evaluation step that released them early: a bug of the agent)";
      c.result.figures.clear();
      c.result.clear_horizon();
      spdlog::error("detector {} failed, counted as a violation: {}", p.name, c.result.message);
      p.seen_events = accepted;
      p.has_horizon = false;
      continue;
    }
    const std::uint64_t seen = std::clamp(p.seen_events, first, accepted);
    qsc_check_input own = *c_input;
    if (seen > first) {
      own.new_events += seen - first;
      own.new_event_count -= static_cast<std::size_t>(seen - first);
    }
    run_check(p, own, out[at]);
    p.seen_events = accepted;
    const auto& r = out[at].result;
    // A violation or an error is acted on at once and must be judged again at the next event;
    // a pass or an insufficient verdict may be kept while it provably cannot change.
    // A condition this host does not know cannot be watched for: no horizon.
    p.has_horizon =
        r.horizon_events > 0 &&
        (r.verdict == qsc::Verdict::kPass || r.verdict == qsc::Verdict::kInsufficient) &&
        (r.horizon_unless & ~QSC_UNLESS_KNOWN) == 0;
    p.horizon_unless = r.horizon_unless;
    p.horizon_clock = r.horizon_clock;
    p.shown_events_lost = input.telemetry.events_lost;
    p.shown_rejected = input.telemetry.rejected;
    p.horizon_until = accepted + std::min(r.horizon_events, kMaxHorizonEvents);
  }
}

std::uint64_t new_schedule_owner() noexcept {
  static std::atomic<std::uint64_t> last{0};
  return ++last;
}

std::uint64_t PluginHost::events_within_horizons(
    std::uint64_t owner, std::uint64_t accepted, std::uint64_t prompt_conditions,
    const std::array<std::uint64_t, kHorizonConditions>& condition_events,
    const qsc::TelemetryHealth& telemetry, std::uint64_t latest_event_ms,
    double max_silence_s) const noexcept {
  std::uint64_t events = kMaxHorizonEvents;
  for (const auto& p : state_->loaded) {
    if (!state_->is_detector(*p)) continue;
    // The tests of check_all's `within`, for every event up to the wake: the horizon covers
    // it, no condition is met now, those that may come are read at once, and the clock holds
    // for the newest stamp such an event can carry.
    if (p->schedule_owner != owner || !p->has_horizon || p->horizon_until <= accepted ||
        (p->horizon_unless & ~prompt_conditions) != 0 ||
        horizon_condition_met(*p, telemetry, /*watches_conditions=*/true, condition_events) ||
        horizon_clock_past(p->horizon_clock, /*watches_clock=*/true, latest_event_ms,
                           max_silence_s)) {
      return 0;
    }
    events = std::min(events, p->horizon_until - accepted);
  }
  return events;
}

std::uint64_t PluginHost::oldest_event_needed(std::uint64_t owner,
                                              std::uint64_t next) const noexcept {
  detail::HorizonSummary& h = state_->horizons;
  if (!h.oldest_valid || h.oldest_owner != owner) {
    h.oldest = std::numeric_limits<std::uint64_t>::max();
    for (const Loaded* p : state_->detectors) {
      if (p->schedule_owner == owner) h.oldest = std::min(h.oldest, p->seen_events + 1);
    }
    h.oldest_owner = owner;
    h.oldest_valid = true;
  }
  return std::min(next, h.oldest);
}

qsc::ActionOutcome PluginHost::run_action(const std::string& name, const qsc::Incident& incident) {
  qsc::ActionOutcome outcome;
  outcome.action = name;
  const Loaded* p = state_->find(name);
  if (p == nullptr || p->descriptor.table.kind != QSC_KIND_ACTION) {
    std::string why = "no such plugin in " + dir().string();
    for (const auto& r : state_->records) {
      if (r.name == name) why = r.loaded() ? "it is a " + r.kind : "rejected: " + r.reason;
    }
    outcome.detail = "action \"" + name + "\" is not loaded (" + why + ")";
    spdlog::error("action {} failed for canary {} (trigger {}): {}", name, incident.canary_model,
                  incident.trigger, outcome.detail);
    return outcome;
  }
  const AbiIncident c_incident(incident);
  const auto start = std::chrono::steady_clock::now();
  {
    ObservedCall call(name, "action");
    outcome = plugin_calls::execute(p->descriptor.table, p->instance, *c_incident.get());
  }
  outcome.duration_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  outcome.action = name;
  if (!outcome.ok) {
    spdlog::error("action {} failed for canary {} (trigger {}): {}", name, incident.canary_model,
                  incident.trigger, outcome.detail);
  }
  return outcome;
}

std::vector<qsc::ActionOutcome> PluginHost::run_actions(const std::vector<std::string>& order,
                                                        qsc::Incident incident) {
  std::vector<qsc::ActionOutcome> outcomes;
  for (const auto& name : order) {
    outcomes.push_back(run_action(name, incident));
    incident.earlier.push_back(outcomes.back());
  }
  return outcomes;
}

Status PluginHost::reload(ReloadReport* report) {
  auto files = plugin_file::list_libraries(state_->dir);
  if (!files) return files.error();
  if (auto problem = plugin_file::directory_problem(state_->dir); !problem.empty()) {
    // The libraries in memory were verified when they were loaded; an unsafe directory must not
    // replace them (nor leave the monitor without detectors).
    return Error{problem + " (plugins not reloaded)"};
  }
  auto next = std::make_unique<State>();
  next->dir = state_->dir;
  next->host_config = state_->host_config;
  next->host_text = state_->host_text;
  next->refused = state_->refused;
  next->digests = state_->digests;
  auto previous = std::move(state_);
  build(*next, files.value(), std::move(previous->loaded), previous->records, report);
  state_ = std::move(next);
  return ok_status();
}

Status PluginHost::reload(const Config& config, ReloadReport* report) {
  auto json = config.to_json();
  const auto dir = resolve_plugin_dir(config);
  if (dir != state_->dir) {
    auto files = plugin_file::list_libraries(dir);
    if (!files) return files.error();
  }
  auto old_dir = state_->dir;
  auto old_config = state_->host_config;
  auto old_text = state_->host_text;
  state_->dir = dir;
  state_->host_text = json.dump();
  state_->host_config = std::move(json);
  auto status = reload(report);
  if (!status) {
    state_->dir = std::move(old_dir);
    state_->host_config = std::move(old_config);
    state_->host_text = std::move(old_text);
  }
  return status;
}

bool PluginHost::has(const std::string& name) const noexcept {
  return state_->find(name) != nullptr;
}

std::optional<std::uint64_t> PluginHost::flags_of(const std::string& name) const noexcept {
  const Loaded* p = state_->find(name);
  if (p == nullptr) return std::nullopt;
  return p->descriptor.flags;
}

std::vector<std::string> PluginHost::detector_names() const {
  std::vector<std::string> names;
  for (const auto& p : state_->loaded) {
    if (state_->is_detector(*p)) names.push_back(p->name);
  }
  return names;
}

}  // namespace qsc::agent

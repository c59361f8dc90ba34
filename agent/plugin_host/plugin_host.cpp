// The plugin host. Every check a library must pass happens before anything of it is called, in
// the order that keeps the host safe: file permissions (nobody else may have planted or changed
// it, nor the directories above it), ELF header (a garbage file never reaches dlopen), the ABI
// block (layout compatibility), then the descriptor. The file is opened once, without following
// a symlink, and every check and the load itself go through that descriptor, so nothing can be
// swapped in between. A refusal is a record with a one-line reason, never an exception.
#include "plugin_host/plugin_host.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/dll/shared_library.hpp>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <map>
#include <set>
#include <utility>

#include "qsc/file_trust.hpp"
#include "qsc/json_limits.hpp"
#include "qsc/plugin.hpp"

namespace qsc::agent {
namespace {

namespace fs = std::filesystem;

/// sizeof(PluginDescriptor) at each minor version of the current major: a plugin must provide
/// at least the entries of the minor it declares.
/// 1.1 appended `scope`.
constexpr std::array<std::size_t, 2> kDescriptorSizeByMinor = {
    offsetof(qsc::PluginDescriptor, scope), sizeof(qsc::PluginDescriptor)};
static_assert(kDescriptorSizeByMinor.size() == qsc::kAbiMinor + 1,
              "add the descriptor size of every new minor version");

constexpr std::size_t kMaxNameLength = 64;
constexpr std::size_t kMaxTextLength = 1024;

/// What identifies a file's content well enough to know it changed since it was loaded.
struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size_bytes = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileIdentity&) const = default;
};

FileIdentity identity_of(const struct stat& st) {
  return FileIdentity{
      st.st_dev, st.st_ino, st.st_size,
      static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

using qsc::ownership_problem;

/// Why the directory cannot be listed at all (an error for open and reload).
std::string listing_problem(const fs::path& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    return "plugin directory " + dir.string() + " cannot be read (" + std::strerror(errno) +
           "): set plugins.dir in the configuration or install the plugins";
  }
  if (!S_ISDIR(st.st_mode)) return "plugin directory " + dir.string() + " is not a directory";
  if (::access(dir.c_str(), R_OK | X_OK) != 0) {
    return "plugin directory " + dir.string() + " is not readable (" + std::strerror(errno) + ")";
  }
  return {};
}

/// Why the directory's plugins must not be trusted (each is then rejected with this reason):
/// the directory itself, and every directory above it on its resolved path, must be owned by
/// root or this agent's user and not writable by others, or someone else could put a library
/// in it or swap the directory for theirs.
std::string directory_problem(const fs::path& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return "plugin directory cannot be read";
  if (auto problem = ownership_problem(st, "plugin directory " + dir.string(), dir.string());
      !problem.empty()) {
    return problem;
  }
  std::error_code ec;
  const fs::path resolved = fs::canonical(dir, ec);
  if (ec) return "plugin directory " + dir.string() + " cannot be resolved: " + ec.message();
  for (fs::path above = resolved.parent_path();; above = above.parent_path()) {
    if (::stat(above.c_str(), &st) != 0) {
      return "directory " + above.string() + " above the plugin directory cannot be read";
    }
    // A sticky directory (/tmp) lets others add entries but not rename or remove ours.
    if ((st.st_mode & S_ISVTX) != 0) st.st_mode &= ~static_cast<mode_t>(S_IWGRP | S_IWOTH);
    if (auto problem = ownership_problem(
            st, "directory " + above.string() + " above the plugin directory", above.string());
        !problem.empty()) {
      return problem;
    }
    if (above == above.root_path()) return {};
  }
}

/// Lists `*.so` in file name order.
Result<std::vector<fs::path>> list_libraries(const fs::path& dir) {
  if (auto problem = listing_problem(dir); !problem.empty()) return Error{problem};
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".so") files.push_back(it->path());
  }
  if (ec) return Error{"plugin directory " + dir.string() + " cannot be listed: " + ec.message()};
  std::sort(files.begin(), files.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
  return files;
}

/// A plugin file opened once: every check and the load read this descriptor, never the path.
class OpenFile {
 public:
  OpenFile() = default;
  explicit OpenFile(int fd) : fd_(fd) {}
  OpenFile(OpenFile&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  OpenFile& operator=(OpenFile&& other) noexcept {
    if (this != &other) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  ~OpenFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const noexcept { return fd_; }

 private:
  int fd_ = -1;
};

/// Opens `file` without following a symlink (a link's target can be changed by whoever owns the
/// directory it points into, which nobody checked) and fills `st` from the opened file. Returns
/// the problem, or empty.
std::string open_plugin_file(const fs::path& file, OpenFile& out, struct stat& st) {
  // O_NONBLOCK: a FIFO named *.so must not hang the agent; it is refused as not regular below.
  const int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ELOOP) {
      return "is a symbolic link: refused, since its target is not checked; copy the library "
             "into the plugin directory instead (install -m 0755 TARGET " +
             file.string() + ")";
    }
    return std::string("cannot open: ") + std::strerror(errno);
  }
  out = OpenFile(fd);
  if (::fstat(fd, &st) != 0) return std::string("cannot stat: ") + std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  return ownership_problem(st, "file", file.string());
}

std::string proc_path_of(int fd) {
  return "/proc/self/fd/" + std::to_string(fd);
}

/// The names the dynamic loader knows its loaded objects by.
std::set<std::string> loaded_object_names() {
  std::set<std::string> names;
  ::dl_iterate_phdr(
      [](struct dl_phdr_info* info, std::size_t, void* out) {
        if (info->dlpi_name != nullptr && *info->dlpi_name != '\0') {
          static_cast<std::set<std::string>*>(out)->insert(info->dlpi_name);
        }
        return 0;
      },
      &names);
  return names;
}

/// Every name this process has handed dlopen, with the file it named then. glibc finds an
/// already loaded object by its name and by every other name it was once opened under (an alias
/// it records when a second name reaches the same file), and dl_iterate_phdr shows only the
/// first: a name used once may still mean another plugin (one that cannot be unloaded), so no
/// name is ever used twice.
std::map<std::string, std::pair<dev_t, ino_t>>& names_handed_to_dlopen() {
  static std::map<std::string, std::pair<dev_t, ino_t>> names;
  return names;
}

/// The name under which the kernel hands dlopen this very file, whatever its path names now:
/// /proc/self/fd/N of `file` or of a duplicate held in `alias`, with an N that no loaded object
/// is known by and that this process never used before (see names_handed_to_dlopen).
Result<std::string> load_name(const OpenFile& file, const FileIdentity& identity, OpenFile& alias) {
  const auto taken = loaded_object_names();
  auto& used = names_handed_to_dlopen();
  int fd = file.fd();
  while (taken.contains(proc_path_of(fd)) || used.contains(proc_path_of(fd))) {
    const int next = ::fcntl(file.fd(), F_DUPFD_CLOEXEC, fd + 1);
    if (next < 0)
      return Error{std::string("cannot duplicate its descriptor: ") + std::strerror(errno)};
    alias = OpenFile(next);
    fd = next;
  }
  used.emplace(proc_path_of(fd), std::make_pair(identity.device, identity.inode));
  return proc_path_of(fd);
}

/// True when the loaded object holding `symbol` is the file of `identity`: either the object this
/// load created (named `proc_path`), or one loaded earlier under a name this process handed
/// dlopen for the same file (glibc found it by the file's identity).
bool loaded_from(const void* symbol, const std::string& proc_path, const FileIdentity& identity) {
  Dl_info info{};
  if (::dladdr(symbol, &info) == 0 || info.dli_fname == nullptr) return false;
  if (proc_path == info.dli_fname) return true;
  const auto& used = names_handed_to_dlopen();
  const auto it = used.find(info.dli_fname);
  return it != used.end() && it->second == std::make_pair(identity.device, identity.inode);
}

/// True when the file starts like an ELF object; dlopen is never handed anything else.
bool has_elf_header(const OpenFile& file) {
  unsigned char magic[4] = {};
  const auto got = ::pread(file.fd(), magic, sizeof magic, 0);
  return got == 4 && magic[0] == 0x7f && magic[1] == 'E' && magic[2] == 'L' && magic[3] == 'F';
}

/// A C string from a plugin, bounded so a corrupt pointer to unterminated bytes stays finite.
std::string bounded(const char* text, std::size_t max) {
  if (text == nullptr) return {};
  return std::string(text, ::strnlen(text, max + 1));
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

const char* kind_name(qsc::PluginKind kind) {
  switch (kind) {
    case qsc::PluginKind::kDetector:
      return "detector";
    case qsc::PluginKind::kAction:
      return "action";
  }
  return "";
}

nlohmann::json section_for(const nlohmann::json& host_config, const std::string& name) {
  const auto plugins = host_config.find("plugins");
  if (plugins == host_config.end() || !plugins->is_object()) return nlohmann::json::object();
  const auto config = plugins->find("config");
  if (config == plugins->end() || !config->is_object()) return nlohmann::json::object();
  const auto section = config->find(name);
  if (section == config->end() || section->is_null()) return nlohmann::json::object();
  return *section;
}

/// What a detector judges: a 1.0 descriptor has no scope field (reading it would read past the
/// plugin's descriptor), and judged one model, the canary.
qsc::DetectorScope scope_of(const qsc::PluginDescriptor& d, std::uint32_t abi_minor) {
  return abi_minor >= 1 ? d.scope : qsc::DetectorScope::kEachModel;
}

/// Why the descriptor cannot be used; empty when it is complete for its kind.
std::string descriptor_problem(const qsc::PluginDescriptor& d, std::uint32_t abi_minor) {
  if (d.kind != qsc::PluginKind::kDetector && d.kind != qsc::PluginKind::kAction) {
    return "unknown plugin kind " + std::to_string(static_cast<std::uint32_t>(d.kind)) +
           " (1 = detector, 2 = action)";
  }
  const auto name = bounded(d.name, kMaxNameLength);
  if (!valid_name(name)) {
    return "invalid plugin name \"" + name + "\" (1 to 64 of a-z, 0-9, _ and -)";
  }
  if (d.version == nullptr || d.description == nullptr) return "descriptor lacks version text";
  if (d.create == nullptr || d.destroy == nullptr || d.effective_config == nullptr) {
    return "descriptor lacks create, destroy or effective_config";
  }
  if (d.kind == qsc::PluginKind::kDetector && d.check == nullptr) {
    return "detector descriptor lacks check";
  }
  // An unknown scope would leave the gate not knowing where to run the detector: refused rather
  // than guessed.
  if (d.kind == qsc::PluginKind::kDetector &&
      qsc::detector_scope_name(scope_of(d, abi_minor)).empty()) {
    return "unknown detector scope " +
           std::to_string(static_cast<std::uint32_t>(scope_of(d, abi_minor))) +
           " (0 = each_model, 1 = canary_only, 2 = ensemble)";
  }
  if (d.kind == qsc::PluginKind::kAction && d.execute == nullptr) {
    return "action descriptor lacks execute";
  }
  return {};
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
  const qsc::PluginDescriptor* descriptor = nullptr;
  qsc::DetectorScope scope = qsc::DetectorScope::kEachModel;  ///< detectors only
  void* instance = nullptr;
  std::string name;
  std::string file;
  FileIdentity identity;
  std::string section_text;   ///< the section the instance was created with
  std::string host_identity;  ///< host_identity() of the configuration it was created with

  Loaded() = default;
  Loaded(const Loaded&) = delete;
  Loaded& operator=(const Loaded&) = delete;
  ~Loaded() {
    if (instance != nullptr) descriptor->destroy(instance);
  }
};

/// Everything a PluginHost holds; replaced as a whole by reload.
struct PluginHostState {
  fs::path dir;
  nlohmann::json host_config;
  std::string host_text;
  std::vector<PluginRecord> records;            ///< file name order
  std::vector<std::unique_ptr<Loaded>> loaded;  ///< plugin name order
  std::vector<std::string> startup_errors;
  RefusedFiles refused;  ///< files never to be loaded here (a probe child crashed on them)

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
                       const std::map<std::string, std::string>& names_taken,
                       std::unique_ptr<Loaded>& out) {
  PluginRecord record;
  record.file = file.string();
  record.name = file.stem().string();
  if (!has_elf_header(opened)) return rejected(record, "not a shared library: no ELF header");

  auto loaded = std::make_unique<Loaded>();
  loaded->file = record.file;
  loaded->identity = identity;
  boost::dll::fs::error_code ec;
  // rtld_now: an unresolved symbol is a refusal now, not a crash at the first call.
  // rtld_local: a plugin's symbols never interpose on the host's or another plugin's.
  ::dlerror();
  // Through the descriptor that was checked: the path may name another file by now.
  OpenFile alias;
  auto name = load_name(opened, identity, alias);
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
                    "QSC_DETECTOR_PLUGIN or QSC_ACTION_PLUGIN)");
  }
  const auto& abi = loaded->library.get<const struct qsc_plugin_abi>("qsc_plugin_abi");
  record.abi_major = abi.major;
  record.abi_minor = abi.minor;
  const std::string host_abi =
      "ABI " + std::to_string(qsc::kAbiMajor) + "." + std::to_string(qsc::kAbiMinor);
  const std::string plugin_abi =
      "ABI " + std::to_string(abi.major) + "." + std::to_string(abi.minor);
  if (abi.major != qsc::kAbiMajor) {
    return rejected(record, "plugin " + plugin_abi + " is incompatible with this host's " +
                                host_abi + ": rebuild it against the installed SDK");
  }
  if (abi.minor > qsc::kAbiMinor) {
    return rejected(record, "plugin " + plugin_abi + " is newer than this host's " + host_abi +
                                ": upgrade qsc or rebuild the plugin against this SDK");
  }
  if (abi.descriptor_size < kDescriptorSizeByMinor[abi.minor]) {
    return rejected(record, "descriptor of " + std::to_string(abi.descriptor_size) +
                                " bytes is too small for " + plugin_abi + " (needs " +
                                std::to_string(kDescriptorSizeByMinor[abi.minor]) +
                                "): rebuild it against the installed SDK");
  }
  if (!loaded->library.has("qsc_plugin_descriptor")) {
    return rejected(record,
                    "missing symbol qsc_plugin_descriptor (export it with "
                    "QSC_DETECTOR_PLUGIN or QSC_ACTION_PLUGIN)");
  }
  const auto& d = loaded->library.get<const qsc::PluginDescriptor>("qsc_plugin_descriptor");
  // The loader must have mapped the very file that was checked: never judge with another
  // library's code under this file's name (see names_handed_to_dlopen).
  if (!loaded_from(&d, proc_path, identity)) {
    return rejected(record,
                    "cannot be loaded: the dynamic loader returned another library for this file; "
                    "restart qsc");
  }
  if (auto problem = descriptor_problem(d, abi.minor); !problem.empty()) {
    return rejected(record, problem);
  }
  record.name = bounded(d.name, kMaxNameLength);
  record.kind = kind_name(d.kind);
  record.version = bounded(d.version, kMaxTextLength);
  record.description = bounded(d.description, kMaxTextLength);
  if (d.kind == qsc::PluginKind::kDetector) {
    record.scope = std::string(qsc::detector_scope_name(scope_of(d, abi.minor)));
  }
  if (auto taken = names_taken.find(record.name); taken != names_taken.end()) {
    return rejected(record, "duplicate plugin name \"" + record.name + "\": already loaded from " +
                                taken->second);
  }

  loaded->descriptor = &d;
  loaded->scope = scope_of(d, abi.minor);
  loaded->name = record.name;
  loaded->host_identity = host_identity(host_config);
  loaded->section_text = section_for(host_config, record.name).dump();
  std::string error;
  loaded->instance = d.create(loaded->section_text.c_str(), host_text.c_str(), &error);
  if (loaded->instance == nullptr) {
    return rejected(record,
                    std::string(kConfigRefused) + (error.empty() ? "no reason given" : error));
  }
  std::string effective;
  d.effective_config(loaded->instance, &effective);
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
  const std::string dir_problem = directory_problem(next.dir);
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
    c.problem = dir_problem.empty() ? open_plugin_file(file, c.opened, c.st) : dir_problem;
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
                         names_taken, loaded);
    }
    if (loaded) {
      names_taken.emplace(loaded->name, loaded->file);
      next.loaded.push_back(std::move(loaded));
    }
    next.records.push_back(std::move(record));
  }
  std::sort(next.loaded.begin(), next.loaded.end(),
            [](const auto& a, const auto& b) { return a->name < b->name; });
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

Result<PluginHost> PluginHost::open(const Config& config, RefusedFiles refused) {
  return open(resolve_plugin_dir(config), config.to_json(), std::move(refused));
}

Result<PluginHost> PluginHost::open(std::filesystem::path dir, nlohmann::json host_config,
                                    RefusedFiles refused) {
  auto files = list_libraries(dir);
  if (!files) return files.error();
  auto state = std::make_unique<State>();
  state->refused = std::move(refused);
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

/// Runs one detector; fails closed on an error or an unknown verdict.
NamedCheck run_check(const detail::Loaded& p, const qsc::CheckInput& input) {
  NamedCheck c{p.name, {}};
  c.result.verdict = qsc::Verdict::kError;  // a check that writes nothing fails closed
  {
    ObservedCall call(p.name, "check");
    p.descriptor->check(p.instance, &input, &c.result);
    if (c.result.verdict == qsc::Verdict::kError && g_call_observer != nullptr &&
        reports_allocation_failure(c.result.message)) {
      g_call_observer->allocation_refused(p.name, "check", c.result.message);
    }
  }
  if (static_cast<std::uint8_t>(c.result.verdict) > static_cast<std::uint8_t>(Verdict::kError)) {
    c.result.message =
        "returned an unknown verdict " + std::to_string(static_cast<unsigned>(c.result.verdict));
    c.result.verdict = qsc::Verdict::kError;
  }
  if (c.result.verdict == qsc::Verdict::kError) {
    if (c.result.message.empty()) c.result.message = "reported an error without a message";
    c.result.message = p.name + ": " + c.result.message;
    spdlog::error("detector {} failed, counted as a violation: {}", p.name, c.result.message);
  }
  return c;
}

}  // namespace

std::vector<NamedCheck> PluginHost::check_all(const qsc::CheckInput& input) {
  std::vector<NamedCheck> out;
  for (const auto& p : state_->loaded) {
    if (p->descriptor->kind != qsc::PluginKind::kDetector) continue;
    out.push_back(run_check(*p, input));
  }
  return out;
}

std::vector<NamedCheck> PluginHost::check_scope(const qsc::CheckInput& input,
                                                qsc::DetectorScope scope) {
  std::vector<NamedCheck> out;
  for (const auto& p : state_->loaded) {
    if (p->descriptor->kind != qsc::PluginKind::kDetector || p->scope != scope) continue;
    out.push_back(run_check(*p, input));
  }
  return out;
}

qsc::ActionOutcome PluginHost::run_action(const std::string& name, const qsc::Incident& incident) {
  qsc::ActionOutcome outcome;
  outcome.action = name;
  const Loaded* p = state_->find(name);
  if (p == nullptr || p->descriptor->kind != qsc::PluginKind::kAction) {
    std::string why = "no such plugin in " + dir().string();
    for (const auto& r : state_->records) {
      if (r.name == name) why = r.loaded() ? "it is a " + r.kind : "rejected: " + r.reason;
    }
    outcome.detail = "action \"" + name + "\" is not loaded (" + why + ")";
    spdlog::error("action {} failed for canary {} (trigger {}): {}", name, incident.canary_model,
                  incident.trigger, outcome.detail);
    return outcome;
  }
  const auto start = std::chrono::steady_clock::now();
  {
    ObservedCall call(name, "action");
    p->descriptor->execute(p->instance, &incident, &outcome);
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
  auto files = list_libraries(state_->dir);
  if (!files) return files.error();
  if (auto problem = directory_problem(state_->dir); !problem.empty()) {
    // The libraries in memory were verified when they were loaded; an unsafe directory must not
    // replace them (nor leave the monitor without detectors).
    return Error{problem + " (plugins not reloaded)"};
  }
  auto next = std::make_unique<State>();
  next->dir = state_->dir;
  next->host_config = state_->host_config;
  next->host_text = state_->host_text;
  next->refused = state_->refused;
  auto previous = std::move(state_);
  build(*next, files.value(), std::move(previous->loaded), previous->records, report);
  state_ = std::move(next);
  return ok_status();
}

Status PluginHost::reload(const Config& config, ReloadReport* report) {
  auto json = config.to_json();
  const auto dir = resolve_plugin_dir(config);
  if (dir != state_->dir) {
    auto files = list_libraries(dir);
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

std::vector<std::string> PluginHost::detector_names() const {
  std::vector<std::string> names;
  for (const auto& p : state_->loaded) {
    if (p->descriptor->kind == qsc::PluginKind::kDetector) names.push_back(p->name);
  }
  return names;
}

}  // namespace qsc::agent

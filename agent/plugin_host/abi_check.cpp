// Reading and checking a plugin's ABI block and descriptor (see abi_check.hpp).
#include "plugin_host/abi_check.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "qsc/version.hpp"

namespace qsc::agent::abi_check {
namespace {

constexpr std::size_t kMaxNameLength = 64;
constexpr std::size_t kMaxTextLength = 1024;
// A schema is a page of key descriptions; anything longer is a corrupt pointer, not a schema.
constexpr std::size_t kMaxSchemaLength = 64 * 1024;

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

std::string abi_text(std::uint32_t major, std::uint32_t minor) {
  return "ABI " + std::to_string(major) + "." + std::to_string(minor);
}

}  // namespace

std::string host_abi_text() {
  return abi_text(qsc::kAbiMajor, qsc::kAbiMinor);
}

std::string abi_problem(const struct qsc_plugin_abi& abi) {
  if (abi.major != qsc::kAbiMajor) {
    return "plugin " + abi_text(abi.major, abi.minor) + " is incompatible with this host's " +
           host_abi_text() + ": rebuild it against SDK " + std::to_string(qsc::kAbiMajor) +
           " (qsc/plugin_abi.h; docs/writing-a-detector.md)";
  }
  if (abi.descriptor_size < QSC_PLUGIN_DESCRIPTOR_MIN_SIZE) {
    return "descriptor of " + std::to_string(abi.descriptor_size) + " bytes is too small for " +
           abi_text(abi.major, abi.minor) + " (needs at least " +
           std::to_string(QSC_PLUGIN_DESCRIPTOR_MIN_SIZE) +
           "): rebuild it against the installed SDK";
  }
  return {};
}

std::string read_descriptor(const void* symbol, const struct qsc_plugin_abi& abi, Descriptor& out) {
  out = Descriptor{};
  // Only what the plugin declared it has: a field past its struct keeps the default set here.
  out.table.scope = QSC_SCOPE_EACH_MODEL;
  out.table.flags = QSC_FLAG_ESSENTIAL;
  out.table.config_schema = nullptr;
  std::memcpy(&out.table, symbol, std::min<std::size_t>(abi.descriptor_size, sizeof out.table));
  const auto& d = out.table;
  if (d.struct_size != abi.descriptor_size || d.abi_major != abi.major ||
      d.abi_minor != abi.minor) {
    return "descriptor says struct_size " + std::to_string(d.struct_size) + ", " +
           abi_text(d.abi_major, d.abi_minor) + " but qsc_plugin_abi says " +
           std::to_string(abi.descriptor_size) + ", " + abi_text(abi.major, abi.minor) +
           ": rebuild it against the installed SDK";
  }
  if (d.kind != QSC_KIND_DETECTOR && d.kind != QSC_KIND_ACTION) {
    return "unknown plugin kind " + std::to_string(d.kind) + " (1 = detector, 2 = action)";
  }
  out.kind = d.kind == QSC_KIND_DETECTOR ? "detector" : "action";
  out.name = bounded(d.name, kMaxNameLength);
  if (!valid_name(out.name)) {
    return "invalid plugin name \"" + out.name + "\" (1 to 64 of a-z, 0-9, _ and -)";
  }
  if (d.version == nullptr || d.description == nullptr) return "descriptor lacks version text";
  out.version = bounded(d.version, kMaxTextLength);
  out.description = bounded(d.description, kMaxTextLength);
  if (d.create == nullptr || d.destroy == nullptr || d.effective_config == nullptr) {
    return "descriptor lacks create, destroy or effective_config";
  }
  if (d.kind == QSC_KIND_DETECTOR && d.check == nullptr) return "detector descriptor lacks check";
  if (d.kind == QSC_KIND_ACTION && d.execute == nullptr) return "action descriptor lacks execute";
  out.scope = static_cast<qsc::DetectorScope>(d.scope);
  // An unknown scope would leave the gate not knowing where to run the detector: refused rather
  // than guessed.
  if (d.kind == QSC_KIND_DETECTOR && qsc::detector_scope_name(out.scope).empty()) {
    return "unknown detector scope " + std::to_string(d.scope) +
           " (0 = each_model, 1 = canary_only, 2 = ensemble)";
  }
  // A flag this host does not know could be a promise it cannot keep (say, "never restart"):
  // refused rather than ignored. A newer minor may define more; this host is then too old.
  if ((d.flags & ~static_cast<std::uint64_t>(QSC_FLAG_KNOWN)) != 0) {
    return "unknown descriptor flags 0x" +
           [&] {
             char text[32];
             std::snprintf(text, sizeof text, "%llx",
                           static_cast<unsigned long long>(d.flags & ~QSC_FLAG_KNOWN));
             return std::string(text);
           }() +
           " (this host knows " + host_abi_text() + "'s flags): upgrade qsc";
  }
  out.flags = d.flags;
  if (d.config_schema != nullptr) {
    out.config_schema = bounded(d.config_schema, kMaxSchemaLength);
    if (out.config_schema.size() > kMaxSchemaLength) {
      return "config schema longer than " + std::to_string(kMaxSchemaLength) + " bytes";
    }
  }
  return {};
}

}  // namespace qsc::agent::abi_check

// The ABI check of the plugin host: reads a plugin's qsc_plugin_abi block and its descriptor
// (qsc/plugin_abi.h) and says why they cannot be used. No plugin function is called here: only
// the two exported data symbols are read, and of the descriptor only the bytes its declared
// size covers (a field it does not cover gets its default).
#pragma once

#include <cstdint>
#include <string>

#include "qsc/detector.hpp"
#include "qsc/plugin_abi.h"

namespace qsc::agent::abi_check {

/// "ABI 2.0" for the host.
std::string host_abi_text();

/// Why a plugin declaring `abi` cannot be loaded by this host; empty when it can. Another major
/// is refused (rebuild against SDK 2); any minor of this major is accepted.
std::string abi_problem(const struct qsc_plugin_abi& abi);

/// A plugin's descriptor as this host reads it.
struct Descriptor {
  /// The fields this host knows: what the plugin provided, defaults for the rest.
  struct qsc_plugin_descriptor table {};
  std::string name;
  std::string kind;  ///< "detector" or "action"
  std::string version;
  std::string description;
  qsc::DetectorScope scope = qsc::DetectorScope::kEachModel;
  std::uint64_t flags = QSC_FLAG_ESSENTIAL;
  std::string config_schema;  ///< the JSON text, empty when the plugin declares none
};

/// Reads the descriptor at `symbol` (the plugin's qsc_plugin_descriptor) into `out`, copying
/// only what `abi.descriptor_size` covers. Returns why it cannot be used, or empty.
std::string read_descriptor(const void* symbol, const struct qsc_plugin_abi& abi, Descriptor& out);

}  // namespace qsc::agent::abi_check

// The plugin ABI version (qsc/plugin_abi.h defines it; docs/design.md, "Plugin ABI", states the
// rules): a host loads a plugin of its own major, whatever its minor, reading only the fields
// the plugin's struct sizes cover.
#pragma once

#include <cstdint>

#include "qsc/plugin_abi.h"

#define QSC_ABI_MAJOR QSC_PLUGIN_ABI_MAJOR
#define QSC_ABI_MINOR QSC_PLUGIN_ABI_MINOR
#define QSC_SDK_VERSION "0.1.0"

namespace qsc {
inline constexpr std::uint32_t kAbiMajor = QSC_ABI_MAJOR;
inline constexpr std::uint32_t kAbiMinor = QSC_ABI_MINOR;
}  // namespace qsc

// The plugin ABI version. A host accepts a plugin with the same major and a minor no newer than
// its own: a minor bump may only add at the end of PluginDescriptor.
#pragma once

#include <cstdint>

#define QSC_ABI_MAJOR 1
#define QSC_ABI_MINOR 1
#define QSC_SDK_VERSION "0.1.0"

namespace qsc {
inline constexpr std::uint32_t kAbiMajor = QSC_ABI_MAJOR;
inline constexpr std::uint32_t kAbiMinor = QSC_ABI_MINOR;
}  // namespace qsc

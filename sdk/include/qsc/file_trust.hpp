// Who may own the files that steer the agent (configuration, secrets, plugins) and who may write
// them. Anyone else who can write such a file can make the agent, often root, run their program
// (the configuration names systemctl, a plugin is code) or page them instead of the operator.
// One rule and one message style for all of them.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "qsc/result.hpp"

namespace qsc {

/// How private a trusted file must be.
enum class FileSecrecy : std::uint8_t {
  kShared,  ///< anyone may read it; only its owner may write it (configuration, plugins)
  kSecret,  ///< only its owner may read or write it (webhook URLs, tokens)
};

/// Why the file or directory whose status is `st` must not be trusted: owned by neither root nor
/// this process's user, or writable by group or others (kSecret: any group or other access).
/// `what` names it in the message ("configuration file qsc.json"); the fix names `path`.
/// Empty when it may be trusted.
std::string ownership_problem(const struct stat& st, std::string_view what, const std::string& path,
                              FileSecrecy secrecy = FileSecrecy::kShared);

/// Reads a regular file that passes ownership_problem. The file is opened once and the opened
/// file is checked (fstat), so nothing can be swapped in between the check and the read.
/// Errors name `what`, the owner, the mode and the fix.
Result<std::string> read_trusted_file(const std::filesystem::path& path, std::string_view what,
                                      FileSecrecy secrecy = FileSecrecy::kShared);

}  // namespace qsc

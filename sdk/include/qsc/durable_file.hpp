// Durable file operations: atomic replace, durable removal. Shared by the agent and by plugins
// (action plugins link the SDK only, not the agent).
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "qsc/result.hpp"

namespace qsc {

/// Replaces `path` atomically: a temporary file beside it, fsync, rename over the target, fsync
/// of the directory, so a crash leaves the old or the new content and never half of either.
/// The parent directory must exist. `mode` is the new file's permission bits.
Status write_file_atomic(const std::filesystem::path& path, std::string_view content,
                         unsigned mode = 0644);

/// One file of write_files_atomic: its name inside the directory, its bytes, its permission bits.
struct FileToWrite {
  std::string_view name;
  std::string_view content;
  unsigned mode = 0644;
};

/// Replaces the `files` of the directory `dir`, each atomically as write_file_atomic does (a
/// temporary beside it, fsync, rename over the target: a reader and a crash see the old or the
/// new content, never half), in order, and then fsyncs the directory once for all their renames
/// instead of once each. Each file's bytes are durable before its rename; the renames become
/// durable together. On an error the files before the failing one are replaced (their renames
/// synced), it and those after it are left as they were; the error names the file.
Status write_files_atomic(const std::filesystem::path& dir, std::span<const FileToWrite> files);

/// Reads a whole file; the error names the path and the reason (errno text).
Result<std::string> read_file(const std::filesystem::path& path);

/// Reads the rest of the open file `fd` (left open); errors name `path`.
Result<std::string> read_open_file(int fd, const std::filesystem::path& path);

/// Removes `path` and fsyncs its directory. Returns true when a file was removed, false when it
/// was already absent (absent is not an error: removal must be idempotent).
Result<bool> remove_file_durable(const std::filesystem::path& path);

/// True when `path` names an existing file (or anything that is not "absent").
bool file_exists(const std::filesystem::path& path);

/// "No such file or directory" style text for the current errno.
std::string errno_text(int error_number);

}  // namespace qsc

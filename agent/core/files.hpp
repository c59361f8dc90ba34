// Durable file writes: nothing half-written survives a crash.
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "qsc/durable_file.hpp"
#include "qsc/result.hpp"

namespace qsc::agent {

/// Replaces `path` atomically: write a temporary file beside it, fsync it, rename it over the
/// target, fsync the directory. Creates missing parent directories. `mode` is the new file's.
Status write_file_atomic(const std::filesystem::path& path, std::string_view content,
                         unsigned mode = 0644);
/// Replaces several files of the directory `dir` (created when missing), each atomically, with
/// one fsync of the directory for all their renames (qsc::write_files_atomic).
Status write_files_atomic(const std::filesystem::path& dir,
                          std::span<const qsc::FileToWrite> files);
/// Appends one line (a newline is added) with a single write(2) and fsync(2), so a crash leaves
/// either the whole line or none of it. A short write (a full disk) is an error and its partial
/// line is truncated away, so the next line starts on a line of its own. Creates missing parent
/// directories.
Status append_line_synced(const std::filesystem::path& path, std::string_view line);
/// Reads a whole file; an error names the path and the reason.
Result<std::string> read_file(const std::filesystem::path& path);
/// Removes a file if present, then fsyncs its directory; absent is success.
Status remove_file_durable(const std::filesystem::path& path);
/// Creates the directory and its parents; an error names the directory and the reason.
Status ensure_directory(const std::filesystem::path& dir);

}  // namespace qsc::agent

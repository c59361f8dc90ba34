// The loader's role of the plugin host: which files of the plugin directory may be trusted, and
// opening one so that every check and the load itself read the same file (opened once, without
// following a symlink; dlopen is handed /proc/self/fd/N of that descriptor, never the path).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "qsc/result.hpp"

namespace qsc::agent::plugin_file {

namespace fs = std::filesystem;

/// What identifies a file's content well enough to know it changed since it was loaded.
struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size_bytes = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileIdentity&) const = default;
};

FileIdentity identity_of(const struct stat& st);

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

/// Why the directory cannot be listed at all (an error for open and reload); empty when it can.
std::string listing_problem(const fs::path& dir);
/// Why the directory's plugins must not be trusted (each is then rejected with this reason).
std::string directory_problem(const fs::path& dir);
/// Lists `*.so` in file name order.
Result<std::vector<fs::path>> list_libraries(const fs::path& dir);
/// Opens `file` without following a symlink and fills `st` from the opened file. Returns the
/// problem (not regular, not trusted, a symlink), or empty.
std::string open_plugin_file(const fs::path& file, OpenFile& out, struct stat& st);
/// The name under which dlopen is handed this very file: /proc/self/fd/N of `file` or of a
/// duplicate held in `alias`, never a name this process used before.
Result<std::string> load_name(const OpenFile& file, const FileIdentity& identity, OpenFile& alias);
/// True when the loaded object holding `symbol` is the file of `identity`.
bool loaded_from(const void* symbol, const std::string& proc_path, const FileIdentity& identity);
/// True when the file starts like an ELF object; dlopen is never handed anything else.
bool has_elf_header(const OpenFile& file);
/// SHA-256 (hex) of the file's bytes, read through the descriptor (the very file that is
/// loaded): what identifies a plugin's code to a monitoring period, so that a library replaced
/// and reloaded under the same name is told apart. An error when it cannot be read whole.
Result<std::string> content_sha256(const OpenFile& file);

}  // namespace qsc::agent::plugin_file

// Finding and opening plugin files safely (the loader's role, see plugin_file.hpp).
#include "plugin_host/plugin_file.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <utility>

#include "core/sha256.hpp"
#include "qsc/file_trust.hpp"

namespace qsc::agent::plugin_file {
namespace {

using qsc::ownership_problem;

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

}  // namespace

FileIdentity identity_of(const struct stat& st) {
  return FileIdentity{
      st.st_dev, st.st_ino, st.st_size,
      static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

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

Result<std::string> content_sha256(const OpenFile& file) {
  // Streamed through a fixed buffer: a whole-file buffer (a sanitizer build's libraries are over
  // 100 MiB) stayed in the worker's resident set after it was freed, because glibc raises its
  // mmap threshold past a freed large block and serves the next one from the heap. Read, not
  // mapped: a file truncated under a mapping would end the process with SIGBUS; a file that
  // changes meanwhile is digested as read.
  static constexpr std::size_t kReadBytes = 64 * 1024;
  std::array<char, kReadBytes> buffer;
  Sha256 digest;
  off_t offset = 0;
  for (;;) {
    const auto got = ::pread(file.fd(), buffer.data(), buffer.size(), offset);
    if (got < 0) {
      if (errno == EINTR) continue;
      return Error{std::string("cannot read it to digest it: ") + std::strerror(errno)};
    }
    if (got == 0) break;
    digest.update(std::string_view(buffer.data(), static_cast<std::size_t>(got)));
    offset += got;
  }
  return digest.finish_hex();
}

}  // namespace qsc::agent::plugin_file

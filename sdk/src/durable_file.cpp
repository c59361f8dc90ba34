// Durable file operations with POSIX calls, since std::filesystem offers no fsync.
#include "qsc/durable_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace qsc {

std::string errno_text(int error_number) {
  return std::strerror(error_number);
}

namespace {

// A directory entry is durable only once the directory itself is synced.
Status fsync_directory(const std::filesystem::path& dir) {
  const std::string name = dir.empty() ? std::string(".") : dir.string();
  const int fd = ::open(name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Error{"cannot open directory " + name + ": " + errno_text(errno)};
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  if (rc != 0) return Error{"cannot sync directory " + name + ": " + errno_text(saved)};
  return ok_status();
}

// write(2) may write less than asked; loop until all is written.
bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

namespace {

// Replaces `path` with `content` through a temporary file beside it (so rename(2) stays
// atomic): written, fsynced (its bytes durable before its name points at them), closed and
// renamed over the target. The directory is left unsynced: the caller syncs it once for every
// file it replaced there.
Status replace_unsynced(const std::filesystem::path& path, std::string_view content,
                        unsigned mode) {
  const std::filesystem::path dir = path.parent_path();
  std::string tmp = (dir / ("." + path.filename().string() + ".tmp.XXXXXX")).string();
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return Error{"cannot create a file in " + dir.string() + ": " + errno_text(errno)};
  auto fail = [&](const std::string& what) -> Status {
    const int saved = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Error{what + ": " + errno_text(saved)};
  };
  if (!write_all(fd, content)) return fail("cannot write " + tmp);
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) return fail("cannot chmod " + tmp);
  if (::fsync(fd) != 0) return fail("cannot sync " + tmp);
  if (::close(fd) != 0) {
    const int saved = errno;
    ::unlink(tmp.c_str());
    return Error{"cannot close " + tmp + ": " + errno_text(saved)};
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(tmp.c_str());
    return Error{"cannot rename " + tmp + " to " + path.string() + ": " + errno_text(saved)};
  }
  return ok_status();
}

}  // namespace

Status write_file_atomic(const std::filesystem::path& path, std::string_view content,
                         unsigned mode) {
  if (auto replaced = replace_unsynced(path, content, mode); !replaced.ok()) return replaced;
  return fsync_directory(path.parent_path());
}

Status write_files_atomic(const std::filesystem::path& dir, std::span<const FileToWrite> files) {
  Status outcome = ok_status();
  std::size_t replaced = 0;
  for (const auto& f : files) {
    outcome = replace_unsynced(dir / f.name, f.content, f.mode);
    if (!outcome.ok()) break;
    ++replaced;
  }
  // The renames made before a failure are synced too: the files replaced stay replaced.
  if (replaced == 0) return outcome;
  auto synced = fsync_directory(dir);
  if (!outcome.ok()) return outcome;
  return synced;
}

Result<std::string> read_open_file(int fd, const std::filesystem::path& path) {
  std::string out;
  char buffer[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{"cannot read " + path.string() + ": " + errno_text(errno)};
    if (n == 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

Result<std::string> read_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{"cannot read " + path.string() + ": " + errno_text(errno)};
  auto out = read_open_file(fd, path);
  ::close(fd);
  return out;
}

Result<bool> remove_file_durable(const std::filesystem::path& path) {
  if (::unlink(path.c_str()) != 0) {
    // ENOTDIR: a path component is a regular file, so the file cannot be there either.
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return Error{"cannot remove " + path.string() + ": " + errno_text(errno)};
  }
  if (auto synced = fsync_directory(path.parent_path()); !synced.ok()) return synced.error();
  return true;
}

bool file_exists(const std::filesystem::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) return true;
  // Anything but "absent" (EACCES, EIO, ...) counts as present, so that callers act on it and
  // report the real error instead of silently skipping the file.
  return errno != ENOENT && errno != ENOTDIR;
}

}  // namespace qsc

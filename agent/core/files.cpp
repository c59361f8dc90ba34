// The agent's durable files: the SDK's atomic replace and durable removal (shared with the
// action plugins), plus what only the agent needs: parent directories made on demand and the
// synced line append the audit log is built on.
#include "core/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "qsc/durable_file.hpp"

namespace qsc::agent {

Status ensure_directory(const std::filesystem::path& dir) {
  if (dir.empty()) return ok_status();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error{"cannot create directory " + dir.string() + ": " + ec.message()};
  return ok_status();
}

Status write_file_atomic(const std::filesystem::path& path, std::string_view content,
                         unsigned mode) {
  if (auto s = ensure_directory(path.parent_path()); !s) return s;
  return qsc::write_file_atomic(path, content, mode);
}

Status write_files_atomic(const std::filesystem::path& dir,
                          std::span<const qsc::FileToWrite> files) {
  if (auto s = ensure_directory(dir); !s) return s;
  return qsc::write_files_atomic(dir, files);
}

Status append_line_synced(const std::filesystem::path& path, std::string_view line) {
  if (auto s = ensure_directory(path.parent_path()); !s) return s;
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Error{"cannot open " + path.string() + " for appending: " + errno_text(errno)};
  }
  std::string buf(line);
  buf.push_back('\n');
  // One write call: with O_APPEND the line lands whole and is never interleaved with another
  // process's line (a short write, which only a full disk causes, is reported, not retried,
  // since a retry would interleave).
  Status s = ok_status();
  ssize_t n = 0;
  do {
    n = ::write(fd, buf.data(), buf.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    s = Error{"cannot write " + path.string() + ": " + errno_text(errno)};
  } else if (static_cast<std::size_t>(n) != buf.size()) {
    s = Error{"cannot write " + path.string() + ": short write (disk full?)"};
    // Cut the partial line off again: left in place, the next entry would be appended to it
    // and both would be one unparseable line (found by tests/soak/run filling logs/). The file
    // position is just past our bytes; truncate only while they are still the file's end.
    const off_t end = ::lseek(fd, 0, SEEK_CUR);
    struct stat st {};
    if (end >= n && ::fstat(fd, &st) == 0 && st.st_size == end) {
      if (::ftruncate(fd, end - n) != 0 || ::fsync(fd) != 0) {
        s = Error{"cannot write " + path.string() + ": short write (disk full?), and the " +
                  "partial line could not be removed: " + errno_text(errno)};
      }
    }
  } else if (::fsync(fd) != 0) {
    s = Error{"cannot sync " + path.string() + ": " + errno_text(errno)};
  }
  ::close(fd);
  return s;
}

Result<std::string> read_file(const std::filesystem::path& path) {
  return qsc::read_file(path);
}

Status remove_file_durable(const std::filesystem::path& path) {
  auto removed = qsc::remove_file_durable(path);
  if (!removed) return std::move(removed).error();
  return ok_status();
}

}  // namespace qsc::agent

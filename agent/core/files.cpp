// Durable file writes with POSIX calls, since std::filesystem offers no fsync.
#include "core/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace qsc::agent {
namespace {

std::string errno_text() {
  return std::strerror(errno);
}

Status fsync_directory(const std::filesystem::path& dir) {
  const auto d = dir.empty() ? std::filesystem::path(".") : dir;
  int fd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Error{"cannot open directory " + d.string() + ": " + errno_text()};
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Error{"cannot sync directory " + d.string() + ": " + errno_text()};
  return ok_status();
}

Status write_all(int fd, std::string_view data, const std::filesystem::path& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error{"cannot write " + path.string() + ": " + errno_text()};
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return ok_status();
}

}  // namespace

Status ensure_directory(const std::filesystem::path& dir) {
  if (dir.empty()) return ok_status();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error{"cannot create directory " + dir.string() + ": " + ec.message()};
  return ok_status();
}

Status write_file_atomic(const std::filesystem::path& path, std::string_view content,
                         unsigned mode) {
  const auto dir = path.parent_path();
  if (auto s = ensure_directory(dir); !s) return s;
  std::string tmp = path.string() + ".tmp.XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0)
    return Error{"cannot create a temporary file beside " + path.string() + ": " + errno_text()};
  auto fail = [&](Error e) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  };
  if (::fchmod(fd, mode) != 0) return fail(Error{"cannot chmod " + tmp + ": " + errno_text()});
  if (auto s = write_all(fd, content, path); !s) return fail(s.error());
  if (::fsync(fd) != 0) return fail(Error{"cannot sync " + tmp + ": " + errno_text()});
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Error{"cannot close " + tmp + ": " + errno_text()};
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const auto e = errno_text();
    ::unlink(tmp.c_str());
    return Error{"cannot rename " + tmp + " to " + path.string() + ": " + e};
  }
  return fsync_directory(dir);
}

Status append_line_synced(const std::filesystem::path& path, std::string_view line) {
  if (auto s = ensure_directory(path.parent_path()); !s) return s;
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Error{"cannot open " + path.string() + " for appending: " + errno_text()};
  std::string buf(line);
  buf.push_back('\n');
  // One write call: with O_APPEND the line lands whole and is never interleaved with another
  // process's line.
  auto s = write_all(fd, buf, path);
  if (s && ::fsync(fd) != 0) s = Error{"cannot sync " + path.string() + ": " + errno_text()};
  ::close(fd);
  return s;
}

Result<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error{"cannot read " + path.string() + ": " +
                 (std::filesystem::exists(path) ? errno_text() : "no such file")};
  }
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return Error{"cannot read " + path.string() + ": " + errno_text()};
  return out.str();
}

Status remove_file_durable(const std::filesystem::path& path) {
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return ok_status();
    return Error{"cannot remove " + path.string() + ": " + errno_text()};
  }
  return fsync_directory(path.parent_path());
}

}  // namespace qsc::agent

// The lock file.
#include "core/lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "core/files.hpp"

namespace qsc::agent {

Result<FileLock> FileLock::acquire(const std::filesystem::path& path,
                                   std::chrono::milliseconds wait) {
  if (auto s = ensure_directory(path.parent_path()); !s) return s.error();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Error{"cannot open lock file " + path.string() + ": " + std::strerror(errno)};
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      return Error{"cannot lock " + path.string() + ": " + why};
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::close(fd);
      return Error{"another qsc holds " + path.string() +
                   " (an activation, rollback or the monitor is running); wait for it to finish"};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return FileLock(fd);
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the flock
}

}  // namespace qsc::agent

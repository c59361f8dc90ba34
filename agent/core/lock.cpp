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

namespace {

Result<int> lock_with(const std::filesystem::path& path, std::chrono::milliseconds wait,
                      int operation) {
  if (auto s = ensure_directory(path.parent_path()); !s) return s.error();
  // flock needs no write access: a shared lock opens read-only, so a lock file another user
  // created (mode 0644) does not stop a monitor that may write the state beside it.
  const int access = operation == LOCK_SH ? O_RDONLY : O_RDWR;
  int fd = ::open(path.c_str(), access | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Error{"cannot open lock file " + path.string() + ": " + std::strerror(errno)};
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (::flock(fd, operation | LOCK_NB) != 0) {
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
  return fd;
}

}  // namespace

Result<FileLock> FileLock::acquire(const std::filesystem::path& path,
                                   std::chrono::milliseconds wait) {
  auto fd = lock_with(path, wait, LOCK_EX);
  if (!fd) return fd.error();
  return FileLock(*fd);
}

Result<FileLock> FileLock::acquire_shared(const std::filesystem::path& path,
                                          std::chrono::milliseconds wait) {
  auto fd = lock_with(path, wait, LOCK_SH);
  if (!fd) return fd.error();
  return FileLock(*fd);
}

Result<bool> FileLock::held_by_anyone(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return false;
    return Error{"cannot open lock file " + path.string() + ": " + std::strerror(errno)};
  }
  int rc = 0;
  do {
    rc = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  const int flock_errno = errno;
  ::close(fd);  // releases the probe's lock when it got one
  if (rc == 0) return false;
  if (flock_errno == EWOULDBLOCK) return true;
  return Error{"cannot probe the lock " + path.string() + ": " + std::strerror(flock_errno)};
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the flock
}

}  // namespace qsc::agent

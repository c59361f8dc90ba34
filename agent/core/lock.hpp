// The lock file that serialises qsc invocations and the agent (flock: released if we die).
#pragma once

#include <chrono>
#include <filesystem>

#include "qsc/result.hpp"

namespace qsc::agent {

/// An exclusive flock(2) on a file, held for the object's lifetime. The kernel drops it when
/// the process dies, so a SIGKILLed qsc never leaves a stale lock behind.
class FileLock {
 public:
  /// Waits up to `wait` for the lock; the error names the file and says who may hold it.
  static Result<FileLock> acquire(const std::filesystem::path& path,
                                  std::chrono::milliseconds wait);
  /// A shared flock(2), waited for as acquire() waits: any number of holders at once, none of
  /// them in the way of another (the monitor's watch lock: held_by_anyone() can see it).
  static Result<FileLock> acquire_shared(const std::filesystem::path& path,
                                         std::chrono::milliseconds wait);
  /// Whether some process holds a lock on `path` now (tried with an exclusive flock that is
  /// released at once). A missing file is held by no one; the file is never created.
  static Result<bool> held_by_anyone(const std::filesystem::path& path);
  FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileLock& operator=(FileLock&&) = delete;
  FileLock(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace qsc::agent

// An anonymous shared-memory file of a fixed size (memfd).
#include "core/memfd_block.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace qsc::agent {

Result<int> create_sized_memfd(const char* name, unsigned flags, std::size_t bytes,
                               const std::string& what) {
  const int fd = ::memfd_create(name, flags);
  if (fd < 0) {
    return Error{"cannot create " + what + " (memfd_create): " + std::strerror(errno)};
  }
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    const int e = errno;
    ::close(fd);
    return Error{"cannot size " + what + ": " + std::strerror(e)};
  }
  return fd;
}

}  // namespace qsc::agent

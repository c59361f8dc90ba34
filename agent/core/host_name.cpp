// This host's name.
#include "core/host_name.hpp"

#include <unistd.h>

namespace qsc::agent {

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown-host";
  return buf;
}

}  // namespace qsc::agent

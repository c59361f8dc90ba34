// This host's name, as notifications and the mirror's origin tag name it.
#pragma once

#include <string>

namespace qsc::agent {

/// gethostname(), or "unknown-host" when it fails (a name is informative only: nothing is
/// decided on it).
std::string host_name();

}  // namespace qsc::agent

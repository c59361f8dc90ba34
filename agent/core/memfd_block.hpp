// An anonymous shared-memory file of a fixed size (memfd), the backing of the blocks a
// supervisor shares with its worker (heartbeat, metrics).
#pragma once

#include <cstddef>
#include <string>

#include "qsc/result.hpp"

namespace qsc::agent {

/// A memfd named `name`, created with `flags` (e.g. MFD_CLOEXEC) and sized to `bytes`, so
/// zero-filled. `what` names the block in the errors ("the supervisor's heartbeat block").
Result<int> create_sized_memfd(const char* name, unsigned flags, std::size_t bytes,
                               const std::string& what);

}  // namespace qsc::agent

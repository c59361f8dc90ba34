// Clean means judged: the checks that ended a period without judging it. A detector whose
// verdict at the period's end is kInsufficient (too little data of the kind it needs: no peer
// voted, so there is no ensemble figure; too few paired events since activation; a third-party
// detector fed nothing it can read) found nothing wrong only because it could not look. The
// monitor and `qsc replay` call such a period inconclusive (exit 3), never safe.
#pragma once

#include <string>
#include <vector>

#include "plugin_host/plugin_host.hpp"

namespace qsc::agent {

/// "detector: message" of each check in `checks` (a period-end evaluation) that could not judge.
inline std::vector<std::string> undecided_checks(const std::vector<NamedCheck>& checks) {
  std::vector<std::string> out;
  for (const auto& c : checks) {
    if (c.result.verdict == qsc::Verdict::kInsufficient) {
      out.push_back(c.detector + ": " + c.result.message);
    }
  }
  return out;
}

}  // namespace qsc::agent

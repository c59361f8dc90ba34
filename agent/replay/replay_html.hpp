// `qsc replay --html OUT.html`: the replay's timeline as a self-contained HTML report. For each
// detector figure that has a threshold, its value at every interval check (and at the rollback's
// evaluation) against the threshold with the rollback marked; the checks with their status in
// words and colour; each detector's first violation.
#pragma once

#include <string>

#include "replay/replay.hpp"

namespace qsc::agent {

/// The whole document (report/html_page.hpp); every string from the recording or a detector is
/// HTML-escaped.
std::string replay_html(const ReplayResult& result);

/// The id of the chart of `figure` of `detector` against its lower ("min") or upper ("max")
/// bound: "timeline-<detector>-<figure>-<bound>".
std::string replay_chart_id(const std::string& detector, const std::string& figure,
                            const std::string& bound);

}  // namespace qsc::agent

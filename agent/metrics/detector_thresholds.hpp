// Which configuration key of which detector bounds which of its figures, so the endpoint can
// export each measured figure next to its threshold (qsc_detector_figure beside
// qsc_detector_threshold). The values come from each loaded detector's effective configuration
// (what it really judges with), never from defaults assumed here.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace qsc::agent::metrics {

/// The bounds of one figure: a violation when the figure is below min or above max.
struct FigureThresholds {
  std::optional<double> min;
  std::optional<double> max;
};

/// The thresholds of `figure` of `detector`, read from its effective configuration; both empty
/// when the figure has none (a count reported for context) or the detector is not a built-in.
FigureThresholds thresholds_for(std::string_view detector, std::string_view figure,
                                const nlohmann::json& effective_config);

}  // namespace qsc::agent::metrics

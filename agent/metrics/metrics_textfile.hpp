// The node_exporter textfile-collector form of the families: `qsc replay` (and anything else
// without an endpoint) writes NAME.prom into the collector's directory, replaced atomically so
// node_exporter never reads half a file.
#pragma once

#include <filesystem>

#include "metrics/metrics_families.hpp"
#include "qsc/result.hpp"

namespace qsc::agent::metrics {

/// Writes render_text(view) to `path` atomically (mode 0644). The name must end in ".prom",
/// which is all the collector reads; anything else is refused naming the fix.
Status write_textfile(const MetricsView& view, const std::filesystem::path& path);

}  // namespace qsc::agent::metrics

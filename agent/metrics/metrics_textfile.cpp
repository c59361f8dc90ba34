// Textfile output of the metrics.
#include "metrics/metrics_textfile.hpp"

#include "core/files.hpp"

namespace qsc::agent::metrics {

Status write_textfile(const MetricsView& view, const std::filesystem::path& path) {
  if (path.extension() != ".prom") {
    return Error{"metrics textfile " + path.string() +
                 ": node_exporter's textfile collector reads only *.prom files; name it "
                 "e.g. qsc_replay.prom"};
  }
  return write_file_atomic(path, render_text(view), 0644);
}

}  // namespace qsc::agent::metrics

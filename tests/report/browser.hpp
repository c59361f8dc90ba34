// Headless Chromium for the report tests: renders a local HTML file to a DOM dump and a PNG,
// each run with a fresh profile and every network feature off (the reports must not need one).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace qsc::test {

/// The chromium executable ("" when it is not installed: .ci/install-deps installs it).
std::string find_chromium();

/// What one page render gave.
struct Rendered {
  bool ok = false;            ///< both runs exited 0 within the deadline
  std::string failure;        ///< why not, with the browser's output
  std::string dom;            ///< --dump-dom
  std::string browser_log;    ///< stderr of both runs (--enable-logging=stderr)
  std::filesystem::path png;  ///< --screenshot
};

/// Renders `html` (a file) at `width` x `height` CSS pixels; work files go below `work_dir`.
Rendered render_page(const std::filesystem::path& html, const std::filesystem::path& work_dir,
                     int width, int height);

/// The lines of the browser log that report something the page did: console messages (a
/// blocked fetch under the reports' Content-Security-Policy is one), uncaught errors, failed
/// loads. Chromium's own start-up noise (D-Bus, GPU) is not the page's and is left out.
std::vector<std::string> page_errors(const std::string& browser_log);

/// The <svg> element with this id in a DOM dump, "" when absent.
std::string svg_by_id(const std::string& dom, const std::string& id);

/// Occurrences of `needle` in `text`.
std::size_t count_of(const std::string& text, const std::string& needle);

/// A PNG's size and how much of it is not its most common colour (tests/report/png_summary.py).
struct PngSummary {
  bool ok = false;
  std::string failure;
  int width = 0;
  int height = 0;
  int colours = 0;
  double non_background_share = 0.0;
};
PngSummary summarize_png(const std::filesystem::path& png);

}  // namespace qsc::test

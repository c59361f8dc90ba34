// Headless Chromium driven as a program, its output to files (a DOM dump exceeds what
// run_program keeps in memory).
#include "report/browser.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "qsc/process.hpp"

namespace qsc::test {
namespace {

namespace fs = std::filesystem;

// A browser start on a machine shared with builds and fuzzers can take long: the deadline is a
// backstop for a hung browser, never a measure of speed.
constexpr long kBrowserTimeoutMs = 180'000;

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs argv with stdout and stderr redirected to files by a POSIX shell's exec (no quoting:
// the arguments travel as "$@").
ProcessResult run_to_files(const std::vector<std::string>& argv, const fs::path& out,
                           const fs::path& err) {
  std::vector<std::string> sh{
      "/bin/sh", "-c",         "o=$1; e=$2; shift 2; exec \"$@\" >\"$o\" 2>\"$e\"",
      "sh",      out.string(), err.string()};
  sh.insert(sh.end(), argv.begin(), argv.end());
  return run_program(sh, "", kBrowserTimeoutMs);
}

std::vector<std::string> browser_argv(const std::string& chromium, const fs::path& profile,
                                      int width, int height) {
  return {chromium,
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--hide-scrollbars",
          "--enable-logging=stderr",
          "--v=0",
          "--user-data-dir=" + profile.string(),
          "--window-size=" + std::to_string(width) + "," + std::to_string(height)};
}

}  // namespace

std::string find_chromium() {
  for (const char* name : {"chromium", "chromium-browser"}) {
    if (auto p = find_program(name); !p.empty()) return p;
  }
  return "";
}

Rendered render_page(const fs::path& html, const fs::path& work_dir, int width, int height) {
  Rendered r;
  const auto chromium = find_chromium();
  if (chromium.empty()) {
    r.failure = "chromium is not installed (bash .ci/install-deps installs it)";
    return r;
  }
  fs::create_directories(work_dir);
  const std::string url = "file://" + fs::absolute(html).string();

  auto dump = browser_argv(chromium, work_dir / "profile-dom", width, height);
  dump.push_back("--dump-dom");
  dump.push_back(url);
  const auto dom_run = run_to_files(dump, work_dir / "dom.html", work_dir / "dom.log");
  r.dom = read_all(work_dir / "dom.html");
  r.browser_log = read_all(work_dir / "dom.log");
  if (!dom_run.succeeded()) {
    r.failure = "chromium --dump-dom: " + describe(dom_run) + "\n" + r.browser_log;
    return r;
  }

  r.png = work_dir / "screenshot.png";
  auto shot = browser_argv(chromium, work_dir / "profile-png", width, height);
  shot.push_back("--screenshot=" + r.png.string());
  shot.push_back(url);
  const auto png_run = run_to_files(shot, work_dir / "png.out", work_dir / "png.log");
  const auto png_log = read_all(work_dir / "png.log");
  r.browser_log += png_log;
  if (!png_run.succeeded()) {
    r.failure = "chromium --screenshot: " + describe(png_run) + "\n" + png_log;
    return r;
  }
  r.ok = true;
  return r;
}

std::vector<std::string> page_errors(const std::string& browser_log) {
  std::vector<std::string> errors;
  std::istringstream in(browser_log);
  for (std::string line; std::getline(in, line);) {
    if (line.find(":CONSOLE") != std::string::npos || line.find("Uncaught") != std::string::npos ||
        line.find("net::ERR_") != std::string::npos ||
        line.find("Content Security Policy") != std::string::npos) {
      errors.push_back(line);
    }
  }
  return errors;
}

std::string svg_by_id(const std::string& dom, const std::string& id) {
  const auto at = dom.find("id=\"" + id + "\"");
  if (at == std::string::npos) return "";
  const auto open = dom.rfind("<svg", at);
  const auto close = dom.find("</svg>", at);
  if (open == std::string::npos || close == std::string::npos) return "";
  return dom.substr(open, close + 6 - open);
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

PngSummary summarize_png(const fs::path& png) {
  PngSummary s;
  const auto run =
      run_program({QSC_PYTHON3_PATH, QSC_PNG_SUMMARY_SCRIPT, png.string()}, "", kBrowserTimeoutMs);
  if (!run.succeeded()) {
    s.failure = "png_summary.py: " + describe(run);
    return s;
  }
  const auto j = nlohmann::json::parse(run.output, nullptr, false);
  if (j.is_discarded()) {
    s.failure = "png_summary.py printed no JSON: " + run.output;
    return s;
  }
  s.ok = true;
  s.width = j["width"].get<int>();
  s.height = j["height"].get<int>();
  s.colours = j["colours"].get<int>();
  s.non_background_share = j["non_background_share"].get<double>();
  return s;
}

}  // namespace qsc::test

// Test helpers for scraping /metrics.
#include "scrape.hpp"

#include <fstream>
#include <sstream>

#include "qsc/process.hpp"

namespace qsc::metrics_test {

Samples parse_samples(const std::string& text) {
  Samples out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    const auto value = line.substr(space + 1);
    out[line.substr(0, space)] = value == "+Inf"   ? 1e308
                                 : value == "-Inf" ? -1e308
                                                   : std::stod(value);
  }
  return out;
}

std::set<std::string> sample_names(const Samples& samples) {
  std::set<std::string> names;
  for (const auto& [series, value] : samples) names.insert(series.substr(0, series.find('{')));
  return names;
}

std::optional<std::string> scrape(const std::string& host_port, const std::filesystem::path& dir,
                                  std::string* error) {
  const auto body = dir / "scrape.txt";
  // The output goes to a file: run_program caps what it captures.
  const auto run = qsc::run_program({"curl", "-sS", "--fail", "--max-time", "30", "-o",
                                     body.string(), "http://" + host_port + "/metrics"},
                                    "", 60'000);
  if (!run.succeeded()) {
    if (error != nullptr) *error = "curl: exit " + std::to_string(run.exit_code) + " " + run.output;
    return std::nullopt;
  }
  std::ifstream in(body, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string promtool_problems(const std::string& text) {
  const std::string promtool = QSC_PROMTOOL;
  if (promtool.empty()) {
    return "promtool is not installed (Debian package prometheus): run .ci/install-deps";
  }
  const auto run = qsc::run_program({promtool, "check", "metrics"}, text, 60'000);
  if (run.succeeded()) return "";
  return "promtool check metrics failed (exit " + std::to_string(run.exit_code) +
         "): " + run.output;
}

}  // namespace qsc::metrics_test

// Reading and checking a Prometheus text exposition in tests: fetch it with curl (a real HTTP
// client), validate it with promtool, look samples up by series.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace qsc::metrics_test {

/// series ("name{labels}" exactly as exposed, or "name") -> value.
using Samples = std::map<std::string, double>;

/// The samples of an exposition text (comments skipped).
Samples parse_samples(const std::string& text);
/// The metric names in an exposition text (from the samples, _bucket/_sum/_count kept).
std::set<std::string> sample_names(const Samples& samples);

/// GET http://HOST:PORT/metrics with curl; the body, or nullopt (with `error` set) on failure.
std::optional<std::string> scrape(const std::string& host_port, const std::filesystem::path& dir,
                                  std::string* error);

/// `promtool check metrics` on `text`: "" when it passes, else promtool's complaint.
std::string promtool_problems(const std::string& text);

}  // namespace qsc::metrics_test

// agent/dashboards/qsc.json: every metric its expressions use is one the endpoint exports (a
// renamed family would otherwise leave a panel silently empty), and it has the panels issue 18
// asks for.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>

#include "metrics/metrics_families.hpp"

namespace qsc::agent::metrics {
namespace {

nlohmann::json dashboard() {
  std::ifstream in(std::string(QSC_TEST_SOURCE_DIR) + "/agent/dashboards/qsc.json");
  EXPECT_TRUE(in.good()) << "agent/dashboards/qsc.json is missing";
  return nlohmann::json::parse(in);
}

// Every "expr" and templating "query" in the document, wherever it sits.
void collect_expressions(const nlohmann::json& node, std::vector<std::string>& out) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if ((key == "expr" || key == "query") && value.is_string()) {
        out.push_back(value.get<std::string>());
      } else {
        collect_expressions(value, out);
      }
    }
  } else if (node.is_array()) {
    for (const auto& v : node) collect_expressions(v, out);
  }
}

std::set<std::string> metric_names_in(const std::vector<std::string>& expressions) {
  std::set<std::string> names;
  const std::regex name(R"(\bqsc_[a-z0-9_]+)");
  for (const auto& e : expressions) {
    for (auto it = std::sregex_iterator(e.begin(), e.end(), name); it != std::sregex_iterator();
         ++it) {
      names.insert(it->str());
    }
  }
  return names;
}

TEST(Dashboard, EveryMetricNameInItsExpressionsIsExported) {
  std::vector<std::string> expressions;
  collect_expressions(dashboard(), expressions);
  ASSERT_GE(expressions.size(), 10u);
  const auto used = metric_names_in(expressions);
  const auto exported_list = exported_series_names();
  const std::set<std::string> exported(exported_list.begin(), exported_list.end());
  for (const auto& name : used) {
    EXPECT_TRUE(exported.contains(name)) << name << " is used by the dashboard but not exported";
  }
  // The panels issue 18 asks for: figures against thresholds, action shares, telemetry health
  // (rate, age, rejected, lost), checks done/due, rollbacks.
  for (const char* needed :
       {"qsc_detector_figure", "qsc_detector_threshold", "qsc_events_total",
        "qsc_telemetry_age_seconds", "qsc_events_rejected_total", "qsc_events_lost_total",
        "qsc_checks_total", "qsc_checks_due", "qsc_rollbacks_total"}) {
    EXPECT_TRUE(used.contains(needed)) << "no panel uses " << needed;
  }
}

TEST(Dashboard, NeedsNothingFromOutsideTheHost) {
  // Air-gapped hosts: no external images, scripts or panel plugins referenced by URL.
  const auto text = dashboard().dump();
  EXPECT_EQ(text.find("http://"), std::string::npos);
  EXPECT_EQ(text.find("https://"), std::string::npos);
}

}  // namespace
}  // namespace qsc::agent::metrics

// Plugin configuration sections: every problem reported, unknown keys refused.
#include "qsc/config_section.hpp"

#include <cmath>
#include <cstdio>

namespace qsc {

ConfigSection::ConfigSection(const nlohmann::json& section, std::string where)
    : section_(section.is_null() ? nlohmann::json::object() : section), where_(std::move(where)) {
  if (!section_.is_object()) {
    problems_.push_back(where_ + ": expected a JSON object, got " + section_.type_name());
    section_ = nlohmann::json::object();
  }
}

const nlohmann::json* ConfigSection::find(std::string_view key) {
  known_.emplace(key);
  auto it = section_.find(std::string(key));
  return it == section_.end() ? nullptr : &*it;
}

double ConfigSection::number(std::string_view key, double fallback, double min, double max) {
  return number(key, fallback, min, End::kIncluded, max, End::kIncluded, "");
}

double ConfigSection::number(std::string_view key, double fallback, double min, End min_end,
                             double max, End max_end, std::string_view why) {
  const auto* v = find(key);
  if (!v) return fallback;
  const bool in_range =
      v->is_number() && std::isfinite(v->get<double>()) &&
      (min_end == End::kExcluded ? v->get<double>() > min : v->get<double>() >= min) &&
      (max_end == End::kExcluded ? v->get<double>() < max : v->get<double>() <= max);
  if (!in_range) {
    char range[128];
    if (min_end == End::kIncluded && max_end == End::kIncluded) {
      std::snprintf(range, sizeof range, "a number from %.10g to %.10g", min, max);
    } else {
      std::snprintf(range, sizeof range, "a number %s %.10g and %s %.10g",
                    min_end == End::kExcluded ? "above" : "from", min,
                    max_end == End::kExcluded ? "below" : "at most", max);
    }
    fail(key, std::string("must be ") + range +
                  (why.empty() ? std::string() : " (" + std::string(why) + ")") + ", got " +
                  v->dump());
    return fallback;
  }
  return v->get<double>();
}

std::string ConfigSection::string(std::string_view key, std::string fallback) {
  const auto* v = find(key);
  if (!v) return fallback;
  if (!v->is_string()) {
    fail(key, std::string("must be a string, got ") + v->type_name());
    return fallback;
  }
  return v->get<std::string>();
}

bool ConfigSection::boolean(std::string_view key, bool fallback) {
  const auto* v = find(key);
  if (!v) return fallback;
  if (!v->is_boolean()) {
    fail(key, std::string("must be true or false, got ") + v->type_name());
    return fallback;
  }
  return v->get<bool>();
}

const nlohmann::json* ConfigSection::raw(std::string_view key) {
  return find(key);
}

void ConfigSection::fail(std::string_view key, std::string_view why) {
  problems_.push_back(where_ + "." + std::string(key) + ": " + std::string(why));
}

Status ConfigSection::finish() const {
  std::vector<std::string> problems = problems_;
  for (const auto& [key, value] : section_.items()) {
    if (!known_.contains(key)) {
      std::string allowed;
      for (const auto& k : known_) allowed += (allowed.empty() ? "" : ", ") + k;
      problems.push_back(where_ + ": unknown key \"" + key +
                         "\" (allowed: " + (allowed.empty() ? "none" : allowed) + ")");
    }
  }
  if (problems.empty()) return ok_status();
  std::string message;
  for (const auto& p : problems) message += (message.empty() ? "" : "; ") + p;
  return Error{message};
}

}  // namespace qsc

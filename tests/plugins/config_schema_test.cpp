// Every built-in plugin's config schema against the plugin itself: the schema is what `qsc
// config` checks without creating the plugin, so it must say what create accepts. Each default
// is the plugin's effective value, and a value just past each bound is refused by the schema and
// by the plugin alike. Plus the schema reader's own refusals.
#include <gtest/gtest.h>

#include <cmath>

#include "plugin_host/config_schema.hpp"
#include "plugin_test_support.hpp"

namespace qsc::test {
namespace {

namespace fs = std::filesystem;
using agent::PluginHost;
namespace schema = agent::config_schema;

/// A host of the one built-in plugin `name` (detector or action), with `section`.
PluginHost one_plugin(const TempDir& dir, const std::string& name,
                      const nlohmann::json& section = nlohmann::json::object()) {
  fs::path library = fs::path(QSC_TEST_BUILD_PLUGIN_DIR) / (name + ".so");
  install_plugin(library, dir.path(), name + ".so");
  nlohmann::json sections = nlohmann::json::object();
  if (!section.empty()) sections[name] = section;
  auto host = PluginHost::open(dir.path(), host_config(sections));
  if (!host) throw std::runtime_error(host.error().message);
  return std::move(host).value();
}

std::vector<std::string> built_in_plugins() {
  auto names = detector_names();
  names.insert(names.end(), {"notify", "rollback", "systemd"});
  return names;
}

TEST(ConfigSchema, EveryBuiltInPluginDeclaresOneWhoseDefaultsAreItsEffectiveValues) {
  for (const auto& name : built_in_plugins()) {
    TempDir dir;
    auto host = one_plugin(dir, name);
    const auto& r = record_named(host, name);
    ASSERT_EQ(r.status, "loaded") << name << ": " << r.reason;
    ASSERT_TRUE(r.config_schema.is_object()) << name << " declares no schema";
    for (const auto& [key, entry] : r.config_schema.items()) {
      if (!entry.contains("default") || !r.effective_config.contains(key)) continue;
      if (entry["default"].is_number()) {
        EXPECT_DOUBLE_EQ(entry["default"].get<double>(), r.effective_config[key].get<double>())
            << name << "." << key;
      } else if (entry["default"].is_string()) {
        EXPECT_EQ(entry["default"], r.effective_config[key]) << name << "." << key;
      }
    }
    // Every key the plugin reports is one the schema allows.
    if (r.kind == "detector") {
      for (const auto& [key, value] : r.effective_config.items()) {
        EXPECT_TRUE(r.config_schema.contains(key)) << name << " reports " << key;
      }
    }
  }
}

// Just past each bound (or at an excluded end): the schema and the plugin both refuse it.
TEST(ConfigSchema, EveryBuiltInBoundIsRefusedByTheSchemaAndByThePluginAlike) {
  std::size_t bounds = 0;
  for (const auto& name : built_in_plugins()) {
    TempDir probe;
    const auto schema_doc = record_named(one_plugin(probe, name), name).config_schema;
    for (const auto& [key, entry] : schema_doc.items()) {
      if (entry["type"] != "number") continue;
      for (const char* end : {"min", "max"}) {
        if (!entry.contains(end)) continue;
        const double at = entry[end].get<double>();
        const bool excluded = entry.value(std::string(end) + "_excluded", false);
        const double step = std::max(1e-6, std::abs(at) * 1e-6);
        const double outside = excluded ? at : (std::string(end) == "min" ? at - step : at + step);
        const nlohmann::json section{{key, outside}};
        const auto by_schema = schema::validate(schema_doc, section, name, host_config());
        EXPECT_FALSE(by_schema.ok()) << name << "." << key << " = " << outside;
        TempDir dir;
        auto host = one_plugin(dir, name, section);
        EXPECT_FALSE(host.startup_status().ok()) << name << "." << key << " = " << outside;
        if (!by_schema.ok() && !host.startup_status().ok()) {
          // The same words from both: ConfigSection's message for the key.
          const std::string where = "plugins.config." + name + "." + key + ": must be";
          EXPECT_NE(by_schema.error().message.find(where), std::string::npos)
              << by_schema.error().message;
          EXPECT_NE(host.startup_status().error().message.find(where), std::string::npos)
              << host.startup_status().error().message;
        }
        ++bounds;
      }
    }
  }
  EXPECT_GE(bounds, 20u);  // every detector threshold and the actions' timeouts
}

TEST(ConfigSchema, ValidateNamesThePluginTheKeyAndTheAllowedRange) {
  const auto doc = schema::parse(R"({"max_share_pct": {"type": "number", "min": 0, "max": 100,
      "max_excluded": true, "why": "at 100 the check could never fire", "default": 70},
      "mode": {"type": "string"}, "stale_after": {"type": "duration", "min": 1, "max": 3600},
      "count": {"type": "integer", "min": 0}})");
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  EXPECT_TRUE(
      schema::validate(doc.value(), {{"max_share_pct", 60}, {"stale_after", "5m"}}, "p", {}).ok());
  EXPECT_EQ(schema::validate(doc.value(), {{"max_share_pct", 100}}, "p", {}).error().message,
            "plugins.config.p.max_share_pct: must be a number from 0 and below 100 (at 100 the "
            "check could never fire), got 100");
  EXPECT_EQ(schema::validate(doc.value(), {{"mode", 3}}, "p", {}).error().message,
            "plugins.config.p.mode: must be a string, got number");
  EXPECT_EQ(schema::validate(doc.value(), {{"maxshare_pct", 3}}, "p", {}).error().message,
            "plugins.config.p: unknown key \"maxshare_pct\" (allowed: count, max_share_pct, mode, "
            "stale_after)");
  EXPECT_EQ(schema::validate(doc.value(), {{"stale_after", "2h"}}, "p", {}).error().message,
            "plugins.config.p.stale_after: must be seconds from 1 to 3600 or a duration such as "
            "\"300s\" or \"5m\", got \"2h\"");
  EXPECT_EQ(schema::validate(doc.value(), {{"count", 1.5}}, "p", {}).error().message,
            "plugins.config.p.count: must be a whole number, got 1.500000");
  EXPECT_FALSE(schema::validate(doc.value(), nlohmann::json::array(), "p", {}).ok());
}

// A string key with "values" (the ensemble checks' "attribution"): `qsc config` refuses any
// other string with the message the plugin's create gives.
TEST(ConfigSchema, AStringOutsideItsValuesIsRefusedNamingThem) {
  const auto doc = schema::parse(
      R"({"attribution": {"type": "string", "values": ["canary", "ensemble"], "default": "canary"}})");
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  EXPECT_TRUE(schema::validate(doc.value(), {{"attribution", "ensemble"}}, "p", {}).ok());
  EXPECT_EQ(schema::validate(doc.value(), {{"attribution", "market"}}, "p", {}).error().message,
            "plugins.config.p.attribution: must be \"canary\" or \"ensemble\", got \"market\"");
  EXPECT_EQ(schema::parse(R"({"k": {"type": "number", "values": ["a"]}})").error().message,
            "config schema is invalid: key \"k\": values is not a list of strings of a string key");
  EXPECT_FALSE(schema::parse(R"({"k": {"type": "string", "values": ["a"], "default": "b"}})").ok());
  for (const std::string detector : {"ensemble_dysfunction", "model_chaos"}) {
    TempDir dir;
    auto host = one_plugin(dir, detector);
    const auto declared = schema::parse(record_named(host, detector).config_schema.dump());
    ASSERT_TRUE(declared.ok()) << declared.error().message;
    const auto refused =
        schema::validate(declared.value(), {{"attribution", "market"}}, detector, {});
    ASSERT_FALSE(refused.ok()) << detector;
    EXPECT_EQ(refused.error().message, "plugins.config." + detector +
                                           ".attribution: must be \"canary\" or \"ensemble\", "
                                           "got \"market\"");
  }
}

TEST(ConfigSchema, ParseRefusesAMalformedSchemaNamingTheKey) {
  EXPECT_EQ(schema::parse("[1]").error().message, "config schema is invalid: not a JSON object");
  EXPECT_EQ(schema::parse(R"({"k": {"type": "float"}})").error().message,
            "config schema is invalid: key \"k\" has no valid type (number, integer, duration, "
            "string, boolean, string_list, object, object_list)");
  EXPECT_EQ(schema::parse(R"({"k": {"type": "number", "mni": 0}})").error().message,
            "config schema is invalid: key \"k\" has an unknown field \"mni\"");
  EXPECT_NE(schema::parse(R"({"k": {"type": "number", "max": 1, "default": 2}})")
                .error()
                .message.find("key \"k\": "),
            std::string::npos);
}

}  // namespace
}  // namespace qsc::test

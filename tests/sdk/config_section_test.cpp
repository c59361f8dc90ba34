// A plugin's configuration section: typed keys with ranges, unknown keys refused by name.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "qsc/config_section.hpp"
#include "qsc/gate_config.hpp"

namespace qsc {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr const char* kWhere = "plugins.config.action_collapse";

TEST(ConfigSectionTest, ReadsValuesAndKeepsDefaultsForAbsentKeys) {
  ConfigSection s(json{{"max_share_pct", 65}, {"label", "x"}, {"enabled", false}}, kWhere);
  EXPECT_DOUBLE_EQ(s.number("max_share_pct", 70, 0, 100), 65.0);
  EXPECT_DOUBLE_EQ(s.number("absent", 12.5, 0, 100), 12.5);
  EXPECT_EQ(s.string("label", "y"), "x");
  EXPECT_FALSE(s.boolean("enabled", true));
  const auto status = s.finish();
  EXPECT_TRUE(status.ok()) << status.error().message;
  // A null or absent section is an empty one.
  EXPECT_TRUE(ConfigSection(json(), kWhere).finish().ok());
}

TEST(ConfigSectionTest, UnknownKeyIsRefusedNamingItAndTheAllowedKeys) {
  ConfigSection s(json{{"max_share_pct", 65}, {"max_shrae_pct", 50}}, kWhere);
  EXPECT_DOUBLE_EQ(s.number("max_share_pct", 70, 0, 100), 65.0);
  (void)s.number("min_votes", 10, 0, 1000);
  const auto status = s.finish();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(
      status.error().message,
      std::string(kWhere) + R"(: unknown key "max_shrae_pct" (allowed: max_share_pct, min_votes))");
  // A section that reads nothing allows nothing.
  ConfigSection none(json{{"x", 1}}, "plugins.config.notify");
  ASSERT_FALSE(none.finish().ok());
  EXPECT_EQ(none.finish().error().message,
            R"(plugins.config.notify: unknown key "x" (allowed: none))");
}

TEST(ConfigSectionTest, OutOfRangeNumberNamesTheKeyAndTheRange) {
  ConfigSection s(json{{"max_share_pct", 170}}, kWhere);
  EXPECT_DOUBLE_EQ(s.number("max_share_pct", 70, 0, 100), 70.0)
      << "a refused value keeps the default";
  const auto status = s.finish();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message,
            std::string(kWhere) + ".max_share_pct: must be a number from 0 to 100, got 170");
  // Just inside both ends is fine; fractional bounds are printed as written.
  ConfigSection edge(json{{"min_conf_std", 0.05}, {"lo", 0}}, kWhere);
  EXPECT_DOUBLE_EQ(edge.number("min_conf_std", 0.1, 0.001, 0.05), 0.05);
  EXPECT_DOUBLE_EQ(edge.number("lo", 1, 0, 1), 0.0);
  EXPECT_TRUE(edge.finish().ok());
  ConfigSection small(json{{"min_conf_std", 0.0001}}, kWhere);
  (void)small.number("min_conf_std", 0.05, 0.001, 0.5);
  EXPECT_EQ(small.finish().error().message,
            std::string(kWhere) + ".min_conf_std: must be a number from 0.001 to 0.5, got 0.0001");
}

// An excluded end is refused at that very value, with the reason; just inside it is fine.
TEST(ConfigSectionTest, ExcludedEndsAreRefusedWithTheirReason) {
  using End = ConfigSection::End;
  ConfigSection s(json{{"max_share_pct", 100}, {"min_conf_std", 0}}, kWhere);
  EXPECT_DOUBLE_EQ(s.number("max_share_pct", 70, 0, End::kIncluded, 100, End::kExcluded,
                            "at 100 the check could never fire"),
                   70.0);
  EXPECT_DOUBLE_EQ(s.number("min_conf_std", 0.05, 0, End::kExcluded, 1, End::kIncluded,
                            "at 0 the check could never fire"),
                   0.05);
  const auto status = s.finish();
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error().message,
              HasSubstr(std::string(kWhere) +
                        ".max_share_pct: must be a number from 0 and below 100 (at 100 the "
                        "check could never fire), got 100"));
  EXPECT_THAT(status.error().message,
              HasSubstr(std::string(kWhere) +
                        ".min_conf_std: must be a number above 0 and at most 1 (at 0 the check "
                        "could never fire), got 0"));
  ConfigSection inside(json{{"max_share_pct", 99.99}, {"min_conf_std", 1e-6}}, kWhere);
  EXPECT_DOUBLE_EQ(
      inside.number("max_share_pct", 70, 0, End::kIncluded, 100, End::kExcluded, "why"), 99.99);
  EXPECT_DOUBLE_EQ(inside.number("min_conf_std", 0.05, 0, End::kExcluded, 1, End::kIncluded, "why"),
                   1e-6);
  EXPECT_TRUE(inside.finish().ok());
}

// Issue 13 item 12: every threshold the gate and the ensemble checks read has a limit at which
// it would switch its check off, and that value is refused naming the key. Before the fix each
// of these was accepted.
TEST(ConfigSectionTest, GateAndEnsembleThresholdsThatSwitchAChecksOffAreRefused) {
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, double>>{{"max_share_pct", 100},
                                                   {"max_hold_pct", 100},
                                                   {"min_conf_std", 0},
                                                   {"min_p10_p90", 0},
                                                   {"constant_std", 0},
                                                   {"constant_range", 0}}) {
    SCOPED_TRACE(key);
    auto t = read_gate_thresholds(json{{key, value}}, "plugins.config.quality_gate");
    ASSERT_FALSE(t.ok());
    EXPECT_THAT(t.error().message, HasSubstr("plugins.config.quality_gate." + key + ": must be"));
    EXPECT_THAT(t.error().message, HasSubstr("the check could never fire"));
  }
  auto low = read_ensemble_thresholds(json{{"min_agreement_pct", 0}}, json::object());
  ASSERT_FALSE(low.ok());
  EXPECT_THAT(low.error().message,
              HasSubstr("plugins.config.ensemble_dysfunction.min_agreement_pct: must be a "
                        "number above 33.33333333 and at most 100"));
  auto high = read_ensemble_thresholds(json{{"max_agreement_pct", 100}}, json::object());
  ASSERT_FALSE(high.ok());
  EXPECT_THAT(high.error().message,
              HasSubstr("plugins.config.ensemble_dysfunction.max_agreement_pct: must be a "
                        "number from 0 and below 100"));
  auto chaos = read_ensemble_thresholds(json::object(), json{{"max_hard_disagree_pct", 100}});
  ASSERT_FALSE(chaos.ok());
  EXPECT_THAT(chaos.error().message,
              HasSubstr("plugins.config.model_chaos.max_hard_disagree_pct: must be a number "
                        "from 0 and below 100"));
  // docs/design.md's defaults and values just inside the limits are accepted.
  EXPECT_TRUE(
      read_gate_thresholds(json{{"max_share_pct", 99.9}, {"min_conf_std", 0.001}}, "q").ok());
  EXPECT_TRUE(read_ensemble_thresholds(json::object(), json::object()).ok());
}

TEST(ConfigSectionTest, WrongTypesNameTheKeyAndWhatIsAllowed) {
  ConfigSection s(json{{"max_share_pct", "70"}, {"label", 3}, {"enabled", "yes"}}, kWhere);
  (void)s.number("max_share_pct", 70, 0, 100);
  (void)s.string("label", "");
  (void)s.boolean("enabled", true);
  const auto status = s.finish();
  ASSERT_FALSE(status.ok());
  const auto& m = status.error().message;
  // Every problem at once, so a user fixes the file in one go.
  EXPECT_THAT(m, HasSubstr(std::string(kWhere) +
                           ".max_share_pct: must be a number from 0 to 100, got \"70\""));
  EXPECT_THAT(m, HasSubstr(std::string(kWhere) + ".label: must be a string, got number"));
  EXPECT_THAT(m, HasSubstr(std::string(kWhere) + ".enabled: must be true or false, got string"));
}

TEST(ConfigSectionTest, SectionThatIsNotAnObjectIsRefused) {
  ConfigSection s(json::array({1, 2}), kWhere);
  const auto status = s.finish();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message,
            "plugins.config.action_collapse: expected a JSON object, got array");
}

TEST(ConfigSectionTest, RawAndFailMarkKeysKnownAndCollectProblems) {
  ConfigSection s(json{{"channels", json::array({"slack"})}}, "plugins.config.notify");
  const auto* raw = s.raw("channels");
  ASSERT_NE(raw, nullptr);
  EXPECT_TRUE(raw->is_array());
  EXPECT_EQ(s.raw("absent"), nullptr);
  s.fail("channels", "unknown channel \"slack\"");
  ASSERT_FALSE(s.finish().ok());
  EXPECT_EQ(s.finish().error().message,
            R"(plugins.config.notify.channels: unknown channel "slack")");
}

}  // namespace
}  // namespace qsc

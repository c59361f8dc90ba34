// The configuration file: defaults, strict keys, types and ranges, the search order and the
// Redis URL override.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "core/config.hpp"
#include "core/sha256.hpp"

namespace qsc::agent {
namespace {

using nlohmann::json;

std::string problems_of(const json& doc) {
  auto c = parse_config(doc, "test.json");
  EXPECT_FALSE(c.ok()) << doc.dump();
  return c.ok() ? "" : c.error().message;
}

TEST(Config, DefaultsAreDesignMd) {
  auto c = parse_config(json::object(), "test.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->telemetry.source, "shm");
  EXPECT_EQ(c->telemetry.stream, "quantum:stream:trade.intent");
  EXPECT_EQ(c->telemetry.min_events, 200u);
  EXPECT_EQ(c->telemetry.window_events, 2000u);
  EXPECT_EQ(c->telemetry.stale_after, std::chrono::seconds(300));
  EXPECT_EQ(c->canary.weight, 0.10);
  EXPECT_EQ(c->canary.duration, std::chrono::hours(6));
  EXPECT_EQ(c->canary.interval, std::chrono::seconds(30));
  EXPECT_EQ(c->canary.default_weights.at("nhits"), 0.30);
  EXPECT_EQ(c->paths.audit_log, "logs/qsc_canary.jsonl");
  EXPECT_EQ(c->systemd.unit, "quantum-ai_engine.service");
  EXPECT_EQ(c->plugins.actions, (std::vector<std::string>{"rollback", "systemd", "notify"}));
}

TEST(Config, DesignMdExampleParses) {
  const auto doc = json::parse(R"({
    "telemetry": {"source": "redis", "redis_url": "redis://127.0.0.1:6379/0",
                  "stream": "quantum:stream:trade.intent", "shm_name": "qsc_trade_intent",
                  "file": "", "min_events": 200, "window_events": 2000, "stale_after": "300s",
                  "max_rejected_pct": 1},
    "canary": {"models": ["xgb", "lgbm", "nhits", "patchtst"],
               "default_weights": {"xgb": 0.25, "lgbm": 0.25, "nhits": 0.30, "patchtst": 0.20},
               "weight": 0.10, "duration": "6h", "interval": "30s"},
    "paths": {"live_weights": "", "baseline_weights": "data/baseline_model_weights.json",
              "canary_weights": "data/qsc_canary_weights.json",
              "override_dir": "data/systemd_overrides", "audit_log": "logs/qsc_canary.jsonl",
              "reports_dir": "reports/safety", "state": "data/qsc_state.json"},
    "systemd": {"unit": "quantum-ai_engine.service",
                "dropin_dir": "/etc/systemd/system/quantum-ai_engine.service.d",
                "systemctl": "systemctl"},
    "plugins": {"dir": "/opt/qsc/plugins", "actions": ["rollback", "systemd", "notify"],
                "config": {"action_collapse": {"max_share_pct": 70}, "notify": {"channels": []}}}
  })");
  auto c = parse_config(doc, "design.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->telemetry.source, "redis");
  EXPECT_EQ(c->plugins.dir, "/opt/qsc/plugins");
  EXPECT_EQ(c->plugin_section("action_collapse")["max_share_pct"], 70);
  EXPECT_TRUE(c->plugin_section("dead_zone").empty());
  // The effective configuration round-trips through the same parser.
  auto again = parse_config(c->to_json(), "round-trip");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->to_json(), c->to_json());
}

// Issue 15 section 2: the systemd action's settings live in plugins.config.systemd.
TEST(Config, SystemdSettingsAreReadFromThePluginSection) {
  const auto doc = json::parse(R"({"plugins": {"config": {"systemd": {
      "unit": "engine.service", "dropin_dir": "/tmp/engine.service.d", "systemctl": "/bin/sc",
      "verify_timeout_ms": 100}}}})");
  auto c = parse_config(doc, "test.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_TRUE(c->warnings.empty());
  EXPECT_EQ(c->systemd.unit, "engine.service");
  EXPECT_EQ(c->systemd.dropin_dir, "/tmp/engine.service.d");
  EXPECT_EQ(c->systemd.systemctl, "/bin/sc");
  // The plugin receives its whole section; the effective configuration has no top-level copy.
  EXPECT_EQ(c->plugin_section("systemd"), doc["plugins"]["config"]["systemd"]);
  EXPECT_FALSE(c->to_json().contains("systemd"));
  EXPECT_EQ(c->to_json()["plugins"]["config"]["systemd"], doc["plugins"]["config"]["systemd"]);
  auto again = parse_config(c->to_json(), "round-trip");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(again->warnings.empty());
  EXPECT_EQ(again->to_json(), c->to_json());
  // Nobody wrote a section and the settings are the defaults: none is made (a plugin directory
  // without the systemd action must not be refused for it); the agent and the action share the
  // defaults from the canary-file contract.
  auto defaults = parse_config(json::object(), "test.json");
  ASSERT_TRUE(defaults.ok());
  EXPECT_FALSE(defaults->to_json()["plugins"]["config"].contains("systemd"));
  EXPECT_EQ(defaults->systemd.dropin_dir, std::string(kDefaultDropinDir));
  EXPECT_EQ(defaults->systemd.unit, std::string(kDefaultUnit));
  // A section with only the action's own keys gets the agent's settings added.
  auto own = parse_config(
      json::parse(R"({"plugins": {"config": {"systemd": {"verify_timeout_ms": 100}}}})"), "t");
  ASSERT_TRUE(own.ok()) << own.error().message;
  EXPECT_EQ(own->plugin_section("systemd")["unit"], std::string(kDefaultUnit));
  EXPECT_EQ(own->plugin_section("systemd")["verify_timeout_ms"], 100);
}

TEST(Config, TheTopLevelSystemdSectionIsADeprecatedAliasWithAWarningPerKey) {
  auto c = parse_config(json::parse(R"({"systemd": {"unit": "engine.service",
      "dropin_dir": "/tmp/engine.service.d"}})"),
                        "test.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->systemd.unit, "engine.service");
  EXPECT_EQ(c->systemd.dropin_dir, "/tmp/engine.service.d");
  EXPECT_EQ(c->systemd.systemctl, "systemctl");
  ASSERT_EQ(c->warnings.size(), 2u);
  EXPECT_EQ(c->warnings[0],
            "configuration key \"systemd.unit\" is deprecated: move it to "
            "\"plugins.config.systemd.unit\" (the top-level \"systemd\" section is read for this "
            "release only)");
  EXPECT_NE(c->warnings[1].find("\"plugins.config.systemd.dropin_dir\""), std::string::npos);
  EXPECT_EQ(c->plugin_section("systemd")["unit"], "engine.service");
  EXPECT_FALSE(c->to_json().contains("systemd"));
  // Its keys are still checked.
  const auto m = problems_of(json::parse(R"({"systemd": {"unit": 3, "units": "x"}})"));
  EXPECT_NE(m.find("systemd.unit: must be a string"), std::string::npos) << m;
  EXPECT_NE(m.find("unknown key \"systemd.units\""), std::string::npos) << m;
}

TEST(Config, BothSystemdPlacesAtOnceAreRefused) {
  const auto m = problems_of(json::parse(R"({"systemd": {"unit": "a.service"},
      "plugins": {"config": {"systemd": {"dropin_dir": "/tmp/a.service.d"}}}})"));
  EXPECT_NE(m.find("the deprecated top-level \"systemd\" section and "
                   "plugins.config.systemd.dropin_dir are both set: keep only "
                   "plugins.config.systemd"),
            std::string::npos)
      << m;
  // The section's own keys (verify_timeout_ms...) beside the deprecated section are no conflict.
  auto c = parse_config(json::parse(R"({"systemd": {"unit": "a.service"},
      "plugins": {"config": {"systemd": {"verify_timeout_ms": 100}}}})"),
                        "test.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->plugin_section("systemd")["unit"], "a.service");
  EXPECT_EQ(c->plugin_section("systemd")["verify_timeout_ms"], 100);
  const auto empty =
      problems_of(json::parse(R"({"plugins": {"config": {"systemd": {"unit": ""}}}})"));
  EXPECT_NE(empty.find("plugins.config.systemd.unit: must be a non-empty string"),
            std::string::npos)
      << empty;
}

TEST(Config, UnknownKeyIsNamedWithTheAllowedOnes) {
  const auto m = problems_of(json::parse(R"({"telemetry": {"min_event": 100}})"));
  EXPECT_NE(m.find("unknown key \"telemetry.min_event\""), std::string::npos) << m;
  EXPECT_NE(m.find("min_events"), std::string::npos) << m;
  const auto top = problems_of(json::parse(R"({"canray": {}})"));
  EXPECT_NE(top.find("unknown key \"canray\""), std::string::npos) << top;
}

TEST(Config, WrongTypesAndRangesNameTheKeyAndWhatIsAllowed) {
  auto m = problems_of(json::parse(R"({"telemetry": {"min_events": "200"}})"));
  EXPECT_NE(m.find("telemetry.min_events: must be a whole number from 200"), std::string::npos)
      << m;
  m = problems_of(json::parse(R"({"canary": {"weight": 0.9}})"));
  EXPECT_NE(m.find("canary.weight: must be a number above 0 and at most 0.5, got 0.9"),
            std::string::npos)
      << m;
  m = problems_of(json::parse(R"({"canary": {"interval": 30}})"));
  EXPECT_NE(m.find("canary.interval: must be a duration string"), std::string::npos) << m;
  m = problems_of(json::parse(R"({"canary": {"duration": "6 hours"}})"));
  EXPECT_NE(m.find("canary.duration: invalid duration \"6 hours\""), std::string::npos) << m;
  m = problems_of(json::parse(R"({"telemetry": {"source": "kafka"}})"));
  EXPECT_NE(m.find("telemetry.source: must be one of file, redis, shm, got \"kafka\""),
            std::string::npos)
      << m;
  m = problems_of(json::parse(R"({"telemetry": {"min_events": 300, "window_events": 200}})"));
  EXPECT_NE(m.find("telemetry.window_events: must be at least min_events (300)"), std::string::npos)
      << m;
  // A silence longer than an hour would leave a dead engine's canary live that long.
  m = problems_of(json::parse(R"({"telemetry": {"stale_after": "2h"}})"));
  EXPECT_NE(m.find("telemetry.stale_after: must be at most 1h (longer silences would go "
                   "unnoticed), got \"2h\""),
            std::string::npos)
      << m;
  EXPECT_TRUE(parse_config(json::parse(R"({"telemetry": {"stale_after": "1h"}})"), "t.json").ok());
  m = problems_of(json::parse(R"({"canary": {"models": ["xgb", "tft"]}})"));
  EXPECT_NE(m.find("\"tft\" has no entry in canary.default_weights"), std::string::npos) << m;
  m = problems_of(json::parse(R"({"plugins": {"config": {"notify": []}}})"));
  EXPECT_NE(m.find("plugins.config: must be an object"), std::string::npos) << m;
}

// The supervised monitor's limits (issue 14): defaults, units, floors, and the round trip.
TEST(Config, SupervisorLimits) {
  auto c = parse_config(json::object(), "test.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->plugins.check_timeout, std::chrono::seconds(2));
  EXPECT_EQ(c->plugins.max_rss_bytes, 512ull << 20);
  EXPECT_EQ(c->plugins.action_timeout, std::chrono::seconds(60));
  EXPECT_EQ(c->canary.max_restarts, 2u);
  EXPECT_EQ(c->plugins.memory_watch, "page_faults");

  auto set = parse_config({{"plugins",
                            {{"check_timeout", "500ms"},
                             {"max_rss", "2GiB"},
                             {"action_timeout", "5s"},
                             {"memory_watch", "rounds"}}},
                           {"canary", {{"max_restarts", 0}}}},
                          "test.json");
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->plugins.check_timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(set->plugins.max_rss_bytes, 2ull << 30);
  EXPECT_EQ(set->plugins.action_timeout, std::chrono::seconds(5));
  EXPECT_EQ(set->canary.max_restarts, 0u);
  auto again = parse_config(set->to_json(), "round-trip");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->plugins.max_rss_bytes, 2ull << 30);
  EXPECT_EQ(again->plugins.memory_watch, "rounds");
  EXPECT_NE(problems_of({{"plugins", {{"memory_watch", "off"}}}}).find("plugins.memory_watch"),
            std::string::npos);

  auto bytes = parse_config({{"plugins", {{"max_rss", 100000000}}}}, "test.json");
  ASSERT_TRUE(bytes.ok()) << bytes.error().message;
  EXPECT_EQ(bytes->plugins.max_rss_bytes, 100000000u);

  for (const json& bad : {json("512MB"), json("lots"), json(1024), json("-1MiB"), json(-5)}) {
    EXPECT_NE(problems_of({{"plugins", {{"max_rss", bad}}}})
                  .find("plugins.max_rss: must be a "
                        "byte count of at least 64 MiB"),
              std::string::npos)
        << bad.dump();
  }
  EXPECT_NE(problems_of({{"plugins", {{"check_timeout", "10ms"}}}})
                .find("plugins.check_timeout: must be at least"),
            std::string::npos);
  EXPECT_NE(problems_of({{"canary", {{"max_restarts", -1}}}}).find("canary.max_restarts"),
            std::string::npos);
}

TEST(Config, EveryProblemIsReportedAtOnce) {
  const auto m = problems_of(
      json::parse(R"({"telemetry": {"min_events": -1, "bogus": 1}, "canary": {"weight": "x"}})"));
  EXPECT_NE(m.find("telemetry.min_events"), std::string::npos) << m;
  EXPECT_NE(m.find("telemetry.bogus"), std::string::npos) << m;
  EXPECT_NE(m.find("canary.weight"), std::string::npos) << m;
}

// Issue 13 item 12: thresholds of the agent's own that would switch a check off are refused,
// naming the key and the allowed range. Before the fix min_events 1 and max_rejected_pct 100
// were accepted.
TEST(Config, ThresholdsThatSwitchAChecksOffAreRefused) {
  if (kMinEventsFloor != 200) GTEST_SKIP() << "built with a test-only QSC_MIN_EVENTS_FLOOR";
  auto m = problems_of(json::parse(R"({"telemetry": {"min_events": 1}})"));
  EXPECT_NE(m.find("telemetry.min_events: must be a whole number from 200 to 100000000 (fewer "
                   "events are too few to judge a model), got 1"),
            std::string::npos)
      << m;
  m = problems_of(json::parse(R"({"telemetry": {"min_events": 199}})"));
  EXPECT_NE(m.find("telemetry.min_events: must be a whole number from 200"), std::string::npos)
      << m;
  EXPECT_TRUE(parse_config(json::parse(R"({"telemetry": {"min_events": 200}})"), "t").ok());
  // Session 10: the limit is below 50 (most of a window unreadable is no telemetry to decide
  // on), no longer below 100.
  for (const char* pct : {"100", "99", "50"}) {
    m = problems_of(
        json::parse(std::string(R"({"telemetry": {"max_rejected_pct": )") + pct + "}}"));
    EXPECT_NE(m.find("telemetry.max_rejected_pct: must be a number from 0 and below 50 (at 50 or "
                     "more most of a window could be unreadable and the verdict would rest on "
                     "the readable minority; the default is 1), got " +
                     std::string(pct)),
              std::string::npos)
        << m;
  }
  auto just_below = parse_config(json::parse(R"({"telemetry": {"max_rejected_pct": 49.9}})"), "t");
  ASSERT_TRUE(just_below.ok()) << just_below.error().message;
  EXPECT_DOUBLE_EQ(just_below->telemetry.max_rejected_pct, 49.9);
}

// Session 10: a monitoring period shorter than telemetry.stale_after + canary.interval cannot
// see a silence from its start (an engine dead all period completed clean), and a window larger
// than plugins.max_rss holds is never honest. Both refusals name the key, the bound and the fix.
TEST(Config, APeriodTooShortToSeeASilenceAndAWindowTooLargeToHoldAreRefused) {
  auto m = problems_of(json::parse(R"({"canary": {"duration": "1s", "interval": "1s"}})"));
  EXPECT_NE(m.find("canary.duration: must be at least telemetry.stale_after + canary.interval "
                   "(5m1s)"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("got \"1s\": lengthen canary.duration or shorten telemetry.stale_after"),
            std::string::npos)
      << m;
  m = problems_of(json::parse(
      R"({"telemetry": {"stale_after": "10s"}, "canary": {"duration": "10s", "interval": "1s"}})"));
  EXPECT_NE(m.find("canary.duration: must be at least telemetry.stale_after + canary.interval "
                   "(11s)"),
            std::string::npos)
      << m;
  EXPECT_TRUE(parse_config(json::parse(R"({"telemetry": {"stale_after": "10s"},
                                            "canary": {"duration": "11s", "interval": "1s"}})"),
                           "t")
                  .ok());
  // The longest silence the monitor tolerates governs: telemetry_stale's own keys when longer.
  m = problems_of(json::parse(R"({"telemetry": {"stale_after": "10s"},
                                  "canary": {"duration": "11s", "interval": "1s"},
                                  "plugins": {"config": {"telemetry_stale":
                                      {"canary_silent_after": 120}}}})"));
  EXPECT_NE(m.find("canary.duration: must be at least "
                   "plugins.config.telemetry_stale.canary_silent_after + canary.interval (2m1s)"),
            std::string::npos)
      << m;
  m = problems_of(json::parse(R"({"telemetry": {"window_events": 100000000}})"));
  EXPECT_NE(m.find("telemetry.window_events: must be at most "), std::string::npos) << m;
  EXPECT_NE(m.find("lower it (the default is 2000) or raise plugins.max_rss"), std::string::npos)
      << m;
  // The Redis monitor test's whole-period window fits the default 512 MiB.
  EXPECT_TRUE(parse_config(json::parse(R"({"telemetry": {"window_events": 100000}})"), "t").ok());
  // telemetry_stale's own max_rejected_pct is the plugin's key, refused by its schema and its
  // create() (Gate.QscConfigRefusesValuesThatWeakenACheckWithoutSwitchingItOff), not here.
}

// The digest is of the effective settings: key order and whitespace do not change it, any value
// does, and it is SHA-256 of the canonical (sorted, compact) JSON.
TEST(Config, Sha256IsOfTheCanonicalEffectiveConfiguration) {
  auto a =
      parse_config(json::parse(R"({"telemetry": {"min_events": 300, "source": "redis"}})"), "a");
  auto b =
      parse_config(json::parse(R"({"telemetry": {"source": "redis",   "min_events": 300}})"), "b");
  auto c =
      parse_config(json::parse(R"({"telemetry": {"min_events": 301, "source": "redis"}})"), "c");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->sha256.size(), 64u);
  EXPECT_EQ(a->sha256, b->sha256);
  EXPECT_NE(a->sha256, c->sha256);
  EXPECT_EQ(a->sha256, config_sha256(*a));
  EXPECT_EQ(a->sha256, sha256_hex(a->to_json().dump()));
}

// FIPS 180-4 / NIST CSHA test vectors.
TEST(Sha256, NistVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1'000'000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Every length across the padding's one-block/two-block boundaries (55, 56, 63, 64, 119, 120
// bytes), each byte value, against coreutils' sha256sum (an independent implementation).
TEST(Sha256, EqualsSha256sumAcrossThePaddingBoundaries) {
  const auto path =
      std::filesystem::temp_directory_path() / ("qsc_sha256_test_" + std::to_string(::getpid()));
  for (std::size_t length = 0; length <= 200; ++length) {
    std::string data(length, '\0');
    for (std::size_t i = 0; i < length; ++i) data[i] = static_cast<char>((i * 131 + length) & 0xff);
    {
      std::ofstream out(path, std::ios::binary);
      out << data;
    }
    const std::string command = "sha256sum '" + path.string() + "'";
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
    ASSERT_TRUE(pipe) << command;
    char line[128] = {};
    ASSERT_NE(std::fgets(line, sizeof line, pipe.get()), nullptr) << command;
    EXPECT_EQ(sha256_hex(data), std::string(line, 64)) << "length " << length;
    EXPECT_EQ(sha256_hex_portable(data), std::string(line, 64)) << "length " << length;
  }
  std::filesystem::remove(path);
}

// The CPU's SHA extensions (when this CPU has them: sha256_hex picks them) and the portable code
// give the same digest for every length up to four blocks and one of a megabyte, and the
// portable code the NIST vectors; on a CPU without them both are the portable code.
TEST(Sha256, TheCpusShaExtensionsAndThePortableCodeAgree) {
  std::string data;
  for (std::size_t length = 0; length <= 256; ++length) {
    EXPECT_EQ(sha256_hex(data), sha256_hex_portable(data)) << "length " << length;
    data.push_back(static_cast<char>((length * 197 + 7) & 0xff));
  }
  std::string megabyte(1 << 20, '\0');
  for (std::size_t i = 0; i < megabyte.size(); ++i) {
    megabyte[i] = static_cast<char>((i * 2654435761u) >> 13);
  }
  EXPECT_EQ(sha256_hex(megabyte), sha256_hex_portable(megabyte));
  EXPECT_EQ(sha256_hex_portable("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// A message handed in pieces (a library digested 64 KiB at a time) has the digest of the whole:
// pieces of every size from 1 to 200 bytes, cut at every offset modulo a block, through the CPU's
// block function and the portable one.
TEST(Sha256, PiecesOfAnySizeGiveTheWholeMessagesDigest) {
  std::string message(5 * 64 + 37, '\0');
  for (std::size_t i = 0; i < message.size(); ++i) {
    message[i] = static_cast<char>((i * 2654435761u) >> 11);
  }
  const std::string whole = sha256_hex_portable(message);
  for (std::size_t piece = 1; piece <= 200; ++piece) {
    for (const bool portable : {false, true}) {
      Sha256 digest = portable ? Sha256::portable() : Sha256();
      for (std::size_t at = 0; at < message.size(); at += piece) {
        digest.update(std::string_view(message).substr(at, piece));
      }
      EXPECT_EQ(digest.finish_hex(), whole)
          << "pieces of " << piece << (portable ? " (portable)" : "");
    }
  }
}

class ConfigFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("qsc_config_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    old_ = std::filesystem::current_path();
    std::filesystem::current_path(dir_);
    ::unsetenv("QSC_REDIS_URL");
  }
  void TearDown() override {
    std::filesystem::current_path(old_);
    std::filesystem::remove_all(dir_);
    ::unsetenv("QSC_REDIS_URL");
  }
  std::filesystem::path dir_, old_;
};

TEST_F(ConfigFiles, ExplicitMissingFileIsAnError) {
  auto c = load_config(std::string("nope.json"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("nope.json does not exist"), std::string::npos);
}

TEST_F(ConfigFiles, LocalFileIsFoundAndInvalidJsonNamed) {
  std::ofstream("qsc.json") << R"({"telemetry": {"min_events": 250, "window_events": 260}})";
  auto c = load_config(std::nullopt);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->telemetry.min_events, 250u);
  EXPECT_EQ(c->loaded_from, "qsc.json");
  std::ofstream("bad.json") << "{not json";
  auto bad = load_config(std::string("bad.json"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("bad.json is not valid JSON"), std::string::npos);
}

TEST_F(ConfigFiles, RedisUrlFromTheEnvironmentWins) {
  ::setenv("QSC_REDIS_URL", "redis://:secret@10.0.0.1:6380/2", 1);
  auto c = load_config(std::nullopt);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->telemetry.redis_url, "redis://:secret@10.0.0.1:6380/2");
}

}  // namespace
}  // namespace qsc::agent

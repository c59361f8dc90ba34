// A detector that records how the host calls it (tests/monitor/verdict_horizon_test.cpp): its
// calls and the new events it was shown, in its message and figures. It passes, with the verdict
// horizon of its "horizon" key (ABI 2.1, qsc_check_sink::set_horizon), until it has been shown
// "fire_at_event" events (0: never), then it fires. With "check_symbols" 1 it counts the events
// shown whose symbol is not their time_ms modulo 1,000,000 in decimal (symbol_mismatches): a
// test stream that stamps them so proves each event shown is its own. Built with TEST_ABI_MINOR=0
// it is a plugin of ABI 2.0: its descriptor says 2.0 and it never calls set_horizon (which 2.0 did
// not have).
#include <cstddef>
#include <string>

#include "qsc/config_section.hpp"
#include "qsc/plugin.hpp"

#ifndef TEST_ABI_MINOR
#define TEST_ABI_MINOR QSC_PLUGIN_ABI_MINOR
#endif

namespace {

class HorizonProbe final : public qsc::Detector {
 public:
  static constexpr bool kReadsNewEvents = true;

  HorizonProbe(double horizon, double fire_at_event, bool check_symbols)
      : horizon_(static_cast<std::uint64_t>(horizon)),
        fire_at_event_(static_cast<std::uint64_t>(fire_at_event)),
        check_symbols_(check_symbols) {}

  static qsc::Result<std::unique_ptr<HorizonProbe>> create(const nlohmann::json& section,
                                                           const nlohmann::json&) {
    qsc::ConfigSection config(section, "plugins.config." TEST_PLUGIN_NAME);
    const double horizon = config.number("horizon", 0.0, 0.0, 1e6);
    const double fire_at_event = config.number("fire_at_event", 0.0, 0.0, 1e9);
    const double check_symbols = config.number("check_symbols", 0.0, 0.0, 1.0);
    if (auto status = config.finish(); !status) return status.error();
    return std::make_unique<HorizonProbe>(horizon, fire_at_event, check_symbols == 1.0);
  }

  qsc::CheckResult check(const qsc::CheckInput& input) override {
    ++calls_;
    for (const auto& e : input.new_events) {
      // Shown in order, each once: the test streams number their events consecutively.
      in_order_ = in_order_ && (events_ == 0 || e.seq == last_seq_ + 1);
      last_seq_ = e.seq;
      ++events_;
      if (check_symbols_ && e.symbol != std::to_string(e.time_ms % 1'000'000)) ++mismatches_;
    }
    qsc::CheckResult r;
    const bool fires = fire_at_event_ > 0 && events_ >= fire_at_event_;
    r.verdict = fires ? qsc::Verdict::kViolation : qsc::Verdict::kPass;
    r.message = "calls=" + std::to_string(calls_) + " events=" + std::to_string(events_) +
                (in_order_ ? "" : " out of order");
    r.figures = {{"calls", static_cast<double>(calls_)},
                 {"events", static_cast<double>(events_)},
                 {"in_order", in_order_ ? 1.0 : 0.0},
                 {"symbol_mismatches", static_cast<double>(mismatches_)}};
    // A 2.0 plugin knew no horizon: its trampoline never calls set_horizon.
    r.horizon_events = TEST_ABI_MINOR > 0 ? horizon_ : 0;
    return r;
  }
  std::string effective_config() const override { return "{}"; }

 private:
  std::uint64_t horizon_;
  std::uint64_t fire_at_event_;
  std::uint64_t calls_ = 0;
  std::uint64_t events_ = 0;
  std::uint64_t last_seq_ = 0;
  bool in_order_ = true;
  bool check_symbols_;
  std::uint64_t mismatches_ = 0;
};

constexpr struct qsc_plugin_descriptor kDescriptor = {
    sizeof(struct qsc_plugin_descriptor),
    QSC_PLUGIN_ABI_MAJOR,
    TEST_ABI_MINOR,
    QSC_KIND_DETECTOR,
    TEST_PLUGIN_NAME,
    "0.0.1",
    "a test detector recording its calls",
    &::qsc::detail::create_trampoline<HorizonProbe>,
    &::qsc::detail::destroy_trampoline<HorizonProbe>,
    &::qsc::detail::check_trampoline<HorizonProbe>,
    nullptr,
    &::qsc::detail::effective_config_trampoline<HorizonProbe>,
    QSC_SCOPE_CANARY_ONLY,
    0,
    nullptr};

}  // namespace

extern "C" QSC_PLUGIN_EXPORT const struct qsc_plugin_abi qsc_plugin_abi = {
    QSC_PLUGIN_ABI_MAJOR, TEST_ABI_MINOR, sizeof(struct qsc_plugin_descriptor)};
extern "C" QSC_PLUGIN_EXPORT const struct qsc_plugin_descriptor qsc_plugin_descriptor = kDescriptor;

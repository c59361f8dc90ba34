// The C++ layer on top of the C plugin ABI (qsc/plugin_abi.h): write a qsc::Detector or
// qsc::Action and export it with one macro. Header-only: the macros generate the C descriptor
// and trampolines that read the C input into the SDK's C++ types (qsc/plugin_abi_read.hpp), call
// the class, and hand its result back through the host's sinks. Exceptions thrown by the class
// are caught in the trampolines and become error values: none crosses the library boundary.
//
//   class MyDetector final : public qsc::Detector {
//    public:
//     // Optional: what `qsc config` checks plugins.config.my_detector against, without creating
//     // the plugin, and what `qsc plugins list --json` shows (keys, types, ranges, defaults).
//     static constexpr const char* kConfigSchema = R"({
//       "min_conf_mean": {"type": "number", "min": 0, "max": 1, "default": 0.55}})";
//     // Optional (actions): QSC_FLAG_* bits, e.g. QSC_FLAG_BEST_EFFORT.
//     static constexpr std::uint64_t kPluginFlags = 0;
//
//     static qsc::Result<std::unique_ptr<MyDetector>> create(const nlohmann::json& section,
//                                                            const nlohmann::json& host);
//     qsc::CheckResult check(const qsc::CheckInput& input) override;
//     // Optional: the same judgement written over the previous result, whose message and figures
//     // keep their storage (the SDK's checks have such forms): no allocation per check.
//     void check_into(const qsc::CheckInput& input, qsc::CheckResult& out);
//     // Optional (ABI 2.1): set result.horizon_events to a PROVEN number of accepted events over
//     // which the verdict cannot change, whatever they are; the host may skip the event-driven
//     // checks in between (docs/writing-a-detector.md, "Verdict horizons"). 0 by default.
//     std::string effective_config() const override;
//   };
//   QSC_DETECTOR_PLUGIN(MyDetector, "my_detector", "1.0.0", "Fires when ...")
//
// QSC_DETECTOR_PLUGIN judges one model (input.canary): the monitor runs it on the canary, and the
// gate and the scoreboard on every model, so a dropped-in check also blocks a deployment. A
// detector of the ensemble or of the live canary's watch says so with QSC_SCOPED_DETECTOR_PLUGIN
// (qsc::DetectorScope).
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "qsc/action.hpp"
#include "qsc/detector.hpp"
#include "qsc/plugin_abi.h"
#include "qsc/plugin_abi_read.hpp"
#include "qsc/result.hpp"
#include "qsc/version.hpp"

namespace qsc {

/// What a plugin is (qsc_plugin_kind).
enum class PluginKind : std::uint32_t { kDetector = QSC_KIND_DETECTOR, kAction = QSC_KIND_ACTION };

namespace detail {

inline std::string describe_current_exception() noexcept {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

inline void write_text(const qsc_text_sink* sink, std::string_view text) noexcept {
  if (sink != nullptr && sink->write != nullptr)
    sink->write(sink->host_data, text.data(), text.size());
}

template <typename T>
constexpr std::uint64_t plugin_flags() noexcept {
  if constexpr (requires { T::kPluginFlags; }) {
    return T::kPluginFlags;
  } else {
    return QSC_FLAG_ESSENTIAL;
  }
}

template <typename T>
constexpr const char* plugin_config_schema() noexcept {
  if constexpr (requires { T::kConfigSchema; }) {
    return T::kConfigSchema;
  } else {
    return nullptr;
  }
}

// What the host's opaque instance pointer points to: the plugin's object and, for a detector, the
// input and result it is handed at every check, kept so that reading the C input and writing the
// result reuse their storage instead of allocating at every event.
template <typename T>
struct PluginInstance {
  explicit PluginInstance(std::unique_ptr<T> made) : plugin(std::move(made)) {}
  std::unique_ptr<T> plugin;
  abi::CheckInputCopy input;
  CheckResult result;
};

template <typename T>
T& plugin_of(void* instance) noexcept {
  return *static_cast<PluginInstance<T>*>(instance)->plugin;
}

template <typename T>
void* create_trampoline(const char* section_json, std::size_t section_length, const char* host_json,
                        std::size_t host_length, const qsc_text_sink* error) noexcept {
  try {
    auto section = section_length == 0
                       ? nlohmann::json::object()
                       : nlohmann::json::parse(section_json, section_json + section_length);
    auto host = host_length == 0 ? nlohmann::json::object()
                                 : nlohmann::json::parse(host_json, host_json + host_length);
    auto made = T::create(section, host);
    if (!made.ok()) {
      write_text(error, made.error().message);
      return nullptr;
    }
    return new PluginInstance<T>(std::move(made).value());
  } catch (...) {
    write_text(error, "configuration refused: " + describe_current_exception());
    return nullptr;
  }
}

template <typename T>
void destroy_trampoline(void* instance) noexcept {
  delete static_cast<PluginInstance<T>*>(instance);
}

// True when the detector class declares kReadsNewEvents = true (see CheckInput::new_events).
template <typename T>
constexpr bool reads_new_events() noexcept {
  if constexpr (requires { T::kReadsNewEvents; }) {
    return T::kReadsNewEvents;
  } else {
    return false;
  }
}

// True when the detector class has `void check_into(const CheckInput&, CheckResult& out)`: the
// same judgement as check(), written over the result of its previous call, so a detector whose
// message and figures keep their storage allocates nothing per check (the SDK's checks have such
// forms, qsc/checks.hpp). Without it, check() is called and its result moved in.
template <typename T>
constexpr bool checks_into() noexcept {
  return requires(T & t, const CheckInput& in, CheckResult& out) {
    t.check_into(in, out);
  };
}

template <typename T>
void check_trampoline(void* instance, const qsc_check_input* input,
                      const qsc_check_sink* out) noexcept {
  auto& self = *static_cast<PluginInstance<T>*>(instance);
  CheckResult& result = self.result;
  // check_into writes over the previous result: a horizon it does not set this time must not be
  // the previous check's (a promise is made afresh at every check, or not at all).
  result.clear_horizon();
  try {
    const CheckInput& in = self.input.read(*input, reads_new_events<T>());
    if constexpr (checks_into<T>()) {
      self.plugin->check_into(in, result);
    } else {
      result = self.plugin->check(in);
    }
  } catch (...) {
    // Fail closed: a detector that cannot judge reports an error, which counts as a violation.
    // The previous result's text may be half written: it is replaced whole. A message that
    // cannot be built for want of memory leaves the verdict alone to say so.
    result.verdict = Verdict::kError;
    result.figures.clear();
    result.clear_horizon();
    try {
      result.message = "detector error: " + describe_current_exception();
    } catch (...) {
      result.message.clear();
    }
  }
  out->set_verdict(out->host_data, static_cast<std::uint32_t>(result.verdict),
                   result.message.data(), result.message.size());
  for (const auto& f : result.figures) {
    out->add_figure(out->host_data, f.name.data(), f.name.size(), f.value);
  }
  // ABI 2.1: a 2.0 host's sink ends before set_horizon (it calls the detector at every event).
  // ABI 2.2: a horizon with conditions only where the host watches for them (a 2.1 host's sink
  // ends before set_horizon_unless: it would skip the detector without watching, so none).
  // ABI 2.3: a horizon with a clock only where the host reads the clock for it (likewise).
  const bool conditions_told =
      result.horizon_unless == 0 ||
      (QSC_ABI_HAS(out, qsc_check_sink, set_horizon_unless) && out->set_horizon_unless != nullptr);
  const bool clock_told =
      !result.horizon_clock.set ||
      (QSC_ABI_HAS(out, qsc_check_sink, set_horizon_clock) && out->set_horizon_clock != nullptr);
  if (result.horizon_events > 0 && QSC_ABI_HAS(out, qsc_check_sink, set_horizon) &&
      out->set_horizon != nullptr && conditions_told && clock_told) {
    out->set_horizon(out->host_data, result.horizon_events);
    if (result.horizon_unless != 0) out->set_horizon_unless(out->host_data, result.horizon_unless);
    if (result.horizon_clock.set) {
      const auto& c = result.horizon_clock;
      out->set_horizon_clock(out->host_data, c.max_silence_s, c.since_event_ms, c.max_since_s);
    }
  }
}

template <typename T>
void execute_trampoline(void* instance, const qsc_incident* incident,
                        const qsc_outcome_sink* out) noexcept {
  ActionOutcome outcome;
  try {
    outcome = plugin_of<T>(instance).execute(abi::read_incident(*incident));
  } catch (...) {
    outcome.ok = false;
    outcome.detail = "action error: " + describe_current_exception();
  }
  out->set_outcome(out->host_data, outcome.ok ? 1u : 0u, outcome.detail.data(),
                   outcome.detail.size());
}

template <typename T>
void effective_config_trampoline(void* instance, const qsc_text_sink* out) noexcept {
  std::string text;
  try {
    text = plugin_of<T>(instance).effective_config();
  } catch (...) {
    text = "{}";
  }
  write_text(out, text);
}

}  // namespace detail
}  // namespace qsc

#define QSC_DETAIL_PLUGIN(Class, kind_value, name_text, version_text, description_text, check_fn, \
                          execute_fn, scope_value)                                                \
  extern "C" QSC_PLUGIN_EXPORT const struct qsc_plugin_abi qsc_plugin_abi = {                     \
      QSC_PLUGIN_ABI_MAJOR, QSC_PLUGIN_ABI_MINOR, sizeof(struct qsc_plugin_descriptor)};          \
  extern "C" QSC_PLUGIN_EXPORT const struct qsc_plugin_descriptor qsc_plugin_descriptor = {       \
      sizeof(struct qsc_plugin_descriptor),                                                       \
      QSC_PLUGIN_ABI_MAJOR,                                                                       \
      QSC_PLUGIN_ABI_MINOR,                                                                       \
      static_cast<std::uint32_t>(kind_value),                                                     \
      name_text,                                                                                  \
      version_text,                                                                               \
      description_text,                                                                           \
      &::qsc::detail::create_trampoline<Class>,                                                   \
      &::qsc::detail::destroy_trampoline<Class>,                                                  \
      check_fn,                                                                                   \
      execute_fn,                                                                                 \
      &::qsc::detail::effective_config_trampoline<Class>,                                         \
      static_cast<std::uint32_t>(scope_value),                                                    \
      ::qsc::detail::plugin_flags<Class>(),                                                       \
      ::qsc::detail::plugin_config_schema<Class>()};

/// Exports `Class` (a qsc::Detector with a static `create`) as a detector plugin that judges one
/// model (qsc::DetectorScope::kEachModel): the monitor runs it on the canary, the gate and the
/// scoreboard on every model.
#define QSC_DETECTOR_PLUGIN(Class, name_text, version_text, description_text)  \
  QSC_SCOPED_DETECTOR_PLUGIN(Class, name_text, version_text, description_text, \
                             ::qsc::DetectorScope::kEachModel)

/// The same with the scope given: ::qsc::DetectorScope::kEnsemble or kCanaryOnly.
#define QSC_SCOPED_DETECTOR_PLUGIN(Class, name_text, version_text, description_text, scope_value) \
  QSC_DETAIL_PLUGIN(Class, ::qsc::PluginKind::kDetector, name_text, version_text,                 \
                    description_text, &::qsc::detail::check_trampoline<Class>, nullptr,           \
                    scope_value)

/// Exports `Class` (a qsc::Action with a static `create`) as an action plugin. Its flags (what
/// the agent may rely on it for) are Class::kPluginFlags when declared.
#define QSC_ACTION_PLUGIN(Class, name_text, version_text, description_text)                       \
  QSC_DETAIL_PLUGIN(Class, ::qsc::PluginKind::kAction, name_text, version_text, description_text, \
                    nullptr, &::qsc::detail::execute_trampoline<Class>,                           \
                    ::qsc::DetectorScope::kEachModel)

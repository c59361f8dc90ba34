// The plugin ABI: the descriptor a plugin exports and the macros that export it.
//
// A plugin is one shared library exporting two C symbols:
//   qsc_plugin_abi         {major, minor, descriptor_size}: read first, before anything else;
//   qsc_plugin_descriptor  the PluginDescriptor below.
// Every function in the descriptor is noexcept: exceptions thrown by a plugin's code are caught
// inside the plugin (by the trampolines the macros generate) and become error values, so no
// exception ever crosses the library boundary.
//
//   class MyDetector final : public qsc::Detector {
//    public:
//     static qsc::Result<std::unique_ptr<MyDetector>> create(const nlohmann::json& section,
//                                                            const nlohmann::json& host);
//     qsc::CheckResult check(const qsc::CheckInput& input) override;
//     std::string effective_config() const override;
//   };
//   QSC_DETECTOR_PLUGIN(MyDetector, "my_detector", "1.0.0", "Fires when ...")
//
// QSC_DETECTOR_PLUGIN judges one model (input.canary): the monitor runs it on the canary, and the
// gate and the scoreboard on every model, so a dropped-in check also blocks a deployment. A
// detector of the ensemble or of the live canary's watch says so with QSC_SCOPED_DETECTOR_PLUGIN
// (qsc::DetectorScope).
#pragma once

#include <boost/config.hpp>
#include <cstdint>
#include <exception>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "qsc/action.hpp"
#include "qsc/detector.hpp"
#include "qsc/result.hpp"
#include "qsc/version.hpp"

extern "C" {
/// The first thing the host reads from a plugin: layout versions only, stable forever.
struct qsc_plugin_abi {
  std::uint32_t major;
  std::uint32_t minor;
  std::uint32_t descriptor_size;  ///< sizeof(qsc::PluginDescriptor) the plugin was built with
};
}

namespace qsc {

/// What a plugin is.
enum class PluginKind : std::uint32_t { kDetector = 1, kAction = 2 };

/// The table a plugin exports. New entries are only ever appended (with a minor ABI bump).
struct PluginDescriptor {
  PluginKind kind;
  const char* name;         ///< unique across the plugin directory, e.g. "action_collapse"
  const char* version;      ///< the plugin's own version, e.g. "1.0.0"
  const char* description;  ///< one line
  /// Creates an instance from its configuration section and the host's whole configuration
  /// (both JSON texts). Returns nullptr and sets *error when the configuration is refused.
  void* (*create)(const char* section_json, const char* host_json, std::string* error) noexcept;
  /// Destroys an instance made by create.
  void (*destroy)(void* instance) noexcept;
  /// Detectors only (else nullptr): judges the window into *out.
  void (*check)(void* instance, const CheckInput* input, CheckResult* out) noexcept;
  /// Actions only (else nullptr): acts on the incident into *out.
  void (*execute)(void* instance, const Incident* incident, ActionOutcome* out) noexcept;
  /// The effective configuration as a JSON object text into *out.
  void (*effective_config)(void* instance, std::string* out) noexcept;
  // ABI 1.1
  /// Detectors only: what the detector judges (actions: kEachModel, unused).
  DetectorScope scope;
};

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

template <typename T>
void* create_trampoline(const char* section_json, const char* host_json,
                        std::string* error) noexcept {
  try {
    auto section = nlohmann::json::parse(section_json ? section_json : "{}");
    auto host = nlohmann::json::parse(host_json ? host_json : "{}");
    auto made = T::create(section, host);
    if (!made.ok()) {
      *error = made.error().message;
      return nullptr;
    }
    return std::move(made).value().release();
  } catch (...) {
    *error = "configuration refused: " + describe_current_exception();
    return nullptr;
  }
}

template <typename T>
void destroy_trampoline(void* instance) noexcept {
  delete static_cast<T*>(instance);
}

template <typename T>
void check_trampoline(void* instance, const CheckInput* input, CheckResult* out) noexcept {
  try {
    *out = static_cast<T*>(instance)->check(*input);
  } catch (...) {
    // Fail closed: a detector that cannot judge reports an error, which counts as a violation.
    out->verdict = Verdict::kError;
    out->message = "detector error: " + describe_current_exception();
    out->figures.clear();
  }
}

template <typename T>
void execute_trampoline(void* instance, const Incident* incident, ActionOutcome* out) noexcept {
  try {
    *out = static_cast<T*>(instance)->execute(*incident);
  } catch (...) {
    out->ok = false;
    out->detail = "action error: " + describe_current_exception();
  }
}

template <typename T>
void effective_config_trampoline(void* instance, std::string* out) noexcept {
  try {
    *out = static_cast<const T*>(instance)->effective_config();
  } catch (...) {
    *out = "{}";
  }
}

}  // namespace detail
}  // namespace qsc

#define QSC_DETAIL_PLUGIN(Class, kind_value, name_text, version_text, description_text, check_fn, \
                          execute_fn, scope_value)                                                \
  extern "C" BOOST_SYMBOL_EXPORT const qsc_plugin_abi qsc_plugin_abi = {                          \
      QSC_ABI_MAJOR, QSC_ABI_MINOR, sizeof(::qsc::PluginDescriptor)};                             \
  extern "C" BOOST_SYMBOL_EXPORT const ::qsc::PluginDescriptor qsc_plugin_descriptor = {          \
      kind_value,                                                                                 \
      name_text,                                                                                  \
      version_text,                                                                               \
      description_text,                                                                           \
      &::qsc::detail::create_trampoline<Class>,                                                   \
      &::qsc::detail::destroy_trampoline<Class>,                                                  \
      check_fn,                                                                                   \
      execute_fn,                                                                                 \
      &::qsc::detail::effective_config_trampoline<Class>,                                         \
      scope_value};

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

/// Exports `Class` (a qsc::Action with a static `create`) as an action plugin.
#define QSC_ACTION_PLUGIN(Class, name_text, version_text, description_text)                       \
  QSC_DETAIL_PLUGIN(Class, ::qsc::PluginKind::kAction, name_text, version_text, description_text, \
                    nullptr, &::qsc::detail::execute_trampoline<Class>,                           \
                    ::qsc::DetectorScope::kEachModel)

// Building the C ABI's input structs (qsc/plugin_abi.h) from the agent's C++ types: what a
// plugin is handed at a check or an action. Each object owns every struct, array and pointer
// table it hands out (strings point into the C++ input, which must outlive it) and is built once
// per call of the host, then handed to every plugin of that call.
#pragma once

#include <vector>

#include "qsc/action.hpp"
#include "qsc/detector.hpp"
#include "qsc/event.hpp"
#include "qsc/plugin_abi.h"

namespace qsc::agent {

/// The C form of a qsc::CheckInput. Not copyable: the structs point at each other.
class AbiCheckInput {
 public:
  AbiCheckInput() = default;
  /// Includes input.new_events, the events since the previous check
  /// (qsc_check_input::new_events).
  explicit AbiCheckInput(const qsc::CheckInput& input) { write(input); }
  AbiCheckInput(const AbiCheckInput&) = delete;
  AbiCheckInput& operator=(const AbiCheckInput&) = delete;

  /// Writes `input` over the previous one; returns get(). The arrays keep their storage, so a
  /// host that keeps one for its checks allocates nothing per check once they have grown.
  const qsc_check_input* write(const qsc::CheckInput& input);

  const qsc_check_input* get() const noexcept { return &input_; }

 private:
  std::vector<qsc_model_stats> models_;
  std::vector<const qsc_model_stats*> model_pointers_;
  qsc_model_stats own_canary_{};  ///< when the canary is not one of the window's models
  qsc_ensemble_stats ensemble_{};
  qsc_window_stats window_{};
  qsc_telemetry_health telemetry_{};
  std::vector<qsc_prediction> predictions_;
  std::vector<const qsc_prediction*> prediction_pointers_;
  std::vector<qsc_event> events_;
  std::vector<const qsc_event*> event_pointers_;
  qsc_check_input input_{};
};

/// The C form of a qsc::Incident. Not copyable.
class AbiIncident {
 public:
  explicit AbiIncident(const qsc::Incident& incident);
  AbiIncident(const AbiIncident&) = delete;
  AbiIncident& operator=(const AbiIncident&) = delete;

  const qsc_incident* get() const noexcept { return &incident_; }

 private:
  std::vector<qsc_str> violations_;
  std::vector<qsc_action_outcome> earlier_;
  std::vector<const qsc_action_outcome*> earlier_pointers_;
  qsc_incident incident_{};
};

}  // namespace qsc::agent

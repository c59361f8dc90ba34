// Building the C ABI's input structs (qsc/plugin_abi.h) from the agent's C++ types: what a
// plugin is handed at a check or an action. Each object owns every struct, array and pointer
// table it hands out (strings point into the C++ input, which must outlive it) and is built once
// per call of the host, then handed to every plugin of that call.
#pragma once

#include <cstdint>
#include <string>
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

  /// Where a caller's events stay between writes (write_held): their numbers, and the storage
  /// they live in, named by the caller.
  struct HeldEvents {
    /// Who numbers them (EventSchedule::owner); 0: nobody, nothing is kept.
    std::uint64_t owner = 0;
    /// Changed by the caller whenever an event it holds may have moved (its storage reallocated
    /// or compacted): the C forms kept point into the events' strings. 0: never kept.
    std::uint64_t storage_generation = 0;
    /// The number of input.new_events' newest event; the others precede it, one apart.
    std::uint64_t newest = 0;
  };

  /// As write(), but the C form of each event is kept from one call to the next (in a ring, by
  /// number) and written only when it was not kept: an event numbered as one written before,
  /// under the same owner and storage generation, is the same event in the same place. A
  /// detector skipped within its horizon is handed the events it missed at its next call, and
  /// without this each of them would be written again in C form for that call.
  const qsc_check_input* write_held(const qsc::CheckInput& input, const HeldEvents& held);

  const qsc_check_input* get() const noexcept { return &input_; }

 private:
  /// One event's C form and its predictions' (the event points at its own arrays).
  struct EventForm {
    qsc_event event{};
    std::vector<qsc_prediction> predictions;
    std::vector<const qsc_prediction*> prediction_pointers;
    const qsc_prediction* pointers_for = nullptr;  ///< predictions.data() the pointers point into
  };
  /// Everything but the events.
  void write_figures(const qsc::CheckInput& input);

  // The canary's name as handed out (qsc_check_input::canary_model), and the bytes every
  // prediction of the canary points at (qsc::same_model finds it by address). Its own copy: a
  // kept form outlives the call's input. A new name drops the kept forms (they point at it).
  std::string canary_name_;
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
  // write_held's kept forms (a power of two of them, or none): the event numbered k in
  // held_forms_[k % size()], valid for the numbers (held_oldest_, held_newest_] of
  // held_owner_'s storage generation held_generation_.
  std::vector<EventForm> held_forms_;
  std::uint64_t held_owner_ = 0;
  std::uint64_t held_generation_ = 0;
  std::uint64_t held_oldest_ = 0;
  std::uint64_t held_newest_ = 0;
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

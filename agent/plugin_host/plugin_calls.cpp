// Calling a plugin instance through the C ABI (see plugin_calls.hpp).
#include "plugin_host/plugin_calls.hpp"

#include <exception>
#include <new>

namespace qsc::agent::plugin_calls {
namespace {

// The sinks run inside the plugin's call: nothing may escape them into plugin code. A copy that
// cannot be made (no memory) is remembered and fails the call closed.
struct TextCollector {
  std::string text;
  bool lost = false;
};

void collect_text(void* host_data, const char* text, std::size_t length) noexcept {
  auto* c = static_cast<TextCollector*>(host_data);
  try {
    if (text != nullptr) c->text.append(text, length);
  } catch (...) {
    c->lost = true;
  }
}

qsc_text_sink text_sink(TextCollector& c) {
  return qsc_text_sink{sizeof(qsc_text_sink), &c, &collect_text};
}

// Writes over `result` (the caller's, kept between checks): the message and the figures' names
// keep their storage, and figures past the plugin's last are dropped when the call returns.
struct CheckCollector {
  qsc::CheckResult& result;
  std::size_t figures = 0;
  std::uint64_t horizon_events = 0;  // ABI 2.1's set_horizon; 0 when the plugin never calls it
  std::uint64_t horizon_unless = 0;  // ABI 2.2's set_horizon_unless
  qsc::CheckResult::HorizonClock horizon_clock{};  // ABI 2.3's set_horizon_clock
  bool verdict_set = false;
  std::uint32_t raw_verdict = QSC_VERDICT_ERROR;
  bool lost = false;
};

void collect_verdict(void* host_data, std::uint32_t verdict, const char* message,
                     std::size_t length) noexcept {
  auto* c = static_cast<CheckCollector*>(host_data);
  c->verdict_set = true;
  c->raw_verdict = verdict;
  try {
    c->result.message.assign(message != nullptr ? message : "", message != nullptr ? length : 0);
  } catch (...) {
    c->lost = true;
  }
}

void collect_figure(void* host_data, const char* name, std::size_t length, double value) noexcept {
  auto* c = static_cast<CheckCollector*>(host_data);
  try {
    auto& figures = c->result.figures;
    if (c->figures == figures.size()) figures.emplace_back();
    auto& figure = figures[c->figures++];
    qsc::assign_changed(figure.name, name != nullptr ? std::string_view(name, length) : "");
    figure.value = value;
  } catch (...) {
    c->lost = true;
  }
}

void collect_horizon(void* host_data, std::uint64_t events) noexcept {
  static_cast<CheckCollector*>(host_data)->horizon_events = events;
}

void collect_horizon_unless(void* host_data, std::uint64_t conditions) noexcept {
  static_cast<CheckCollector*>(host_data)->horizon_unless = conditions;
}

void collect_horizon_clock(void* host_data, double max_silence_s, std::uint64_t since_event_ms,
                           double max_since_s) noexcept {
  static_cast<CheckCollector*>(host_data)->horizon_clock = {true, max_silence_s, since_event_ms,
                                                            max_since_s};
}

struct OutcomeCollector {
  qsc::ActionOutcome outcome;
  bool set = false;
  bool lost = false;
};

void collect_outcome(void* host_data, std::uint32_t ok, const char* detail,
                     std::size_t length) noexcept {
  auto* c = static_cast<OutcomeCollector*>(host_data);
  c->set = true;
  c->outcome.ok = ok != 0;
  try {
    c->outcome.detail.assign(detail != nullptr ? detail : "", detail != nullptr ? length : 0);
  } catch (...) {
    c->lost = true;
  }
}

}  // namespace

void* create(const struct qsc_plugin_descriptor& d, const std::string& section_json,
             const std::string& host_json, std::string* error) {
  TextCollector reason;
  const qsc_text_sink sink = text_sink(reason);
  void* instance = d.create(section_json.c_str(), section_json.size(), host_json.c_str(),
                            host_json.size(), &sink);
  if (instance == nullptr) *error = reason.text;
  return instance;
}

std::string effective_config(const struct qsc_plugin_descriptor& d, void* instance) {
  TextCollector text;
  const qsc_text_sink sink = text_sink(text);
  d.effective_config(instance, &sink);
  return text.lost ? std::string() : text.text;
}

void check(const struct qsc_plugin_descriptor& d, void* instance, const qsc_check_input& input,
           qsc::CheckResult& result) {
  // A message the plugin does not set must not be the previous check's.
  result.message.clear();
  CheckCollector c{result};
  const qsc_check_sink sink{sizeof(qsc_check_sink), &c,
                            &collect_verdict,       &collect_figure,
                            &collect_horizon,       &collect_horizon_unless,
                            &collect_horizon_clock};
  d.check(instance, &input, &sink);
  result.figures.resize(c.figures);
  // A horizon comes only with a verdict the host understood (else none).
  result.clear_horizon();
  if (c.lost) {
    // The SDK's rendering of a refused allocation, so the worker's observer sees it as one.
    result = {qsc::Verdict::kError, "std::bad_alloc: the host could not copy the result", {}};
    return;
  }
  if (!c.verdict_set) {
    result.verdict = qsc::Verdict::kError;
    result.message = "returned no verdict";
    result.figures.clear();
  } else if (c.raw_verdict > QSC_VERDICT_ERROR) {
    result.verdict = qsc::Verdict::kError;
    result.message = "returned an unknown verdict " + std::to_string(c.raw_verdict);
  } else {
    result.verdict = static_cast<qsc::Verdict>(c.raw_verdict);
    result.horizon_events = c.horizon_events;
    result.horizon_unless = c.horizon_unless;
    result.horizon_clock = c.horizon_clock;
  }
}

qsc::ActionOutcome execute(const struct qsc_plugin_descriptor& d, void* instance,
                           const qsc_incident& incident) {
  OutcomeCollector c;
  const qsc_outcome_sink sink{sizeof(qsc_outcome_sink), &c, &collect_outcome};
  d.execute(instance, &incident, &sink);
  if (!c.set) {
    c.outcome.ok = false;
    c.outcome.detail = "the action reported no outcome";
  } else if (c.lost) {
    c.outcome.ok = false;
    c.outcome.detail = "the host could not copy the action's outcome (out of memory)";
  }
  return std::move(c.outcome);
}

}  // namespace qsc::agent::plugin_calls

// Recordings for the replay tests.
#include "replay/recording.hpp"

#include <fstream>

#include "telemetry/jsonl.hpp"

namespace qsc::replay_test {

RecordingWriter::RecordingWriter(std::filesystem::path path, std::uint64_t seed)
    : path_(std::move(path)), engine_("patchtst", seed) {}

std::vector<RecordedEvent> RecordingWriter::append(agent::CanaryBehaviour behaviour,
                                                   std::size_t count, std::int64_t first_ms,
                                                   std::int64_t spacing_ms) {
  std::ofstream out(path_, std::ios::app | std::ios::binary);
  std::vector<RecordedEvent> events;
  for (std::size_t i = 0; i < count; ++i) {
    const auto time_ms = first_ms + static_cast<std::int64_t>(i) * spacing_ms;
    const auto event = engine_.next(static_cast<std::uint64_t>(time_ms), behaviour);
    const std::string id = std::to_string(event.time_ms) + "-" + std::to_string(event.seq);
    out << agent::format_jsonl_entry(qsc::StreamEntry{id, agent::fields_for_event(event)}) << "\n";
    events.push_back({id, time_ms});
  }
  return events;
}

void RecordingWriter::append_line(const std::string& line) {
  std::ofstream(path_, std::ios::app | std::ios::binary) << line << "\n";
}

}  // namespace qsc::replay_test

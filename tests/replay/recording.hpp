// Recordings for the replay tests: the synthetic engine's events in the JSONL form
// `qsc telemetry --record` writes, appended phase by phase.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "demo/synthetic_engine.hpp"

namespace qsc::replay_test {

/// One recorded event: its stream ID and time.
struct RecordedEvent {
  std::string id;
  std::int64_t time_ms = 0;
};

/// Appends synthetic events for the canary "patchtst" to a JSONL file.
class RecordingWriter {
 public:
  RecordingWriter(std::filesystem::path path, std::uint64_t seed);
  /// Appends `count` events of `behaviour`, the first at `first_ms`, `spacing_ms` apart.
  std::vector<RecordedEvent> append(agent::CanaryBehaviour behaviour, std::size_t count,
                                    std::int64_t first_ms, std::int64_t spacing_ms);
  /// Appends one raw line (e.g. an unreadable one).
  void append_line(const std::string& line);

 private:
  std::filesystem::path path_;
  agent::SyntheticEngine engine_;
};

}  // namespace qsc::replay_test

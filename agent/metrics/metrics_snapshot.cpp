// Name slots and the latency histogram of the worker's figures.
#include "metrics/metrics_snapshot.hpp"

#include <algorithm>
#include <cstring>

namespace qsc::agent::metrics {

void FixedName::set(std::string_view value) noexcept {
  const std::size_t n = std::min(value.size(), kNameChars - 1);
  std::memcpy(text, value.data(), n);
  std::memset(text + n, 0, kNameChars - n);
}

std::string_view FixedName::view() const noexcept {
  return std::string_view(text, ::strnlen(text, kNameChars));
}

void observe_latency(MetricsSnapshot& snapshot, double seconds) noexcept {
  if (!(seconds >= 0.0)) seconds = 0.0;  // a clock step backwards is not a negative latency
  ++snapshot.latency_count;
  snapshot.latency_sum_seconds += seconds;
  for (std::size_t i = 0; i < kLatencyBucketsSeconds.size(); ++i) {
    if (seconds <= kLatencyBucketsSeconds[i]) {
      ++snapshot.latency_buckets[i];
      return;
    }
  }
  // Above the last bound: counted only in the +Inf bucket (latency_count).
}

}  // namespace qsc::agent::metrics

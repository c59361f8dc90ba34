// A separate process for the ring's multi-process tests: produces or consumes deterministic
// events (ring_test_util.hpp) and reports what it saw on stdout.
//
//   ring_helper produce NAME CAP PRODUCER COUNT [--start S] [--stop-at K]
//       publishes events START..START+COUNT-1 of PRODUCER; with --stop-at K, the K-th publish
//       raises SIGSTOP halfway through writing its record (so a test can SIGKILL it there).
//   ring_helper consume NAME CAP PRODUCERS COUNT_EACH [--delay-us D] [--idle-ms T] [--lossy]
//       reads until every producer's COUNT_EACH events arrived or T ms pass without an event;
//       checks every record is intact and each producer's events arrive in order. Prints
//       "READY" once attached and a summary line at the end. Exit 0: all good (without
//       --lossy also: complete and nothing lost); 1: a check failed; 2: could not attach.
//   ring_helper consume-json NAME CAP COUNT IDLE_MS
//       prints "READY", then each event as one JSON line (non-finite numbers as strings), and
//       each rejected entry as {"rejected": REASON, "id": ID, "field": FIELD}.
//   ring_helper wait NAME CAP WAKE_AFTER COUNT [--legacy] [--watch MODEL]
//       a blocking consumer (kLatest, timers 10 s) that prints "READY", then COUNT times
//       waits (up to 10 s) with next_record(..., WAKE_AFTER) and prints "seq=S ready=R" for
//       the record it returned (its event's seq, and the records claimed from it on, itself
//       included) or "timeout". --legacy: a consumer built before the wake watermark.
#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "qsc/ipc/ring.hpp"
#include "ring_test_util.hpp"

namespace {

using namespace qsc;
using namespace qsc::ipc;

volatile sig_atomic_t g_stop_in_this_write = 0;

void stop_mid_write() {
  if (g_stop_in_this_write) ::raise(SIGSTOP);
}

std::uint64_t to_u64(const char* s) {
  return std::strtoull(s, nullptr, 10);
}

const char* flag_value(int argc, char** argv, const char* flag) {
  for (int i = 0; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], flag) == 0) return argv[i + 1];
  }
  return nullptr;
}

bool has_flag(int argc, char** argv, const char* flag) {
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], flag) == 0) return true;
  }
  return false;
}

// Attaches, reporting a refusal on stderr, and prints READY so the test knows it is attached.
std::optional<RingConsumer> open_and_announce(const ConsumerOptions& options) {
  auto consumer = RingConsumer::open(options);
  if (!consumer) {
    std::fprintf(stderr, "%s\n", consumer.error().message.c_str());
    return std::nullopt;
  }
  std::printf("READY\n");
  std::fflush(stdout);
  return std::move(consumer).value();
}

int produce(int argc, char** argv) {
  ProducerOptions options;
  options.name = argv[2];
  options.capacity_records = to_u64(argv[3]);
  const auto producer_id = static_cast<std::uint32_t>(to_u64(argv[4]));
  const std::uint64_t count = to_u64(argv[5]);
  const char* start_text = flag_value(argc, argv, "--start");
  const std::uint64_t start = start_text ? to_u64(start_text) : 0;
  const char* stop_text = flag_value(argc, argv, "--stop-at");
  const long long stop_at = stop_text ? std::atoll(stop_text) : -1;
  options.producer_id = producer_id + 1;
  options.test_hook_mid_write = &stop_mid_write;
  auto producer = RingProducer::open(options);
  if (!producer) {
    std::fprintf(stderr, "%s\n", producer.error().message.c_str());
    return 2;
  }
  std::uint64_t failed = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    g_stop_in_this_write = static_cast<long long>(i) == stop_at;
    if (!producer->publish(testing::make_event(producer_id, start + i))) ++failed;
  }
  std::printf("published=%llu failed=%llu\n", static_cast<unsigned long long>(count - failed),
              static_cast<unsigned long long>(failed));
  return failed == 0 ? 0 : 1;
}

int consume(int argc, char** argv) {
  ConsumerOptions options;
  options.name = argv[2];
  options.capacity_records = to_u64(argv[3]);
  const std::uint64_t producers = to_u64(argv[4]);
  const std::uint64_t count_each = to_u64(argv[5]);
  const char* delay_text = flag_value(argc, argv, "--delay-us");
  const long delay_us = delay_text ? std::atol(delay_text) : 0;
  const char* idle_text = flag_value(argc, argv, "--idle-ms");
  const long idle_ms = idle_text ? std::atol(idle_text) : 5000;
  const bool lossy = has_flag(argc, argv, "--lossy");
  // Producers here never die: a long abandon timeout keeps a preempted one from looking dead.
  const char* abandon_text = flag_value(argc, argv, "--abandon-ms");
  options.abandon_timeout =
      std::chrono::milliseconds(abandon_text ? std::atol(abandon_text) : 10000);
  auto consumer = open_and_announce(options);
  if (!consumer) return 2;
  std::vector<std::uint64_t> next_index(producers, 0);  // next expected index per producer
  std::vector<std::uint64_t> seen(producers, 0);
  bool intact = true, ordered = true;
  std::uint64_t complete_producers = 0;
  std::string first_problem;
  while (complete_producers < producers) {
    auto event = consumer->next(std::chrono::milliseconds(idle_ms));
    if (!event) {
      first_problem = event.error().message;
      intact = false;
      break;
    }
    if (!*event) break;  // idle: nothing more is coming
    const TradeIntent& e = **event;
    const int p = testing::producer_of(e);
    if (p < 0 || static_cast<std::uint64_t>(p) >= producers || !testing::is_intact(e)) {
      if (first_problem.empty()) first_problem = "torn or foreign record, symbol " + e.symbol;
      intact = false;
      continue;
    }
    // In order per producer: exactly the next index, or (when losing) any later one.
    if (e.seq != next_index[p] && !(lossy && e.seq > next_index[p])) {
      if (first_problem.empty()) {
        first_problem = "producer " + std::to_string(p) + ": got " + std::to_string(e.seq) +
                        ", expected " + std::to_string(next_index[p]);
      }
      ordered = false;
    }
    next_index[p] = e.seq + 1;
    if (++seen[p] == count_each || (lossy && next_index[p] == count_each)) ++complete_producers;
    if (delay_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
  }
  // Drain what is left (lossy mode stops on the last index; skipped ones are already counted).
  const auto& s = consumer->stats();
  const bool complete = complete_producers == producers;
  std::printf(
      "delivered=%llu lost=%llu holes=%llu lapped=%llu abandoned=%llu tail=%llu position=%llu "
      "intact=%d ordered=%d complete=%d\n",
      static_cast<unsigned long long>(s.delivered), static_cast<unsigned long long>(s.lost),
      static_cast<unsigned long long>(s.holes), static_cast<unsigned long long>(s.lapped),
      static_cast<unsigned long long>(s.abandoned),
      static_cast<unsigned long long>(consumer->tail()),
      static_cast<unsigned long long>(consumer->position()), intact, ordered, complete);
  if (!first_problem.empty()) std::fprintf(stderr, "first problem: %s\n", first_problem.c_str());
  if (!intact || !ordered) return 1;
  if (!lossy && (!complete || s.lost != 0)) return 1;
  return 0;
}

nlohmann::json number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

int consume_json(char** argv) {
  ConsumerOptions options;
  options.name = argv[2];
  options.capacity_records = to_u64(argv[3]);
  const std::uint64_t count = to_u64(argv[4]);
  const long idle_ms = std::atol(argv[5]);
  auto consumer = open_and_announce(options);
  if (!consumer) return 2;
  for (std::uint64_t n = 0; n < count; ++n) {
    Record record;
    if (!consumer->next_record(record, std::chrono::milliseconds(idle_ms))) break;
    auto outcome = consumer->read(record);
    if (const auto* r = std::get_if<Rejection>(&outcome)) {
      // A rejected entry (the producer published what it could not publish as an event).
      nlohmann::json j{{"rejected", std::string(reject_reason_name(r->reason))},
                       {"id", r->entry_id},
                       {"field", r->field}};
      std::printf("%s\n", j.dump().c_str());
      std::fflush(stdout);
      continue;
    }
    const TradeIntent& e = std::get<TradeIntent>(outcome);
    nlohmann::json j;
    j["time_ms"] = e.time_ms;
    j["seq"] = e.seq;
    j["symbol"] = e.symbol;
    j["side"] = e.side ? std::string(vote_name(*e.side)) : std::string();
    j["confidence"] = number(e.confidence);
    j["predictions"] = nlohmann::json::array();
    for (const auto& p : e.predictions) {
      j["predictions"].push_back(
          {{"model", p.model},
           {"model_string", p.model_string},
           {"action", std::string(vote_name(p.action))},
           {"confidence", number(p.confidence)},
           {"raw_confidence", number(p.raw_confidence)},
           {"status", std::string(confidence_status_name(p.confidence_status))},
           {"inactive", std::string(inactive_reason_name(p.inactive))}});
    }
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
  }
  std::printf("lost=%llu\n", static_cast<unsigned long long>(consumer->lost()));
  return 0;
}

// Waits as a blocking consumer, COUNT times, each time for WAKE_AFTER records.
int wait_records(int argc, char** argv) {
  ConsumerOptions options;
  options.name = argv[2];
  options.capacity_records = to_u64(argv[3]);
  options.wait = WaitStrategy::kBlock;
  options.start = StartPosition::kLatest;
  options.create_if_missing = false;
  // Long timers: the consumer's own looks at the tail must not wake it during a test.
  options.abandon_timeout = std::chrono::seconds(10);
  options.replacement_check_interval = std::chrono::seconds(10);
  options.test_legacy_wake = has_flag(argc, argv, "--legacy");
  const std::uint64_t wake_after = to_u64(argv[4]);
  const std::uint64_t count = to_u64(argv[5]);
  auto consumer = open_and_announce(options);
  if (!consumer) return 2;
  if (const char* model = flag_value(argc, argv, "--watch")) consumer->watch_model(model);
  for (std::uint64_t n = 0; n < count; ++n) {
    Record record;
    if (!consumer->next_record(record, std::chrono::seconds(10), wake_after)) {
      std::printf("timeout\n");
      std::fflush(stdout);
      return 1;
    }
    std::printf("seq=%llu ready=%llu\n", static_cast<unsigned long long>(record.seq),
                static_cast<unsigned long long>(consumer->tail() - consumer->position() + 1));
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 6 && std::strcmp(argv[1], "produce") == 0) return produce(argc, argv);
  if (argc >= 6 && std::strcmp(argv[1], "consume") == 0) return consume(argc, argv);
  if (argc >= 6 && std::strcmp(argv[1], "consume-json") == 0) return consume_json(argv);
  if (argc >= 6 && std::strcmp(argv[1], "wait") == 0) return wait_records(argc, argv);
  std::fprintf(stderr, "usage: see the comment at the top of ring_helper.cpp\n");
  return 64;
}

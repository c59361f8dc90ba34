// Reading and analysing post-cutover events from Redis on loopback, end to end in-process:
// RedisSource::range (XREVRANGE pages + parse_entry) then qsc::compute_window_stats. Reports
// the median end-to-end time and the share spent in Redis (round trips + hiredis reply
// parsing), in parsing (parse_entry) and in statistics, each measured on its own. The Redis
// piece is split further into the server's own time (INFO commandstats: executing XREVRANGE
// and building its reply) and this thread's CPU (hiredis reading the reply, copying entries).
//
//   qsc_telemetry_bench [--events N ...] [--repeat R]     (default: 2000 and 100000 events)
#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <variant>
#include <vector>

#include "../../support/redis_fixture.hpp"
#include "qsc/stats.hpp"
#include "telemetry/redis_source.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::int64_t kCutoverMs = 1768023795000;
constexpr const char* kStream = "quantum:stream:trade.intent";

// This thread's CPU time: on a loaded machine it shows what the work costs without the wait
// for a core (Redis's own CPU time is not in it).
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// A realistic ~500-byte payload: four models, the shape docs/design.md shows.
std::string payload(int i) {
  static const char* actions[] = {"BUY", "SELL", "HOLD"};
  char buf[768];
  std::snprintf(buf, sizeof buf,
                "{\"symbol\": \"BTCUSDT\", \"side\": \"%s\", \"confidence\": 0.%03d, "
                "\"model_breakdown\": {\"xgb\": {\"action\": \"%s\", \"confidence\": 0.%03d, "
                "\"model\": \"xgboost\"}, \"lgbm\": {\"action\": \"%s\", \"confidence\": 0.%03d, "
                "\"model\": \"lightgbm\"}, \"nhits\": {\"action\": \"%s\", \"confidence\": "
                "0.%03d, \"model\": \"nhits\"}, \"patchtst\": {\"action\": \"%s\", "
                "\"confidence\": 0.%03d, \"model\": \"patchtst\", \"shadow\": false}}}",
                actions[i % 3], 500 + i % 400, actions[i % 3], 400 + (i * 7) % 500,
                actions[(i / 3) % 3], 450 + (i * 13) % 450, actions[(i / 5) % 3],
                300 + (i * 17) % 600, actions[(i / 7) % 3], 350 + (i * 11) % 550);
  return buf;
}

// Fills the stream: `before` events before the cutover, `after` from it on (pipelined XADDs).
bool fill(int port, int before, int after) {
  redisContext* c = redisConnect("127.0.0.1", port);
  if (c == nullptr || c->err) return false;
  freeReplyObject(redisCommand(c, "DEL %s", kStream));
  const int total = before + after;
  for (int i = 0; i < total; ++i) {
    const std::string id = std::to_string(kCutoverMs + (i - before) * 10) + "-0";
    const std::string p = payload(i);
    const char* argv[] = {"XADD",         kStream,   id.c_str(), "event_type",
                          "trade.intent", "payload", p.c_str()};
    const size_t lens[] = {4, std::strlen(kStream), id.size(), 10, 12, 7, p.size()};
    redisAppendCommandArgv(c, 7, argv, lens);
    if (i % 1000 == 999 || i == total - 1) {
      const int n = i % 1000 + 1;
      for (int k = 0; k < n; ++k) {
        void* reply = nullptr;
        if (redisGetReply(c, &reply) != REDIS_OK) return false;
        freeReplyObject(reply);
      }
    }
  }
  redisFree(c);
  return true;
}

struct Figures {
  double end_to_end_ms, end_to_end_cpu_ms, redis_ms, redis_server_ms, redis_client_cpu_ms, parse_ms,
      reference_parse_ms, stats_ms;
  std::size_t events;
};

// Microseconds Redis spent executing XREVRANGE since the last CONFIG RESETSTAT.
double xrevrange_server_ms(qsc::agent::RedisClient& client) {
  auto info = client.command({"INFO", "commandstats"});
  if (!info) return 0.0;
  const std::string text(info.value()->str, info.value()->len);
  const auto at = text.find("cmdstat_xrevrange:");
  if (at == std::string::npos) return 0.0;
  const auto usec = text.find("usec=", at);
  if (usec == std::string::npos) return 0.0;
  return std::strtod(text.c_str() + usec + 5, nullptr) / 1000.0;
}

Figures measure(int port, int events, int repeat) {
  auto options = qsc::agent::RedisOptions::from_url(
      "redis://127.0.0.1:" + std::to_string(port) + "/0", nullptr);
  qsc::agent::RedisSource source(options.value(), kStream);
  qsc::agent::RedisClient client(options.value());
  std::vector<double> e2e, e2e_cpu, redis, redis_server, redis_cpu, parse, reference_parse, stats;
  // The page size the source uses, so the Redis piece makes the same round trips.
  const std::size_t page = qsc::agent::RedisSourceOptions{}.page_entries;
  std::size_t got = 0;
  for (int r = 0; r < repeat + 1; ++r) {  // the first round warms up and is not counted
    // End to end, as the gate does it.
    const double cpu0 = thread_cpu_ms();
    auto t0 = Clock::now();
    auto batch = source.range(kCutoverMs, std::nullopt, static_cast<std::size_t>(events));
    const auto window = qsc::compute_window_stats(batch.value().events);
    const double total = ms_since(t0);
    const double total_cpu = thread_cpu_ms() - cpu0;
    got = batch.value().events.size();
    if (window.events != got) std::fprintf(stderr, "stats saw %zu events\n", window.events);

    // Redis alone: the same XREVRANGE pages, replies parsed by hiredis, entries copied out.
    std::vector<qsc::StreamEntry> entries;
    entries.reserve(got);
    (void)client.command({"CONFIG", "RESETSTAT"});
    const double redis_cpu0 = thread_cpu_ms();
    t0 = Clock::now();
    std::string end = "+";
    const std::string start = std::to_string(kCutoverMs) + "-0";
    while (entries.size() < got) {
      const auto want = std::to_string(std::min<std::size_t>(page, got - entries.size()));
      auto reply = client.command({"XREVRANGE", kStream, end, start, "COUNT", want});
      const redisReply* list = reply.value().get();
      for (std::size_t i = 0; i < list->elements; ++i) {
        const redisReply* item = list->element[i];
        qsc::StreamEntry e;
        e.id.assign(item->element[0]->str, item->element[0]->len);
        const redisReply* f = item->element[1];
        for (std::size_t k = 0; k + 1 < f->elements; k += 2) {
          e.fields.emplace_back(std::string(f->element[k]->str, f->element[k]->len),
                                std::string(f->element[k + 1]->str, f->element[k + 1]->len));
        }
        entries.push_back(std::move(e));
      }
      auto last = qsc::agent::StreamId::parse(entries.back().id);
      end = last->prev()->str();
    }
    const double redis_ms = ms_since(t0);
    const double redis_cpu_ms = thread_cpu_ms() - redis_cpu0;
    const double redis_server_ms = xrevrange_server_ms(client);

    // Parsing alone.
    std::vector<qsc::TradeIntent> parsed;
    parsed.reserve(entries.size());
    t0 = Clock::now();
    for (const auto& e : entries) {
      auto outcome = qsc::parse_entry(e);
      parsed.push_back(std::move(std::get<qsc::TradeIntent>(outcome)));
    }
    const double parse_ms = ms_since(t0);

    // The reference (DOM) reader on the same entries: what parsing cost before the fast path.
    t0 = Clock::now();
    std::size_t reference_accepted = 0;
    for (const auto& e : entries) {
      reference_accepted += std::holds_alternative<qsc::TradeIntent>(qsc::parse_entry_reference(e));
    }
    const double reference_parse_ms = ms_since(t0);
    if (reference_accepted != parsed.size()) std::fprintf(stderr, "reference reader differs\n");

    // Statistics alone.
    t0 = Clock::now();
    const auto again = qsc::compute_window_stats(parsed);
    const double stats_ms = ms_since(t0);
    if (again.models.size() != window.models.size()) std::fprintf(stderr, "stats differ\n");
    if (r == 0) continue;
    e2e.push_back(total);
    e2e_cpu.push_back(total_cpu);
    redis.push_back(redis_ms);
    redis_server.push_back(redis_server_ms);
    redis_cpu.push_back(redis_cpu_ms);
    parse.push_back(parse_ms);
    reference_parse.push_back(reference_parse_ms);
    stats.push_back(stats_ms);
  }
  return {median(e2e),
          median(e2e_cpu),
          median(redis),
          median(redis_server),
          median(redis_cpu),
          median(parse),
          median(reference_parse),
          median(stats),
          got};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  int repeat = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--events") == 0 && i + 1 < argc) {
      sizes.push_back(std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
      repeat = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--events N ...] [--repeat R]\n", argv[0]);
      return 2;
    }
  }
  if (sizes.empty()) sizes = {2000, 100000};
  qsc::test::RedisServer redis;
  if (!redis.start()) {
    std::fprintf(stderr, "cannot start redis-server: %s\n", redis.error().c_str());
    return 2;
  }
  std::printf(
      "| events | end to end (median, wall) | end to end (this thread's CPU) | Redis | of which "
      "Redis server | of which client CPU | parsing | statistics | target (wall) | parsing with "
      "the reference reader |\n");
  std::printf("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |\n");
  bool all_met = true;
  for (int n : sizes) {
    // Half as many again before the cutover, so the range has to stop at the cutover.
    if (!fill(redis.port(), n / 2, n)) {
      std::fprintf(stderr, "cannot fill the stream\n");
      return 2;
    }
    const int rounds = repeat > 0 ? repeat : (n <= 10000 ? 21 : 5);
    const auto f = measure(redis.port(), n, rounds);
    const double parts = f.redis_ms + f.parse_ms + f.stats_ms;
    const double target_ms = n <= 2000 ? 20.0 : n <= 100000 ? 1000.0 : 0.0;
    const bool met = target_ms == 0.0 || f.end_to_end_ms < target_ms;
    all_met = all_met && met;
    std::printf(
        "| %d | %.2f ms | %.2f ms | %.2f ms (%.0f%%) | %.2f ms | %.2f ms | %.2f ms (%.0f%%) | "
        "%.2f ms (%.0f%%) | %s | %.2f ms |\n",
        static_cast<int>(f.events), f.end_to_end_ms, f.end_to_end_cpu_ms, f.redis_ms,
        100.0 * f.redis_ms / parts, f.redis_server_ms, f.redis_client_cpu_ms, f.parse_ms,
        100.0 * f.parse_ms / parts, f.stats_ms, 100.0 * f.stats_ms / parts,
        target_ms == 0.0 ? "-"
                         : (std::string(met ? "< " : "MISSED ") +
                            std::to_string(static_cast<int>(target_ms)) + " ms")
                               .c_str(),
        f.reference_parse_ms);
    std::fflush(stdout);
  }
  return all_met ? 0 : 1;
}

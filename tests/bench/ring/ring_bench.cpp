// Benchmark of the shared-memory ring against its anchors, producer and consumers in separate
// processes, the same 376-byte record everywhere:
//   - this ring, 1 producer x 1 consumer and 1 producer x 4 consumers;
//   - boost::lockfree::spsc_queue<Record> placed in shared memory (the peer anchor);
//   - Redis Streams on loopback: XADD per event, XREAD BLOCK (what a user does today).
// Throughput: the producer publishes as fast as it can; consumer-side delivered events/s.
// Latency: the producer paces events and stamps CLOCK_MONOTONIC into the record; the consumer
// records now - stamp (one-way; both processes read the same clock).
//
//   ring_bench [--json] [--events N] [--latency-events N] [--rate EPS] [--redis-events N]
//              [--redis-server PATH] [--no-redis] [--no-pin] [--capacity C]
// The producer is pinned to CPU 0 and the consumers to the last CPU unless --no-pin.
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <boost/lockfree/spsc_queue.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "qsc/ipc/ring.hpp"

namespace {

using qsc::ipc::monotonic_ns;
using qsc::ipc::Record;
namespace bip = boost::interprocess;

constexpr std::uint64_t kSpscCapacity = 16384;
constexpr std::uint64_t kNsPerSec = 1'000'000'000ULL;

struct Config {
  bool json = false;
  std::uint64_t events = 5'000'000;       // throughput run, per scenario
  std::uint64_t latency_events = 20'000;  // paced latency run, per scenario
  std::uint64_t rate_eps = 20'000;        // pace of the latency runs
  std::uint64_t redis_events = 30'000;    // Redis throughput run
  std::uint64_t capacity = 16384;         // ring capacity (records)
  std::string redis_server = "redis-server";
  bool redis = true;
  bool quick = false;     // only the 1x1 rows (iterating on the hot path)
  double budget_s = 100;  // whole run; scenarios stop early past it
};

inline void cpu_relax() {
  __builtin_ia32_pause();
}

// Record stamps are TSC ticks: far cheaper than CLOCK_MONOTONIC on this VM, so the stamp does
// not cap throughput. The TSC is invariant and synchronised across cores (constant_tsc,
// nonstop_tsc); latencies are converted to ns with a ratio calibrated against the clock.
inline std::uint64_t stamp_now() {
  return __rdtsc();
}
double g_ticks_per_ns = 1.0;

void calibrate_tsc() {
  const std::uint64_t t0 = monotonic_ns(), c0 = __rdtsc();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const std::uint64_t t1 = monotonic_ns(), c1 = __rdtsc();
  g_ticks_per_ns = static_cast<double>(c1 - c0) / static_cast<double>(t1 - t0);
}

// --- results -------------------------------------------------------------------------------

struct Row {
  std::string name;
  std::string mode;           // what the consumer does while waiting
  double throughput_eps = 0;  // delivered events per second, per consumer (mean)
  double lost_pct = 0;        // of the events published, per consumer (mean)
  double p50_ns = 0, p99_ns = 0, p999_ns = 0;
  std::uint64_t samples = 0;
  bool skipped = false;
  std::string note;
};

// One shared page per scenario: start signal and per-consumer results.
struct alignas(64) ConsumerResult {
  std::uint64_t delivered;
  std::uint64_t lost;
  std::uint64_t end_ns;
};
struct Control {
  std::atomic<int> ready;
  std::atomic<std::uint64_t> start_ns;
  ConsumerResult consumers[8];
};

// Maps the pages of [p, p + bytes) writable in this process now, so no first-touch page fault
// lands inside a measurement (the ring does the same for its own segment when it attaches).
void prefault(void* p, std::size_t bytes) {
#ifdef MADV_POPULATE_WRITE
  if (::madvise(p, bytes, MADV_POPULATE_WRITE) == 0) return;
#endif
  (void)p;
  (void)bytes;
}

template <typename T>
T* shared_anonymous(std::size_t count) {
  void* p = ::mmap(nullptr, sizeof(T) * count, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (p == MAP_FAILED) {
    std::perror("mmap");
    std::exit(1);
  }
  return static_cast<T*>(p);
}

// `ticks`: one-way latencies in TSC ticks.
void percentiles(std::vector<std::uint64_t>& ticks, Row& row) {
  if (ticks.empty()) return;
  std::sort(ticks.begin(), ticks.end());
  const auto at = [&](double q) {
    const auto i = static_cast<std::size_t>(q * static_cast<double>(ticks.size() - 1));
    return static_cast<double>(ticks[i]) / g_ticks_per_ns;
  };
  row.p50_ns = at(0.50);
  row.p99_ns = at(0.99);
  row.p999_ns = at(0.999);
  row.samples = ticks.size();
}

// Forks `fn` into a child that exits with its return value.
// Pins the calling process to one CPU (producer on CPU 0, consumers on the last CPU), so the
// two sides never share a core and the placement is the same in every scenario.
bool g_pin = true;
void pin_to(int cpu) {
  if (!g_pin) return;
  const int cpus = static_cast<int>(std::thread::hardware_concurrency());
  if (cpus < 2) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu < 0 ? cpus - 1 : cpu, &set);
  ::sched_setaffinity(0, sizeof set, &set);
}

// Forks a consumer: pinned to the last CPU, it runs `fn` and exits with its return value.
pid_t spawn(const std::function<int()>& fn) {
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("fork");
    std::exit(1);
  }
  if (pid == 0) {
    pin_to(-1);
    int rc = 1;
    try {
      rc = fn();
    } catch (...) {
    }
    std::fflush(stdout);
    ::_exit(rc);
  }
  return pid;
}

bool reap(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void wait_ready(Control* ctl, int count) {
  while (ctl->ready.load(std::memory_order_acquire) < count) std::this_thread::yield();
}

// Busy-waits until `t_ns` (pacing the latency runs without a syscall).
void pace_until(std::uint64_t t_ns) {
  while (monotonic_ns() < t_ns) cpu_relax();
}

// A realistic event (4 models), encoded once: every scenario moves these same bytes.
Record sample_record(const std::string& ring_name, std::uint64_t capacity, int models = 4) {
  qsc::ipc::ProducerOptions options;
  options.name = ring_name;
  options.capacity_records = capacity;
  auto producer = qsc::ipc::RingProducer::open(options);
  if (!producer) {
    std::fprintf(stderr, "%s\n", producer.error().message.c_str());
    std::exit(1);
  }
  qsc::TradeIntent e;
  e.time_ms = 1736487795000;
  e.symbol = "BTCUSDT";
  e.side = qsc::Vote::kBuy;
  e.confidence = 0.71;
  const char* names[] = {"xgb", "lgbm", "nhits", "patchtst", "tft", "deepar", "lstm", "arima"};
  const char* strings[] = {"xgboost", "lightgbm", "nhits", "patchtst",
                           "tft",     "deepar",   "lstm",  "arima"};
  for (int k = 0; k < models; ++k) {
    qsc::Prediction p;
    p.model = names[k];
    p.model_string = strings[k];
    p.action = static_cast<qsc::Vote>(k % 3);
    p.confidence = p.raw_confidence = 0.5 + 0.1 * k;
    e.predictions.push_back(p);
  }
  auto record = producer->encode(e);
  if (!record) {
    std::fprintf(stderr, "%s\n", record.error().message.c_str());
    std::exit(1);
  }
  return *record;
}

// --- this ring -------------------------------------------------------------------------------

struct RingRun {
  std::string name;
  int consumers;
  qsc::ipc::WaitStrategy wait;
  bool paced;
  int models = 4;         // predictions per record: 4 (216 of 376 bytes cross), 8 (all 376)
  std::size_t batch = 1;  // records per publish_records call (1: publish_record)
};

Row run_ring(const Config& cfg, const RingRun& run) {
  const std::string ring = "qsc_bench_" + std::to_string(::getpid()) + "_" + run.name;
  (void)qsc::ipc::remove_ring(ring);
  const Record sample = sample_record(ring, cfg.capacity, run.models);
  const std::uint64_t n = run.paced ? cfg.latency_events : cfg.events;
  auto* ctl = new (shared_anonymous<Control>(1)) Control{};
  auto* lat = shared_anonymous<std::uint64_t>(n * static_cast<std::size_t>(run.consumers));
  const std::uint64_t deadline_ns = monotonic_ns() + 20 * kNsPerSec;
  std::vector<pid_t> kids;
  for (int c = 0; c < run.consumers; ++c) {
    kids.push_back(spawn([&, c] {
      qsc::ipc::ConsumerOptions options;
      options.name = ring;
      options.capacity_records = cfg.capacity;
      options.wait = run.wait;
      options.start = qsc::ipc::StartPosition::kLatest;
      auto consumer = qsc::ipc::RingConsumer::open(options);
      if (!consumer) return 2;
      std::uint64_t* samples = lat + static_cast<std::size_t>(c) * n;
      prefault(samples, n * sizeof(std::uint64_t));  // fork does not copy shared mappings' PTEs
      ctl->ready.fetch_add(1, std::memory_order_release);
      Record r;
      std::uint64_t got = 0;
      const auto& st = consumer->stats();
      while (st.delivered + st.lost < n) {
        if (!consumer->next_record(r, std::chrono::milliseconds(200))) {
          if (monotonic_ns() > deadline_ns) break;
          continue;
        }
        if (run.paced) samples[got] = stamp_now() - r.publish_ns;
        ++got;
      }
      ctl->consumers[c] = {st.delivered, n - std::min(n, st.delivered), monotonic_ns()};
      return 0;
    }));
  }
  wait_ready(ctl, run.consumers);
  {
    qsc::ipc::ProducerOptions options;
    options.name = ring;
    options.capacity_records = cfg.capacity;
    auto producer = qsc::ipc::RingProducer::open(options);
    Record r = sample;
    std::vector<Record> batch(run.batch, sample);
    const std::uint64_t period_ns = kNsPerSec / cfg.rate_eps;
    const std::uint64_t start = monotonic_ns();
    ctl->start_ns.store(start, std::memory_order_relaxed);
    for (std::uint64_t i = 0; i < n;) {
      if (run.paced) pace_until(start + i * period_ns);
      if (run.batch > 1) {  // a burst: one claim, one stamp
        const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(run.batch, n - i));
        const std::uint64_t stamp = stamp_now();
        for (std::size_t j = 0; j < k; ++j) {
          batch[j].seq = i + j;
          batch[j].publish_ns = stamp;
        }
        (void)producer->publish_records(std::span<const Record>(batch.data(), k));
        i += k;
        continue;
      }
      r.seq = i;
      r.publish_ns = stamp_now();
      (void)producer->publish_record(r);
      ++i;
    }
  }
  for (pid_t k : kids) reap(k);
  Row row;
  row.name = run.name;
  row.mode = std::string(qsc::ipc::wait_strategy_name(run.wait));
  double eps = 0, lost = 0;
  std::vector<std::uint64_t> all;
  for (int c = 0; c < run.consumers; ++c) {
    const auto& res = ctl->consumers[c];
    const double secs = static_cast<double>(res.end_ns - ctl->start_ns.load()) / 1e9;
    eps += static_cast<double>(res.delivered) / secs;
    lost += 100.0 * static_cast<double>(res.lost) / static_cast<double>(n);
    if (run.paced) all.insert(all.end(), lat + c * n, lat + c * n + res.delivered);
  }
  row.throughput_eps = eps / run.consumers;
  row.lost_pct = lost / run.consumers;
  if (run.paced) percentiles(all, row);
  ::munmap(lat, sizeof(std::uint64_t) * n * static_cast<std::size_t>(run.consumers));
  ::munmap(ctl, sizeof(Control));
  (void)qsc::ipc::remove_ring(ring);
  return row;
}

// --- boost::lockfree::spsc_queue in shared memory ----------------------------------------------

using SpscQueue = boost::lockfree::spsc_queue<Record, boost::lockfree::capacity<kSpscCapacity>>;

Row run_spsc(const Config& cfg, const Record& sample, bool paced) {
  const std::string name = "qsc_bench_spsc_" + std::to_string(::getpid());
  bip::shared_memory_object::remove(name.c_str());
  bip::shared_memory_object shm(bip::create_only, name.c_str(), bip::read_write);
  shm.truncate(sizeof(SpscQueue));
  bip::mapped_region region(shm, bip::read_write);
  auto* queue = new (region.get_address()) SpscQueue();  // fixed capacity: storage is inline
  prefault(region.get_address(), region.get_size());     // as the ring does for its segment
  const std::uint64_t n = paced ? cfg.latency_events : cfg.events;
  auto* ctl = new (shared_anonymous<Control>(1)) Control{};
  auto* lat = shared_anonymous<std::uint64_t>(n);
  const pid_t kid = spawn([&] {
    prefault(region.get_address(), region.get_size());
    prefault(lat, n * sizeof(std::uint64_t));
    ctl->ready.fetch_add(1, std::memory_order_release);
    Record r;
    for (std::uint64_t i = 0; i < n; ++i) {
      while (!queue->pop(r)) cpu_relax();
      if (paced) lat[i] = stamp_now() - r.publish_ns;
    }
    ctl->consumers[0] = {n, 0, monotonic_ns()};
    return 0;
  });
  wait_ready(ctl, 1);
  Record r = sample;
  const std::uint64_t period_ns = kNsPerSec / cfg.rate_eps;
  const std::uint64_t start = monotonic_ns();
  ctl->start_ns.store(start, std::memory_order_relaxed);
  for (std::uint64_t i = 0; i < n; ++i) {
    if (paced) pace_until(start + i * period_ns);
    r.seq = i;
    r.publish_ns = stamp_now();
    while (!queue->push(r)) cpu_relax();  // a queue, not a broadcast: it waits when full
  }
  reap(kid);
  Row row;
  row.name = "boost spsc_queue 1x1";
  row.mode = "spin";
  row.throughput_eps =
      static_cast<double>(n) / (static_cast<double>(ctl->consumers[0].end_ns - start) / 1e9);
  if (paced) {
    std::vector<std::uint64_t> all(lat, lat + n);
    percentiles(all, row);
  }
  queue->~SpscQueue();
  ::munmap(lat, sizeof(std::uint64_t) * n);
  ::munmap(ctl, sizeof(Control));
  bip::shared_memory_object::remove(name.c_str());
  return row;
}

// --- Redis Streams -----------------------------------------------------------------------------

struct RedisServer {
  pid_t pid = -1;
  int port = 0;
  ~RedisServer() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
  }
};

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

redisContext* redis_connect(int port) {
  timeval tv{2, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
  if (c == nullptr || c->err) {
    if (c) redisFree(c);
    return nullptr;
  }
  return c;
}

// Starts a private redis-server on a free loopback port; nullopt (with a reason) if it cannot.
std::optional<std::string> start_redis(const Config& cfg, RedisServer& server) {
  server.port = free_loopback_port();
  if (server.port == 0) return "no free loopback port";
  const std::string port = std::to_string(server.port);
  server.pid = ::fork();
  if (server.pid == 0) {
    cpu_set_t all;  // the server may run anywhere, not on the producer's pinned CPU only
    CPU_ZERO(&all);
    for (unsigned c = 0; c < std::thread::hardware_concurrency(); ++c) CPU_SET(c, &all);
    ::sched_setaffinity(0, sizeof all, &all);
    std::freopen("/dev/null", "w", stdout);
    ::execlp(cfg.redis_server.c_str(), cfg.redis_server.c_str(), "--port", port.c_str(), "--bind",
             "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", "/tmp",
             "--loglevel", "warning", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (int i = 0; i < 250; ++i) {
    int status = 0;
    if (::waitpid(server.pid, &status, WNOHANG) == server.pid) {
      server.pid = -1;
      return cfg.redis_server + " could not be started (not installed?)";
    }
    if (redisContext* c = redis_connect(server.port)) {
      auto* reply = static_cast<redisReply*>(redisCommand(c, "PING"));
      const bool ok = reply && reply->type == REDIS_REPLY_STATUS;
      if (reply) freeReplyObject(reply);
      redisFree(c);
      if (ok) return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return "redis-server did not answer PING within 5 s";
}

Row run_redis(const Config& cfg, const Record& sample, int port, bool paced) {
  const std::uint64_t n = paced ? std::min(cfg.latency_events, cfg.redis_events) : cfg.redis_events;
  const std::string key = "qsc:bench:" + std::to_string(::getpid()) + (paced ? ":lat" : ":thr");
  auto* ctl = new (shared_anonymous<Control>(1)) Control{};
  auto* lat = shared_anonymous<std::uint64_t>(n);
  const std::uint64_t deadline_ns = monotonic_ns() + 30 * kNsPerSec;
  const pid_t kid = spawn([&] {
    redisContext* c = redis_connect(port);
    if (!c) return 2;
    ctl->ready.fetch_add(1, std::memory_order_release);
    std::string last = "0-0";
    std::uint64_t got = 0;
    while (got < n && monotonic_ns() < deadline_ns) {
      auto* reply = static_cast<redisReply*>(
          redisCommand(c, "XREAD BLOCK 1000 COUNT 1000 STREAMS %s %s", key.c_str(), last.c_str()));
      if (reply == nullptr) break;
      if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1) {
        redisReply* entries = reply->element[0]->element[1];
        for (std::size_t i = 0; i < entries->elements; ++i) {
          redisReply* entry = entries->element[i];
          last.assign(entry->element[0]->str, entry->element[0]->len);
          redisReply* fields = entry->element[1];
          Record r;
          if (fields->elements >= 2 && fields->element[1]->len == sizeof(Record)) {
            std::memcpy(&r, fields->element[1]->str, sizeof r);
            if (paced && got < n) lat[got] = stamp_now() - r.publish_ns;
          }
          ++got;
        }
      }
      freeReplyObject(reply);
    }
    ctl->consumers[0] = {got, n - std::min(n, got), monotonic_ns()};
    redisFree(c);
    return 0;
  });
  wait_ready(ctl, 1);
  redisContext* c = redis_connect(port);
  Record r = sample;
  const std::uint64_t period_ns = kNsPerSec / cfg.rate_eps;
  const std::uint64_t start = monotonic_ns();
  ctl->start_ns.store(start, std::memory_order_relaxed);
  for (std::uint64_t i = 0; c && i < n; ++i) {
    if (paced) pace_until(start + i * period_ns);
    r.seq = i;
    r.publish_ns = stamp_now();
    auto* reply =
        static_cast<redisReply*>(redisCommand(c, "XADD %s * r %b", key.c_str(), &r, sizeof r));
    if (reply) freeReplyObject(reply);
  }
  reap(kid);
  if (c) {
    auto* reply = static_cast<redisReply*>(redisCommand(c, "DEL %s", key.c_str()));
    if (reply) freeReplyObject(reply);
    redisFree(c);
  }
  Row row;
  row.name = "Redis Streams 1x1";
  row.mode = "XREAD BLOCK";
  const auto& res = ctl->consumers[0];
  row.throughput_eps =
      static_cast<double>(res.delivered) / (static_cast<double>(res.end_ns - start) / 1e9);
  row.lost_pct = 100.0 * static_cast<double>(res.lost) / static_cast<double>(n);
  if (paced) {
    std::vector<std::uint64_t> all(lat, lat + res.delivered);
    percentiles(all, row);
  }
  ::munmap(lat, sizeof(std::uint64_t) * n);
  ::munmap(ctl, sizeof(Control));
  return row;
}

// --- CPU cost per event, one process -------------------------------------------------------
// CPU time (not wall time) per operation with hot caches and no other side running: what each
// transport costs in instructions, independent of how the cores are shared.

std::uint64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * kNsPerSec + static_cast<std::uint64_t>(ts.tv_nsec);
}

struct CpuCosts {
  double ring_publish_ns = 0, ring_poll_ns = 0, spsc_push_pop_ns = 0;
  double ring_batch_publish_ns = 0;  // per record, publish_records of 16
};

CpuCosts cpu_costs(const Config& cfg, const Record& sample) {
  CpuCosts costs;
  constexpr std::uint64_t kOps = 1 << 21;
  const std::string ring = "qsc_bench_cpu_" + std::to_string(::getpid());
  (void)qsc::ipc::remove_ring(ring);
  {
    qsc::ipc::ProducerOptions po;
    po.name = ring;
    po.capacity_records = cfg.capacity;
    auto producer = qsc::ipc::RingProducer::open(po);
    qsc::ipc::ConsumerOptions co;
    co.name = ring;
    co.capacity_records = cfg.capacity;
    co.start = qsc::ipc::StartPosition::kLatest;
    auto consumer = qsc::ipc::RingConsumer::open(co);
    if (!producer || !consumer) return costs;
    Record r = sample, out;
    const std::uint64_t batch = cfg.capacity / 2;  // publish half a ring, then read it back
    std::uint64_t publish_ns = 0, poll_ns = 0, done = 0;
    while (done < kOps) {
      std::uint64_t t0 = thread_cpu_ns();
      for (std::uint64_t i = 0; i < batch; ++i) {
        r.seq = done + i;
        (void)producer->publish_record(r);
      }
      std::uint64_t t1 = thread_cpu_ns();
      for (std::uint64_t i = 0; i < batch; ++i) (void)consumer->poll_record(out);
      std::uint64_t t2 = thread_cpu_ns();
      publish_ns += t1 - t0;
      poll_ns += t2 - t1;
      done += batch;
    }
    costs.ring_publish_ns = static_cast<double>(publish_ns) / static_cast<double>(done);
    costs.ring_poll_ns = static_cast<double>(poll_ns) / static_cast<double>(done);
    std::vector<Record> burst(16, sample);
    publish_ns = done = 0;
    while (done < kOps) {
      const std::uint64_t t0 = thread_cpu_ns();
      for (std::uint64_t i = 0; i < batch; i += burst.size())
        (void)producer->publish_records(burst);
      publish_ns += thread_cpu_ns() - t0;
      for (std::uint64_t i = 0; i < batch; ++i) (void)consumer->poll_record(out);
      done += batch;
    }
    costs.ring_batch_publish_ns = static_cast<double>(publish_ns) / static_cast<double>(done);
  }
  (void)qsc::ipc::remove_ring(ring);
  auto queue = std::make_unique<SpscQueue>();
  Record r = sample, out;
  const std::uint64_t t0 = thread_cpu_ns();
  for (std::uint64_t i = 0; i < kOps; ++i) {
    r.seq = i;
    (void)queue->push(r);
    if ((i & 1023) == 1023) {
      while (queue->pop(out)) {
      }
    }
  }
  costs.spsc_push_pop_ns = static_cast<double>(thread_cpu_ns() - t0) / static_cast<double>(kOps);
  return costs;
}

// --- report ----------------------------------------------------------------------------------

std::string machine_description() {
  std::string cpu = "unknown CPU";
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);) {
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  utsname u{};
  ::uname(&u);
  std::string load = "?";
  std::ifstream loadavg("/proc/loadavg");
  std::getline(loadavg, load);
  // The load average tells whether other work shared the cores during the run.
  return cpu + ", " + std::to_string(std::thread::hardware_concurrency()) + " CPUs, Linux " +
         u.release + ", loadavg " + load.substr(0, load.find(' ', load.find(' ') + 1));
}

// Cost of one CLOCK_MONOTONIC read, which every published record pays for its stamp.
double clock_cost_ns() {
  constexpr int kReads = 1'000'000;
  const std::uint64_t start = monotonic_ns();
  std::uint64_t sink = 0;
  for (int i = 0; i < kReads; ++i) sink += monotonic_ns();
  const std::uint64_t end = monotonic_ns();
  return sink == 0 ? 0 : static_cast<double>(end - start) / kReads;
}

std::string fmt(double v, const char* spec = "%.0f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, spec, v);
  return buf;
}

std::string fmt_eps(double v) {
  if (v >= 1e6) return fmt(v / 1e6, "%.2f M");
  if (v >= 1e3) return fmt(v / 1e3, "%.1f k");
  return fmt(v);
}

std::string fmt_ns(double ns) {
  if (ns == 0) return "-";
  if (ns >= 1e6) return fmt(ns / 1e6, "%.2f ms");
  if (ns >= 1e3) return fmt(ns / 1e3, "%.2f us");
  return fmt(ns, "%.0f ns");
}

struct Ratio {
  std::string name;
  double value;
  double target;
  bool higher_is_better;
};

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : "0"; };
    if (a == "--json")
      cfg.json = true;
    else if (a == "--events")
      cfg.events = std::strtoull(next(), nullptr, 10);
    else if (a == "--latency-events")
      cfg.latency_events = std::strtoull(next(), nullptr, 10);
    else if (a == "--rate")
      cfg.rate_eps = std::max<std::uint64_t>(1, std::strtoull(next(), nullptr, 10));
    else if (a == "--redis-events")
      cfg.redis_events = std::strtoull(next(), nullptr, 10);
    else if (a == "--redis-server")
      cfg.redis_server = next();
    else if (a == "--no-redis")
      cfg.redis = false;
    else if (a == "--quick")
      cfg.quick = true;
    else if (a == "--no-pin")
      g_pin = false;
    else if (a == "--capacity")
      cfg.capacity = std::strtoull(next(), nullptr, 10);
    else {
      std::fprintf(
          stderr,
          "usage: ring_bench [--json] [--events N] [--latency-events N] [--rate EPS] "
          "[--redis-events N] [--redis-server PATH] [--no-redis] [--no-pin] [--capacity C]\n");
      return 64;
    }
  }
  const std::string machine = machine_description();  // load average before the run
  pin_to(0);                                          // the producer side
  const auto t0 = std::chrono::steady_clock::now();
  const auto over_budget = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() >
           cfg.budget_s;
  };
  const std::string probe = "qsc_bench_probe_" + std::to_string(::getpid());
  const Record sample = sample_record(probe, cfg.capacity);
  (void)qsc::ipc::remove_ring(probe);
  const double clock_ns = clock_cost_ns();
  const CpuCosts cpu = cpu_costs(cfg, sample);
  calibrate_tsc();
  const auto spin = qsc::ipc::WaitStrategy::kSpin;
  const auto sleepy = qsc::ipc::WaitStrategy::kSpinThenSleep;

  std::vector<Row> thr, lat;
  if (!cfg.json) std::fprintf(stderr, "running (about a minute)...\n");
  // Rows the ratios use come first: ring 1x1 spin, then boost spsc.
  thr.push_back(run_ring(cfg, {"ring 1x1", 1, spin, false}));
  thr.push_back(run_spsc(cfg, sample, false));
  if (!cfg.quick) {
    thr.push_back(run_ring(cfg, {"ring 1x1 8 preds", 1, spin, false, 8}));
    thr.push_back(run_ring(cfg, {"ring 1x1 batch 16", 1, spin, false, 4, 16}));
    thr.push_back(run_ring(cfg, {"ring 1x4", 4, sleepy, false}));
  }
  lat.push_back(run_ring(cfg, {"ring 1x1", 1, spin, true}));
  lat.push_back(run_spsc(cfg, sample, true));
  if (!cfg.quick) {
    lat.push_back(run_ring(cfg, {"ring 1x1", 1, sleepy, true}));
    lat.push_back(run_ring(cfg, {"ring 1x4", 4, sleepy, true}));
  }
  std::string redis_note;
  if (cfg.quick) {
    redis_note = "skipped (--quick)";
  } else if (!cfg.redis) {
    redis_note = "skipped (--no-redis)";
  } else if (over_budget()) {
    redis_note = "skipped (time budget spent)";
  } else {
    RedisServer server;
    if (auto err = start_redis(cfg, server)) {
      redis_note = "skipped: " + *err;
    } else {
      thr.push_back(run_redis(cfg, sample, server.port, false));
      lat.push_back(run_redis(cfg, sample, server.port, true));
    }
  }
  if (!redis_note.empty()) {
    Row skipped;
    skipped.name = "Redis Streams 1x1";
    skipped.skipped = true;
    skipped.note = redis_note;
    thr.push_back(skipped);
    lat.push_back(skipped);
    std::fprintf(stderr, "Redis row %s\n", redis_note.c_str());
  }

  const Row& ring_thr = thr[0];
  const Row& spsc_thr = thr[1];
  const Row& ring_lat = lat[0];
  const Row& spsc_lat = lat[1];
  const Row& redis_thr = thr.back();
  const Row& redis_lat = lat.back();
  std::vector<Ratio> ratios = {
      {"ring 1x1 throughput (M events/s)", ring_thr.throughput_eps / 1e6, 10.0, true},
      {"ring 1x1 / boost spsc throughput", ring_thr.throughput_eps / spsc_thr.throughput_eps, 1.0,
       true},
      {"ring 1x1 spin p99 latency (us)", ring_lat.p99_ns / 1e3, 2.0, false},
      {"boost spsc p99 / ring p99 latency", spsc_lat.p99_ns / ring_lat.p99_ns, 0.0, true},
  };
  if (!redis_thr.skipped) {
    ratios.push_back({"ring 1x1 / Redis throughput",
                      ring_thr.throughput_eps / redis_thr.throughput_eps, 100.0, true});
    ratios.push_back(
        {"Redis p99 / ring p99 latency", redis_lat.p99_ns / ring_lat.p99_ns, 50.0, true});
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  if (cfg.json) {
    std::printf("{\n  \"machine\": \"%s\",\n  \"record_bytes\": %zu,\n  \"slot_bytes\": %u,\n",
                machine.c_str(), sizeof(Record), qsc::ipc::kRecordSizeBytes);
    std::printf(
        "  \"ring_capacity_records\": %llu,\n  \"clock_read_ns\": %.1f,\n  \"elapsed_s\": %.1f,\n",
        static_cast<unsigned long long>(cfg.capacity), clock_ns, elapsed);
    const auto rows = [](const char* key, const std::vector<Row>& rs, bool last) {
      std::printf("  \"%s\": [\n", key);
      for (std::size_t i = 0; i < rs.size(); ++i) {
        const Row& r = rs[i];
        std::printf(
            "    {\"name\": \"%s\", \"mode\": \"%s\", \"skipped\": %s, \"note\": \"%s\", "
            "\"throughput_eps\": %.0f, \"lost_pct\": %.3f, \"p50_ns\": %.0f, "
            "\"p99_ns\": %.0f, \"p999_ns\": %.0f, \"samples\": %llu}%s\n",
            r.name.c_str(), r.mode.c_str(), r.skipped ? "true" : "false", r.note.c_str(),
            r.throughput_eps, r.lost_pct, r.p50_ns, r.p99_ns, r.p999_ns,
            static_cast<unsigned long long>(r.samples), i + 1 < rs.size() ? "," : "");
      }
      std::printf("  ]%s\n", last ? "" : ",");
    };
    std::printf(
        "  \"cpu_ns_per_event\": {\"ring_publish\": %.1f, \"ring_publish_batch16\": %.1f, "
        "\"ring_poll\": %.1f, \"spsc_push_pop\": %.1f},\n",
        cpu.ring_publish_ns, cpu.ring_batch_publish_ns, cpu.ring_poll_ns, cpu.spsc_push_pop_ns);
    rows("throughput", thr, false);
    rows("latency", lat, false);
    std::printf("  \"ratios\": [\n");
    for (std::size_t i = 0; i < ratios.size(); ++i) {
      const Ratio& q = ratios[i];
      const bool met =
          q.target == 0 || (q.higher_is_better ? q.value >= q.target : q.value <= q.target);
      std::printf("    {\"name\": \"%s\", \"value\": %.3f, \"target\": %.3f, \"met\": %s}%s\n",
                  q.name.c_str(), q.value, q.target, met ? "true" : "false",
                  i + 1 < ratios.size() ? "," : "");
    }
    std::printf("  ]\n}\n");
    return 0;
  }

  std::printf("Machine: %s\n", machine.c_str());
  std::printf(
      "Record: %zu bytes (ring slot %u bytes incl. state word); ring capacity %llu; "
      "CLOCK_MONOTONIC read %.1f ns\n\n",
      sizeof(Record), qsc::ipc::kRecordSizeBytes, static_cast<unsigned long long>(cfg.capacity),
      clock_ns);
  std::printf(
      "CPU time per event, one process, hot caches: ring publish %.1f ns (%.1f ns in batches "
      "of 16) + poll %.1f ns; boost spsc push + pop %.1f ns\n\n",
      cpu.ring_publish_ns, cpu.ring_batch_publish_ns, cpu.ring_poll_ns, cpu.spsc_push_pop_ns);
  std::printf("Throughput (%llu events; Redis %llu), delivered per consumer:\n",
              static_cast<unsigned long long>(cfg.events),
              static_cast<unsigned long long>(cfg.redis_events));
  std::printf("  %-22s %-16s %14s %8s\n", "transport", "consumer waits", "events/s", "lost");
  for (const Row& r : thr) {
    if (r.skipped) {
      std::printf("  %-22s %s\n", r.name.c_str(), r.note.c_str());
      continue;
    }
    std::printf("  %-22s %-16s %14s %7.2f%%\n", r.name.c_str(), r.mode.c_str(),
                fmt_eps(r.throughput_eps).c_str(), r.lost_pct);
  }
  std::printf("\nOne-way latency (%llu events paced at %llu/s):\n",
              static_cast<unsigned long long>(cfg.latency_events),
              static_cast<unsigned long long>(cfg.rate_eps));
  std::printf("  %-22s %-16s %10s %10s %10s %8s\n", "transport", "consumer waits", "p50", "p99",
              "p99.9", "lost");
  for (const Row& r : lat) {
    if (r.skipped) {
      std::printf("  %-22s %s\n", r.name.c_str(), r.note.c_str());
      continue;
    }
    std::printf("  %-22s %-16s %10s %10s %10s %7.2f%%\n", r.name.c_str(), r.mode.c_str(),
                fmt_ns(r.p50_ns).c_str(), fmt_ns(r.p99_ns).c_str(), fmt_ns(r.p999_ns).c_str(),
                r.lost_pct);
  }
  std::printf("\nRatios and targets:\n");
  for (const Ratio& q : ratios) {
    const bool met =
        q.target == 0 || (q.higher_is_better ? q.value >= q.target : q.value <= q.target);
    if (q.target == 0) {
      std::printf("  %-36s %10.2f\n", q.name.c_str(), q.value);
    } else {
      std::printf("  %-36s %10.2f   target %s %.1f: %s\n", q.name.c_str(), q.value,
                  q.higher_is_better ? ">=" : "<=", q.target, met ? "met" : "MISSED");
    }
  }
  std::printf("\n(%.1f s)\n", elapsed);
  return 0;
}

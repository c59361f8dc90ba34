// `qsc mirror`: keeps the local ring fed from Redis and, with --to-redis, copies the ring's events
// into Redis (the bridge is telemetry/ring_mirror.hpp). Runs until SIGINT/SIGTERM.
#include <signal.h>

#include <algorithm>
#include <iostream>

#include "cli/command.hpp"
#include "core/duration.hpp"
#include "core/timestamp.hpp"
#include "telemetry/ring_mirror.hpp"

namespace qsc::agent {
namespace {

class MirrorCommand final : public Command {
 public:
  std::string name() const override { return "mirror"; }
  std::string summary() const override {
    return "mirror the Redis stream into the local ring (and, with --to-redis, the ring into "
           "Redis) until stopped";
  }
  void setup(CLI::App& app) override {
    app.add_flag("--to-redis", to_redis_,
                 "also copy events published into the ring to the Redis stream");
    app.add_option("--maxlen", maxlen_,
                   "with --to-redis: trim the stream to about N entries (XADD MAXLEN ~ N)")
        ->check(CLI::PositiveNumber);
    app.add_option("--since", since_text_,
                   "with an empty ring, copy events from TS on (default: the newest "
                   "telemetry.window_events): " +
                       std::string(kTimestampForms));
    app.add_option("--stats-interval", stats_text_, "how often to print the counters (10s)");
    app.footer(
        "Stops cleanly on SIGINT/SIGTERM (exit 0). Redis outages are retried with backoff and "
        "resumed from the last entry copied. Exit 2 when the ring cannot be opened or an option "
        "is wrong.");
  }

  int run(CommandContext& context) override {
    const auto& t = context.config.telemetry;
    auto interval = parse_duration(stats_text_);
    if (!interval) {
      std::cerr << "qsc mirror: --stats-interval: " << interval.error().message << "\n";
      return exit_code::kError;
    }
    RingMirrorOptions options;
    if (!since_text_.empty()) {
      auto since = parse_timestamp(since_text_);
      if (!since) {
        std::cerr << "qsc mirror: --since: " << since.error().message << "\n";
        return exit_code::kError;
      }
      options.since = *since;
    }
    auto redis_options = RedisOptions::from_url(t.redis_url);
    if (!redis_options) return fail(redis_options.error());
    options.redis = std::move(redis_options).value();
    options.stream = t.stream;
    options.shm_name = t.shm_name;
    options.backfill_events = t.window_events;
    options.to_redis = to_redis_;
    options.maxlen = maxlen_;
    auto mirror = RingMirror::open(std::move(options));
    if (!mirror) return fail(mirror.error());

    // Signals are taken synchronously by the main thread; the bridge's threads never see them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    (*mirror)->start();

    const auto stats_every = std::chrono::duration_cast<std::chrono::seconds>(*interval);
    for (;;) {
      timespec ts{std::max<long>(1, static_cast<long>(stats_every.count())), 0};
      const int sig = sigtimedwait(&stop_signals, nullptr, &ts);
      if (sig == SIGINT || sig == SIGTERM) {
        std::cout << "qsc mirror: " << (sig == SIGINT ? "SIGINT" : "SIGTERM")
                  << " received, stopping" << std::endl;
        break;
      }
      std::cout << (*mirror)->counters_line() << std::endl;
    }
    (*mirror)->stop();
    std::cout << (*mirror)->counters_line() << std::endl;
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
    return exit_code::kOk;
  }

 private:
  static int fail(const Error& error) {
    std::cerr << "qsc mirror: " << error.message << "\n";
    return exit_code::kError;
  }

  bool to_redis_ = false;
  std::uint64_t maxlen_ = 100'000;
  std::string since_text_;
  std::string stats_text_ = "10s";
};

QSC_REGISTER_COMMAND(MirrorCommand);

}  // namespace
}  // namespace qsc::agent

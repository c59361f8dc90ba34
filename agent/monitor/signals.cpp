// Signal flags. sig_atomic_t-sized lock-free atomics are async-signal-safe to store.
#include "monitor/signals.hpp"

#include <signal.h>

#include <atomic>

namespace qsc::agent {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};
static_assert(std::atomic<bool>::is_always_lock_free);

void on_stop(int) {
  g_stop.store(true, std::memory_order_relaxed);
}
void on_reload(int) {
  g_reload.store(true, std::memory_order_relaxed);
}

}  // namespace

void install_signal_flags() {
  struct sigaction sa {};
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_stop;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sa.sa_handler = on_reload;
  sigaction(SIGHUP, &sa, nullptr);
}

bool stop_requested() noexcept {
  return g_stop.load(std::memory_order_relaxed);
}

bool take_reload_request() noexcept {
  return g_reload.exchange(false, std::memory_order_relaxed);
}

}  // namespace qsc::agent

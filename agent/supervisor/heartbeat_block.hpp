// The block the supervisor and its worker share (memfd + mmap, the fd inherited across exec):
// the worker's heartbeat, the plugin it is running right now, and its last verdict. The
// supervisor only reads it; a worker that stops beating, or stays in one plugin call for longer
// than plugins.check_timeout, is killed and the canary rolled back naming that plugin.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "qsc/result.hpp"

namespace qsc::agent {

/// Longest plugin name (or "file.so" being loaded) the block keeps; longer ones are cut.
inline constexpr std::size_t kHeartbeatPluginChars = 127;

/// The shared layout. Lock-free atomics only, so it works between processes.
struct HeartbeatLayout {
  /// CLOCK_MONOTONIC ns of the worker's last beat. Stored with release, loaded with acquire:
  /// a supervisor that sees a beat also sees the plugin name published before it.
  std::atomic<std::int64_t> heartbeat_ns;
  /// CLOCK_MONOTONIC ns when the current plugin call started; 0 outside plugin code.
  /// Release/acquire like heartbeat_ns.
  std::atomic<std::int64_t> plugin_started_ns;
  /// Seqlock over `plugin` and `activity`: odd while the worker writes them. The writer stores
  /// the odd value (relaxed), a release fence, the bytes (relaxed), then the even value with
  /// release. The reader loads it with acquire, copies the bytes (relaxed), an acquire fence,
  /// loads it again (relaxed), and retries when it was odd or changed: a torn copy is never
  /// used.
  std::atomic<std::uint32_t> plugin_generation;
  /// The plugin being called, NUL-terminated; written byte by byte through relaxed atomics so
  /// a concurrent read is not a data race (the seqlock tells a torn copy).
  std::atomic<char> plugin[kHeartbeatPluginChars + 1];
  /// What the worker is doing with that plugin: "load", "check", "action" (seqlock-protected
  /// like `plugin`).
  std::atomic<char> activity[16];
  /// CLOCK_MONOTONIC ns until which the worker runs host code that does not beat (the rollback:
  /// waiting for the lock, the built-in systemctl calls); 0 for none. Release/acquire. Never
  /// covers plugin code: plugin_started_ns is checked regardless.
  std::atomic<std::int64_t> host_work_until_ns;
  /// Why the worker gave up on its own (exit code kWorkerPluginFailedExit), NUL-terminated,
  /// written before it exits (relaxed bytes; the exit itself orders them before the
  /// supervisor's waitpid).
  std::atomic<char> failure[512];
  /// The last verdict the worker published (0 none, 1 pass, 2 violation); relaxed: it is
  /// informational (the audit log holds the verdicts).
  std::atomic<std::int32_t> last_verdict;
  /// The worker's pid, written once at start (relaxed; the supervisor knows it from fork).
  std::atomic<std::int32_t> worker_pid;
};
static_assert(std::atomic<std::int64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<char>::is_always_lock_free);

/// CLOCK_MONOTONIC in nanoseconds (the same clock in both processes).
std::int64_t monotonic_ns();

/// A mapping of the block. Movable; unmaps (and closes its fd) when destroyed.
class HeartbeatBlock {
 public:
  /// Creates an anonymous block (memfd); its fd is close-on-exec until the launcher clears it
  /// in the child.
  static Result<HeartbeatBlock> create();
  /// Maps the block whose fd the supervisor handed down.
  static Result<HeartbeatBlock> attach(int fd);

  HeartbeatBlock(HeartbeatBlock&& other) noexcept;
  HeartbeatBlock& operator=(HeartbeatBlock&& other) noexcept;
  HeartbeatBlock(const HeartbeatBlock&) = delete;
  HeartbeatBlock& operator=(const HeartbeatBlock&) = delete;
  ~HeartbeatBlock();

  int fd() const noexcept { return fd_; }

  // The worker's side.
  void beat() noexcept;
  /// Publishes that `plugin` is being called for `activity` from now on (and beats). `timed`:
  /// the call runs in this process and counts against plugins.check_timeout; false for an
  /// action running in a child process with its own deadline (the name is still published).
  void enter_plugin(std::string_view plugin, std::string_view activity, bool timed = true) noexcept;
  /// Host code that cannot beat runs for up to `budget_ms` from now (0: over).
  void allow_host_work(std::int64_t budget_ms) noexcept;
  /// Records why the worker gives up (read by the supervisor after it exited).
  void publish_failure(std::string_view why) noexcept;
  /// Publishes that no plugin code runs (and beats); the name is cleared.
  void leave_plugin() noexcept;
  void set_last_verdict(std::int32_t verdict) noexcept;

  // The supervisor's side.
  std::int64_t heartbeat_ns() const noexcept;
  /// 0 outside plugin code.
  std::int64_t plugin_started_ns() const noexcept;
  /// The plugin being called and what for; empty outside plugin calls.
  std::string plugin() const;
  std::string activity() const;
  std::int64_t host_work_until_ns() const noexcept;
  std::string failure() const;
  /// Resets the heartbeat to now, before a worker is started.
  void reset() noexcept;

 private:
  HeartbeatBlock(int fd, HeartbeatLayout* layout) : fd_(fd), layout_(layout) {}
  std::string read_text(const std::atomic<char>* text, std::size_t capacity) const;
  int fd_ = -1;
  HeartbeatLayout* layout_ = nullptr;
};

/// The worker's exit code when it refuses to start because a plugin failed as it was loaded
/// (a constructor that threw): the supervisor rolls back, naming it.
inline constexpr int kWorkerPluginFailedExit = 70;

/// The worker's exit code when an allocation inside a plugin call was refused (the address-space
/// backstop of memory_limit.hpp): the plugin and activity stay published in the block, the
/// failure text says what was refused, and the supervisor rolls back as for a crash.
inline constexpr int kWorkerAllocationRefusedExit = 71;

/// The environment variable through which the worker learns the block's fd.
inline constexpr const char* kHeartbeatFdEnv = "QSC_SUPERVISOR_FD";

}  // namespace qsc::agent

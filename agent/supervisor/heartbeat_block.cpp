// The shared heartbeat block.
#include "supervisor/heartbeat_block.hpp"

#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <new>
#include <utility>

#include "core/memfd_block.hpp"

namespace qsc::agent {

std::int64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

namespace {

Result<HeartbeatLayout*> map_block(int fd) {
  void* p = ::mmap(nullptr, sizeof(HeartbeatLayout), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    return Error{std::string("cannot map the supervisor's heartbeat block: ") +
                 std::strerror(errno)};
  }
  return static_cast<HeartbeatLayout*>(p);
}

void write_text(std::atomic<char>* text, std::size_t capacity, std::string_view value) {
  const std::size_t n = std::min(value.size(), capacity);
  for (std::size_t i = 0; i < n; ++i) text[i].store(value[i], std::memory_order_relaxed);
  text[n].store('\0', std::memory_order_relaxed);
}

}  // namespace

Result<HeartbeatBlock> HeartbeatBlock::create() {
  auto created = create_sized_memfd("qsc-monitor-heartbeat", MFD_CLOEXEC, sizeof(HeartbeatLayout),
                                    "the supervisor's heartbeat block");
  if (!created) return created.error();
  const int fd = *created;
  auto layout = map_block(fd);
  if (!layout) {
    ::close(fd);
    return layout.error();
  }
  // A fresh memfd is zero-filled, which is every field's initial value; constructing the
  // layout in place makes the atomics' lifetime start here.
  new (*layout) HeartbeatLayout{};
  HeartbeatBlock block(fd, *layout);
  block.reset();
  return block;
}

Result<HeartbeatBlock> HeartbeatBlock::attach(int fd) {
  auto layout = map_block(fd);
  if (!layout) return layout.error();
  return HeartbeatBlock(fd, *layout);
}

HeartbeatBlock::HeartbeatBlock(HeartbeatBlock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), layout_(std::exchange(other.layout_, nullptr)) {}

HeartbeatBlock& HeartbeatBlock::operator=(HeartbeatBlock&& other) noexcept {
  if (this != &other) {
    this->~HeartbeatBlock();
    fd_ = std::exchange(other.fd_, -1);
    layout_ = std::exchange(other.layout_, nullptr);
  }
  return *this;
}

HeartbeatBlock::~HeartbeatBlock() {
  if (layout_ != nullptr) ::munmap(layout_, sizeof(HeartbeatLayout));
  if (fd_ >= 0) ::close(fd_);
}

void HeartbeatBlock::beat() noexcept {
  layout_->heartbeat_ns.store(monotonic_ns(), std::memory_order_release);
}

void HeartbeatBlock::enter_plugin(std::string_view plugin, std::string_view activity,
                                  bool timed) noexcept {
  auto& gen = layout_->plugin_generation;
  const auto g = gen.load(std::memory_order_relaxed);
  gen.store(g + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  write_text(layout_->plugin, kHeartbeatPluginChars, plugin);
  write_text(layout_->activity, std::size(layout_->activity) - 1, activity);
  gen.store(g + 2, std::memory_order_release);
  const auto now = monotonic_ns();
  layout_->plugin_started_ns.store(timed ? now : 0, std::memory_order_release);
  layout_->heartbeat_ns.store(now, std::memory_order_release);
}

void HeartbeatBlock::allow_host_work(std::int64_t budget_ms) noexcept {
  layout_->host_work_until_ns.store(budget_ms <= 0 ? 0 : monotonic_ns() + budget_ms * 1'000'000,
                                    std::memory_order_release);
  beat();
}

void HeartbeatBlock::publish_failure(std::string_view why) noexcept {
  write_text(layout_->failure, std::size(layout_->failure) - 1, why);
}

std::int64_t HeartbeatBlock::host_work_until_ns() const noexcept {
  return layout_->host_work_until_ns.load(std::memory_order_acquire);
}

std::string HeartbeatBlock::failure() const {
  std::string out;
  for (std::size_t i = 0; i + 1 < std::size(layout_->failure); ++i) {
    const char c = layout_->failure[i].load(std::memory_order_relaxed);
    if (c == '\0') break;
    out.push_back(c);
  }
  return out;
}

void HeartbeatBlock::leave_plugin() noexcept {
  layout_->plugin_started_ns.store(0, std::memory_order_release);
  // The name is cleared too: a worker that fails outside plugin code must not blame the plugin
  // it called last.
  auto& gen = layout_->plugin_generation;
  const auto g = gen.load(std::memory_order_relaxed);
  gen.store(g + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  layout_->plugin[0].store('\0', std::memory_order_relaxed);
  layout_->activity[0].store('\0', std::memory_order_relaxed);
  gen.store(g + 2, std::memory_order_release);
  beat();
}

void HeartbeatBlock::set_last_verdict(std::int32_t verdict) noexcept {
  layout_->last_verdict.store(verdict, std::memory_order_relaxed);
}

std::int64_t HeartbeatBlock::heartbeat_ns() const noexcept {
  return layout_->heartbeat_ns.load(std::memory_order_acquire);
}

std::int64_t HeartbeatBlock::plugin_started_ns() const noexcept {
  return layout_->plugin_started_ns.load(std::memory_order_acquire);
}

std::string HeartbeatBlock::read_text(const std::atomic<char>* text, std::size_t capacity) const {
  auto& gen = layout_->plugin_generation;
  std::string out;
  // A dead worker cannot be mid-write for ever; a live one writes for nanoseconds. Bounded
  // anyway, so a worker killed halfway through a write still yields a (possibly torn) name.
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const auto before = gen.load(std::memory_order_acquire);
    out.clear();
    for (std::size_t i = 0; i < capacity; ++i) {
      const char c = text[i].load(std::memory_order_relaxed);
      if (c == '\0') break;
      out.push_back(c);
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    const auto after = gen.load(std::memory_order_relaxed);
    if (before == after && (before & 1u) == 0) break;
  }
  return out;
}

std::string HeartbeatBlock::plugin() const {
  return read_text(layout_->plugin, kHeartbeatPluginChars);
}

std::string HeartbeatBlock::activity() const {
  return read_text(layout_->activity, std::size(layout_->activity) - 1);
}

void HeartbeatBlock::reset() noexcept {
  layout_->plugin_started_ns.store(0, std::memory_order_release);
  beat();
}

}  // namespace qsc::agent

// The worker-to-supervisor metrics block (seqlock over 64-bit words).
#include "metrics/metrics_block.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <utility>

#include "core/memfd_block.hpp"

namespace qsc::agent::metrics {
namespace {

Result<MetricsBlockLayout*> map_block(int fd) {
  void* p = ::mmap(nullptr, sizeof(MetricsBlockLayout), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    return Error{std::string("cannot map the monitor's metrics block: ") + std::strerror(errno)};
  }
  return static_cast<MetricsBlockLayout*>(p);
}

}  // namespace

Result<MetricsBlock> MetricsBlock::create() {
  // Not close-on-exec: the worker is exec'd and attaches it by number.
  auto created = create_sized_memfd("qsc-monitor-metrics", 0, sizeof(MetricsBlockLayout),
                                    "the monitor's metrics block");
  if (!created) return created.error();
  const int fd = *created;
  auto layout = map_block(fd);
  if (!layout) {
    ::close(fd);
    return layout.error();
  }
  // A fresh memfd is zero-filled (sequence 0, an all-zero snapshot: nothing published);
  // constructing the layout in place starts the atomics' lifetime.
  new (*layout) MetricsBlockLayout{};
  return MetricsBlock(fd, *layout);
}

Result<MetricsBlock> MetricsBlock::attach(int fd) {
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 ||
      static_cast<std::size_t>(st.st_size) < sizeof(MetricsBlockLayout)) {
    return Error{"fd " + std::to_string(fd) + " in " + kMetricsFdEnv +
                 " is not the supervisor's metrics block"};
  }
  auto layout = map_block(fd);
  if (!layout) return layout.error();
  const int flags = ::fcntl(fd, F_GETFD);
  if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  return MetricsBlock(fd, *layout);
}

MetricsBlock::MetricsBlock(MetricsBlock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), layout_(std::exchange(other.layout_, nullptr)) {}

MetricsBlock& MetricsBlock::operator=(MetricsBlock&& other) noexcept {
  if (this != &other) {
    this->~MetricsBlock();
    fd_ = std::exchange(other.fd_, -1);
    layout_ = std::exchange(other.layout_, nullptr);
  }
  return *this;
}

MetricsBlock::~MetricsBlock() {
  if (layout_ != nullptr) ::munmap(layout_, sizeof(MetricsBlockLayout));
  if (fd_ >= 0) ::close(fd_);
}

void MetricsBlock::publish(const MetricsSnapshot& snapshot) noexcept {
  const auto* bytes = reinterpret_cast<const unsigned char*>(&snapshot);
  auto& seq = layout_->sequence;
  const auto s = seq.load(std::memory_order_relaxed);
  seq.store(s + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  for (std::size_t i = 0; i < kSnapshotWords; ++i) {
    std::uint64_t word = 0;
    std::memcpy(&word, bytes + i * sizeof word, sizeof word);
    layout_->words[i].store(word, std::memory_order_relaxed);
  }
  seq.store(s + 2, std::memory_order_release);
}

bool MetricsBlock::read(MetricsSnapshot& out) const noexcept {
  auto& seq = layout_->sequence;
  auto* bytes = reinterpret_cast<unsigned char*>(&out);
  // A live writer holds the sequence odd while it copies ~20 KiB: microseconds in a Release
  // build, far longer under a sanitizer or when it is preempted mid-copy on a loaded machine.
  // Spinning a fixed number of times (the first design: 1,000 loads) gave up inside one
  // preempted write, and a scrape before any consistent read then showed no worker figures at
  // all. So the reader spins briefly, then yields the CPU, until a deadline: bounded, so a
  // writer that died mid-write (odd for ever) costs one scrape kReadDeadline, not a hang.
  constexpr auto kReadDeadline = std::chrono::milliseconds(250);
  constexpr int kSpinAttempts = 1000;
  const auto deadline = std::chrono::steady_clock::now() + kReadDeadline;
  for (int attempt = 0;; ++attempt) {
    if (attempt >= kSpinAttempts) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::yield();
    }
    const auto before = seq.load(std::memory_order_acquire);
    if ((before & 1u) != 0) continue;
    for (std::size_t i = 0; i < kSnapshotWords; ++i) {
      const std::uint64_t word = layout_->words[i].load(std::memory_order_relaxed);
      std::memcpy(bytes + i * sizeof word, &word, sizeof word);
    }
    // Orders the word loads above before the sequence re-read below (the seqlock's reader
    // side): an unchanged, even sequence proves no write overlapped the copy.
    std::atomic_thread_fence(std::memory_order_acquire);
    if (seq.load(std::memory_order_relaxed) == before) return true;
  }
}

}  // namespace qsc::agent::metrics

// Fuzz target: a ring segment that someone else wrote (or corrupted). The input is the
// segment in compact form: the SegmentHeader's bytes, then slots (384 bytes each). It is
// expanded to the real layout (header page-padded, slots after it), written to a file in
// /dev/shm (where shm_open finds segments) and attached by a real RingConsumer: the header
// validation must refuse what it cannot trust, and every record that is then read (poll, and
// read() of every slot's raw bytes) must decode or be refused, never crash.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "qsc/ipc/layout.hpp"
#include "qsc/ipc/ring.hpp"

namespace {

bool write_all(int fd, const unsigned char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace qsc::ipc;
  constexpr std::size_t kCompactHeader = sizeof(SegmentHeader);
  // The segment as it lies in shared memory.
  std::vector<unsigned char> segment;
  if (size <= kCompactHeader) {
    segment.assign(data, data + size);  // too small for a header: refused
  } else {
    segment.assign(kHeaderBytes + (size - kCompactHeader), 0);
    std::memcpy(segment.data(), data, kCompactHeader);
    std::memcpy(segment.data() + kHeaderBytes, data + kCompactHeader, size - kCompactHeader);
  }
  // Ask for the capacity the header claims when it is a small power of two (so the attach can
  // succeed), else for the smallest ring (so the mismatch is refused).
  std::uint64_t claimed = 0;
  if (size >= offsetof(SegmentHeader, capacity_records) + sizeof claimed) {
    std::memcpy(&claimed, data + offsetof(SegmentHeader, capacity_records), sizeof claimed);
  }
  const bool small_power =
      claimed >= kMinCapacityRecords && claimed <= 64 && (claimed & (claimed - 1)) == 0;
  const std::uint64_t capacity = small_power ? claimed : kMinCapacityRecords;

  static const std::string name = "qsc_fuzz_ring_" + std::to_string(::getpid());
  const std::string path = "/dev/shm/" + name;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) __builtin_trap();  // /dev/shm must be writable for this target to mean anything
  const bool written = write_all(fd, segment.data(), segment.size());
  ::close(fd);
  if (!written) __builtin_trap();

  ConsumerOptions options;
  options.name = name;
  options.capacity_records = capacity;
  options.create_if_missing = false;
  options.start = StartPosition::kOldest;
  options.init_timeout = std::chrono::milliseconds(0);  // no creator is coming
  {
    auto consumer = RingConsumer::open(options);
    if (consumer) {
      for (std::uint64_t i = 0; i <= capacity; ++i) {
        auto event = consumer->poll();
        if (!event || !*event) break;
      }
      for (std::uint64_t s = 0; s < capacity; ++s) {
        const std::size_t at = kHeaderBytes + s * kRecordSizeBytes + sizeof(std::uint64_t);
        if (at + sizeof(Record) > segment.size()) break;
        Record record;
        std::memcpy(&record, segment.data() + at, sizeof record);
        (void)consumer->read(record);
      }
    }
  }
  ::unlink(path.c_str());
  return 0;
}

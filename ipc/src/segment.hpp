// One mapping of one ring segment: creating, attaching, validating and sharing it.
// Internal to ipc/: the public API is qsc/ipc/ring.hpp.
#pragma once

#include <sys/types.h>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "qsc/ipc/layout.hpp"
#include "qsc/result.hpp"

namespace qsc::ipc {

/// What a producer or consumer asks of a segment.
struct SegmentRequest {
  std::string_view name;
  std::uint64_t capacity_records = kDefaultCapacityRecords;
  bool create_if_missing = true;
  std::chrono::milliseconds init_timeout{1000};
  /// An owner trusted besides this process's effective uid (consumers: telemetry.shm_owner).
  std::optional<uid_t> trusted_owner_uid;
};

/// Whether the name still refers to the segment this mapping holds.
enum class SegmentIdentity : std::uint8_t { kSame, kMissing, kReplaced };

/// A validated mapping. Every producer and consumer of one segment in a process shares one
/// Segment (and so one address range), which also lets ThreadSanitizer see their accesses.
class Segment {
 public:
  /// Creates (mode 0660, whatever the umask) or attaches, then validates the header against
  /// this build's layout and the request. Errors name the ring and the mismatch.
  static Result<std::shared_ptr<Segment>> attach(const SegmentRequest& request);

  SegmentHeader& header() const noexcept { return *header_; }
  Slot& slot(std::uint64_t seq) const noexcept { return slots_[seq & mask_]; }
  std::uint64_t capacity_records() const noexcept { return mask_ + 1; }
  const std::string& name() const noexcept { return name_; }
  /// Compares the object now behind the name with the one mapped here.
  SegmentIdentity identity() const noexcept;

  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment();

 private:
  Segment() = default;
  static Result<std::shared_ptr<Segment>> open_existing(const SegmentRequest& request);

  std::string name_;
  boost::interprocess::shared_memory_object shm_;
  boost::interprocess::mapped_region region_;
  SegmentHeader* header_ = nullptr;
  Slot* slots_ = nullptr;
  std::uint64_t mask_ = 0;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

/// Refuses an existing segment that this process did not create and must not trust: owned by
/// a uid other than its own effective uid and `trusted_owner_uid`, or writable by others
/// (anyone could then forge events). The message names the owner, the mode and the fix.
Status check_segment_owner(std::string_view name, uid_t owner_uid, mode_t mode,
                           std::optional<uid_t> trusted_owner_uid);

/// Checks a header against the layout's own limits (identity fields, the model table).
/// Errors read "corrupt segment <name>: <what>" and say how to recover.
Status check_segment_limits(std::string_view name, const SegmentHeader& header);

/// Checks a ring name: non-empty, at most 200 bytes, no '/' or NUL.
Status validate_ring_name(std::string_view name);

}  // namespace qsc::ipc

// Creating and attaching ring segments. Boost.Interprocess owns the descriptor and the mapping;
// what it does not do (a umask-proof mode, waiting for a creator, validating the header,
// sharing one mapping per process) is done here. No exception leaves this file.
#include "segment.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pwd.h>

#include <boost/interprocess/exceptions.hpp>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <new>
#include <thread>
#include <utility>
#include <vector>

namespace qsc::ipc {
namespace bip = boost::interprocess;

namespace {

constexpr mode_t kSegmentMode = 0660;

// Process-wide registry: (device, inode) -> the live mapping of that object. Opening the same
// segment twice in a process yields the same addresses, so atomics are shared by address.
std::mutex g_registry_mutex;
std::map<std::pair<dev_t, ino_t>, std::weak_ptr<Segment>>& registry() {
  static auto* map = new std::map<std::pair<dev_t, ino_t>, std::weak_ptr<Segment>>();
  return *map;  // leaked on purpose: Segments may be destroyed during static destruction
}

// Maps every page of the segment into this process now (page tables only; the contents are
// untouched), so the first lap of publishes and reads takes no page fault on the hot path: a
// first-touch fault costs microseconds, and a 6 MiB ring has 1536 pages, one per ~11 slots.
// Best effort: older kernels lack MADV_POPULATE_WRITE (5.14+), and the ring works without it.
void populate(void* base, std::size_t bytes) noexcept {
#ifdef MADV_POPULATE_WRITE
  (void)::madvise(base, bytes, MADV_POPULATE_WRITE);
#else
  (void)base;
  (void)bytes;
#endif
}

std::string hex(std::uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(value));
  return buf;
}

std::string ring_label(std::string_view name) {
  return "shared-memory ring '" + std::string(name) + "' (/dev/shm/" + std::string(name) + ")";
}

// "uid 65534 (nobody)", or just the uid when it has no name here.
std::string describe_uid(uid_t uid) {
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (::getpwuid_r(uid, &entry, buf.data(), buf.size(), &found) == 0 && found != nullptr) {
    return "uid " + std::to_string(uid) + " (" + found->pw_name + ")";
  }
  return "uid " + std::to_string(uid);
}

std::string octal_mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

bool is_power_of_two(std::uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

std::uint64_t unix_ms_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000 +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000000;
}

// Fills the identity line of a freshly created, zero-filled segment and publishes it.
void initialise_header(SegmentHeader& h, std::uint64_t capacity_records) {
  h.layout_version = kLayoutVersion;
  h.header_bytes = static_cast<std::uint32_t>(kHeaderBytes);
  h.record_size_bytes = kRecordSizeBytes;
  h.max_predictions = kMaxPredictions;
  h.capacity_records = capacity_records;
  h.segment_bytes = segment_bytes_for(capacity_records);
  h.model_table_entries = kModelTableEntries;
  h.model_name_max_bytes = kModelNameMaxBytes;
  h.creator_pid = static_cast<std::int32_t>(::getpid());
  h.created_unix_ms = unix_ms_now();
  // release: every identity field above is visible to whoever acquires the magic.
  h.magic.store(kMagic, std::memory_order_release);
}

// Names the first way the header differs from what this build and the request expect.
Status check_header(std::string_view name, const SegmentHeader& h, std::uint64_t mapped_bytes,
                    std::uint64_t capacity_records) {
  const auto fail = [&](const std::string& what) {
    return Status(Error{ring_label(name) + ": " + what});
  };
  // acquire: pairs with initialise_header's release, so the fields below are complete.
  const std::uint64_t magic = h.magic.load(std::memory_order_acquire);
  if (magic != kMagic) {
    return fail("magic mismatch: found " + hex(magic) + ", expected " + hex(kMagic) +
                " (not a QSC ring, or its creator died while creating it); remove it with "
                "`rm /dev/shm/" +
                std::string(name) + "` if no process uses it");
  }
  if (h.layout_version != kLayoutVersion) {
    return fail("layout version mismatch: the segment has version " +
                std::to_string(h.layout_version) + ", this build reads version " +
                std::to_string(kLayoutVersion) +
                "; upgrade the older side, or remove the segment when no process uses it");
  }
  if (h.record_size_bytes != kRecordSizeBytes) {
    return fail("record size mismatch: the segment has " + std::to_string(h.record_size_bytes) +
                "-byte records, this build uses " + std::to_string(kRecordSizeBytes) +
                "-byte records; build both sides from the same layout");
  }
  if (h.capacity_records != capacity_records) {
    return fail("capacity mismatch: the segment holds " + std::to_string(h.capacity_records) +
                " records, " + std::to_string(capacity_records) +
                " were expected; configure the same capacity on every side");
  }
  if (h.header_bytes != kHeaderBytes || h.segment_bytes != segment_bytes_for(capacity_records) ||
      mapped_bytes < h.segment_bytes) {
    return fail("size mismatch: the header says " + std::to_string(h.segment_bytes) +
                " bytes, the object has " + std::to_string(mapped_bytes) + " bytes");
  }
  return check_segment_limits(name, h);
}

}  // namespace

Status check_segment_owner(std::string_view name, uid_t owner_uid, mode_t mode,
                           std::optional<uid_t> trusted_owner_uid) {
  const uid_t self = ::geteuid();
  const bool trusted_owner =
      owner_uid == self || (trusted_owner_uid && owner_uid == *trusted_owner_uid);
  const bool others_write = (mode & S_IWOTH) != 0;
  if (trusted_owner && !others_write) return ok_status();
  std::string trusted = describe_uid(self);
  if (trusted_owner_uid && *trusted_owner_uid != self) {
    trusted += " or " + describe_uid(*trusted_owner_uid) + " (telemetry.shm_owner)";
  }
  const std::string path = "/dev/shm/" + std::string(name);
  std::string message = ring_label(name) + " is refused: it is owned by " +
                        describe_uid(owner_uid) + " with mode " + octal_mode(mode) + "; ";
  if (!trusted_owner) {
    message += "only a segment owned by " + trusted +
               " is trusted (/dev/shm is world-writable: another user could have created it to "
               "feed forged events). If that user is the engine's, set telemetry.shm_owner to "
               "it; otherwise remove the segment (`rm " +
               path + "`) and restart the producer as the engine's user";
  } else {
    message += "others may write it (anyone could forge events): `chmod o-w " + path +
               "`, or remove it and let the producer recreate it (mode 0660)";
  }
  return Error{message};
}

Status check_segment_limits(std::string_view name, const SegmentHeader& h) {
  const auto corrupt = [&](const std::string& what) {
    return Status(Error{"corrupt segment " + std::string(name) + " (/dev/shm/" + std::string(name) +
                        "): " + what + "; it is refused, not clamped: remove it (`rm /dev/shm/" +
                        std::string(name) + "`) when no process uses it and restart the producer"});
  };
  if (h.max_predictions != kMaxPredictions) {
    return corrupt("the header says " + std::to_string(h.max_predictions) +
                   " predictions per record, the layout has " + std::to_string(kMaxPredictions));
  }
  if (h.model_table_entries != kModelTableEntries) {
    return corrupt("the header says " + std::to_string(h.model_table_entries) +
                   " model table entries, the layout has " + std::to_string(kModelTableEntries));
  }
  if (h.model_name_max_bytes != kModelNameMaxBytes) {
    return corrupt("the header says model names of up to " +
                   std::to_string(h.model_name_max_bytes) + " bytes, the layout allows " +
                   std::to_string(kModelNameMaxBytes));
  }
  for (std::size_t i = 0; i < kModelTableEntries; ++i) {
    const ModelEntry& entry = h.models[i];
    // acquire: a Ready entry's name, written before its release store, is complete.
    const std::uint32_t state = entry.state.load(std::memory_order_acquire);
    if (state > kModelEntryReady) {
      return corrupt("model table entry " + std::to_string(i) + " has state " +
                     std::to_string(state) + " (the layout knows 0, 1 and 2)");
    }
    if (state != kModelEntryReady) continue;
    if (entry.name_len == 0 || entry.name_len > kModelNameMaxBytes) {
      return corrupt("model table entry " + std::to_string(i) + " has a name of " +
                     std::to_string(entry.name_len) + " bytes (the layout allows 1 to " +
                     std::to_string(kModelNameMaxBytes) + ")");
    }
    for (std::size_t b = 0; b < entry.name_len; ++b) {
      const auto c = static_cast<unsigned char>(entry.name[b]);
      if (c < 0x20 || c == 0x7F) {
        return corrupt("model table entry " + std::to_string(i) + " has a control byte " +
                       std::to_string(c) + " at offset " + std::to_string(b) +
                       " of its name (a producer never writes one)");
      }
    }
  }
  return ok_status();
}

Status validate_ring_name(std::string_view name) {
  if (name.empty()) return Error{"ring name is empty; set it, e.g. \"qsc_trade_intent\""};
  if (name.size() > 200) return Error{"ring name is longer than 200 bytes"};
  for (char c : name) {
    if (c == '/' || c == '\0') {
      return Error{"ring name '" + std::string(name) + "' contains '/' or NUL; use a plain name"};
    }
  }
  return ok_status();
}

Result<std::shared_ptr<Segment>> Segment::attach(const SegmentRequest& request) {
  if (auto st = validate_ring_name(request.name); !st) return Error{st.error().message};
  if (!is_power_of_two(request.capacity_records) ||
      request.capacity_records < kMinCapacityRecords ||
      request.capacity_records > kMaxCapacityRecords) {
    return Error{ring_label(request.name) + ": capacity " +
                 std::to_string(request.capacity_records) + " records is not a power of two in [" +
                 std::to_string(kMinCapacityRecords) + ", " + std::to_string(kMaxCapacityRecords) +
                 "]"};
  }
  const std::string name(request.name);
  try {
    if (request.create_if_missing) {
      std::unique_ptr<Segment> seg(new Segment());
      bool created = false;
      try {
        seg->shm_ = bip::shared_memory_object(bip::create_only, name.c_str(), bip::read_write,
                                              bip::permissions(kSegmentMode));
        created = true;
      } catch (const bip::interprocess_exception& e) {
        if (e.get_error_code() != bip::already_exists_error) throw;
      }
      if (created) {
        const int fd = seg->shm_.get_mapping_handle().handle;
        // shm_open applies the umask; fchmod does not, so the group can always attach.
        if (::fchmod(fd, kSegmentMode) != 0) {
          bip::shared_memory_object::remove(name.c_str());
          return Error{ring_label(name) + ": fchmod 0660 failed"};
        }
        const std::uint64_t bytes = segment_bytes_for(request.capacity_records);
        seg->shm_.truncate(static_cast<bip::offset_t>(bytes));  // zero-filled by the kernel
        seg->region_ = bip::mapped_region(seg->shm_, bip::read_write, 0, bytes);
        populate(seg->region_.get_address(), seg->region_.get_size());
        struct stat st {};
        ::fstat(fd, &st);
        seg->dev_ = st.st_dev;
        seg->ino_ = st.st_ino;
        seg->name_ = name;
        auto* base = static_cast<unsigned char*>(seg->region_.get_address());
        seg->header_ = new (base) SegmentHeader;  // zero bytes are a valid initial state
        seg->slots_ = reinterpret_cast<Slot*>(base + kHeaderBytes);
        seg->mask_ = request.capacity_records - 1;
        initialise_header(*seg->header_, request.capacity_records);
        std::shared_ptr<Segment> shared(seg.release());
        std::lock_guard lock(g_registry_mutex);
        registry()[{shared->dev_, shared->ino_}] = shared;
        return shared;
      }
    }
    return open_existing(request);
  } catch (const bip::interprocess_exception& e) {
    if (e.get_error_code() == bip::not_found_error) {
      return Error{ring_label(name) +
                   " does not exist: start the producer first, or let the "
                   "consumer create it (create_if_missing)"};
    }
    return Error{ring_label(name) + ": " + e.what()};
  } catch (const std::exception& e) {
    return Error{ring_label(name) + ": " + e.what()};
  }
}

Result<std::shared_ptr<Segment>> Segment::open_existing(const SegmentRequest& request) {
  const std::string name(request.name);
  bip::shared_memory_object shm(bip::open_only, name.c_str(), bip::read_write);
  const int fd = shm.get_mapping_handle().handle;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Error{ring_label(name) + ": fstat failed"};
  // Judged on the descriptor we map (not the path), so nothing can swap the object between.
  if (auto trusted = check_segment_owner(name, st.st_uid, st.st_mode, request.trusted_owner_uid);
      !trusted) {
    return Error{trusted.error().message};
  }
  {
    std::lock_guard lock(g_registry_mutex);
    auto it = registry().find({st.st_dev, st.st_ino});
    if (it != registry().end()) {
      if (auto live = it->second.lock()) {
        if (auto ok = check_header(name, live->header(), live->region_.get_size(),
                                   request.capacity_records);
            !ok) {
          return Error{ok.error().message};
        }
        return live;
      }
    }
  }
  // The creator truncates right after shm_open; wait (bounded) until the header fits.
  const auto deadline = std::chrono::steady_clock::now() + request.init_timeout;
  bip::offset_t size = 0;
  while (shm.get_size(size), static_cast<std::uint64_t>(size) < kHeaderBytes) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error{ring_label(name) + ": magic mismatch: the object is " + std::to_string(size) +
                   " bytes, too small for a ring header (its creator died while creating it?); "
                   "remove it with `rm /dev/shm/" +
                   name + "` if no process uses it"};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::unique_ptr<Segment> seg(new Segment());
  seg->region_ = bip::mapped_region(shm, bip::read_write, 0, static_cast<std::size_t>(size));
  seg->shm_ = std::move(shm);
  auto* base = static_cast<unsigned char*>(seg->region_.get_address());
  auto* header = std::launder(reinterpret_cast<SegmentHeader*>(base));
  // The creator stores the magic last; wait (bounded) for it before judging the header.
  // acquire: pairs with initialise_header's release store.
  while (header->magic.load(std::memory_order_acquire) == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (auto ok =
          check_header(name, *header, static_cast<std::uint64_t>(size), request.capacity_records);
      !ok) {
    return Error{ok.error().message};
  }
  populate(base, seg->region_.get_size());
  seg->name_ = name;
  seg->header_ = header;
  seg->slots_ = reinterpret_cast<Slot*>(base + kHeaderBytes);
  seg->mask_ = request.capacity_records - 1;
  seg->dev_ = st.st_dev;
  seg->ino_ = st.st_ino;
  std::shared_ptr<Segment> shared(seg.release());
  std::lock_guard lock(g_registry_mutex);
  auto& slot = registry()[{shared->dev_, shared->ino_}];
  if (auto live = slot.lock()) return live;  // another thread mapped it meanwhile: share that
  slot = shared;
  return shared;
}

Segment::~Segment() {
  std::lock_guard lock(g_registry_mutex);
  auto it = registry().find({dev_, ino_});
  if (it != registry().end() && it->second.expired()) registry().erase(it);
}

SegmentIdentity Segment::identity() const noexcept {
  const std::string path = "/" + name_;
  const int fd = ::shm_open(path.c_str(), O_RDONLY, 0);
  if (fd < 0) return SegmentIdentity::kMissing;
  struct stat st {};
  const int rc = ::fstat(fd, &st);
  ::close(fd);
  if (rc != 0) return SegmentIdentity::kMissing;
  return (st.st_dev == dev_ && st.st_ino == ino_) ? SegmentIdentity::kSame
                                                  : SegmentIdentity::kReplaced;
}

}  // namespace qsc::ipc

// The shared-memory ring's binary layout, version 2: what a segment holds, byte for byte.
// Version 2 added rejected-entry records (kRecordRejected): version 1 had no way to carry
// unreadable telemetry, so a version-1 reader would take them for events and is refused.
//
// A segment is one POSIX shared-memory object:
//
//   offset 0                      SegmentHeader (kHeaderBytes, 4 KiB-aligned end)
//     line 0   identity           magic, layout version, record size, capacity, ...
//     line 1   tail_claim         next sequence number a producer will claim
//     line 2   wake               futex word, sleeper counts and the wake watermark
//     line 3   counters           attaches, overruns, poisoned slots, refusals (cold)
//     lines 4+ model table        kModelTableEntries interned model names
//   offset kHeaderBytes           Slot[capacity_records], each kRecordSizeBytes
//
// Every field that more than one process writes is a lock-free std::atomic, which on Linux
// x86-64/aarch64 is address-free and therefore valid across processes. Fields named `*_bytes`,
// `*_records` and `*_ns` carry their unit in the name.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace qsc::ipc {

/// "QSCRING1" read as a little-endian 64-bit word: a segment that does not start with it is
/// not a QSC ring.
inline constexpr std::uint64_t kMagic = 0x31474E4952435351ULL;
/// Bumped whenever any offset, size or encoding below changes.
inline constexpr std::uint32_t kLayoutVersion = 2;

inline constexpr std::size_t kCacheLineBytes = 64;
/// Predictions one record holds; an event with more is refused, never truncated.
inline constexpr std::size_t kMaxPredictions = 8;
/// Symbol bytes one record holds ("BTCUSDT"); a longer symbol is refused.
inline constexpr std::size_t kSymbolBytes = 16;
/// Bytes of a prediction's free-form `model` string kept in the record; a longer one is kept
/// as a prefix with kPredictionModelStringTruncated set (its "fallback" flag is computed from
/// the whole string first, so the inactive reason is never lost).
inline constexpr std::size_t kModelStringBytes = 16;
/// Longest interned model name (the model_breakdown key); a longer name is refused.
inline constexpr std::size_t kModelNameMaxBytes = 55;
/// Distinct model names one segment can intern over its lifetime.
inline constexpr std::size_t kModelTableEntries = 64;
/// Capacity used when the options do not name one: 16384 x 384 B = 6 MiB, 16 s of history at
/// 1000 events/s.
inline constexpr std::uint64_t kDefaultCapacityRecords = 16384;
/// Smallest and largest capacity accepted (both powers of two).
inline constexpr std::uint64_t kMinCapacityRecords = 2;
inline constexpr std::uint64_t kMaxCapacityRecords = std::uint64_t{1} << 24;

/// `Record::side` when the event carried no ensemble side.
inline constexpr std::uint8_t kNoSide = 0xFF;

/// Record::flags bits.
/// The record carries no event but an entry a producer could not publish as one (the parser
/// rejected its payload, or it does not fit the layout), so every consumer counts it as a
/// rejected entry, exactly as a rejected Redis entry: time_ms/seq are the entry's ID,
/// `side` holds the qsc::RejectReason code, `symbol` a prefix of the refused field's name
/// (symbol_len bytes) and prediction_count is 0.
inline constexpr std::uint8_t kRecordRejected = 0x01;

/// PredictionRecord::flags bits.
inline constexpr std::uint8_t kPredictionModelStringTruncated = 0x01;
inline constexpr std::uint8_t kPredictionModelStringHasFallback = 0x02;

/// One model's prediction, 40 bytes. Enumerations hold the SDK's numeric values.
struct PredictionRecord {
  double confidence;               ///< qsc::Prediction::confidence
  double raw_confidence;           ///< qsc::Prediction::raw_confidence
  std::uint16_t model_index;       ///< index into SegmentHeader::models
  std::uint8_t action;             ///< qsc::Vote
  std::uint8_t confidence_status;  ///< qsc::ConfidenceStatus
  std::uint8_t inactive_reason;    ///< qsc::InactiveReason
  std::uint8_t model_string_len;   ///< bytes used in model_string
  std::uint8_t flags;              ///< kPredictionModelString* bits
  std::uint8_t reserved;
  char model_string[kModelStringBytes];  ///< not NUL-terminated
};
static_assert(sizeof(PredictionRecord) == 40);

/// One event as stored in a slot, 376 bytes: the SDK's TradeIntent with names interned.
/// Trivially copyable; also what `publish_record` and `poll_record` exchange. Only the fixed
/// part and the first `prediction_count` predictions cross the ring (the rest of a slot holds
/// whatever an older lap left there); `poll_record` returns the unused predictions zeroed.
struct Record {
  std::uint64_t publish_ns;   ///< CLOCK_MONOTONIC when published (latency, staleness)
  std::uint64_t time_ms;      ///< qsc::TradeIntent::time_ms
  std::uint64_t seq;          ///< qsc::TradeIntent::seq
  double confidence;          ///< the ensemble's confidence (NaN when not sent)
  std::uint32_t producer_id;  ///< who published (the producer's pid unless configured)
  std::uint8_t side;          ///< qsc::Vote, or kNoSide (rejected: the RejectReason)
  std::uint8_t prediction_count;
  std::uint8_t symbol_len;
  std::uint8_t flags;         ///< kRecord* bits
  char symbol[kSymbolBytes];  ///< not NUL-terminated
  PredictionRecord predictions[kMaxPredictions];
};
static_assert(sizeof(Record) == 376);
static_assert(sizeof(Record) % sizeof(std::uint64_t) == 0, "copied as 64-bit words");

/// A slot's state word: 0 = never written; otherwise (seq + 1) << 2 | kind, where kind says
/// what the slot holds for sequence `seq`. It only ever moves to a larger sequence, except
/// that the one writer a slot was poisoned under heals it (kPoisoned -> kHole, same sequence).
namespace slot_state {
enum Kind : std::uint64_t {
  kCommitted = 0,  ///< the record for seq is complete and readable
  kWriting = 1,    ///< a producer owns the slot and is storing the record for seq
  kHole = 2,       ///< seq carries no event; the slot is free for the next lap
  kPoisoned = 3,   ///< seq carries no event; a producer that never committed (dead, or
                   ///< stalled for a whole lap) may still store into the slot, so no one else
                   ///< may write it until that producer heals it
};
constexpr std::uint64_t make(std::uint64_t seq, Kind kind) noexcept {
  return ((seq + 1) << 2) | kind;
}
constexpr std::uint64_t writing(std::uint64_t seq) noexcept {
  return make(seq, kWriting);
}
constexpr std::uint64_t committed(std::uint64_t seq) noexcept {
  return make(seq, kCommitted);
}
constexpr bool is_empty(std::uint64_t state) noexcept {
  return state == 0;
}
constexpr Kind kind_of(std::uint64_t state) noexcept {
  return static_cast<Kind>(state & 3U);
}
/// The sequence a non-empty state refers to.
constexpr std::uint64_t seq_of(std::uint64_t state) noexcept {
  return (state >> 2) - 1;
}
}  // namespace slot_state

/// Words in a record: records cross the ring as 64-bit words.
inline constexpr std::size_t kRecordWords = sizeof(Record) / sizeof(std::uint64_t);

/// One ring slot, cache-line aligned: the state word shares the record's first cache line, so
/// a reader pulls only the lines the record uses (4 for a 4-model event, 6 for a full one). The
/// record is held as words because producers store and readers load it with 64-bit atomics: a
/// reader may copy a slot that a producer is rewriting (and then discard the copy), and atomics
/// keep that race well-defined.
struct alignas(kCacheLineBytes) Slot {
  std::atomic<std::uint64_t> state;
  std::uint64_t record_words[kRecordWords];  ///< a Record's bytes
};
/// The record size in the header: one slot, state word included.
inline constexpr std::uint32_t kRecordSizeBytes = sizeof(Slot);
static_assert(kRecordSizeBytes == 384);

/// ModelEntry::state values.
inline constexpr std::uint32_t kModelEntryFree = 0;
inline constexpr std::uint32_t kModelEntryWriting = 1;
inline constexpr std::uint32_t kModelEntryReady = 2;

/// One interned model name. Claimed with a CAS Free->Writing, filled, then released as Ready;
/// a name never changes once Ready, so readers may cache it.
struct alignas(kCacheLineBytes) ModelEntry {
  std::atomic<std::uint32_t> state;
  std::uint8_t name_len;
  char name[kModelNameMaxBytes];  ///< not NUL-terminated
};
static_assert(sizeof(ModelEntry) == kCacheLineBytes);

/// The segment header. Identity fields are written once by the creator before `magic` is
/// stored (release), so whoever reads the magic (acquire) sees them complete.
struct SegmentHeader {
  // --- line 0: identity, read-only after creation ---
  std::atomic<std::uint64_t> magic;
  std::uint32_t layout_version;
  std::uint32_t header_bytes;
  std::uint32_t record_size_bytes;
  std::uint32_t max_predictions;
  std::uint64_t capacity_records;
  std::uint64_t segment_bytes;
  std::uint32_t model_table_entries;
  std::uint32_t model_name_max_bytes;
  std::int32_t creator_pid;
  std::uint32_t reserved0;
  std::uint64_t created_unix_ms;

  // --- line 1: the claim counter, the only line every producer writes for every event ---
  alignas(kCacheLineBytes) std::atomic<std::uint64_t> tail_claim;

  // --- line 2: blocking consumers (see RingConsumer's kBlock strategy and "The wake
  // protocol" in docs/design.md) ---
  alignas(kCacheLineBytes) std::atomic<std::uint32_t> wake_futex;  ///< bumped to wake sleepers
  /// Consumers inside futex_wait (or about to be), of every kind: a producer that finds 0 wakes
  /// no one. A producer built before the watermark (session 14) wakes at every commit when it
  /// is not 0, so every consumer counts itself here whatever it waits for.
  std::atomic<std::uint32_t> sleepers;
  /// The sleepers (of this build on) that want every commit: while not 0 a producer wakes at
  /// every commit, as before the watermark.
  std::atomic<std::uint32_t> plain_sleepers;
  std::uint32_t reserved_wake0;
  /// ~S, S the lowest sequence a watermark sleeper waits for (RingConsumer::next_record's
  /// wake_after_records); 0 (~S for no S) when none waits. Stored inverted so that the zero a
  /// new segment (or an old creator) starts with means "none": sleepers raise it with a
  /// fetch-max (a fetch-min of S), a producer that commits a sequence >= S puts it back to 0
  /// and then wakes every sleeper.
  std::atomic<std::uint64_t> wake_at_inverted;
  /// Bit i: a prediction of model i (the model table's index) whose confidence is a violation
  /// or that is inactive wakes watermark sleepers at once (a horizon's condition on the canary,
  /// QSC_UNLESS_CANARY_*). Watermark sleepers set their canary's bit, or every bit when they
  /// name none; bits are never cleared (a stale one costs wakes, never a missed one).
  std::atomic<std::uint64_t> prompt_models;

  // --- line 3: cold counters, bumped only on rare paths ---
  alignas(kCacheLineBytes) std::atomic<std::uint64_t> producer_attaches;
  std::atomic<std::uint64_t> consumer_attaches;
  /// Events dropped because a whole lap overtook their claim before they committed.
  std::atomic<std::uint64_t> producer_overruns;
  /// Claims left as holes because their slot was still owned by an unfinished writer (the
  /// claimer then claimed again): a writer's late stores can never tear a newer record.
  std::atomic<std::uint64_t> hole_claims;
  /// Slots currently poisoned: their writer has not healed them (it died, most likely). Each
  /// costs one sequence number (a hole) per lap until the segment is recreated.
  std::atomic<std::uint64_t> poisoned_slots;
  /// Events refused before claiming (too many predictions, long names, table full).
  std::atomic<std::uint64_t> publish_refusals;
  /// Consumer attaches by consumers that count themselves in plain_sleepers when they want
  /// every commit (session 14 on). consumer_attaches above it means some consumer of an older
  /// build attached (it counts itself only in `sleepers`): producers then wake at every
  /// commit while anyone sleeps, for the segment's life.
  std::atomic<std::uint64_t> watermark_consumer_attaches;

  // --- lines 4..: the model table ---
  alignas(kCacheLineBytes) ModelEntry models[kModelTableEntries];
};

/// Where the slots start: the header rounded up to a page so slots are page-aligned.
inline constexpr std::size_t kHeaderBytes = (sizeof(SegmentHeader) + 4095) / 4096 * 4096;

static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "shared atomics must be lock-free");
static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "shared atomics must be lock-free");
// The watermark words were padding in the layout's first form (zero in every segment): adding
// them moved nothing, which is why old and new binaries share a version-2 segment.
static_assert(offsetof(SegmentHeader, tail_claim) == kCacheLineBytes);
static_assert(offsetof(SegmentHeader, prompt_models) < 3 * kCacheLineBytes);
static_assert(offsetof(SegmentHeader, producer_attaches) == 3 * kCacheLineBytes);
static_assert(offsetof(SegmentHeader, watermark_consumer_attaches) < 4 * kCacheLineBytes);
static_assert(offsetof(SegmentHeader, models) == 4 * kCacheLineBytes);

/// Total bytes of a segment holding `capacity_records` slots.
constexpr std::uint64_t segment_bytes_for(std::uint64_t capacity_records) noexcept {
  return kHeaderBytes + capacity_records * kRecordSizeBytes;
}

}  // namespace qsc::ipc

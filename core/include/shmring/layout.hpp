// shmring — the shared layout. This file IS the specification of the bytes in a ring mapping;
// every size and offset is pinned by a static_assert. No pointers live in shared memory: views
// sit at different addresses in different processes, so everything is an offset or a position.
//
//   mapping := [ RingHeader (8 lines) | ProducerSlot x max_producers |
//                ReaderSlot x max_readers (broadcast only) | pad to 4096 ]
//              [ record area: `capacity` bytes, capacity a power of two ]
//
// Positions are 32-bit byte counters that grow monotonically and wrap modulo 2^32; the index of
// a position in the record area is `position & (capacity - 1)`. 32 bits is deliberate: Windows CE
// has only 32-bit interlocked operations, and one position width everywhere means the code CE
// runs is the code tested here. Wrap-around argument: capacity <= 2^30, and the invariant
//     0 <= producer_position - consumer_position <= capacity      (unsigned, mod 2^32)
// holds at every instant, so every difference of two live positions is < 2^31 and unsigned
// subtraction gives the true distance even across the 2^32 wrap. Tests start rings at
// `initial_position` just below 2^32 to run through that wrap.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace shmring {

enum class Kind : uint32_t { spsc = 1, mpsc = 2, broadcast = 3 };

namespace layout {

inline constexpr uint64_t kMagic = 0x31474E4952484D53ull;  // "SHMRING1" read as little-endian
inline constexpr uint32_t kLayoutVersion = 1;
inline constexpr uint32_t kPositionWidthBits = 32;
inline constexpr std::size_t kLine = 128;  // two 64-byte lines: defeats adjacent-line prefetch
inline constexpr uint32_t kRecordAlign = 8;
inline constexpr uint32_t kRecordHeaderSize = 8;
inline constexpr uint32_t kPaddingType = 0xFFFFFFFFu;  // type ids >= kReservedTypeBase are ours
inline constexpr uint32_t kReservedTypeBase = 0xFFFF0000u;
inline constexpr uint32_t kMinCapacity = 256;
inline constexpr uint32_t kMaxCapacity = 1u << 30;
inline constexpr uint32_t kMinRecordSize = 16;  // header + 8 bytes of payload
inline constexpr uint32_t kMaxProducers = 64;
inline constexpr uint32_t kDefaultProducers = 16;
inline constexpr uint32_t kMaxReaders = 64;  // broadcast reader slots
inline constexpr uint32_t kDefaultReaders = 16;
inline constexpr uint32_t kBroadcastRecordHeaderSize = 16;  // RecordHeader + 64-bit sequence
inline constexpr uint32_t kCheckpoints = 16;
inline constexpr std::size_t kNameMax = 63;  // characters; the header stores it NUL-terminated
inline constexpr std::size_t kHeaderAlign = 4096;

constexpr uint32_t align_record(uint32_t n) {
  return (n + kRecordAlign - 1) & ~(kRecordAlign - 1);
}

// Record header. `length` counts header + payload exactly (so a 0-byte message has length 8);
// the record occupies align_record(length) bytes and the next record starts right after.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-------------------------------------------------------------+
//   |                     length (int32, signed)                    |  > 0  committed
//   +---------------------------------------------------------------+  < 0  claimed, -length
//   |                     type id (uint32)                          |  = 0  claimed, not written
//   +---------------------------------------------------------------+
//   |                     payload (length - 8 bytes) ...            |
//   +---------------------------------------------------------------+
//
// type == kPaddingType marks padding: at the wrap (the tail of the area that a record could not
// fit into), an aborted claim, or a dead producer's claim that the consumer recovered.
// In a broadcast ring the header is followed by the record's 64-bit sequence number (so the
// payload starts at +16, see BroadcastRecordHeader); padding keeps the 8-byte form.
// In an spsc ring the producer position publishes records, so a visible length is always > 0.
// In an mpsc ring the length word is the commit flag; the consumer zeroes consumed bytes so a
// claimed-but-unwritten record reads as 0.
struct RecordHeader {
  std::atomic<int32_t> length;
  std::atomic<uint32_t> type;
};
static_assert(sizeof(RecordHeader) == kRecordHeaderSize);

// Broadcast record: readers copy it and then check that the producer had not announced an
// overwrite of it (RingHeader::tail_intent); the sequence makes their loss counts exact.
struct BroadcastRecordHeader {
  RecordHeader header;
  std::atomic<uint64_t> sequence;
};
static_assert(sizeof(BroadcastRecordHeader) == kBroadcastRecordHeaderSize);
static_assert(std::atomic<int32_t>::is_always_lock_free &&
              std::atomic<uint32_t>::is_always_lock_free);
static_assert(
    std::atomic<uint64_t>::is_always_lock_free,
    "counters assume lock-free 64-bit atomics; a 32-bit-only target needs split counters");

// Per-consumer telemetry and recovery state. Written only by the attached consumer (single
// writer: counters are bumped with a relaxed load + store, no read-modify-write).
struct ConsumerSlot {
  std::atomic<uint32_t> pid;             // 0 = none attached; CAS'd on attach
  std::atomic<uint32_t> release_target;  // position being released (see Consumer::release)
  std::atomic<uint64_t> messages_read;
  std::atomic<uint64_t> bytes_read;        // payload bytes
  std::atomic<uint64_t> sleeps;            // times the consumer parked in the kernel
  std::atomic<uint64_t> wakes_sent;        // kernel wake calls it made for waiting producers
  std::atomic<uint64_t> recovered_claims;  // dead producers' claims turned into padding
  std::atomic<uint64_t> recovered_bytes;
  std::atomic<uint64_t> last_activity_ns;  // monotonic; attach and every blocking wait
  std::atomic<uint64_t> attach_count;
  uint8_t reserved[kLine - 8 - 8 * 8];
};
static_assert(sizeof(ConsumerSlot) == kLine);

// Per-producer telemetry and the claim-intent record the consumer uses to recover the claim of a
// producer that died between claim and commit. Written only by its owner, except claim_active,
// which the consumer clears once it has recovered a dead owner's claim.
// claim_active states. A producer publishes its intent before its CAS on producer_position and
// marks it held right after the CAS succeeds. An intent left by a producer that died before or
// during a failed CAS is stale; a held claim is certainly real.
inline constexpr uint32_t kClaimNone = 0;
inline constexpr uint32_t kClaimIntent = 1;
inline constexpr uint32_t kClaimHeld = 2;

struct ProducerSlot {
  std::atomic<uint32_t> pid;             // 0 = free
  std::atomic<uint32_t> claim_active;    // kClaimNone / kClaimIntent / kClaimHeld
  std::atomic<uint32_t> claim_position;  // start of the space this producer is claiming
  std::atomic<uint32_t> claim_length;    // bytes claimed (includes padding at the wrap)
  std::atomic<uint64_t> messages_written;
  std::atomic<uint64_t> bytes_written;  // payload bytes
  std::atomic<uint64_t> full_count;     // times it found the ring full
  std::atomic<uint64_t> sleeps;         // times it parked waiting for space
  std::atomic<uint64_t> wakes_sent;     // kernel wake calls it made for the consumer
  std::atomic<uint64_t> aborts;
  std::atomic<uint64_t> last_activity_ns;
  uint8_t reserved[kLine - 16 - 7 * 8];
};
static_assert(sizeof(ProducerSlot) == kLine);

// A broadcast reader's slot. Written only by that reader (the producer never reads it: readers
// cannot slow it down); stat reads it for per-reader lag.
struct ReaderSlot {
  std::atomic<uint32_t> pid;
  std::atomic<uint32_t> cursor;  // position of the next record it will read (per batch)
  std::atomic<uint64_t> messages_read;
  std::atomic<uint64_t> bytes_read;
  std::atomic<uint64_t> lost;  // records overwritten before it could read them
  std::atomic<uint64_t> laps;  // times it was overtaken and resynchronised
  std::atomic<uint64_t> sleeps;
  std::atomic<uint64_t> last_activity_ns;
  uint8_t reserved[kLine - 8 - 6 * 8];
};
static_assert(sizeof(ReaderSlot) == kLine);

struct RingHeader {
  // Line 0: identity. Written once by the creator; `magic` last, with release.
  std::atomic<uint64_t> magic;
  uint32_t layout_version;
  uint32_t kind;              // Kind
  uint32_t capacity;          // bytes in the record area, power of two
  uint32_t max_record_size;   // bytes, header included, multiple of 8, <= capacity / 2
  uint32_t max_producers;     // ProducerSlot count after the header
  uint32_t header_size;       // offset of the record area
  uint64_t total_size;        // header_size + capacity
  uint64_t creation_time_ns;  // wall clock, ns since the Unix epoch
  uint32_t creator_pid;
  uint32_t max_readers;       // broadcast: ReaderSlot count after the producer slots; else 0
  uint32_t position_width;    // kPositionWidthBits
  uint32_t initial_position;  // where both positions started
  char name[64];              // the ring name, NUL-terminated

  // Line 1: written by producers (spsc: store; mpsc: CAS). Read by the consumer to detect data
  // (spsc) or a stuck claim (mpsc), and by producers.
  alignas(kLine) std::atomic<uint32_t> producer_position;
  // broadcast: the end of the write in progress, stored before the bytes are overwritten.
  std::atomic<uint32_t> tail_intent;
  // Line 2: written by the consumer once per batch; read by producers to compute free space.
  alignas(kLine) std::atomic<uint32_t> consumer_position;
  // Line 3: consumer-waits-for-data handshake. consumer_waiting: 1 = the consumer announced it
  // may sleep; a producer claims it (exchange to 0) and wakes. data_signal: the futex word.
  alignas(kLine) std::atomic<uint32_t> consumer_waiting;
  std::atomic<uint32_t> data_signal;
  std::atomic<uint32_t> data_sleepers;  // for the platform's Notifier (see platform/README.md)
  // Line 4: producers-wait-for-space handshake; producers_waiting is a flag (not a count) that
  // any waiting producer sets and the consumer claims before waking them all.
  alignas(kLine) std::atomic<uint32_t> producers_waiting;
  std::atomic<uint32_t> space_signal;
  std::atomic<uint32_t> space_sleepers;  // for the platform's Notifier
  // Line 5.
  alignas(kLine) ConsumerSlot consumer;
  // Line 6: broadcast state, written by the producer after each record.
  alignas(kLine) std::atomic<uint32_t> latest_position;  // start of the newest record
  std::atomic<uint32_t> wrapped;                         // 1 once a lap has been overwritten
  std::atomic<uint64_t> next_sequence;                   // sequence of the next record
  // Line 7: broadcast checkpoints: checkpoint[k] is the start of a record that began in the
  // k-th sixteenth of the area on some lap; joining at the oldest record starts at one of them.
  alignas(kLine) std::atomic<uint32_t> checkpoint[kCheckpoints];
  // ProducerSlot[max_producers] then ReaderSlot[max_readers] follow at sizeof(RingHeader).
};

static_assert(offsetof(RingHeader, magic) == 0);
static_assert(offsetof(RingHeader, layout_version) == 8);
static_assert(offsetof(RingHeader, kind) == 12);
static_assert(offsetof(RingHeader, capacity) == 16);
static_assert(offsetof(RingHeader, max_record_size) == 20);
static_assert(offsetof(RingHeader, max_producers) == 24);
static_assert(offsetof(RingHeader, header_size) == 28);
static_assert(offsetof(RingHeader, total_size) == 32);
static_assert(offsetof(RingHeader, creation_time_ns) == 40);
static_assert(offsetof(RingHeader, creator_pid) == 48);
static_assert(offsetof(RingHeader, position_width) == 56);
static_assert(offsetof(RingHeader, initial_position) == 60);
static_assert(offsetof(RingHeader, name) == 64);
static_assert(offsetof(RingHeader, producer_position) == 1 * kLine);
static_assert(offsetof(RingHeader, consumer_position) == 2 * kLine);
static_assert(offsetof(RingHeader, consumer_waiting) == 3 * kLine);
static_assert(offsetof(RingHeader, data_signal) == 3 * kLine + 4);
static_assert(offsetof(RingHeader, producers_waiting) == 4 * kLine);
static_assert(offsetof(RingHeader, space_signal) == 4 * kLine + 4);
static_assert(offsetof(RingHeader, data_sleepers) == offsetof(RingHeader, data_signal) + 4);
static_assert(offsetof(RingHeader, space_sleepers) == offsetof(RingHeader, space_signal) + 4);
static_assert(offsetof(RingHeader, tail_intent) == 1 * kLine + 4);
static_assert(offsetof(RingHeader, consumer) == 5 * kLine);
static_assert(offsetof(RingHeader, latest_position) == 6 * kLine);
static_assert(offsetof(RingHeader, next_sequence) == 6 * kLine + 8);
static_assert(offsetof(RingHeader, checkpoint) == 7 * kLine);
static_assert(sizeof(RingHeader) == 8 * kLine);

constexpr uint32_t header_size_for(uint32_t max_producers, uint32_t max_readers = 0) {
  const std::size_t raw = sizeof(RingHeader) + std::size_t{max_producers} * sizeof(ProducerSlot) +
                          std::size_t{max_readers} * sizeof(ReaderSlot);
  return static_cast<uint32_t>((raw + kHeaderAlign - 1) / kHeaderAlign * kHeaderAlign);
}
static_assert(header_size_for(1, kDefaultReaders) == 4096);
static_assert(header_size_for(1, kMaxReaders) == 12288);
static_assert(header_size_for(kDefaultProducers) == 4096);
static_assert(header_size_for(kMaxProducers) == 12288);

}  // namespace layout
}  // namespace shmring

// shmring — a named region of shared 64-bit counters for telemetry.
//
//   auto region = shmring::CountersRegion::create("app-metrics", {});
//   auto requests = region->allocate("http.requests", /*type id*/ 1);
//   requests->add(1);                       // one relaxed atomic add; no lock, no system call
//   for (auto& c : region->snapshot()) ...  // any process: CountersRegion::open(..., read_only)
//
// A region lives in the same namespace as rings ("/dev/shm/shmring.NAME" on Linux) with its own
// magic, so `shmring ls` shows both and Ring::open on a counters region says so. Allocation
// state lives in the region itself: slots are claimed by CAS, never by a lock or by state kept
// in the allocating process. A freed slot is not handed out again for `reuse_delay_ns`, so a
// reader that still holds its id sees "freed" (or a new generation), never a stranger's value
// under the old label. Each slot is one 128-byte line: owners never share a line.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shmring/layout.hpp"
#include "shmring/result.hpp"

namespace shmring {

namespace layout {

inline constexpr uint64_t kCountersMagic = 0x3153525443484D53ull;  // "SHMCTRS1" little-endian
inline constexpr uint32_t kCountersVersion = 1;
inline constexpr std::size_t kCounterLabelSize = 40;  // bytes, NUL-terminated
inline constexpr uint32_t kMaxCounterSlots = 1u << 16;

enum CounterState : uint32_t {
  kCounterFree = 0,
  kCounterAllocating = 1,
  kCounterLive = 2,
  kCounterFreed = 3
};

struct CounterSlot {
  std::atomic<uint32_t> state;       // CounterState; CAS free/freed -> allocating -> live -> freed
  std::atomic<uint32_t> generation;  // +1 on every allocation: (slot, generation) is an id
  std::atomic<uint32_t> type_id;
  std::atomic<uint32_t> owner_pid;
  std::atomic<uint64_t> freed_at_ns;  // monotonic; reuse after freed_at + reuse_delay
  char label[kCounterLabelSize];
  alignas(64) std::atomic<uint64_t> value;  // its own 64-byte line: metadata reads never bounce it
  uint8_t reserved[kLine - 64 - 8];
};
static_assert(sizeof(CounterSlot) == kLine);
static_assert(offsetof(CounterSlot, label) == 24);
static_assert(offsetof(CounterSlot, value) == 64);

struct CountersHeader {
  std::atomic<uint64_t> magic;  // written last, with release
  uint32_t version;
  uint32_t slot_count;
  uint64_t reuse_delay_ns;
  uint64_t creation_time_ns;  // wall clock
  uint32_t creator_pid;
  uint32_t header_size;  // offset of slot 0
  uint64_t total_size;
  uint8_t reserved0[16];
  char name[64];
};
static_assert(sizeof(CountersHeader) == kLine);
static_assert(offsetof(CountersHeader, name) == 64);

}  // namespace layout

struct CountersOptions {
  uint32_t slots = 256;
  uint32_t mode = 0600;
  uint64_t reuse_delay_ns = 5'000'000'000;  // freed ids stay retired this long
};

struct CounterValue {
  uint32_t slot = 0;
  uint32_t generation = 0;
  uint32_t type_id = 0;
  uint32_t owner_pid = 0;
  bool owner_alive = false;
  std::string label;
  uint64_t value = 0;
};

namespace detail {
struct CountersMapping;
}

// One allocated counter. The owning process updates it; destruction frees the slot.
class Counter {
 public:
  void store(uint64_t v) noexcept { value_->store(v, std::memory_order_relaxed); }
  void add(uint64_t d) noexcept { value_->fetch_add(d, std::memory_order_relaxed); }
  uint64_t load() const noexcept { return value_->load(std::memory_order_relaxed); }
  uint32_t slot() const noexcept { return slot_; }
  uint32_t generation() const noexcept { return generation_; }

  Counter(Counter&&) noexcept;
  Counter& operator=(Counter&&) noexcept;
  ~Counter();

 private:
  friend class CountersRegion;
  Counter() = default;
  void release() noexcept;
  std::shared_ptr<detail::CountersMapping> mapping_;
  std::atomic<uint64_t>* value_ = nullptr;
  uint32_t slot_ = 0, generation_ = 0;
};

class CountersRegion {
 public:
  static Result<CountersRegion> create(std::string_view name, const CountersOptions& options);
  // A read-write open refuses a region owned by another user than the caller or root (a planted
  // name, as for Ring::open) unless allow_other_owner; read-only opens are not checked.
  static Result<CountersRegion> open(std::string_view name, bool read_only = false,
                                     bool allow_other_owner = false);
  static Result<void> unlink(std::string_view name);
  // Checks a mapping image (pure; used by open, `shmring ls` and the fuzzers).
  static Result<void> validate(std::string_view name, const std::byte* base, std::size_t size);

  // Lock-free: claims a free slot, or a freed one whose reuse delay has passed. busy when none.
  Result<Counter> allocate(std::string_view label, uint32_t type_id);
  // Live counters, read without any lock; a slot re-allocated while being read is skipped.
  std::vector<CounterValue> snapshot() const;
  // The value of (slot, generation); false if that counter was freed or the slot reused.
  bool read(uint32_t slot, uint32_t generation, uint64_t& value) const noexcept;

  const std::string& name() const noexcept;
  uint32_t slot_count() const noexcept;

  CountersRegion(CountersRegion&&) noexcept;
  CountersRegion& operator=(CountersRegion&&) noexcept;
  ~CountersRegion();

 private:
  explicit CountersRegion(std::shared_ptr<detail::CountersMapping> m);
  std::shared_ptr<detail::CountersMapping> mapping_;
};

struct Stats;
// A ring's own telemetry, as (label, value) rows in the counters format.
std::vector<CounterValue> ring_counters(const Stats& stats);

}  // namespace shmring

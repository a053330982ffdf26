#include "shmring/counters.hpp"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "shmring/platform.hpp"
#include "shmring/ring.hpp"

namespace shmring {

using layout::CountersHeader;
using layout::CounterSlot;

namespace detail {
struct CountersMapping {
  std::string name;
  platform::Region region;
  CountersHeader* header = nullptr;
  CounterSlot* slots = nullptr;
};
}  // namespace detail

namespace {

std::string msg(std::string_view name, const std::string& what) {
  return "counters '" + std::string(name) + "': " + what;
}

uint64_t header_size_for(uint32_t) {
  return 4096;
}

std::shared_ptr<detail::CountersMapping> bind(std::string_view name, platform::Region region) {
  auto m = std::make_shared<detail::CountersMapping>();
  m->name = std::string(name);
  m->region = std::move(region);
  m->header = reinterpret_cast<CountersHeader*>(m->region.data());
  m->slots = reinterpret_cast<CounterSlot*>(m->region.data() + m->header->header_size);
  return m;
}

}  // namespace

Result<void> CountersRegion::validate(std::string_view name, const std::byte* base,
                                      std::size_t size) {
  if (base == nullptr || size < sizeof(uint64_t))
    return make_error(ErrorCode::not_ready, msg(name, "mapping not yet sized by its creator"));
  const auto* h = reinterpret_cast<const CountersHeader*>(base);
  // acquire: pairs with the creator's release store of magic.
  const uint64_t magic = h->magic.load(std::memory_order_acquire);
  if (magic == 0) return make_error(ErrorCode::not_ready, msg(name, "header not yet published"));
  if (magic == layout::kMagic)
    return make_error(ErrorCode::not_a_ring, msg(name, "this is a ring, not a counters region"));
  if (magic != layout::kCountersMagic)
    return make_error(ErrorCode::not_a_ring, msg(name, "not a shmring counters region"));
  if (size < sizeof(CountersHeader))
    return make_error(ErrorCode::truncated, msg(name, "mapping smaller than its header"));
  if (h->version != layout::kCountersVersion)
    return make_error(ErrorCode::version_mismatch,
                      msg(name, "version " + std::to_string(h->version) + ", expected " +
                                    std::to_string(layout::kCountersVersion)));
  if (h->slot_count == 0 || h->slot_count > layout::kMaxCounterSlots ||
      h->header_size != header_size_for(h->slot_count) ||
      h->total_size != h->header_size + uint64_t{h->slot_count} * sizeof(CounterSlot))
    return make_error(ErrorCode::corrupt, msg(name, "impossible geometry (slot_count " +
                                                        std::to_string(h->slot_count) + ")"));
  if (size < h->total_size)
    return make_error(ErrorCode::truncated,
                      msg(name, "mapping is " + std::to_string(size) + " bytes, header says " +
                                    std::to_string(h->total_size)));
  return {};
}

Result<CountersRegion> CountersRegion::create(std::string_view name, const CountersOptions& o) {
  if (auto v = Ring::validate_name(name); !v) return v.error();
  if (o.slots == 0 || o.slots > layout::kMaxCounterSlots)
    return make_error(ErrorCode::invalid_argument, msg(name, "slots must be in [1, 65536]"));
  const uint64_t header = header_size_for(o.slots);
  const uint64_t total = header + uint64_t{o.slots} * sizeof(CounterSlot);
  platform::RegionOptions ro;
  ro.mode = o.mode;
  auto region = platform::create_region(name, total, ro);
  if (!region) return region.error();
  auto* h = reinterpret_cast<CountersHeader*>(region->data());
  h->version = layout::kCountersVersion;
  h->slot_count = o.slots;
  h->reuse_delay_ns = o.reuse_delay_ns;
  h->creation_time_ns = platform::wall_clock_ns();
  h->creator_pid = platform::current_pid();
  h->header_size = static_cast<uint32_t>(header);
  h->total_size = total;
  std::memcpy(h->name, name.data(), name.size());
  // release: publishes the fields above; pairs with validate()'s acquire load.
  h->magic.store(layout::kCountersMagic, std::memory_order_release);
  return CountersRegion(bind(name, std::move(region.value())));
}

Result<CountersRegion> CountersRegion::open(std::string_view name, bool read_only,
                                            bool allow_other_owner) {
  if (auto v = Ring::validate_name(name); !v) return v.error();
  const uint64_t start = platform::monotonic_ns();
  platform::RegionOptions ro;
  ro.any_owner = allow_other_owner;
  for (;;) {
    auto region = platform::open_region(name, !read_only, ro);
    if (!region) return region.error();
    auto valid = validate(name, region->data(), region->size());
    if (valid) return CountersRegion(bind(name, std::move(region.value())));
    if (valid.error().code != ErrorCode::not_ready ||
        platform::monotonic_ns() - start > 1'000'000'000)
      return valid.error();
    platform::sleep_ns(1'000'000);
  }
}

Result<void> CountersRegion::unlink(std::string_view name) {
  return Ring::unlink(name);
}

CountersRegion::CountersRegion(std::shared_ptr<detail::CountersMapping> m)
    : mapping_(std::move(m)) {}
CountersRegion::CountersRegion(CountersRegion&&) noexcept = default;
CountersRegion& CountersRegion::operator=(CountersRegion&&) noexcept = default;
CountersRegion::~CountersRegion() = default;
const std::string& CountersRegion::name() const noexcept {
  return mapping_->name;
}
uint32_t CountersRegion::slot_count() const noexcept {
  return mapping_->header->slot_count;
}

Result<Counter> CountersRegion::allocate(std::string_view label, uint32_t type_id) {
  detail::CountersMapping& m = *mapping_;
  if (!m.region.writable())
    return make_error(ErrorCode::invalid_argument, msg(m.name, "opened read-only"));
  if (label.empty() || label.size() >= layout::kCounterLabelSize)
    return make_error(ErrorCode::invalid_argument,
                      msg(m.name, "label must be 1.." +
                                      std::to_string(layout::kCounterLabelSize - 1) + " bytes"));
  const uint64_t now = platform::monotonic_ns();
  const uint64_t delay = m.header->reuse_delay_ns;
  for (uint32_t i = 0; i < m.header->slot_count; ++i) {
    CounterSlot& s = m.slots[i];
    // acquire: pairs with Counter::release()'s release store of freed (and freed_at).
    uint32_t state = s.state.load(std::memory_order_acquire);
    // CAS cases: free -> ours; freed and retired long enough -> ours; anything else (live,
    // being allocated, freed too recently) -> next slot. A lost CAS means another allocator
    // took it: move on.
    if (state == layout::kCounterFreed) {
      if (now - s.freed_at_ns.load(std::memory_order_relaxed) < delay) continue;
    } else if (state != layout::kCounterFree) {
      continue;
    }
    // acq_rel on success: acquire pairs with Counter::release()'s release store (the previous
    // owner is done with the slot); the fields are published later by the release store of
    // live. relaxed on failure: we only move on.
    if (!s.state.compare_exchange_strong(state, layout::kCounterAllocating,
                                         std::memory_order_acq_rel, std::memory_order_relaxed))
      continue;
    const uint32_t generation = s.generation.load(std::memory_order_relaxed) + 1;
    s.generation.store(generation, std::memory_order_relaxed);
    s.type_id.store(type_id, std::memory_order_relaxed);
    s.owner_pid.store(platform::current_pid(), std::memory_order_relaxed);
    std::memset(s.label, 0, sizeof s.label);
    std::memcpy(s.label, label.data(), label.size());
    s.value.store(0, std::memory_order_relaxed);
    // release: label, type, owner and the zeroed value are visible to a reader that sees live.
    s.state.store(layout::kCounterLive, std::memory_order_release);
    Counter c;
    c.mapping_ = mapping_;
    c.value_ = &s.value;
    c.slot_ = i;
    c.generation_ = generation;
    return c;
  }
  return make_error(ErrorCode::busy,
                    msg(m.name, "all " + std::to_string(m.header->slot_count) +
                                    " slots are live or retired within the reuse delay"));
}

std::vector<CounterValue> CountersRegion::snapshot() const {
  std::vector<CounterValue> out;
  const detail::CountersMapping& m = *mapping_;
  for (uint32_t i = 0; i < m.header->slot_count; ++i) {
    const CounterSlot& s = m.slots[i];
    // acquire: pairs with the allocator's release store of live.
    if (s.state.load(std::memory_order_acquire) != layout::kCounterLive) continue;
    CounterValue v;
    v.slot = i;
    v.generation = s.generation.load(std::memory_order_relaxed);
    v.type_id = s.type_id.load(std::memory_order_relaxed);
    v.owner_pid = s.owner_pid.load(std::memory_order_relaxed);
    char label[layout::kCounterLabelSize];
    std::memcpy(label, s.label, sizeof label);
    label[sizeof label - 1] = '\0';
    v.label = label;
    v.value = s.value.load(std::memory_order_relaxed);
    // Re-check (seqlock style): the slot must still be live in the same generation, or the
    // label we copied may belong to another counter.
    std::atomic_thread_fence(std::memory_order_acquire);
    if (s.state.load(std::memory_order_relaxed) != layout::kCounterLive ||
        s.generation.load(std::memory_order_relaxed) != v.generation)
      continue;
    v.owner_alive = platform::process_alive(v.owner_pid);
    out.push_back(std::move(v));
  }
  return out;
}

bool CountersRegion::read(uint32_t slot, uint32_t generation, uint64_t& value) const noexcept {
  const detail::CountersMapping& m = *mapping_;
  if (slot >= m.header->slot_count) return false;
  const CounterSlot& s = m.slots[slot];
  // acquire: pairs with allocate()'s release store of live; re-checked after the value read.
  if (s.state.load(std::memory_order_acquire) != layout::kCounterLive ||
      s.generation.load(std::memory_order_relaxed) != generation)
    return false;
  value = s.value.load(std::memory_order_relaxed);
  // acquire fence: the value read is ordered before the re-check below (seqlock style); a slot
  // freed and reallocated meanwhile (release stores of state) fails the re-check.
  std::atomic_thread_fence(std::memory_order_acquire);
  return s.state.load(std::memory_order_relaxed) == layout::kCounterLive &&
         s.generation.load(std::memory_order_relaxed) == generation;
}

Counter::Counter(Counter&& o) noexcept
    : mapping_(std::move(o.mapping_)),
      value_(o.value_),
      slot_(o.slot_),
      generation_(o.generation_) {
  o.value_ = nullptr;
}
Counter& Counter::operator=(Counter&& o) noexcept {
  if (this != &o) {
    release();
    mapping_ = std::move(o.mapping_);
    value_ = o.value_;
    slot_ = o.slot_;
    generation_ = o.generation_;
    o.value_ = nullptr;
  }
  return *this;
}
Counter::~Counter() {
  release();
}

void Counter::release() noexcept {
  if (value_ == nullptr) return;
  CounterSlot& s = mapping_->slots[slot_];
  s.freed_at_ns.store(platform::monotonic_ns(), std::memory_order_relaxed);
  // release: freed_at is visible to an allocator that sees freed.
  s.state.store(layout::kCounterFreed, std::memory_order_release);
  value_ = nullptr;
}

std::vector<CounterValue> ring_counters(const Stats& s) {
  std::vector<CounterValue> out;
  uint32_t slot = 0;
  auto add = [&](const char* label, uint64_t v, uint32_t pid = 0) {
    CounterValue c;
    c.slot = slot++;
    c.label = label;
    c.value = v;
    c.owner_pid = pid;
    c.owner_alive = pid != 0;
    out.push_back(std::move(c));
  };
  add("producer_position", s.producer_position);
  add("consumer_position", s.consumer_position);
  add("used_bytes", s.used_bytes);
  add("messages_written", s.messages_written);
  add("bytes_written", s.bytes_written);
  add("messages_read", s.messages_read);
  add("bytes_read", s.bytes_read);
  add("full_count", s.full_count);
  add("producer_sleeps", s.producer_sleeps);
  add("producer_wakes_sent", s.producer_wakes_sent);
  add("consumer_sleeps", s.consumer_sleeps);
  add("consumer_wakes_sent", s.consumer_wakes_sent);
  add("recovered_claims", s.recovered_claims);
  add("recovered_bytes", s.recovered_bytes);
  add("aborts", s.aborts);
  if (s.kind == Kind::broadcast) add("next_sequence", s.next_sequence);
  return out;
}

}  // namespace shmring

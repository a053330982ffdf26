#include "shmring/validate.hpp"

#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <string>

#include "shmring/counters.hpp"

namespace shmring {

namespace {

using layout::RingHeader;

// No format attribute: mingw would check it against the Microsoft printf, which lacks %zu.
Error fail(ErrorCode code, std::string_view name, const char* fmt, ...) {
  char buf[256];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  return make_error(code, "ring '" + std::string(name) + "': " + buf);
}

bool power_of_two(uint32_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

}  // namespace

Result<void> validate_header(std::string_view name, const std::byte* base, std::size_t size) {
  if (base == nullptr || size < sizeof(uint64_t))
    return fail(ErrorCode::not_ready, name, "mapping is %zu bytes, not yet sized by its creator",
                size);
  const auto* h = reinterpret_cast<const RingHeader*>(base);
  // acquire: pairs with the creator's release store of magic in Ring::create; every field
  // written before it is visible once we read the final value.
  const uint64_t magic = h->magic.load(std::memory_order_acquire);
  if (magic == 0)
    return fail(ErrorCode::not_ready, name, "header not yet published by its creator");
  if (magic == layout::kCountersMagic)
    return fail(ErrorCode::not_a_ring, name, "this is a counters region, not a ring");
  if (magic != layout::kMagic)
    return fail(ErrorCode::not_a_ring, name,
                "not a shmring mapping (magic 0x%016" PRIx64 ", expected 0x%016" PRIx64 ")", magic,
                layout::kMagic);
  if (size < sizeof(RingHeader))
    return fail(ErrorCode::truncated, name,
                "mapping is %zu bytes, smaller than the %zu-byte header", size, sizeof(RingHeader));
  if (h->layout_version != layout::kLayoutVersion)
    return fail(ErrorCode::version_mismatch, name,
                "layout version %u, this build understands version %u", h->layout_version,
                layout::kLayoutVersion);
  if (h->kind != static_cast<uint32_t>(Kind::spsc) &&
      h->kind != static_cast<uint32_t>(Kind::mpsc) &&
      h->kind != static_cast<uint32_t>(Kind::broadcast))
    return fail(ErrorCode::corrupt, name, "unknown ring kind %u", h->kind);
  const bool broadcast = h->kind == static_cast<uint32_t>(Kind::broadcast);
  if (h->position_width != layout::kPositionWidthBits)
    return fail(ErrorCode::version_mismatch, name, "position width %u bits, expected %u",
                h->position_width, layout::kPositionWidthBits);
  const uint32_t cap = h->capacity;
  if (!power_of_two(cap) || cap < layout::kMinCapacity || cap > layout::kMaxCapacity)
    return fail(ErrorCode::corrupt, name, "capacity %u is not a power of two in [%u, %u]", cap,
                layout::kMinCapacity, layout::kMaxCapacity);
  const uint32_t max_producers = h->max_producers;
  if (max_producers < 1 || max_producers > layout::kMaxProducers ||
      (h->kind != static_cast<uint32_t>(Kind::mpsc) && max_producers != 1))
    return fail(ErrorCode::corrupt, name, "max_producers %u impossible for this kind",
                max_producers);
  const uint32_t max_readers = h->max_readers;
  if (broadcast ? (max_readers < 1 || max_readers > layout::kMaxReaders) : max_readers != 0)
    return fail(ErrorCode::corrupt, name, "max_readers %u impossible for this kind", max_readers);
  if (h->header_size != layout::header_size_for(max_producers, max_readers))
    return fail(ErrorCode::corrupt, name,
                "header_size %u, expected %u for %u producer and %u reader slots", h->header_size,
                layout::header_size_for(max_producers, max_readers), max_producers, max_readers);
  const uint64_t expected_total = uint64_t{h->header_size} + cap;
  if (h->total_size != expected_total)
    return fail(ErrorCode::corrupt, name, "total_size %" PRIu64 ", expected %" PRIu64,
                h->total_size, expected_total);
  if (size < expected_total)
    return fail(ErrorCode::truncated, name, "mapping is %zu bytes, header says %" PRIu64, size,
                expected_total);
  const uint32_t mrs = h->max_record_size;
  if (mrs < layout::kMinRecordSize || mrs > cap / 2 || mrs % layout::kRecordAlign != 0)
    return fail(ErrorCode::corrupt, name,
                "max_record_size %u outside [%u, capacity/2 = %u] or not a multiple of 8", mrs,
                layout::kMinRecordSize, cap / 2);
  // acquire: pair with the writers' release stores; read once, then only compared.
  const uint32_t p = h->producer_position.load(std::memory_order_acquire);
  const uint32_t c = h->consumer_position.load(std::memory_order_acquire);
  if (p % layout::kRecordAlign != 0 || c % layout::kRecordAlign != 0)
    return fail(ErrorCode::corrupt, name, "positions not 8-byte aligned (producer %u, consumer %u)",
                p, c);
  if (broadcast) {
    // The consumer position is unused; the write in progress ends at most a record ahead.
    const uint32_t intent = h->tail_intent.load(std::memory_order_acquire);
    if (intent % layout::kRecordAlign != 0 || intent - p > cap)
      return fail(ErrorCode::corrupt, name, "tail_intent %u impossible for producer position %u",
                  intent, p);
    return {};
  }
  if (p - c > cap)
    return fail(ErrorCode::corrupt, name,
                "producer position %u is %u bytes ahead of consumer position %u, capacity %u", p,
                p - c, c, cap);
  return {};
}

Result<void> validate_records(std::string_view name, const std::byte* base) {
  const auto* h = reinterpret_cast<const RingHeader*>(base);
  const std::byte* area = base + h->header_size;
  const uint32_t cap = h->capacity;
  const uint32_t mask = cap - 1;
  const bool mpsc = h->kind == static_cast<uint32_t>(Kind::mpsc);
  if (h->kind == static_cast<uint32_t>(Kind::broadcast)) return {};  // readers validate each copy
  const uint32_t p = h->producer_position.load(std::memory_order_acquire);
  uint32_t pos = h->consumer_position.load(std::memory_order_acquire);
  for (uint32_t steps = 0; pos != p && steps <= cap / layout::kRecordAlign; ++steps) {
    const uint32_t index = pos & mask;
    const auto* rec = reinterpret_cast<const layout::RecordHeader*>(area + index);
    // acquire: pairs with an mpsc commit's release store of +length.
    int32_t length = rec->length.load(std::memory_order_acquire);
    const uint32_t type = rec->type.load(std::memory_order_relaxed);
    if (length == 0) {
      if (mpsc) return {};  // claimed, nothing written yet: the rest is in flight
      return fail(ErrorCode::corrupt, name, "record at position %u has length 0", pos);
    }
    if (length < 0) {
      if (!mpsc)
        return fail(ErrorCode::corrupt, name, "record at position %u has negative length %d", pos,
                    length);
      if (length == INT32_MIN)
        return fail(ErrorCode::corrupt, name, "record at position %u has length %d", pos, length);
      length = -length;
    }
    const uint32_t len = static_cast<uint32_t>(length);
    const uint32_t occupied = layout::align_record(len);
    if (len < layout::kRecordHeaderSize || occupied > cap - index || occupied > p - pos)
      return fail(ErrorCode::corrupt, name,
                  "record at position %u has length %u: outside the ring (index %u, %u bytes "
                  "to the producer position)",
                  pos, len, index, p - pos);
    if (len > h->max_record_size && type != layout::kPaddingType)
      return fail(ErrorCode::corrupt, name,
                  "record at position %u has length %u above max_record_size %u", pos, len,
                  h->max_record_size);
    pos += occupied;
  }
  if (pos != p)
    return fail(ErrorCode::corrupt, name, "record walk did not end at the producer position %u", p);
  return {};
}

}  // namespace shmring

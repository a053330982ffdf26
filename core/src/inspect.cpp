#include "shmring/inspect.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "shmring/validate.hpp"

namespace shmring::inspect {

using layout::RingHeader;

namespace {

std::string at(uint32_t position, const char* what, long long value) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "record at position %u: %s (%lld)", position, what, value);
  return buf;
}

}  // namespace

bool start_position(std::string_view name, const std::byte* base, std::size_t size, From from,
                    uint32_t& position, std::string& reason) {
  auto valid = validate_header(name, base, size);
  if (!valid) {
    reason = valid.error().message;
    return false;
  }
  const auto* h = reinterpret_cast<const RingHeader*>(base);
  if (h->kind != static_cast<uint32_t>(Kind::broadcast)) {
    // acquire loads below: pair with the producers' and consumer's release stores of these
    // positions (and the creator's of the header), so the records they cover are visible.
    position = h->consumer_position.load(std::memory_order_acquire);
    return true;
  }
  // Broadcast: acquire loads pair with the producer's release stores in commit() (position,
  // latest, checkpoints, next_sequence), so a position read here names a complete record.
  const uint32_t tail = h->producer_position.load(std::memory_order_acquire);
  if (h->next_sequence.load(std::memory_order_acquire) == 0) {
    position = tail;
    return true;
  }
  const uint32_t latest = h->latest_position.load(std::memory_order_acquire);
  if (from == From::consumer) {
    position = latest;
    return true;
  }
  if (h->wrapped.load(std::memory_order_acquire) == 0) {
    position = h->initial_position;
    return true;
  }
  const uint32_t low = h->tail_intent.load(std::memory_order_acquire) - h->capacity;
  position = latest;
  uint32_t best = latest - low;
  for (const auto& cp : h->checkpoint) {
    const uint32_t v = cp.load(std::memory_order_acquire);
    if (v % layout::kRecordAlign == 0 && v - low <= tail - low && v - low < best) {
      best = v - low;
      position = v;
    }
  }
  return true;
}

bool walk_step(std::string_view name, const std::byte* base, std::size_t size, uint32_t& position,
               std::vector<std::byte>& copy, WalkedRecord& out, WalkResult& result) {
  // Re-validated every step: a live header may change, and garbage must never steer an access.
  auto valid = validate_header(name, base, size);
  if (!valid) {
    result.stop = WalkStop::corrupt;
    result.reason = valid.error().message;
    return false;
  }
  const auto* h = reinterpret_cast<const RingHeader*>(base);
  const uint32_t cap = h->capacity;
  const std::byte* area = base + h->header_size;  // validated: header_size + cap <= size
  const bool broadcast = h->kind == static_cast<uint32_t>(Kind::broadcast);
  const bool mpsc = h->kind == static_cast<uint32_t>(Kind::mpsc);
  const uint32_t tail = h->producer_position.load(std::memory_order_acquire);
  const uint32_t consumer = h->consumer_position.load(std::memory_order_acquire);
  if (position == tail) {
    result.stop = WalkStop::end;
    return false;
  }
  if (position % layout::kRecordAlign != 0) {
    result.stop = WalkStop::corrupt;
    result.reason = at(position, "position not 8-byte aligned", position);
    return false;
  }
  // The window of positions that hold records: [consumer, tail) or, broadcast, the last lap.
  const uint32_t window_start =
      broadcast ? tail - std::min(cap, tail - h->initial_position) : consumer;
  if (position - window_start >= tail - window_start) {
    result.stop = broadcast ? WalkStop::overwritten : WalkStop::corrupt;
    result.reason = broadcast ? at(position, "no longer retained", position)
                              : at(position, "outside [consumer, producer)", position);
    if (!broadcast && position - consumer > tail - consumer && consumer - position < cap) {
      result.stop = WalkStop::overwritten;
      result.reason = at(position, "consumed while walking", position);
    }
    return false;
  }
  const uint32_t index = position & (cap - 1);
  const auto* rec = reinterpret_cast<const layout::RecordHeader*>(area + index);
  // acquire: pairs with the mpsc commit (release store of +length); spsc/broadcast records are
  // covered by the producer position loaded above. Validated after the copy below.
  const int32_t length = rec->length.load(std::memory_order_acquire);
  const uint32_t type = rec->type.load(std::memory_order_relaxed);
  out = WalkedRecord{};
  out.position = position;
  out.index = index;
  out.length = length;
  out.type = type;
  const uint32_t room = std::min(cap - index, tail - position);
  const bool padding = type == layout::kPaddingType;
  const uint32_t header_bytes =
      broadcast && !padding ? layout::kBroadcastRecordHeaderSize : layout::kRecordHeaderSize;
  const uint32_t len = length > 0 ? static_cast<uint32_t>(length) : 0;
  const bool sane = length > 0 && len >= header_bytes && layout::align_record(len) <= room &&
                    (padding || len <= h->max_record_size);
  if (sane && !padding) {
    if (broadcast)
      out.sequence = reinterpret_cast<const layout::BroadcastRecordHeader*>(rec)->sequence.load(
          std::memory_order_relaxed);
    out.payload_size = len - header_bytes;
    copy.resize(out.payload_size);
    if (out.payload_size != 0)
      std::memcpy(copy.data(), area + index + header_bytes, out.payload_size);
    out.payload = copy.data();
  }
  // Was the record still there while we read it? Checked before judging what we read: bytes
  // that the producer (broadcast) or the consumer (mpsc zeroing) changed under us are not
  // corruption. See broadcast.cpp for the fence pairing.
  std::atomic_thread_fence(std::memory_order_acquire);
  if (broadcast) {
    const uint32_t intent = h->tail_intent.load(std::memory_order_relaxed);
    if (intent - position > cap) {
      result.stop = WalkStop::overwritten;
      result.reason = at(position, "overwritten by the producer while reading", position);
      return false;
    }
  } else {
    // Consumed? mpsc zeroes a released batch *before* it moves consumer_position, so the
    // position alone cannot tell a copy taken mid-zeroing; release_target, stored (with a
    // release fence, Consumer::release) before the zeroing, can. A target more than a lap
    // from the position is not trusted (a hostile or stale slot).
    uint32_t consumer_now = h->consumer_position.load(std::memory_order_relaxed);
    if (mpsc) {
      const uint32_t target = h->consumer.release_target.load(std::memory_order_relaxed);
      if (target - consumer_now <= cap) consumer_now = target;
    }
    // Strictly behind it, by at most a lap (the consumer may be past the tail we loaded).
    const uint32_t behind = consumer_now - position;
    if (behind != 0 && behind <= cap) {
      result.stop = WalkStop::overwritten;
      result.reason = at(position, "consumed while reading", position);
      return false;
    }
  }
  if (length <= 0) {
    if (!mpsc || length == INT32_MIN) {
      result.stop = WalkStop::corrupt;
      result.reason = at(position, "non-positive length", length);
      return false;
    }
    out.state = length == 0 ? RecordState::reserved : RecordState::claimed;
    const uint32_t claimed = static_cast<uint32_t>(-static_cast<int64_t>(length));
    if (length < 0 &&
        (claimed < layout::kRecordHeaderSize || layout::align_record(claimed) > room)) {
      result.stop = WalkStop::corrupt;
      result.reason = at(position, "claimed length outside the ring", length);
      return false;
    }
    return true;  // reported; the caller stops at in-flight records
  }
  if (!sane) {
    result.stop = WalkStop::corrupt;
    result.reason = at(position, "impossible length", length);
    return false;
  }
  out.state = padding ? RecordState::padding : RecordState::committed;
  position += layout::align_record(len);
  return true;
}

}  // namespace shmring::inspect

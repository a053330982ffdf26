// shmring — the broadcast kind: one producer, any number of readers, and the producer never
// waits for anybody.
//
// Producer (Producer::claim_once / commit in ring.cpp). For a record that will occupy
// [p, p + need):
//     tail_intent = p + need ; release fence ; write padding/header/sequence/payload ;
//     producer_position = p + need (release) ; latest_position ; checkpoint ; next_sequence
// Bytes at ring index i are overwritten only while tail_intent has passed (position of i) +
// capacity, and tail_intent is announced before any such store.
//
// Reader (Reader::next). For the record at `cursor`:
//     tail = producer_position (acquire)   -> nothing new if cursor == tail; lapped if
//                                             tail - cursor > capacity
//     copy header, sequence and payload into our own buffer
//     acquire fence ; intent = tail_intent
//     intent - cursor > capacity           -> the producer may have written over what we copied:
//                                             discard it, count a lap, resynchronise
// The fences pair (release after the intent store, acquire before the intent load): if our
// copy observed any store the producer made after announcing an intent, we observe that intent
// too. So a record that passes the check was copied whole. The payload bytes are read with
// memcpy, which the C++ model calls a race; the check makes the *result* safe, as in any seqlock.
//
// Loss is counted exactly by sequence numbers: after a resync to the newest record with
// sequence S, the reader lost S - expected records. 32-bit positions can alias after 2^32
// bytes; the sequence check catches a reader that slept that long (it resynchronises).
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "internal.hpp"

namespace shmring {

using namespace detail;
using layout::BroadcastRecordHeader;
using layout::RecordHeader;
using layout::RingHeader;

namespace {

layout::ReaderSlot* reader_slots(const Mapping& m) {
  return reinterpret_cast<layout::ReaderSlot*>(m.slots + m.geo.max_producers);
}

// Picks where a new reader starts. Oldest: the first record of the area if it has never been
// overwritten, else the checkpoint closest above the overwrite line (tail_intent - capacity).
uint32_t join_position(const RingHeader* h, const Geometry& g, JoinAt join) {
  const uint32_t tail = h->producer_position.load(std::memory_order_acquire);
  if (h->next_sequence.load(std::memory_order_acquire) == 0) return tail;  // nothing yet
  const uint32_t latest = h->latest_position.load(std::memory_order_acquire);
  if (join == JoinAt::newest) return latest;
  if (h->wrapped.load(std::memory_order_acquire) == 0) return g.initial_position;
  const uint32_t low = h->tail_intent.load(std::memory_order_acquire) - g.capacity;
  uint32_t best = latest;
  uint32_t best_distance = latest - low;
  for (const auto& cp : h->checkpoint) {
    // acquire: pairs with commit()'s release store of the checkpoint (after the position).
    const uint32_t v = cp.load(std::memory_order_acquire);
    if (v % layout::kRecordAlign != 0 || v - low > tail - low) continue;  // outside [low, tail]
    if (v - low < best_distance) {
      best = v;
      best_distance = v - low;
    }
  }
  return best;
}

}  // namespace

Result<Reader> Ring::attach_reader(const ReaderOptions& options) {
  Mapping& m = *mapping_;
  RingHeader* h = m.header;
  if (m.geo.kind != static_cast<uint32_t>(Kind::broadcast))
    return make_error(ErrorCode::kind_mismatch,
                      ring_msg(m.name, "attach_reader() needs a broadcast ring; this is " +
                                           std::string(m.geo.kind == 1 ? "spsc" : "mpsc")));
  if (!m.region.writable())
    return make_error(ErrorCode::invalid_argument, ring_msg(m.name, "opened read-only"));
  const uint32_t me = platform::current_pid();
  layout::ReaderSlot* slots = reader_slots(m);
  uint32_t holder = 0;
  Reader r;
  for (uint32_t i = 0; i < m.geo.max_readers && r.slot_ == nullptr; ++i) {
    // acquire: pairs with a previous reader's release in release_slot().
    const uint32_t pid = slots[i].pid.load(std::memory_order_acquire);
    if (pid != 0 && platform::process_alive(pid)) continue;
    if (take_slot(slots[i].pid, me, holder, slot_key(m, "reader" + std::to_string(i)))) {
      r.slot_ = &slots[i];
      r.slot_index_ = i;
    }
  }
  if (r.slot_ == nullptr)
    return make_error(ErrorCode::busy, ring_msg(m.name, "all " + std::to_string(m.geo.max_readers) +
                                                            " reader slots are in use"));
  r.mapping_ = mapping_;
  r.revoked_ = m.region.revoked_flag();
  r.header_ = h;
  r.area_ = m.area;
  r.capacity_ = m.geo.capacity;
  r.mask_ = m.geo.capacity - 1;
  r.max_record_ = m.geo.max_record_size;
  r.options_ = options;
  r.buffer_.resize(m.geo.max_record_size);
  // The reader is fresh: its slot's statistics start at zero.
  r.slot_->messages_read.store(0, std::memory_order_relaxed);
  r.slot_->bytes_read.store(0, std::memory_order_relaxed);
  r.slot_->lost.store(0, std::memory_order_relaxed);
  r.slot_->laps.store(0, std::memory_order_relaxed);
  r.slot_->sleeps.store(0, std::memory_order_relaxed);
  // Loss counting starts at the join. Joining at the tail, every record from sequence s0 (read
  // before the position) on was written after we joined; joining at a record, its own sequence
  // is the first we expect (read and validated like any copy, see Reader::next).
  const uint64_t s0 = h->next_sequence.load(std::memory_order_acquire);
  r.cursor_ = join_position(h, m.geo, options.join);
  r.have_expected_ = true;
  r.expected_sequence_ = s0;  // the floor: records from s0 on were written after we joined
  if (r.cursor_ == m.geo.initial_position && h->wrapped.load(std::memory_order_acquire) == 0 &&
      options.join == JoinAt::oldest) {
    r.expected_sequence_ = 0;  // nothing ever overwritten: every record is still ours to read
  } else if (r.cursor_ % layout::kRecordAlign != 0 ||
             (r.cursor_ & r.mask_) + layout::kBroadcastRecordHeaderSize > r.capacity_ ||
             h->producer_position.load(std::memory_order_acquire) - r.cursor_ > r.capacity_) {
    // A join position no honest producer writes (B10): never read there; start at the tail.
    r.cursor_ = h->producer_position.load(std::memory_order_acquire);
  } else if (r.cursor_ != h->producer_position.load(std::memory_order_acquire)) {
    const auto* rec =
        reinterpret_cast<const BroadcastRecordHeader*>(r.area_ + (r.cursor_ & r.mask_));
    const uint64_t sequence = rec->sequence.load(std::memory_order_relaxed);
    const bool padding = rec->header.type.load(std::memory_order_relaxed) == layout::kPaddingType;
    std::atomic_thread_fence(std::memory_order_acquire);  // as in Reader::next
    if (!padding && h->tail_intent.load(std::memory_order_relaxed) - r.cursor_ <= m.geo.capacity &&
        sequence <= s0)
      r.expected_sequence_ = sequence;  // the record we start at was there when we joined
  }
  light_fences_enabled();  // we park on the data signal; the producer must see our heavy fence
  r.slot_->cursor.store(r.cursor_, std::memory_order_relaxed);
  r.slot_->last_activity_ns.store(platform::monotonic_ns(), std::memory_order_relaxed);
  return r;
}

Reader::Reader(Reader&& o) noexcept {
  *this = std::move(o);
}
Reader& Reader::operator=(Reader&& o) noexcept {
  if (this != &o) {
    detach();
    mapping_ = std::move(o.mapping_);
    revoked_ = o.revoked_;
    header_ = o.header_;
    slot_ = o.slot_;
    area_ = o.area_;
    mask_ = o.mask_;
    capacity_ = o.capacity_;
    max_record_ = o.max_record_;
    slot_index_ = o.slot_index_;
    cursor_ = o.cursor_;
    have_expected_ = o.have_expected_;
    broken_ = o.broken_;
    expected_sequence_ = o.expected_sequence_;
    lost_ = o.lost_;
    laps_ = o.laps_;
    received_ = o.received_;
    bytes_ = o.bytes_;
    published_received_ = o.published_received_;
    published_bytes_ = o.published_bytes_;
    buffer_ = std::move(o.buffer_);
    last_error_ = std::move(o.last_error_);
    options_ = o.options_;
    o.slot_ = nullptr;
    o.header_ = nullptr;
  }
  return *this;
}
Reader::~Reader() {
  detach();
}

void Reader::detach() noexcept {
  if (slot_ == nullptr) return;
  publish();
  release_slot(slot_->pid, slot_key(*mapping_, "reader" + std::to_string(slot_index_)));
  slot_ = nullptr;
}

Status Reader::revoked_status() noexcept {
  broken_ = true;
  last_error_ = truncated_message(mapping_->name);
  return Status::corrupt;
}

Status Reader::timed_out() noexcept {
  return mapping_->region.verify() ? Status::timeout : revoked_status();
}

Status Reader::corrupt(const char* why, int64_t value) noexcept {
  if (revoked(revoked_)) return revoked_status();  // zeros where records were: say why
  broken_ = true;
  char buf[200];
  std::snprintf(buf, sizeof buf, "record at position %u (index %u): %s (%lld)", cursor_,
                cursor_ & mask_, why, static_cast<long long>(value));
  last_error_ = ring_msg(mapping_->name, buf);
  return Status::corrupt;
}

int64_t Reader::deadline_after(int64_t timeout_ns) noexcept {
  return timeout_ns < 0 ? -1 : static_cast<int64_t>(platform::monotonic_ns()) + timeout_ns;
}

int64_t Reader::remaining(int64_t deadline) noexcept {
  if (deadline < 0) return -1;
  const int64_t now = static_cast<int64_t>(platform::monotonic_ns());
  return deadline > now ? deadline - now : 0;
}

void Reader::resync() noexcept {
  ++laps_;
  // acquire: pairs with commit()'s release store of latest_position (after the position).
  cursor_ = header_->latest_position.load(std::memory_order_acquire);
}

Status Reader::next(RecordView& out) noexcept {
  if (broken_) return Status::corrupt;
  // Bounded: each pass either delivers, skips padding, or resynchronises to the newest record;
  // only a producer that laps us again during every single copy keeps us here.
  for (int pass = 0; pass < 1024; ++pass) {
    // acquire: pairs with the producer's release store in commit(); the record is complete.
    const uint32_t tail = header_->producer_position.load(std::memory_order_acquire);
    if (cursor_ == tail) return revoked(revoked_) ? revoked_status() : Status::empty;
    if (tail - cursor_ > capacity_ || cursor_ % layout::kRecordAlign != 0) {
      resync();
      continue;
    }
    const uint32_t index = cursor_ & mask_;
    const auto* rec = reinterpret_cast<const BroadcastRecordHeader*>(area_ + index);
    // relaxed loads: validated below by the intent check, like everything we copy.
    const int32_t length = rec->header.length.load(std::memory_order_relaxed);
    const uint32_t type = rec->header.type.load(std::memory_order_relaxed);
    uint64_t sequence = 0;
    uint32_t size = 0;
    const uint32_t room = std::min(capacity_ - index, tail - cursor_);
    const bool padding = type == layout::kPaddingType;
    const uint32_t min_length =
        padding ? layout::kRecordHeaderSize : layout::kBroadcastRecordHeaderSize;
    const bool sane = length >= static_cast<int32_t>(min_length) &&
                      layout::align_record(static_cast<uint32_t>(length)) <= room &&
                      (padding || static_cast<uint32_t>(length) <= max_record_);
    if (sane && !padding) {
      sequence = rec->sequence.load(std::memory_order_relaxed);
      size = static_cast<uint32_t>(length) - layout::kBroadcastRecordHeaderSize;
      copy_payload(buffer_.data(), area_ + index + layout::kBroadcastRecordHeaderSize, size);
    }
    // acquire fence, then the intent: see the top of this file.
    std::atomic_thread_fence(std::memory_order_acquire);
    const uint32_t intent = header_->tail_intent.load(std::memory_order_relaxed);
    if (intent - cursor_ > capacity_) {
      resync();
      continue;
    }
    if (!sane) return corrupt("impossible length", length);
    // The copy may have met the zero pages of a truncation: deliver no torn record.
    if (revoked(revoked_)) return revoked_status();
    const uint32_t occupied = layout::align_record(static_cast<uint32_t>(length));
    if (padding) {
      cursor_ += occupied;
      continue;
    }
    if (have_expected_ && sequence != expected_sequence_) {
      if (sequence < expected_sequence_) {  // aliasing after 2^32 bytes, or a hostile producer
        resync();
        have_expected_ = false;
        continue;
      }
      lost_ += sequence - expected_sequence_;
    }
    have_expected_ = true;
    expected_sequence_ = sequence + 1;
    out = RecordView{type, size, buffer_.data(), cursor_};
    cursor_ += occupied;
    ++received_;
    bytes_ += size;
    return Status::ok;
  }
  return Status::empty;
}

void Reader::publish() noexcept {
  if (slot_ == nullptr) return;
  // Our own slot: single writer, relaxed. The producer never reads it.
  slot_->cursor.store(cursor_, std::memory_order_relaxed);
  if (received_ != published_received_) {
    detail::bump(slot_->messages_read, received_ - published_received_);
    detail::bump(slot_->bytes_read, bytes_ - published_bytes_);
    published_received_ = received_;
    published_bytes_ = bytes_;
  }
  slot_->lost.store(lost_, std::memory_order_relaxed);
  slot_->laps.store(laps_, std::memory_order_relaxed);
}

Status Reader::try_read(void* buf, uint32_t capacity, uint32_t& size, uint32_t& type) noexcept {
  const uint32_t at = cursor_;
  const bool had_expected = have_expected_;
  const uint64_t expected = expected_sequence_;
  const uint64_t lost = lost_;
  RecordView view{};
  const Status s = next(view);
  if (s != Status::ok) {
    publish();
    return s;
  }
  size = view.size;
  type = view.type;
  if (view.size > capacity) {  // leave it: the caller retries with a bigger buffer
    cursor_ = at;
    have_expected_ = had_expected;
    expected_sequence_ = expected;
    lost_ = lost;
    --received_;
    bytes_ -= view.size;
    return Status::too_large;
  }
  copy_payload(static_cast<std::byte*>(buf), view.data, view.size);
  publish();
  return Status::ok;
}

// Same announce / heavy fence / re-check / futex protocol as the consumer (ring.cpp, "Waking"),
// on the shared consumer_waiting flag: any reader may set it; the producer claims it and wakes
// every sleeper on data_signal.
Status Reader::wait_readable(int64_t timeout_ns) noexcept {
  if (broken_) return Status::corrupt;
  // A revoked view counts as readable: the next poll reports it (it never becomes readable).
  auto readable = [&] {
    return header_->producer_position.load(std::memory_order_acquire) != cursor_ ||
           revoked(revoked_);
  };
  if (readable()) return Status::ok;
  const uint64_t start = platform::monotonic_ns();
  const uint64_t deadline =
      timeout_ns < 0 ? kNoDeadline : start + static_cast<uint64_t>(timeout_ns);
  if (start >= deadline) return Status::timeout;
  slot_->last_activity_ns.store(start, std::memory_order_relaxed);
  const WaitOptions& w = options_.wait;
  if (w.strategy != WaitStrategy::park) {
    for (uint32_t i = 1;; ++i) {
      platform::cpu_relax();
      if (readable()) return Status::ok;
      if ((i & 63) == 0) {
        const uint64_t now = platform::monotonic_ns();
        if (now >= deadline) return timed_out();
        if (w.strategy == WaitStrategy::spin_then_park &&
            now - start >= static_cast<uint64_t>(w.spin_ns))
          break;
      }
    }
    for (int i = 0; i < kYieldRounds; ++i) {
      platform::yield_thread();
      if (readable()) return Status::ok;
    }
  }
  for (;;) {
    // acquire: read before the announce; see ring.cpp "Waking" for the futex argument.
    const uint32_t seq = header_->data_signal.load(std::memory_order_acquire);
    header_->consumer_waiting.store(1, std::memory_order_relaxed);
    const bool fenced = platform::heavy_fence();
    if (readable()) return Status::ok;  // the flag stays: other readers may be asleep
    const uint64_t now = platform::monotonic_ns();
    if (now >= deadline) return timed_out();
    detail::bump(slot_->sleeps, 1);
    mapping_->data_notifier.wait(
        seq, slice(remaining_ns(deadline, now), fenced ? kNoSliceNs : kUnfencedSliceNs));
    if (readable()) return Status::ok;  // look before announcing again (see ring.cpp)
  }
}

}  // namespace shmring

// shmring — ring handles and the two algorithms (spsc, mpsc) over the layout in
// layout.hpp.
//
// Publication
//   spsc: the producer writes a record, then stores producer_position
//   (release). The consumer
//         loads producer_position (acquire) and reads every record below it.
//   mpsc: a producer reserves [p, p + need) by CAS on producer_position, writes
//   -length (so a
//         reader knows the size of a claim in progress), the type and the
//         payload, then stores +length (release): the length word is the commit
//         flag. The consumer reads records in position order, stops at the
//         first length <= 0, and zeroes what it consumed before releasing it,
//         so that a reserved-but-unwritten header reads 0 on the next lap.
//   Both: the consumer releases a batch with one release store of
//   consumer_position; producers
//         load it (acquire) before reusing the bytes.
//
// Waking (the argument that no wake-up is lost)
//   Consumer, before sleeping:  R seq=data_signal ; W consumer_waiting=1 ;
//   heavy fence ;
//                               R record ; futex_wait(data_signal, seq)
//   Producer, after commit:     W record (commit) ; light fence ; R
//   consumer_waiting ;
//                               if 1: exchange(consumer_waiting, 0) == 1 ?
//                               data_signal++, wake
//   The two fences make this a Dekker pair: at least one side sees the other's
//   write. Either the consumer sees the record and does not sleep, or the
//   producer sees the flag and wakes. The consumer reads data_signal (seq)
//   *before* its re-check and the producer increments it *before* the futex
//   wake, so a wake that lands between the re-check and futex_wait makes the
//   kernel's `*word == seq` test fail and futex_wait returns at once.
//   The waker *claims* the announcement (exchange to 0), so one sleep costs one
//   wake system call however many commits land while the sleeper is being
//   scheduled. A waker whose exchange finds 0 relies on whoever cleared it:
//   another waker, which increments and wakes after its own exchange, hence
//   after our sleeper read seq; or the sleeper itself, which is then awake. The
//   light fence is a compiler barrier when this process registered for
//   membarrier (the sleeper's heavy fence then runs a full barrier on our CPU);
//   otherwise a seq_cst fence. If the heavy fence cannot be issued, the sleeper
//   parks in 1 ms slices instead of trusting it. The same protocol, with
//   producers_waiting (a flag any waiting producer sets) and space_signal,
//   covers producers that wait for space while the consumer releases; the
//   consumer claims the flag and wakes all of them. A producer never clears the
//   flag itself (another producer may still be waiting); at worst that costs
//   the consumer one extra wake.
#include "shmring/ring.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <limits>
#include <mutex>
#include <set>

#include "internal.hpp"
#include "shmring/platform.hpp"
#include "shmring/validate.hpp"

namespace shmring {

using layout::ProducerSlot;
using layout::RecordHeader;
using layout::RingHeader;

const char* to_string(Status s) noexcept {
  switch (s) {
    case Status::ok:
      return "ok";
    case Status::full:
      return "full";
    case Status::empty:
      return "empty";
    case Status::timeout:
      return "timeout";
    case Status::too_large:
      return "too_large";
    case Status::corrupt:
      return "corrupt";
    case Status::consumer_dead:
      return "consumer_dead";
    case Status::claim_pending:
      return "claim_pending";
    case Status::invalid_argument:
      return "invalid_argument";
  }
  return "unknown";
}

const char* to_string(ErrorCode c) noexcept {
  switch (c) {
    case ErrorCode::ok:
      return "ok";
    case ErrorCode::invalid_argument:
      return "invalid_argument";
    case ErrorCode::invalid_name:
      return "invalid_name";
    case ErrorCode::already_exists:
      return "already_exists";
    case ErrorCode::not_found:
      return "not_found";
    case ErrorCode::permission_denied:
      return "permission_denied";
    case ErrorCode::not_ready:
      return "not_ready";
    case ErrorCode::not_a_ring:
      return "not_a_ring";
    case ErrorCode::version_mismatch:
      return "version_mismatch";
    case ErrorCode::truncated:
      return "truncated";
    case ErrorCode::corrupt:
      return "corrupt";
    case ErrorCode::busy:
      return "busy";
    case ErrorCode::kind_mismatch:
      return "kind_mismatch";
    case ErrorCode::os_error:
      return "os_error";
  }
  return "unknown";
}

using namespace detail;

namespace detail {

// Registered once per process. Keyed by pid because a fork()ed child is a new
// process for membarrier and must register itself.
bool light_fences_enabled() {
  static std::mutex mutex;
  static uint32_t registered_pid = 0;
  static bool enabled = false;
  const std::lock_guard<std::mutex> lock(mutex);  // attach only: cold path
  const uint32_t me = platform::current_pid();
  if (registered_pid != me) {
    enabled = platform::enable_light_fences();
    registered_pid = me;
  }
  return enabled;
}

namespace {
// Slots this process holds, by key. A slot word that holds our own pid is ours
// only if it is in this set; otherwise it was left by an earlier process that
// had our pid.
std::mutex& held_slots_mutex() {
  static std::mutex m;
  return m;
}
std::set<std::string>& held_slots() {
  static std::set<std::string> s;
  return s;
}
}  // namespace

// Keyed by ring instance, not just name: a ring unlinked and re-created under
// the same name is a different ring, and a handle of the old one must not
// release the new one's slot.
std::string slot_key(const Mapping& m, const std::string& slot) {
  const RingHeader* h = m.header;
  return m.name + "@" + std::to_string(h->creation_time_ns) + ":" + std::to_string(h->creator_pid) +
         "/" + slot;
}

// Gives a slot back: only if it still holds our pid (a fork()ed child that
// inherited the handle must not clear its parent's registration).
void release_slot(std::atomic<uint32_t>& pid_word, const std::string& key) {
  uint32_t me = platform::current_pid();
  // release: our last counters and claim state are visible to whoever takes the
  // slot next.
  if (pid_word.compare_exchange_strong(me, 0, std::memory_order_release,
                                       std::memory_order_relaxed)) {
    const std::lock_guard<std::mutex> lock(held_slots_mutex());
    held_slots().erase(key);
  }
}

}  // namespace detail

// ---- Ring
// ----------------------------------------------------------------------------------

Result<void> Ring::validate_name(std::string_view name) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorCode::invalid_name,
                      "invalid ring name '" + std::string(name) + "': " + why);
  };
  if (name.empty()) return bad("empty");
  if (name.size() > layout::kNameMax)
    return bad("longer than " + std::to_string(layout::kNameMax) + " characters");
  if (name.find('/') != std::string_view::npos || name.find('\\') != std::string_view::npos)
    return bad("contains a path separator");
  if (name.find("..") != std::string_view::npos) return bad("contains '..'");
  if (name.front() == '.') return bad("starts with '.'");
  for (char ch : name) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.';
    if (!ok) return bad("only letters, digits, '_', '-' and '.' are allowed");
  }
  return {};
}

Ring::Ring(std::shared_ptr<detail::Mapping> m) : mapping_(std::move(m)) {}
Ring::Ring(Ring&&) noexcept = default;
Ring& Ring::operator=(Ring&&) noexcept = default;
Ring::~Ring() = default;

const std::string& Ring::name() const noexcept {
  return mapping_->name;
}
Kind Ring::kind() const noexcept {
  return static_cast<Kind>(mapping_->geo.kind);
}
uint32_t Ring::capacity() const noexcept {
  return mapping_->geo.capacity;
}
uint32_t Ring::max_payload() const noexcept {
  const bool broadcast = mapping_->geo.kind == static_cast<uint32_t>(Kind::broadcast);
  return mapping_->geo.max_record_size -
         (broadcast ? layout::kBroadcastRecordHeaderSize : layout::kRecordHeaderSize);
}

static Result<std::shared_ptr<detail::Mapping>> bind(std::string_view name, platform::Region region,
                                                     const platform::RegionOptions& ro,
                                                     bool create) {
  auto m = std::make_shared<detail::Mapping>();
  m->name = std::string(name);
  m->region = std::move(region);
  m->header = reinterpret_cast<RingHeader*>(m->region.data());
  const RingHeader* h = m->header;
  m->geo = Geometry{h->kind,        h->capacity,    h->max_record_size, h->max_producers,
                    h->max_readers, h->header_size, h->initial_position};
  // The snapshot must be what validation accepted: validate again and compare.
  if (auto v = validate_header(name, m->region.data(), m->region.size()); !v) return v.error();
  const Geometry& g = m->geo;
  if (g.kind != h->kind || g.capacity != h->capacity || g.max_record_size != h->max_record_size ||
      g.max_producers != h->max_producers || g.max_readers != h->max_readers ||
      g.header_size != h->header_size)
    return make_error(ErrorCode::corrupt, ring_msg(name, "header changed while it was opened"));
  m->slots = reinterpret_cast<ProducerSlot*>(m->region.data() + sizeof(RingHeader));
  m->area = m->region.data() + g.header_size;
  auto data = platform::Notifier::open(name, "data", &m->header->data_signal, ro, create);
  if (!data) return data.error();
  auto space = platform::Notifier::open(name, "space", &m->header->space_signal, ro, create);
  if (!space) return space.error();
  m->data_notifier = std::move(data.value());
  m->space_notifier = std::move(space.value());
  return m;
}

Result<Ring> Ring::create(std::string_view name, const CreateOptions& o) {
  if (auto v = validate_name(name); !v) return v.error();
  const uint32_t cap = o.capacity;
  if (cap < layout::kMinCapacity || cap > layout::kMaxCapacity || (cap & (cap - 1)) != 0)
    return make_error(ErrorCode::invalid_argument,
                      ring_msg(name, "capacity " + std::to_string(cap) +
                                         " must be a power of two in [256, 2^30]"));
  const uint32_t mrs =
      o.max_record_size == 0 ? std::max(cap / 8, layout::kMinRecordSize) : o.max_record_size;
  if (mrs < layout::kMinRecordSize || mrs > cap / 2 || mrs % layout::kRecordAlign != 0)
    return make_error(ErrorCode::invalid_argument,
                      ring_msg(name, "max_record_size " + std::to_string(mrs) +
                                         " must be a multiple of 8 in [16, capacity/2]"));
  if (o.kind != Kind::spsc && o.kind != Kind::mpsc && o.kind != Kind::broadcast)
    return make_error(ErrorCode::invalid_argument, ring_msg(name, "unknown kind"));
  const uint32_t producers = o.kind == Kind::mpsc ? o.max_producers : 1;
  const uint32_t readers = o.kind == Kind::broadcast ? o.max_readers : 0;
  if (o.kind == Kind::broadcast && (readers < 1 || readers > layout::kMaxReaders))
    return make_error(ErrorCode::invalid_argument,
                      ring_msg(name, "max_readers must be in [1, 64]"));
  if (o.kind == Kind::broadcast && mrs < 2 * layout::kBroadcastRecordHeaderSize)
    return make_error(ErrorCode::invalid_argument,
                      ring_msg(name, "max_record_size must be at least 32 for broadcast"));
  if (producers < 1 || producers > layout::kMaxProducers)
    return make_error(ErrorCode::invalid_argument,
                      ring_msg(name, "max_producers must be in [1, 64]"));
  if (o.initial_position % layout::kRecordAlign != 0)
    return make_error(ErrorCode::invalid_argument,
                      ring_msg(name, "initial_position must be a multiple of 8"));
  if ((o.mode & ~0777u) != 0)
    return make_error(ErrorCode::invalid_argument, ring_msg(name, "mode must be within 0777"));

  const uint32_t header_size = layout::header_size_for(producers, readers);
  const uint64_t total = uint64_t{header_size} + cap;
  platform::RegionOptions ro;
  ro.mode = o.mode;
  ro.global = o.global_namespace;
  ro.sddl = o.security_descriptor;
  auto region = platform::create_region(name, total, ro);
  if (!region) return region.error();
  // The object is fresh and zero-filled; nobody trusts it before magic is
  // published.
  auto* h = reinterpret_cast<RingHeader*>(region->data());
  h->layout_version = layout::kLayoutVersion;
  h->kind = static_cast<uint32_t>(o.kind);
  h->capacity = cap;
  h->max_record_size = mrs;
  h->max_producers = producers;
  h->header_size = header_size;
  h->total_size = total;
  h->creation_time_ns = platform::wall_clock_ns();
  h->creator_pid = platform::current_pid();
  h->max_readers = readers;
  h->position_width = layout::kPositionWidthBits;
  h->initial_position = o.initial_position;
  std::memcpy(h->name, name.data(), name.size());
  h->producer_position.store(o.initial_position, std::memory_order_relaxed);
  h->consumer_position.store(o.initial_position, std::memory_order_relaxed);
  h->consumer.release_target.store(o.initial_position, std::memory_order_relaxed);
  h->tail_intent.store(o.initial_position, std::memory_order_relaxed);
  h->latest_position.store(o.initial_position, std::memory_order_relaxed);
  for (auto& cp : h->checkpoint) cp.store(o.initial_position, std::memory_order_relaxed);
  // release: publishes every field above; pairs with the acquire load in
  // validate_header().
  h->magic.store(layout::kMagic, std::memory_order_release);
  auto m = bind(name, std::move(region.value()), ro, true);
  if (!m) return m.error();
  return Ring(std::move(m.value()));
}

Result<Ring> Ring::open(std::string_view name, const OpenOptions& o) {
  if (auto v = validate_name(name); !v) return v.error();
  const uint64_t start = platform::monotonic_ns();
  platform::RegionOptions ro;
  ro.global = o.global_namespace;
  ro.any_owner = o.allow_other_owner;
  for (;;) {
    auto region = platform::open_region(name, !o.read_only, ro);
    if (!region) return region.error();
    auto valid = validate_header(name, region->data(), region->size());
    if (valid) {
      auto m = bind(name, std::move(region.value()), ro, false);
      if (!m) return m.error();
      return Ring(std::move(m.value()));
    }
    if (valid.error().code != ErrorCode::not_ready) return valid.error();
    const uint64_t waited = platform::monotonic_ns() - start;
    if (o.ready_timeout_ns >= 0 && waited >= static_cast<uint64_t>(o.ready_timeout_ns)) {
      Error e = valid.error();
      e.message += " (waited " + std::to_string(waited / 1000000) + " ms)";
      return e;
    }
    platform::sleep_ns(1'000'000);  // the creator is between create and publish: re-map
  }
}

Result<void> Ring::unlink(std::string_view name, bool global_namespace) {
  if (auto v = validate_name(name); !v) return v.error();
  platform::RegionOptions ro;
  ro.global = global_namespace;
  return platform::unlink_region(name, ro);
}

Stats Ring::stats() const {
  const RingHeader* h = mapping_->header;
  const Geometry& g = mapping_->geo;
  Stats s;
  s.name = mapping_->name;
  s.kind = static_cast<Kind>(g.kind);
  s.capacity = g.capacity;
  s.max_record_size = g.max_record_size;
  s.max_producers = g.max_producers;
  s.creator_pid = h->creator_pid;
  s.layout_version = h->layout_version;
  s.header_size = g.header_size;
  s.total_size = h->total_size;
  s.creation_time_ns = h->creation_time_ns;
  // relaxed everywhere: a snapshot for people, not a synchronisation point.
  s.consumer_position = h->consumer_position.load(std::memory_order_relaxed);
  s.producer_position = h->producer_position.load(std::memory_order_relaxed);
  s.used_bytes = std::min(s.producer_position - s.consumer_position, s.capacity);
  s.consumer_waiting = h->consumer_waiting.load(std::memory_order_relaxed) != 0;
  s.producers_waiting = h->producers_waiting.load(std::memory_order_relaxed) != 0;
  const auto& c = h->consumer;
  s.consumer.pid = c.pid.load(std::memory_order_relaxed);
  s.consumer.alive = platform::process_alive(s.consumer.pid);
  s.consumer.last_activity_ns = c.last_activity_ns.load(std::memory_order_relaxed);
  s.messages_read = c.messages_read.load(std::memory_order_relaxed);
  s.bytes_read = c.bytes_read.load(std::memory_order_relaxed);
  s.consumer_sleeps = c.sleeps.load(std::memory_order_relaxed);
  s.consumer_wakes_sent = c.wakes_sent.load(std::memory_order_relaxed);
  s.recovered_claims = c.recovered_claims.load(std::memory_order_relaxed);
  s.recovered_bytes = c.recovered_bytes.load(std::memory_order_relaxed);
  for (uint32_t i = 0; i < g.max_producers; ++i) {
    const ProducerSlot& p = mapping_->slots[i];
    ProducerStats ps;
    ps.pid = p.pid.load(std::memory_order_relaxed);
    ps.messages_written = p.messages_written.load(std::memory_order_relaxed);
    ps.bytes_written = p.bytes_written.load(std::memory_order_relaxed);
    ps.full_count = p.full_count.load(std::memory_order_relaxed);
    ps.sleeps = p.sleeps.load(std::memory_order_relaxed);
    ps.wakes_sent = p.wakes_sent.load(std::memory_order_relaxed);
    ps.aborts = p.aborts.load(std::memory_order_relaxed);
    ps.last_activity_ns = p.last_activity_ns.load(std::memory_order_relaxed);
    ps.claim_active = p.claim_active.load(std::memory_order_relaxed) != 0;
    ps.claim_position = p.claim_position.load(std::memory_order_relaxed);
    ps.claim_length = p.claim_length.load(std::memory_order_relaxed);
    s.messages_written += ps.messages_written;
    s.bytes_written += ps.bytes_written;
    s.full_count += ps.full_count;
    s.producer_sleeps += ps.sleeps;
    s.producer_wakes_sent += ps.wakes_sent;
    s.aborts += ps.aborts;
    if (ps.pid != 0) {
      ps.alive = platform::process_alive(ps.pid);
      s.producers.push_back(ps);
    }
  }
  s.max_readers = g.max_readers;
  if (g.kind == static_cast<uint32_t>(Kind::broadcast)) {
    s.tail_intent = h->tail_intent.load(std::memory_order_relaxed);
    s.latest_position = h->latest_position.load(std::memory_order_relaxed);
    s.next_sequence = h->next_sequence.load(std::memory_order_relaxed);
    s.used_bytes = std::min(s.producer_position - g.initial_position, s.capacity);
    const auto* readers =
        reinterpret_cast<const layout::ReaderSlot*>(mapping_->slots + g.max_producers);
    for (uint32_t i = 0; i < g.max_readers; ++i) {
      const layout::ReaderSlot& r = readers[i];
      ReaderStats rs;
      rs.pid = r.pid.load(std::memory_order_relaxed);
      if (rs.pid == 0) continue;
      rs.alive = platform::process_alive(rs.pid);
      rs.last_activity_ns = r.last_activity_ns.load(std::memory_order_relaxed);
      rs.cursor = r.cursor.load(std::memory_order_relaxed);
      rs.lag_bytes = s.producer_position - rs.cursor;
      rs.messages_read = r.messages_read.load(std::memory_order_relaxed);
      rs.bytes_read = r.bytes_read.load(std::memory_order_relaxed);
      rs.lost = r.lost.load(std::memory_order_relaxed);
      rs.laps = r.laps.load(std::memory_order_relaxed);
      rs.sleeps = r.sleeps.load(std::memory_order_relaxed);
      s.messages_read += rs.messages_read;
      s.bytes_read += rs.bytes_read;
      s.readers.push_back(rs);
    }
  }
  return s;
}

// A dead producer's claim intent is stale, and is cleared, when the claim does
// not overlap the unread window [consumer, producer): either it was consumed
// already (the producer died after committing, before clearing the intent) or
// it was never made (it died before its CAS). Intents that overlap the window
// are left for the consumer's recovery (Consumer::stuck_claim); note a claim
// with wrap padding may start behind the consumer and still cover it.
static void clear_stale_intents(uint32_t max_producers, ProducerSlot* slots, uint32_t consumer,
                                uint32_t producer) {
  for (uint32_t i = 0; i < max_producers; ++i) {
    ProducerSlot& s = slots[i];
    // acquire: pairs with the owner's claim-intent stores, published by its release CAS.
    if (s.claim_active.load(std::memory_order_acquire) == layout::kClaimNone) continue;
    const uint32_t start = s.claim_position.load(std::memory_order_relaxed);
    const uint32_t length = s.claim_length.load(std::memory_order_relaxed);
    const bool starts_inside = start - consumer < producer - consumer;
    const bool covers_consumer = consumer - start < length;
    if ((starts_inside || covers_consumer) && producer != consumer) continue;
    if (platform::process_alive(s.pid.load(std::memory_order_relaxed))) continue;
    // release: the slot's cleared state is seen before any later reuse of the slot's pid word.
    s.claim_active.store(layout::kClaimNone, std::memory_order_release);
  }
}

// Takes a slot whose pid word is 0 or names a dead process. CAS loop cases:
//  * word is 0 or dead and unchanged: our CAS installs our pid; the slot is
//  ours.
//  * another attacher changed it first: CAS fails and reloads; if the new owner
//  is alive we
//    give up, otherwise we try again on the new (dead) value.
//  * word is our own pid: ours already if this process holds it (busy), else a
//  stale one.
bool detail::take_slot(std::atomic<uint32_t>& pid_word, uint32_t me, uint32_t& previous,
                       const std::string& key) {
  const std::lock_guard<std::mutex> lock(held_slots_mutex());
  if (held_slots().count(key) != 0 && pid_word.load(std::memory_order_acquire) == me) {
    previous = me;
    return false;
  }
  // acquire: pairs with the previous owner's release in release_slot(): its final slot writes.
  uint32_t seen = pid_word.load(std::memory_order_acquire);
  for (;;) {
    if (seen != 0 && seen != me && platform::process_alive(seen)) {
      previous = seen;
      return false;
    }
    // acq_rel: acquire the previous owner's final slot writes; release is
    // harmless.
    if (pid_word.compare_exchange_strong(seen, me, std::memory_order_acq_rel,
                                         std::memory_order_acquire)) {
      previous = seen;
      held_slots().insert(key);
      return true;
    }
  }
}

namespace {

// B11: a broadcast producer that died inside commit(), after its release store of the producer
// position and before the one of next_sequence, published a record whose sequence equals the
// stale next_sequence. Resuming from next_sequence would give the next record the same number,
// and readers would skip it without counting it lost. So walk the committed records from
// latest_position (stored after the position, so at most one record behind) to the producer
// position: if one carries next_sequence itself, resume after it. Only that exact value moves
// the sequence (one commit at a time can be interrupted), so a hostile header cannot push it
// anywhere else; any record that does not fit ends the walk.
uint64_t resume_sequence(const detail::Mapping& m, uint64_t next, uint32_t end) {
  const uint32_t capacity = m.geo.capacity;
  // acquire: pairs with commit()'s release store of latest_position; the record is complete.
  uint32_t at = m.header->latest_position.load(std::memory_order_acquire);
  for (int step = 0; step < 4 && at != end; ++step) {  // the record, wrap padding, one more
    if (end - at > capacity || at % layout::kRecordAlign != 0) break;
    const uint32_t index = at & (capacity - 1);
    const auto* rec = reinterpret_cast<const layout::BroadcastRecordHeader*>(m.area + index);
    // relaxed: the previous producer is gone (we hold its slot); the acquire above ordered it.
    const int32_t length = rec->header.length.load(std::memory_order_relaxed);
    if (length < static_cast<int32_t>(layout::kRecordHeaderSize)) break;
    const uint32_t occupied = layout::align_record(static_cast<uint32_t>(length));
    if (occupied > capacity - index || occupied > end - at) break;
    if (rec->header.type.load(std::memory_order_relaxed) != layout::kPaddingType &&
        static_cast<uint32_t>(length) >= layout::kBroadcastRecordHeaderSize &&
        rec->sequence.load(std::memory_order_relaxed) == next)
      return next + 1;
    at += occupied;
  }
  return next;
}

}  // namespace

Result<Producer> Ring::attach_producer(const ProducerOptions& options) {
  detail::Mapping& m = *mapping_;
  if (!m.region.writable())
    return make_error(ErrorCode::invalid_argument, ring_msg(m.name, "opened read-only"));
  RingHeader* h = m.header;
  const uint32_t me = platform::current_pid();
  ProducerSlot* slot = nullptr;
  uint32_t index = 0;
  uint32_t holder = 0;
  const bool mpsc = m.geo.kind == static_cast<uint32_t>(Kind::mpsc);
  // First free slots, then slots of dead producers that hold no claim (a dead
  // producer's claim must stay visible until the consumer has recovered it;
  // stale intents are cleared).
  clear_stale_intents(m.geo.max_producers, m.slots,
                      h->consumer_position.load(std::memory_order_acquire),
                      h->producer_position.load(std::memory_order_acquire));
  for (int pass = 0; pass < 2 && slot == nullptr; ++pass) {
    for (uint32_t i = 0; i < m.geo.max_producers && slot == nullptr; ++i) {
      ProducerSlot& s = m.slots[i];
      // acquire, as in take_slot(): the previous owner's release of the slot.
      const uint32_t pid = s.pid.load(std::memory_order_acquire);
      if (pass == 0 && pid != 0) continue;
      if (pass == 1 && (pid == 0 || s.claim_active.load(std::memory_order_acquire) != 0)) continue;
      if (take_slot(s.pid, me, holder, slot_key(m, std::to_string(i)))) {
        slot = &s;
        index = i;
      }
    }
  }
  if (slot == nullptr) {
    if (!mpsc)
      return make_error(ErrorCode::busy,
                        ring_msg(m.name, "spsc ring already has a live producer (pid " +
                                             std::to_string(holder) + ")"));
    return make_error(ErrorCode::busy,
                      ring_msg(m.name, "all " + std::to_string(m.geo.max_producers) +
                                           " producer slots are in use"));
  }
  slot->claim_active.store(0, std::memory_order_relaxed);
  slot->last_activity_ns.store(platform::monotonic_ns(), std::memory_order_relaxed);
  Producer p;
  p.mapping_ = mapping_;
  p.revoked_ = m.region.revoked_flag();
  p.header_ = h;
  p.slot_ = slot;
  p.slot_index_ = index;
  p.area_ = m.area;
  p.capacity_ = m.geo.capacity;
  p.mask_ = m.geo.capacity - 1;
  p.max_record_ = m.geo.max_record_size;
  p.mpsc_ = mpsc;
  p.broadcast_ = m.geo.kind == static_cast<uint32_t>(Kind::broadcast);
  if (p.broadcast_) {
    p.header_bytes_ = layout::kBroadcastRecordHeaderSize;
    while ((1u << p.checkpoint_shift_) * layout::kCheckpoints < m.geo.capacity)
      ++p.checkpoint_shift_;
    // acquire: pairs with the previous producer's release store in commit(); resume its sequence.
    p.sequence_ = h->next_sequence.load(std::memory_order_acquire);
  }
  p.light_fences_ = light_fences_enabled();
  p.options_ = options;
  // acquire: pairs with the previous producer's release store in commit()
  // (spsc), so we resume exactly after the last published record.
  p.position_ = h->producer_position.load(std::memory_order_acquire);
  p.cached_consumer_ = h->consumer_position.load(std::memory_order_acquire);
  p.initial_position_ = m.geo.initial_position;
  p.intent_ = h->tail_intent.load(std::memory_order_acquire);
  // The live positions, not the ones validated at open, are what we will write at (B2).
  const bool aligned = p.position_ % layout::kRecordAlign == 0;
  const bool in_window = p.broadcast_ ? p.intent_ - p.position_ <= p.capacity_
                                      : p.position_ - p.cached_consumer_ <= p.capacity_;
  if (!aligned || !in_window || p.intent_ % layout::kRecordAlign != 0) {
    release_slot(slot->pid, slot_key(m, std::to_string(index)));
    p.slot_ = nullptr;
    return make_error(ErrorCode::corrupt,
                      ring_msg(m.name, "producer position " + std::to_string(p.position_) +
                                           " is unaligned or outside the ring"));
  }
  if (p.broadcast_) p.sequence_ = resume_sequence(m, p.sequence_, p.position_);
  return p;
}

Result<Consumer> Ring::attach_consumer(const ConsumerOptions& options) {
  detail::Mapping& m = *mapping_;
  if (!m.region.writable())
    return make_error(ErrorCode::invalid_argument, ring_msg(m.name, "opened read-only"));
  RingHeader* h = m.header;
  if (m.geo.kind == static_cast<uint32_t>(Kind::broadcast))
    return make_error(ErrorCode::kind_mismatch,
                      ring_msg(m.name, "a broadcast ring is read with attach_reader()"));
  // The live header, not the one validated at open: we are about to walk and zero (B7, B8).
  if (auto v = validate_header(m.name, m.region.data(), m.region.size()); !v) return v.error();
  uint32_t holder = 0;
  if (!take_slot(h->consumer.pid, platform::current_pid(), holder, slot_key(m, "consumer")))
    return make_error(ErrorCode::busy,
                      ring_msg(m.name, "a live consumer (pid " + std::to_string(holder) +
                                           ") is already attached"));
  Consumer c;
  c.mapping_ = mapping_;
  c.revoked_ = m.region.revoked_flag();
  c.header_ = h;
  c.producer_slots_ = m.slots;
  c.area_ = m.area;
  c.capacity_ = m.geo.capacity;
  c.mask_ = m.geo.capacity - 1;
  c.max_record_ = m.geo.max_record_size;
  c.max_producers_ = m.geo.max_producers;
  c.mpsc_ = m.geo.kind == static_cast<uint32_t>(Kind::mpsc);
  c.light_fences_ = light_fences_enabled();
  c.options_ = options;
  // acquire: pairs with the previous consumer's release store in release().
  c.position_ = h->consumer_position.load(std::memory_order_acquire);
  c.cached_producer_ = c.position_;
  if (c.mpsc_) {
    // A previous consumer may have died inside release(): it had delivered
    // [position, target), announced target and was zeroing. Finish its release
    // so nothing is delivered twice.
    const uint32_t target = h->consumer.release_target.load(std::memory_order_relaxed);
    const uint32_t p = h->producer_position.load(std::memory_order_acquire);
    if (target != c.position_) {
      if (target % layout::kRecordAlign != 0 || target - c.position_ > p - c.position_ ||
          p - c.position_ > c.capacity_) {
        release_slot(h->consumer.pid, slot_key(m, "consumer"));
        c.header_ = nullptr;
        return make_error(ErrorCode::corrupt,
                          ring_msg(m.name, "release target " + std::to_string(target) +
                                               " outside [consumer, producer] positions"));
      }
      c.release(c.position_, target, 0, 0);
      c.position_ = target;
    }
  }
  if (auto v = validate_records(m.name, m.region.data()); !v) {
    release_slot(h->consumer.pid, slot_key(m, "consumer"));
    c.header_ = nullptr;
    return v.error();
  }
  detail::bump(h->consumer.attach_count, 1);
  h->consumer.last_activity_ns.store(platform::monotonic_ns(), std::memory_order_relaxed);
  return c;
}

// ---- Producer
// ------------------------------------------------------------------------------

Producer::Producer(Producer&& o) noexcept {
  *this = std::move(o);
}
Producer& Producer::operator=(Producer&& o) noexcept {
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
    mpsc_ = o.mpsc_;
    broadcast_ = o.broadcast_;
    header_bytes_ = o.header_bytes_;
    initial_position_ = o.initial_position_;
    intent_ = o.intent_;
    checkpoint_shift_ = o.checkpoint_shift_;
    last_checkpoint_ = o.last_checkpoint_;
    sequence_ = o.sequence_;
    light_fences_ = o.light_fences_;
    claim_outstanding_ = o.claim_outstanding_;
    pending_position_ = o.pending_position_;
    pending_end_ = o.pending_end_;
    pending_size_ = o.pending_size_;
    slot_index_ = o.slot_index_;
    position_ = o.position_;
    cached_consumer_ = o.cached_consumer_;
    last_error_ = std::move(o.last_error_);
    revoked_reported_ = o.revoked_reported_;
    options_ = o.options_;
    o.header_ = nullptr;
    o.slot_ = nullptr;
  }
  return *this;
}
Producer::~Producer() {
  detach();
}

void Producer::detach() noexcept {
  if (slot_ == nullptr) return;
  if (claim_outstanding_) {
    Claim c;  // abandon it as padding (mpsc) or simply never publish it (spsc)
    c.position = pending_position_;
    abort(c);
  }
  release_slot(slot_->pid, slot_key(*mapping_, std::to_string(slot_index_)));
  slot_ = nullptr;
  header_ = nullptr;
}

uint32_t Producer::max_payload() const noexcept {
  return max_record_ - header_bytes_;
}

Status Producer::revoked_status() noexcept {
  // Once (every later claim lands here too), even over an earlier corrupt's message.
  if (!revoked_reported_) last_error_ = truncated_message(mapping_->name);
  revoked_reported_ = true;
  return Status::corrupt;
}

Status Producer::corrupt(const std::string& what) noexcept {
  if (revoked(revoked_)) return revoked_status();  // zeros where the header was: say why
  last_error_ = ring_msg(mapping_->name, what);    // cold path: allocation is fine here
  return Status::corrupt;
}

Status Producer::timed_out() noexcept {
  return mapping_->region.verify() ? Status::timeout : revoked_status();
}

Status Producer::claim_once(uint32_t type, uint32_t size, Claim& out, bool count_full) noexcept {
  // Every claim path (try_claim's slow path, blocking waits) passes here: a revoked view is
  // private zeros, and a record written into it would be lost without a word.
  if (revoked(revoked_)) return revoked_status();
  if (claim_outstanding_) return Status::claim_pending;
  if (type >= layout::kReservedTypeBase) return Status::invalid_argument;
  if (size > max_record_ - header_bytes_) return Status::too_large;
  const uint32_t length = size + header_bytes_;
  const uint32_t occupied = layout::align_record(length);

  if (broadcast_) {  // never full: the oldest bytes are overwritten
    const uint32_t p = position_;
    const uint32_t index = p & mask_;
    const uint32_t to_end = capacity_ - index;
    const uint32_t need = occupied <= to_end ? occupied : to_end + occupied;
    // Announce the overwrite before touching a byte. relaxed store + release
    // fence: the intent is ordered before every store below, so a reader whose
    // copy saw any of them (and then runs its acquire fence) also sees this
    // intent and discards the copy. Pairs with Reader::next.
    // Never backwards (B4): an aborted claim, or a dead producer's, may have announced (and
    // written) further than this claim; readers must keep treating those bytes as overwritten.
    if (static_cast<int32_t>(p + need - intent_) > 0) intent_ = p + need;
    header_->tail_intent.store(intent_, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    if (need > capacity_ - (p - initial_position_) &&
        header_->wrapped.load(std::memory_order_relaxed) == 0)
      header_->wrapped.store(1, std::memory_order_relaxed);
    uint32_t at = index;
    if (occupied > to_end) {
      write_padding(area_, index, to_end);
      at = 0;
    }
    auto* rec = reinterpret_cast<layout::BroadcastRecordHeader*>(area_ + at);
    // relaxed: published by the producer position store in commit().
    rec->header.type.store(type, std::memory_order_relaxed);
    rec->header.length.store(static_cast<int32_t>(length), std::memory_order_relaxed);
    rec->sequence.store(sequence_, std::memory_order_relaxed);
    out = Claim{area_ + at + header_bytes_, size, p + (need - occupied), p + need, type};
    pending_position_ = out.position;
    pending_end_ = out.end;
    pending_size_ = size;
    claim_outstanding_ = true;
    return Status::ok;
  }

  if (!mpsc_) {
    const uint32_t p = position_;
    const uint32_t index = p & mask_;
    const uint32_t to_end = capacity_ - index;
    const uint32_t need = occupied <= to_end ? occupied : to_end + occupied;
    if (need > capacity_ - (p - cached_consumer_)) {
      // acquire: pairs with the consumer's release store in release(): it has
      // finished reading (and, in mpsc, zeroing) the bytes below that position,
      // so we may overwrite them.
      cached_consumer_ = header_->consumer_position.load(std::memory_order_acquire);
      if (need > capacity_ - (p - cached_consumer_)) {
        if (count_full) detail::bump(slot_->full_count, 1);
        return Status::full;
      }
    }
    uint32_t at = index;
    if (occupied > to_end) {
      write_padding(area_, index, to_end);
      at = 0;
    }
    auto* rec = reinterpret_cast<RecordHeader*>(area_ + at);
    // relaxed: nothing is visible to the consumer until commit() stores the
    // position (release).
    rec->type.store(type, std::memory_order_relaxed);
    rec->length.store(static_cast<int32_t>(length), std::memory_order_relaxed);
    out =
        Claim{area_ + at + layout::kRecordHeaderSize, size, p + (need - occupied), p + need, type};
    pending_position_ = out.position;
    pending_end_ = out.end;
    pending_size_ = size;
    claim_outstanding_ = true;
    return Status::ok;
  }

  // mpsc CAS loop. Cases on each pass, with p the producer position we last
  // read:
  //  * not enough space against a fresh consumer position: full (a stale p can
  //  only make this
  //    answer conservative: positions only grow).
  //  * p went stale (another producer claimed first): the CAS fails, reloads p,
  //  and we retry.
  //  * the CAS succeeds: [p, p + need) is ours; nobody else can claim it.
  // Space is checked against a freshly loaded consumer position on every claim,
  // never a cached one: with 32-bit positions an old cached value could be a
  // whole 2^32 lap behind.
  uint32_t p = header_->producer_position.load(std::memory_order_relaxed);
  uint32_t index = 0, to_end = 0, need = 0;
  int stale_reloads = 0;
  for (;;) {
    index = p & mask_;
    to_end = capacity_ - index;
    need = occupied <= to_end ? occupied : to_end + occupied;
    // acquire: pairs with the consumer's release store in release() (as above).
    const uint32_t c = header_->consumer_position.load(std::memory_order_acquire);
    const uint32_t used = p - c;
    if (used > capacity_ || p % layout::kRecordAlign != 0) {
      // p older than c: reload p once. Still impossible with fresh values: the positions were
      // corrupted (an honest ring never has them), and spinning would never end (B1b, B2).
      if (stale_reloads++ > 0)
        return corrupt("producer position " + std::to_string(p) + " and consumer position " +
                       std::to_string(c) + " are impossible (unaligned, or over a lap apart)");
      p = header_->producer_position.load(std::memory_order_acquire);
      continue;
    }
    stale_reloads = 0;
    if (need > capacity_ - used) {
      if (count_full) detail::bump(slot_->full_count, 1);
      return Status::full;
    }
    // Claim intent, read by the consumer only if we die before committing
    // (stuck_claim()).
    slot_->claim_position.store(p, std::memory_order_relaxed);
    slot_->claim_length.store(need, std::memory_order_relaxed);
    slot_->claim_active.store(layout::kClaimIntent, std::memory_order_relaxed);
    // release on success: the intent above is visible to a consumer that
    // acquires a producer position at or past p + need (later CASes by others
    // continue the release sequence). relaxed on failure: we only need the
    // fresh value of p.
    if (header_->producer_position.compare_exchange_weak(p, p + need, std::memory_order_acq_rel,
                                                         std::memory_order_relaxed))
      break;
  }
  // relaxed: only a recovering consumer reads it, after acquiring
  // producer_position.
  slot_->claim_active.store(layout::kClaimHeld, std::memory_order_relaxed);
  // Post-check: if we were descheduled for a whole 2^32-byte lap between
  // reading c and the CAS, the space may not be free after all. Then hold the
  // claim, unwritten, until the consumer has released those bytes (it stops at
  // our zero header and cannot overtake us).
  // Bounded: a consumer position that never comes back in range is corruption, not a lap.
  for (uint32_t spins = 0;
       (p + need) - header_->consumer_position.load(std::memory_order_acquire) > capacity_;
       ++spins) {
    if (spins > 1'000'000) {
      slot_->claim_active.store(layout::kClaimNone, std::memory_order_relaxed);
      return corrupt("the consumer position never came back within a lap of claim " +
                     std::to_string(p));
    }
    platform::yield_thread();
  }
  uint32_t at = index;
  if (occupied > to_end) {
    write_padding(area_, index, to_end);
    at = 0;
  }
  auto* rec = reinterpret_cast<RecordHeader*>(area_ + at);
  rec->type.store(type, std::memory_order_relaxed);
  // relaxed: -length only tells a reader (dump, recovery) how big the claim is;
  // it is not a commit, and a reader treats <= 0 as "not ready".
  rec->length.store(-static_cast<int32_t>(length), std::memory_order_relaxed);
  out = Claim{area_ + at + layout::kRecordHeaderSize, size, p + (need - occupied), p + need, type};
  pending_position_ = out.position;
  pending_end_ = out.end;
  pending_size_ = size;
  claim_outstanding_ = true;
  return Status::ok;
}

// commit() and abort() act on the claim this handle holds; the caller's Claim
// only has to be that claim (matched by position). Its other fields are never
// trusted.
void Producer::commit_slow(Claim& claim) noexcept {
  if (!claim_outstanding_ || claim.position != pending_position_) return;
  claim_outstanding_ = false;
  claim.data = nullptr;
  if (!mpsc_) {
    position_ = pending_end_;
    // release: publishes the record bytes; pairs with the consumer's (reader's)
    // acquire load.
    header_->producer_position.store(pending_end_, std::memory_order_release);
    if (broadcast_) {
      // release, after the position: a reader that acquires latest/checkpoint
      // also sees a producer position at or past that record.
      header_->latest_position.store(pending_position_, std::memory_order_release);
      const uint32_t chunk = (pending_position_ & mask_) >> checkpoint_shift_;
      if (chunk != last_checkpoint_) {
        header_->checkpoint[chunk].store(pending_position_, std::memory_order_release);
        last_checkpoint_ = chunk;
      }
      // release: pairs with the acquire load in attach_producer (a replacement resumes the
      // sequence) and with stat/inspection readers.
      header_->next_sequence.store(++sequence_, std::memory_order_release);
    }
  } else {
    auto* rec = reinterpret_cast<RecordHeader*>(area_ + (pending_position_ & mask_));
    // release: the commit flag; pairs with the consumer's acquire load of
    // length in next().
    rec->length.store(static_cast<int32_t>(pending_size_ + layout::kRecordHeaderSize),
                      std::memory_order_release);
    slot_->claim_active.store(0, std::memory_order_relaxed);
  }
  detail::bump(slot_->messages_written, 1);
  detail::bump(slot_->bytes_written, pending_size_);
  after_publish();
}

void Producer::abort(Claim& claim) noexcept {
  if (!claim_outstanding_ || claim.position != pending_position_) return;
  claim_outstanding_ = false;
  claim.data = nullptr;
  detail::bump(slot_->aborts, 1);
  if (!mpsc_)
    return;  // never published: the next claim reuses the space (broadcast:
             // readers may already have discarded the announced bytes as
             // overwritten)
  // mpsc: the space is already reserved in the shared position; turn the record
  // into padding (any wrap padding before it was committed at claim time).
  const uint32_t index = pending_position_ & mask_;
  write_padding(area_, index, pending_end_ - pending_position_);
  slot_->claim_active.store(0, std::memory_order_relaxed);
  after_publish();
}

void Producer::wake_consumer() noexcept {
  // Claim the announcement (a locked RMW, only when a sleeper has announced
  // itself).
  if (header_->consumer_waiting.exchange(0, std::memory_order_relaxed) != 0) {
    // release on the signal word: the futex value test happens after the
    // increment.
    header_->data_signal.fetch_add(1, std::memory_order_release);
    mapping_->data_notifier.wake_all();
    detail::bump(slot_->wakes_sent, 1);
  }
}

Status Producer::claim(uint32_t type, uint32_t size, Claim& out, int64_t timeout_ns) noexcept {
  const Status s = try_claim(type, size, out);
  if (s != Status::full || timeout_ns == 0) return s;
  return wait_for_space(type, size, out, timeout_ns);
}

Status Producer::write(uint32_t type, const void* data, uint32_t size,
                       int64_t timeout_ns) noexcept {
  Claim c;
  const Status s = claim(type, size, c, timeout_ns);
  if (s != Status::ok) return s;
  copy_payload(c.data, data, size);
  commit(c);
  return Status::ok;
}

Status Producer::wait_for_space(uint32_t type, uint32_t size, Claim& out,
                                int64_t timeout_ns) noexcept {
  const uint64_t start = platform::monotonic_ns();
  const uint64_t deadline =
      timeout_ns < 0 ? kNoDeadline : start + static_cast<uint64_t>(timeout_ns);
  slot_->last_activity_ns.store(start, std::memory_order_relaxed);
  const WaitOptions& w = options_.wait;
  if (w.strategy != WaitStrategy::park) {
    for (uint32_t i = 1;; ++i) {
      platform::cpu_relax();
      const Status s = claim_once(type, size, out, false);
      if (s != Status::full) return s;
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
      const Status s = claim_once(type, size, out, false);
      if (s != Status::full) return s;
    }
  }
  for (;;) {
    // Announce, then re-check (see "Waking"). seq is read before the re-check.
    const uint32_t seq = header_->space_signal.load(std::memory_order_acquire);
    // relaxed: ordered before the re-check by the heavy fence that follows.
    header_->producers_waiting.store(1, std::memory_order_relaxed);
    const bool fenced = platform::heavy_fence();
    const Status s = claim_once(type, size, out, false);
    const uint64_t now = platform::monotonic_ns();
    Status verdict = Status::full;
    if (s != Status::full) {
      verdict = s;
    } else if (now >= deadline) {
      verdict = timed_out();
    } else if (options_.fail_if_consumer_dead) {
      const uint32_t consumer = header_->consumer.pid.load(std::memory_order_relaxed);
      if (consumer != 0 && !platform::process_alive(consumer)) verdict = Status::consumer_dead;
    }
    if (verdict == Status::full) {
      detail::bump(slot_->sleeps, 1);
      // Sliced: a dead consumer never wakes us, so liveness is re-checked every
      // 100 ms.
      mapping_->space_notifier.wait(
          seq, slice(remaining_ns(deadline, now), fenced ? kLivenessSliceNs : kUnfencedSliceNs));
    }
    if (verdict != Status::full) return verdict;
    // Look before announcing again (see the consumer's loop): a wake usually means space.
    const Status again = claim_once(type, size, out, false);
    if (again != Status::full) return again;
  }
}

// ---- Consumer
// ------------------------------------------------------------------------------

Consumer::Consumer(Consumer&& o) noexcept {
  *this = std::move(o);
}
Consumer& Consumer::operator=(Consumer&& o) noexcept {
  if (this != &o) {
    detach();
    mapping_ = std::move(o.mapping_);
    revoked_ = o.revoked_;
    header_ = o.header_;
    producer_slots_ = o.producer_slots_;
    area_ = o.area_;
    mask_ = o.mask_;
    capacity_ = o.capacity_;
    max_record_ = o.max_record_;
    max_producers_ = o.max_producers_;
    mpsc_ = o.mpsc_;
    light_fences_ = o.light_fences_;
    broken_ = o.broken_;
    position_ = o.position_;
    cached_producer_ = o.cached_producer_;
    stuck_position_ = o.stuck_position_;
    stuck_since_ns_ = o.stuck_since_ns_;
    last_error_ = std::move(o.last_error_);
    options_ = o.options_;
    o.header_ = nullptr;
  }
  return *this;
}
Consumer::~Consumer() {
  detach();
}

void Consumer::detach() noexcept {
  if (header_ == nullptr) return;
  release_slot(header_->consumer.pid, slot_key(*mapping_, "consumer"));
  header_ = nullptr;
}

uint64_t Consumer::deadline_after(int64_t timeout_ns) noexcept {
  return timeout_ns < 0 ? kNoDeadline
                        : platform::monotonic_ns() + static_cast<uint64_t>(timeout_ns);
}

Status Consumer::revoked_status() noexcept {
  broken_ = true;
  last_error_ = truncated_message(mapping_->name);
  return Status::corrupt;
}

Status Consumer::timed_out() noexcept {
  return mapping_->region.verify() ? Status::timeout : revoked_status();
}

Status Consumer::corrupt(uint32_t position, int32_t length, const char* why) noexcept {
  // Zeros where records were: say why, rather than blame the record.
  if (revoked(revoked_)) return revoked_status();
  broken_ = true;
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "record at position %" PRIu32 " (index %" PRIu32 ") has length %" PRId32 ": %s",
                position, position & mask_, length, why);
  last_error_ = ring_msg(mapping_->name, buf);  // cold path: allocation is fine here
  return Status::corrupt;
}

void Consumer::release(uint32_t from, uint32_t to, uint64_t messages, uint64_t bytes) noexcept {
  auto& slot = header_->consumer;
  if (mpsc_) {
    // Crash marker first: a consumer that dies while zeroing leaves target !=
    // position, and the next consumer finishes the release instead of
    // re-reading half-zeroed records.
    slot.release_target.store(to, std::memory_order_relaxed);
    // release fence: the target is ordered before every zeroing store below, so an inspector
    // whose copy of a record saw any zeroed byte (and then runs its acquire fence) also sees the
    // target and discards the copy. Pairs with inspect.cpp's walk_step. Once per batch.
    std::atomic_thread_fence(std::memory_order_release);
    const uint32_t index = from & mask_;
    const uint32_t bytes_total = std::min(to - from, capacity_);  // never past the area
    const uint32_t first = std::min(bytes_total, capacity_ - index);
    std::memset(area_ + index, 0, first);
    if (bytes_total > first) std::memset(area_, 0, bytes_total - first);
  }
  // release: our reads (and zeroing) of [from, to) happen before any producer
  // reuses the bytes; pairs with the producers' acquire loads of
  // consumer_position in try_claim().
  header_->consumer_position.store(to, std::memory_order_release);
  if (messages != 0) {
    detail::bump(slot.messages_read, messages);
    detail::bump(slot.bytes_read, bytes);
  }
  detail::light_fence(light_fences_);  // see "Waking": pairs with a waiting
                                       // producer's heavy fence
  if (header_->producers_waiting.load(std::memory_order_relaxed) != 0 &&
      header_->producers_waiting.exchange(0, std::memory_order_relaxed) != 0) {
    header_->space_signal.fetch_add(1, std::memory_order_release);
    mapping_->space_notifier.wake_all();
    detail::bump(slot.wakes_sent, 1);
  }
}

// The record at `position` reads length <= 0 (mpsc only). Either the ring is
// empty there, or a producer claimed it and is still writing, or that producer
// died. Recovery happens only when the claim has been stuck for
// stuck_claim_timeout_ns and every producer whose claim covers it is dead.
// Returns empty (wait), ok (recovered: padding now stands there; retry) or
// corrupt.
Status Consumer::stuck_claim(uint32_t position) noexcept {
  // A zero header in a revoked view is no claim: never "recover" into private memory.
  if (revoked(revoked_)) return revoked_status();
  // acquire: pairs with the producers' release CAS; their claim intent is
  // visible to us.
  const uint32_t p = header_->producer_position.load(std::memory_order_acquire);
  if (p == position) return Status::empty;
  const uint64_t now = platform::monotonic_ns();
  if (stuck_since_ns_ == 0 || stuck_position_ != position) {
    stuck_position_ = position;
    stuck_since_ns_ = now;
    return Status::empty;
  }
  if (now - stuck_since_ns_ < static_cast<uint64_t>(options_.stuck_claim_timeout_ns))
    return Status::empty;
  clear_stale_intents(max_producers_, producer_slots_, position_, p);
  // Candidates: slots whose intent or held claim covers `position`. Case
  // analysis:
  //  * any candidate alive: it will commit, or (a CAS loser) move its intent;
  //  wait.
  //  * a dead held claim: it is the real one (two held claims cannot overlap).
  //  * only dead intents: the owner died between its CAS and marking the claim
  //  held, and the
  //    others are stale intents of producers that died before their CAS. A
  //    single intent is the owner; among several, the owner's end must meet the
  //    producer position, a written header or another claim's start. If that
  //    still leaves a choice, keep waiting (and say so in last_error) rather
  //    than guess.
  uint32_t end = 0;
  ProducerSlot* owner = nullptr;
  ProducerSlot* intents[layout::kMaxProducers];
  uint32_t intent_count = 0;
  for (uint32_t i = 0; i < max_producers_; ++i) {
    ProducerSlot& s = producer_slots_[i];
    // acquire: pairs with the producers' release CAS that published their claim intents.
    const uint32_t state = s.claim_active.load(std::memory_order_acquire);
    if (state == layout::kClaimNone) continue;
    const uint32_t start = s.claim_position.load(std::memory_order_relaxed);
    const uint32_t length = s.claim_length.load(std::memory_order_relaxed);
    // An intent no honest producer can write is ignored (B5): it must never steer a read.
    if (start % layout::kRecordAlign != 0 || length % layout::kRecordAlign != 0 || length == 0 ||
        length > capacity_)
      continue;
    if (position - start >= length) continue;
    if (platform::process_alive(s.pid.load(std::memory_order_relaxed))) {
      stuck_since_ns_ = now;
      return Status::empty;
    }
    if (state == layout::kClaimHeld) {
      if (owner != nullptr && start + length != end)
        return corrupt(position, 0, "two held claims overlap it");
      owner = &s;
      end = start + length;
    } else {
      intents[intent_count++] = &s;
    }
  }
  if (owner == nullptr && intent_count == 1) {
    owner = intents[0];
    end = owner->claim_position.load(std::memory_order_relaxed) +
          owner->claim_length.load(std::memory_order_relaxed);
  } else if (owner == nullptr && intent_count > 1) {
    for (uint32_t k = 0; k < intent_count; ++k) {
      const uint32_t e = intents[k]->claim_position.load(std::memory_order_relaxed) +
                         intents[k]->claim_length.load(std::memory_order_relaxed);
      if (e - position > p - position) continue;
      bool consistent = e == p;
      if (!consistent) {
        const auto* next_header = reinterpret_cast<const RecordHeader*>(area_ + (e & mask_));
        // acquire: pairs with a commit's release store of +length (any nonzero header counts).
        consistent = next_header->length.load(std::memory_order_acquire) != 0;
      }
      for (uint32_t i = 0; !consistent && i < max_producers_; ++i)
        consistent = producer_slots_[i].claim_active.load(std::memory_order_acquire) != 0 &&
                     producer_slots_[i].claim_position.load(std::memory_order_relaxed) == e;
      if (!consistent) continue;
      if (owner != nullptr && e != end) {
        owner = nullptr;  // still ambiguous
        break;
      }
      owner = intents[k];
      end = e;
    }
    if (owner == nullptr) {
      last_error_ = ring_msg(mapping_->name, "stuck at position " + std::to_string(position) +
                                                 ": dead producers left ambiguous claims");
      stuck_since_ns_ = now;
      return Status::empty;
    }
  }
  if (owner == nullptr) {
    stuck_since_ns_ = now;  // in flight, intent not visible yet, or no owner: keep waiting
    return Status::empty;
  }
  for (uint32_t k = 0; k < intent_count; ++k)  // the losers' intents are stale now
    if (intents[k] != owner)
      intents[k]->claim_active.store(layout::kClaimNone, std::memory_order_release);
  const uint32_t bytes = end - position;
  if (bytes == 0 || bytes % layout::kRecordAlign != 0 || bytes > p - position)
    return corrupt(position, 0, "a dead producer's claim has an impossible length");
  const uint32_t index = position & mask_;
  const uint32_t first = std::min(bytes, capacity_ - index);
  write_padding(area_, index, first);
  if (bytes > first) write_padding(area_, 0, bytes - first);
  // release: a producer that takes this slot later sees the claim as recovered.
  owner->claim_active.store(layout::kClaimNone, std::memory_order_release);
  detail::bump(header_->consumer.recovered_claims, 1);
  detail::bump(header_->consumer.recovered_bytes, bytes);
  stuck_since_ns_ = 0;
  return Status::ok;
}

Status Consumer::try_read(void* buf, uint32_t capacity, uint32_t& size, uint32_t& type) noexcept {
  const uint32_t start = position_;
  Status status = Status::ok;
  for (;;) {
    if (position_ - start >= capacity_) {  // a lap of padding: release it before reading on
      status = Status::empty;
      break;
    }
    int32_t length = 0;
    const RecordHeader* rec = next(length, status);
    if (rec == nullptr) {
      if (status == Status::ok) continue;
      break;
    }
    const uint32_t t = rec->type.load(std::memory_order_relaxed);
    const uint32_t occupied = layout::align_record(static_cast<uint32_t>(length));
    if (t == layout::kPaddingType) {
      position_ += occupied;
      continue;
    }
    const uint32_t n = static_cast<uint32_t>(length) - layout::kRecordHeaderSize;
    size = n;
    type = t;
    if (n > capacity) {
      status = Status::too_large;
      break;
    }
    copy_payload(static_cast<std::byte*>(buf), rec + 1, n);
    // The copy may have met the zero pages of a truncation half-way: deliver no torn record.
    if (revoked(revoked_)) return revoked_status();
    position_ += occupied;
    release(start, position_, 1, n);
    return Status::ok;
  }
  if (position_ != start) release(start, position_, 0, 0);
  return status;
}

Status Consumer::read(void* buf, uint32_t capacity, uint32_t& size, uint32_t& type,
                      int64_t timeout_ns) noexcept {
  const uint64_t deadline = deadline_after(timeout_ns);
  for (;;) {
    const Status s = try_read(buf, capacity, size, type);
    if (s != Status::empty) return s;
    const Status w = wait_readable_until(deadline);
    if (w != Status::ok) return w;
  }
}

Status Consumer::wait_readable(int64_t timeout_ns) noexcept {
  return wait_readable_until(deadline_after(timeout_ns));
}

Status Consumer::wait_readable_until(uint64_t deadline) noexcept {
  auto probe = [&]() -> Status {
    int32_t length = 0;
    Status s = Status::ok;
    for (;;) {
      if (next(length, s) != nullptr) return Status::ok;
      if (s != Status::ok) return s;  // empty or corrupt; ok means "recovered, look again"
    }
  };
  Status s = probe();
  if (s != Status::empty) return s;
  const uint64_t start = platform::monotonic_ns();
  if (start >= deadline) return Status::timeout;
  header_->consumer.last_activity_ns.store(start, std::memory_order_relaxed);
  const WaitOptions& w = options_.wait;
  if (w.strategy != WaitStrategy::park) {
    for (uint32_t i = 1;; ++i) {
      platform::cpu_relax();
      s = probe();
      if (s != Status::empty) return s;
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
      s = probe();
      if (s != Status::empty) return s;
    }
  }
  for (;;) {
    // Announce, then re-check (see "Waking"). seq is read before the re-check.
    const uint32_t seq = header_->data_signal.load(std::memory_order_acquire);
    header_->consumer_waiting.store(1, std::memory_order_relaxed);
    const bool fenced = platform::heavy_fence();
    s = probe();
    const uint64_t now = platform::monotonic_ns();
    if (s == Status::empty && now >= deadline) s = timed_out();
    if (s != Status::empty) {
      header_->consumer_waiting.store(0, std::memory_order_relaxed);
      return s;
    }
    // Nothing to poll for: the producer's wake (or our deadline) ends the sleep. Only a failed
    // heavy fence, or a claim in flight that may belong to a dead producer, needs a slice.
    int64_t cap = fenced ? kNoSliceNs : kUnfencedSliceNs;
    if (mpsc_ && header_->producer_position.load(std::memory_order_relaxed) != position_)
      cap =
          std::min<int64_t>(cap, std::max<int64_t>(options_.stuck_claim_timeout_ns / 4, 1'000'000));
    detail::bump(header_->consumer.sleeps, 1);
    mapping_->data_notifier.wait(seq, slice(remaining_ns(deadline, now), cap));
    header_->consumer_waiting.store(0, std::memory_order_relaxed);
    // Look before announcing again: after a wake there is usually a record, and the announce
    // costs a heavy fence (a system call that interrupts every registered CPU).
    s = probe();
    if (s != Status::empty) return s;
  }
}

}  // namespace shmring

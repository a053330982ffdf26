// shmring — C++ API.
//
// clang-format off
//   auto ring = shmring::Ring::create("orders", {shmring::Kind::mpsc, 1 << 20});
//   auto producer = ring->attach_producer();  // any process: Ring::open("orders")
//   (void)producer->write(/*type*/ 7, "hello", 5, shmring::kForever);
//   auto consumer = shmring::Ring::open("orders")->attach_consumer();
//   consumer->read([](const shmring::RecordView& r) { use(r.type, r.data, r.size); },
//                  /*max*/ 64, /*timeout_ns*/ 1'000'000);
// clang-format on
//
// Threading: a Ring may be shared by threads. A Producer or a Consumer handle
// is used by one thread at a time (it caches positions); several producer
// threads attach several Producers. Progress: every try_* call and poll() is
// lock-free and makes no system call while the peer is awake. Blocking calls
// spin, yield, then park in the kernel according to the WaitStrategy. Hot-path
// calls return Status and never throw or allocate. Cold-path calls return
// Result<T>.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shmring/layout.hpp"
#include "shmring/result.hpp"

namespace shmring {

inline constexpr int64_t kForever = -1;  // timeout_ns meaning "no deadline"

enum class WaitStrategy : uint32_t {
  busy_spin = 0,       // spin until the deadline; lowest latency, burns a core
  spin_then_park = 1,  // spin ~spin_ns, yield a little, then sleep in the kernel (default)
  park = 2             // sleep in the kernel at once
};

struct CreateOptions {
  Kind kind = Kind::spsc;
  uint32_t capacity = 1u << 20;  // bytes; power of two in [256, 2^30]
  uint32_t max_record_size = 0;  // bytes incl. 8-byte header; 0 = capacity / 8; <= capacity / 2
  uint32_t mode = 0600;          // permission bits of the OS object; owner-only by default
  uint32_t max_producers = layout::kDefaultProducers;  // mpsc producer slots (spsc: 1)
  uint32_t max_readers = layout::kDefaultReaders;      // broadcast reader slots (others: 0)
  uint32_t initial_position = 0;  // testing aid: start positions near 2^32 to cross the wrap
  // Windows only (ignored / refused elsewhere): create in Global\ instead of
  // Local\, and an explicit SDDL instead of the current-user-only DACL.
  bool global_namespace = false;
  std::string security_descriptor;
};

struct OpenOptions {
  int64_t ready_timeout_ns = 1'000'000'000;  // how long to wait for a creator to publish
  bool read_only = false;                    // map read-only (inspection); cannot attach
  bool global_namespace = false;             // Windows: look in Global\ instead of Local\ .
  // Linux: a read-write open refuses an object owned by another user but root (a name planted
  // before its creator ran: docs/security.md, "Who can attach"). Set this to attach across users on
  // purpose (a ring created with a group or world --mode).
  bool allow_other_owner = false;
};

struct WaitOptions {
  WaitStrategy strategy = WaitStrategy::spin_then_park;
  int64_t spin_ns = 50'000;  // spin budget before parking (waking a sleeper costs ~20 us here)
};

struct ProducerOptions {
  WaitOptions wait;
  // A blocking write that finds the ring full while the consumer process is
  // dead returns Status::consumer_dead (true) or keeps waiting for a new
  // consumer until its timeout (false).
  bool fail_if_consumer_dead = true;
};

struct ConsumerOptions {
  WaitOptions wait;
  // In an mpsc ring, how long a claimed-but-uncommitted record may block the
  // consumer before it checks whether the claiming producer's process is alive.
  // A dead owner's record becomes padding (counted in recovered_claims); a live
  // one is always waited for.
  int64_t stuck_claim_timeout_ns = 200'000'000;
};

// Where a broadcast reader starts: the oldest record still retained (at a
// record boundary within 1/16 of the capacity of the true oldest), or the
// newest record.
enum class JoinAt : uint32_t { oldest = 0, newest = 1 };

struct ReaderOptions {
  JoinAt join = JoinAt::newest;
  WaitOptions wait;
};

struct RecordView {
  uint32_t type;
  uint32_t size;  // payload bytes
  const std::byte* data;
  uint32_t position;  // ring position of the record header
};

// Zero-copy claim: write `size` bytes at `data`, then commit() or abort() it.
struct Claim {
  std::byte* data = nullptr;
  uint32_t size = 0;
  uint32_t position = 0;  // position of the record header
  uint32_t end = 0;       // position after the record (and any wrap padding before it)
  uint32_t type = 0;
  explicit operator bool() const noexcept { return data != nullptr; }
};

struct PollResult {
  std::size_t count = 0;       // records delivered (padding is not counted)
  Status status = Status::ok;  // ok, empty, timeout or corrupt
};

struct PeerInfo {
  uint32_t pid = 0;
  bool alive = false;
  uint64_t last_activity_ns = 0;
};

struct ProducerStats : PeerInfo {
  uint64_t messages_written = 0, bytes_written = 0, full_count = 0, sleeps = 0, wakes_sent = 0,
           aborts = 0;
  bool claim_active = false;
  uint32_t claim_position = 0, claim_length = 0;
};

struct ReaderStats : PeerInfo {
  uint32_t cursor = 0;
  uint32_t lag_bytes = 0;  // producer position - cursor (> capacity: it has been lapped)
  uint64_t messages_read = 0, bytes_read = 0, lost = 0, laps = 0, sleeps = 0;
};

struct Stats {
  std::string name;
  Kind kind = Kind::spsc;
  uint32_t capacity = 0, max_record_size = 0, max_producers = 0, creator_pid = 0;
  uint32_t layout_version = 0, header_size = 0;
  uint64_t total_size = 0, creation_time_ns = 0;
  uint32_t producer_position = 0, consumer_position = 0, used_bytes = 0;
  bool consumer_waiting = false;
  bool producers_waiting = false;
  // consumer side
  PeerInfo consumer;
  uint64_t messages_read = 0, bytes_read = 0, consumer_sleeps = 0, consumer_wakes_sent = 0;
  uint64_t recovered_claims = 0, recovered_bytes = 0;
  // producer side, summed over slots, plus each attached (or dead, unreleased)
  // slot
  uint64_t messages_written = 0, bytes_written = 0, full_count = 0, producer_sleeps = 0,
           producer_wakes_sent = 0, aborts = 0;
  std::vector<ProducerStats> producers;
  // broadcast
  uint32_t max_readers = 0, tail_intent = 0, latest_position = 0;
  uint64_t next_sequence = 0;
  std::vector<ReaderStats> readers;
};

namespace detail {
struct Mapping;  // region + validated view; shared by the Ring and its handles
}

class Producer;
class Consumer;
class Reader;

// A named ring mapping. Closing it (destruction) unmaps; it never removes the
// name.
class Ring {
 public:
  static Result<Ring> create(std::string_view name, const CreateOptions& options);
  static Result<Ring> open(std::string_view name, const OpenOptions& options = {});
  static Result<void> unlink(std::string_view name, bool global_namespace = false);
  // Checks a ring name: 1..63 characters of [A-Za-z0-9._-], not starting with
  // '.', no "..".
  static Result<void> validate_name(std::string_view name);

  Result<Producer> attach_producer(const ProducerOptions& options = {});
  Result<Consumer> attach_consumer(const ConsumerOptions& options = {});  // spsc, mpsc
  Result<Reader> attach_reader(const ReaderOptions& options = {});        // broadcast

  Stats stats() const;  // lock-free snapshot; never writes the mapping
  const std::string& name() const noexcept;
  Kind kind() const noexcept;
  uint32_t capacity() const noexcept;
  uint32_t max_payload() const noexcept;  // max_record_size - 8 (broadcast: - 16)

  Ring(Ring&&) noexcept;
  Ring& operator=(Ring&&) noexcept;
  ~Ring();

 private:
  explicit Ring(std::shared_ptr<detail::Mapping> m);
  std::shared_ptr<detail::Mapping> mapping_;
};

// Writes records. Detaches (frees its slot) on destruction.
class Producer {
 public:
  // Reserves space for a `size`-byte record of `type`. ok / full / too_large /
  // claim_pending / invalid_argument. At most one claim is outstanding per
  // Producer.
  [[nodiscard]] Status try_claim(uint32_t type, uint32_t size, Claim& out) noexcept;
  // Publishes the outstanding claim (`claim` must be it; anything else is
  // ignored). In an mpsc ring, records from different producers become readable
  // in position order: a slow writer holds back later, already-committed
  // records.
  void commit(Claim& claim) noexcept;
  // Withdraws a claim; the space is skipped as padding.
  void abort(Claim& claim) noexcept;
  // Copy-in write of one record.
  [[nodiscard]] Status try_write(uint32_t type, const void* data, uint32_t size) noexcept;
  // Blocking variants: wait up to timeout_ns (kForever: no deadline) for space.
  [[nodiscard]] Status claim(uint32_t type, uint32_t size, Claim& out, int64_t timeout_ns) noexcept;
  [[nodiscard]] Status write(uint32_t type, const void* data, uint32_t size,
                             int64_t timeout_ns) noexcept;

  void set_wait(const WaitOptions& w) noexcept { options_.wait = w; }
  uint32_t max_payload() const noexcept;
  uint32_t slot() const noexcept { return slot_index_; }
  // Why this handle returned corrupt (names the ring), or "" if it never did.
  const std::string& last_error() const noexcept { return last_error_; }

  Producer(Producer&&) noexcept;
  Producer& operator=(Producer&&) noexcept;
  ~Producer();

 private:
  friend class Ring;
  Producer() = default;
  void detach() noexcept;
  Status claim_once(uint32_t type, uint32_t size, Claim& out, bool count_full) noexcept;
  void commit_slow(Claim& claim) noexcept;  // mpsc, broadcast, and misuse
  void wake_consumer() noexcept;
  Status wait_for_space(uint32_t type, uint32_t size, Claim& out, int64_t timeout_ns) noexcept;
  void after_publish() noexcept;
  Status revoked_status() noexcept;
  Status corrupt(const std::string& what) noexcept;  // sets last_error_
  Status timed_out() noexcept;  // timeout, or corrupt if the object shrank (Region::verify)

  std::shared_ptr<detail::Mapping> mapping_;
  const std::atomic<uint32_t>* revoked_ = nullptr;  // platform::Region::revoked_flag()
  layout::RingHeader* header_ = nullptr;
  layout::ProducerSlot* slot_ = nullptr;
  std::byte* area_ = nullptr;
  uint32_t mask_ = 0, capacity_ = 0, max_record_ = 0;
  bool mpsc_ = false;
  bool broadcast_ = false;
  bool light_fences_ = false;
  bool claim_outstanding_ = false;
  uint32_t header_bytes_ = layout::kRecordHeaderSize;  // 16 in broadcast (sequence)
  uint32_t initial_position_ = 0;
  uint32_t intent_ = 0;  // broadcast: the furthest overwrite ever announced (never moves back)
  uint32_t checkpoint_shift_ = 0;  // broadcast: log2(capacity / 16)
  uint32_t last_checkpoint_ = ~0u;
  uint64_t sequence_ = 0;  // broadcast: sequence of the next record
  uint32_t pending_position_ = 0, pending_end_ = 0,
           pending_size_ = 0;  // outstanding claim
  uint32_t slot_index_ = 0;
  uint32_t position_ = 0;         // spsc: our committed position (we are its only writer)
  uint32_t cached_consumer_ = 0;  // last consumer position we read; refreshed when short
  std::string last_error_;
  bool revoked_reported_ = false;  // last_error_ already says the view was revoked
  ProducerOptions options_;
};

// Reads a broadcast ring without ever slowing its producer. Each Reader has its
// own cursor; many readers in many processes may read one ring. A record is
// copied into the reader's buffer and delivered only after checking that the
// producer had not started to overwrite it (no torn record is ever returned). A
// reader that was overtaken counts the records it lost (exactly, by sequence
// number) and resynchronises to the newest record.
class Reader {
 public:
  // Delivers up to `max` records; the view points into the reader's own copy,
  // valid until the next call. ok / empty / corrupt.
  template <class Handler>
  [[nodiscard]] PollResult poll(Handler&& handler, std::size_t max = 1024) noexcept {
    PollResult r;
    Status s = Status::ok;
    RecordView view{};
    while (r.count < max && (s = next(view)) == Status::ok) {
      handler(static_cast<const RecordView&>(view));
      ++r.count;
    }
    publish();
    r.status = r.count > 0 ? Status::ok : s;
    return r;
  }
  template <class Handler>
  [[nodiscard]] PollResult read(Handler&& handler, std::size_t max, int64_t timeout_ns) noexcept {
    if (max == 0) return PollResult{0, Status::invalid_argument};
    // One deadline for the whole call (B6): a record can vanish (overwritten) between waking and
    // reading, so this may loop, but never past the deadline.
    const int64_t deadline = deadline_after(timeout_ns);
    for (;;) {
      PollResult r = poll(handler, max);
      if (r.count > 0 || r.status != Status::empty) return r;
      const int64_t left = remaining(deadline);
      if (left == 0) return PollResult{0, Status::timeout};
      const Status w = wait_readable(left);
      if (w != Status::ok) return PollResult{0, w};
    }
  }
  // Copy-out of one record. too_large reports its size and skips nothing.
  [[nodiscard]] Status try_read(void* buf, uint32_t capacity, uint32_t& size,
                                uint32_t& type) noexcept;
  [[nodiscard]] Status wait_readable(int64_t timeout_ns) noexcept;

  uint64_t lost() const noexcept { return lost_; }          // records overwritten unread
  uint64_t laps() const noexcept { return laps_; }          // times it was overtaken
  uint64_t received() const noexcept { return received_; }  // records delivered
  uint32_t position() const noexcept { return cursor_; }
  void set_wait(const WaitOptions& w) noexcept { options_.wait = w; }
  const std::string& last_error() const noexcept { return last_error_; }

  Reader(Reader&&) noexcept;
  Reader& operator=(Reader&&) noexcept;
  ~Reader();

 private:
  friend class Ring;
  Reader() = default;
  Status next(RecordView& out) noexcept;                       // copy, validate, advance
  static int64_t deadline_after(int64_t timeout_ns) noexcept;  // -1: none
  static int64_t remaining(int64_t deadline) noexcept;         // -1: none
  void resync() noexcept;
  void publish() noexcept;  // cursor and counters into our slot, once per batch
  void detach() noexcept;
  Status corrupt(const char* why, int64_t value) noexcept;
  Status revoked_status() noexcept;
  Status timed_out() noexcept;  // timeout, or corrupt if the object shrank (Region::verify)

  std::shared_ptr<detail::Mapping> mapping_;
  const std::atomic<uint32_t>* revoked_ = nullptr;  // platform::Region::revoked_flag()
  layout::RingHeader* header_ = nullptr;
  layout::ReaderSlot* slot_ = nullptr;
  std::byte* area_ = nullptr;
  uint32_t mask_ = 0, capacity_ = 0, max_record_ = 0, slot_index_ = 0;
  uint32_t cursor_ = 0;
  bool have_expected_ = false;
  bool broken_ = false;
  uint64_t expected_sequence_ = 0;
  uint64_t lost_ = 0, laps_ = 0, received_ = 0, bytes_ = 0;
  uint64_t published_received_ = 0, published_bytes_ = 0;
  std::vector<std::byte> buffer_;  // one record; allocated at attach
  std::string last_error_;
  ReaderOptions options_;
};

// Reads records in order. One consumer per ring at a time; a new one may
// replace a dead one.
class Consumer {
 public:
  // Delivers up to `max` committed records to `handler(const RecordView&)` and
  // then releases them all with one store of the consumer position. The view's
  // bytes are valid only inside the call. The handler must not throw; if it
  // does, the batch is not released and will be delivered again. Returns count
  // and ok / empty / corrupt.
  template <class Handler>
  [[nodiscard]] PollResult poll(Handler&& handler, std::size_t max = 1024) noexcept;

  // Blocking poll: waits up to timeout_ns for at least one record. ok / timeout
  // / corrupt (invalid_argument for max == 0).
  template <class Handler>
  [[nodiscard]] PollResult read(Handler&& handler, std::size_t max, int64_t timeout_ns) noexcept;

  // Copy-out of one record into buf. too_large leaves the record in place and
  // reports its size.
  [[nodiscard]] Status try_read(void* buf, uint32_t capacity, uint32_t& size,
                                uint32_t& type) noexcept;
  [[nodiscard]] Status read(void* buf, uint32_t capacity, uint32_t& size, uint32_t& type,
                            int64_t timeout_ns) noexcept;

  // Waits until a record is readable (ok), or timeout / corrupt, without
  // consuming it.
  [[nodiscard]] Status wait_readable(int64_t timeout_ns) noexcept;

  void set_wait(const WaitOptions& w) noexcept { options_.wait = w; }
  // Describes why the handle returned corrupt (names the ring, the position and
  // the value).
  const std::string& last_error() const noexcept { return last_error_; }

  Consumer(Consumer&&) noexcept;
  Consumer& operator=(Consumer&&) noexcept;
  ~Consumer();

 private:
  friend class Ring;
  Consumer() = default;
  void detach() noexcept;
  static uint64_t deadline_after(int64_t timeout_ns) noexcept;  // UINT64_MAX = none
  Status wait_readable_until(uint64_t deadline_ns) noexcept;
  // Next readable record at position_, or nullptr (then status says empty or
  // corrupt).
  const layout::RecordHeader* next(int32_t& length, Status& status) noexcept;
  void release(uint32_t from, uint32_t to, uint64_t messages, uint64_t bytes) noexcept;
  Status stuck_claim(uint32_t position) noexcept;
  Status corrupt(uint32_t position, int32_t length, const char* why) noexcept;
  Status revoked_status() noexcept;
  Status timed_out() noexcept;  // timeout, or corrupt if the object shrank (Region::verify)

  std::shared_ptr<detail::Mapping> mapping_;
  const std::atomic<uint32_t>* revoked_ = nullptr;  // platform::Region::revoked_flag()
  layout::RingHeader* header_ = nullptr;
  layout::ProducerSlot* producer_slots_ = nullptr;
  std::byte* area_ = nullptr;
  uint32_t mask_ = 0, capacity_ = 0, max_record_ = 0, max_producers_ = 0;
  bool mpsc_ = false;
  bool light_fences_ = false;
  bool broken_ = false;
  uint32_t position_ = 0;         // our consumer position (we are its only writer)
  uint32_t cached_producer_ = 0;  // spsc: last producer position read
  uint32_t stuck_position_ = 0;
  uint64_t stuck_since_ns_ = 0;
  std::string last_error_;
  ConsumerOptions options_;
};

// ---- inline hot paths
// ----------------------------------------------------------------------

namespace detail {
// A counter with exactly one writing process: relaxed load + store, no locked
// instruction. Readers (stat) may see a slightly old value, never a torn one
// (64-bit lock-free atomics).
inline void bump(std::atomic<uint64_t>& counter, uint64_t by) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

// Copies a payload. Messages are mostly small, and a runtime-sized std::memcpy is a call into
// libc's size dispatch (perf showed it as a third of the 64 B producer); up to 64 bytes this is
// at most two fixed-size, possibly overlapping moves per side, inlined. Both ranges are exactly
// [p, p + n): the overlap only writes the same bytes twice.
inline void copy_payload(std::byte* dst, const void* source, uint32_t n) noexcept {
  const auto* src = static_cast<const std::byte*>(source);
  if (n > 64) {
    std::memcpy(dst, src, n);
  } else if (n >= 32) {
    std::memcpy(dst, src, 32);
    std::memcpy(dst + n - 32, src + n - 32, 32);
  } else if (n >= 16) {
    std::memcpy(dst, src, 16);
    std::memcpy(dst + n - 16, src + n - 16, 16);
  } else if (n >= 8) {
    std::memcpy(dst, src, 8);
    std::memcpy(dst + n - 8, src + n - 8, 8);
  } else if (n >= 4) {
    std::memcpy(dst, src, 4);
    std::memcpy(dst + n - 4, src + n - 4, 4);
  } else if (n != 0) {
    dst[0] = src[0];
    dst[n / 2] = src[n / 2];
    dst[n - 1] = src[n - 1];
  }
}

// True once the platform withdrew the mapping (the object was truncated under us; see
// platform::Region::revoked). relaxed: a process-local flag that carries no data; a thread that
// has not seen it yet reads zeros from the replaced view, which the read paths reject anyway.
inline bool revoked(const std::atomic<uint32_t>* flag) noexcept {
  return flag->load(std::memory_order_relaxed) != 0;
}

// The streaming side of the Dekker pair described at the top of
// core/src/ring.cpp ("Waking"): a compiler barrier when this process registered
// for the sleeper's heavy fence, else a full seq_cst fence.
inline void light_fence(bool light) noexcept {
  if (light) {
    std::atomic_signal_fence(std::memory_order_seq_cst);
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
}
}  // namespace detail

// spsc fast paths are inline (the benchmark-relevant case); everything else is
// in ring.cpp.
inline Status Producer::try_claim(uint32_t type, uint32_t size, Claim& out) noexcept {
  // One extra load per claim (a process-local line that is never written in normal operation):
  // after a truncation the view is private zeros, and writing on would lose records silently.
  if (mpsc_ || broadcast_ || claim_outstanding_ || type >= layout::kReservedTypeBase ||
      size > max_record_ - layout::kRecordHeaderSize || detail::revoked(revoked_))
    return claim_once(type, size, out, true);
  const uint32_t length = size + layout::kRecordHeaderSize;
  const uint32_t occupied = layout::align_record(length);
  const uint32_t p = position_;
  const uint32_t index = p & mask_;
  if (occupied > capacity_ - index) return claim_once(type, size, out, true);  // wrap padding
  if (occupied > capacity_ - (p - cached_consumer_)) {
    // acquire: pairs with the consumer's release store in release(); it has
    // finished reading the bytes below that position, so we may overwrite them.
    cached_consumer_ = header_->consumer_position.load(std::memory_order_acquire);
    if (occupied > capacity_ - (p - cached_consumer_)) {
      detail::bump(slot_->full_count, 1);
      return Status::full;
    }
  }
  auto* rec = reinterpret_cast<layout::RecordHeader*>(area_ + index);
  // relaxed: nothing is visible to the consumer until commit() stores the
  // position (release).
  rec->type.store(type, std::memory_order_relaxed);
  rec->length.store(static_cast<int32_t>(length), std::memory_order_relaxed);
  out = Claim{area_ + index + layout::kRecordHeaderSize, size, p, p + occupied, type};
  pending_position_ = p;
  pending_end_ = p + occupied;
  pending_size_ = size;
  claim_outstanding_ = true;
  return Status::ok;
}

inline void Producer::commit(Claim& claim) noexcept {
  if (mpsc_ || broadcast_ || !claim_outstanding_ || claim.position != pending_position_) {
    commit_slow(claim);
    return;
  }
  claim_outstanding_ = false;
  claim.data = nullptr;
  position_ = pending_end_;
  // release: publishes the record bytes; pairs with the consumer's acquire load
  // in next().
  header_->producer_position.store(pending_end_, std::memory_order_release);
  detail::bump(slot_->messages_written, 1);
  detail::bump(slot_->bytes_written, pending_size_);
  after_publish();
}

inline void Producer::after_publish() noexcept {
  detail::light_fence(light_fences_);
  // A plain load: in a stream this line stays shared in our cache and costs
  // nothing.
  if (header_->consumer_waiting.load(std::memory_order_relaxed) != 0) wake_consumer();
}

inline Status Producer::try_write(uint32_t type, const void* data, uint32_t size) noexcept {
  Claim c;
  const Status s = try_claim(type, size, c);
  if (s != Status::ok) return s;
  detail::copy_payload(c.data, data, size);
  commit(c);
  return Status::ok;
}

inline const layout::RecordHeader* Consumer::next(int32_t& length, Status& status) noexcept {
  if (broken_) {
    status = Status::corrupt;
    return nullptr;
  }
  if (position_ == cached_producer_) {
    // acquire: pairs with the producer's release store in commit() (spsc) or CAS (mpsc). In
    // mpsc the length word is the commit flag, but nothing at or past the producer position is
    // ever a record: a positive length there is garbage and must not be delivered (B1).
    cached_producer_ = header_->producer_position.load(std::memory_order_acquire);
    if (position_ == cached_producer_) {
      // Not empty but gone: after a truncation positions read as 0 and would look empty forever.
      status = detail::revoked(revoked_) ? revoked_status() : Status::empty;
      // Touch the line the next record will start on. A busy poller keeps it requested, so
      // the producer's write of it and its position store overlap with our fetch instead of
      // the record line following the position line one transfer later (busy round trip
      // 190 -> 170 ns p50 here; throughput unchanged). relaxed: the value is discarded; the
      // record is read, after the acquire of the position, only once it is published.
      (void)reinterpret_cast<const layout::RecordHeader*>(area_ + (position_ & mask_))
          ->length.load(std::memory_order_relaxed);
      return nullptr;
    }
  }
  const uint32_t index = position_ & mask_;
  auto* rec = reinterpret_cast<const layout::RecordHeader*>(area_ + index);
  // acquire: in mpsc, pairs with the producer's release store of the positive
  // length in commit()/abort() (and the consumer's own recovery); the payload
  // written before it is visible. In spsc the position load above already
  // ordered it; acquire is free on x86/ARMv8.
  length = rec->length.load(std::memory_order_acquire);
  if (length <= 0) {
    if (!mpsc_) {
      status = corrupt(position_, length, "non-positive length below the producer position");
      return nullptr;
    }
    status = stuck_claim(position_);
    return nullptr;
  }
  // Validate before trusting: the other side may be buggy or hostile.
  const uint32_t occupied = layout::align_record(static_cast<uint32_t>(length));
  if (static_cast<uint32_t>(length) < layout::kRecordHeaderSize || occupied > capacity_ - index) {
    status = corrupt(position_, length, "length outside the record area");
    return nullptr;
  }
  if (occupied > cached_producer_ - position_) {
    status = corrupt(position_, length, "record extends past the producer position");
    return nullptr;
  }
  if (static_cast<uint32_t>(length) > max_record_ &&
      rec->type.load(std::memory_order_relaxed) != layout::kPaddingType) {
    status = corrupt(position_, length, "length above max_record_size");
    return nullptr;
  }
  status = Status::ok;
  return rec;
}

template <class Handler>
PollResult Consumer::poll(Handler&& handler, std::size_t max) noexcept {
  PollResult result;
  const uint32_t start = position_;
  uint64_t bytes = 0;
  Status status = Status::ok;
  // A batch never spans more than one lap: in mpsc, the bytes a lap behind us
  // are still the records of this batch (zeroed only at release), and their
  // headers must not be re-read.
  while (result.count < max && position_ - start < capacity_) {
    int32_t length = 0;
    const layout::RecordHeader* rec = next(length, status);
    if (rec == nullptr) {
      if (status == Status::ok) continue;  // a dead producer's claim was just turned into padding
      break;
    }
    const uint32_t type = rec->type.load(std::memory_order_relaxed);
    if (type != layout::kPaddingType) {
      const uint32_t size = static_cast<uint32_t>(length) - layout::kRecordHeaderSize;
      handler(RecordView{type, size, reinterpret_cast<const std::byte*>(rec + 1), position_});
      ++result.count;
      bytes += size;
    }
    position_ += layout::align_record(static_cast<uint32_t>(length));
  }
  if (position_ != start) release(start, position_, result.count, bytes);
  result.status = result.count > 0 ? Status::ok : status;
  if (status == Status::corrupt) result.status = Status::corrupt;
  return result;
}

template <class Handler>
PollResult Consumer::read(Handler&& handler, std::size_t max, int64_t timeout_ns) noexcept {
  if (max == 0) return PollResult{0, Status::invalid_argument};
  const uint64_t deadline = deadline_after(timeout_ns);
  for (;;) {
    PollResult r = poll(handler, max);
    if (r.count > 0 || r.status == Status::corrupt) return r;
    const Status s = wait_readable_until(deadline);
    if (s != Status::ok) return PollResult{0, s};
  }
}

}  // namespace shmring

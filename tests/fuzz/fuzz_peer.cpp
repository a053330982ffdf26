// Fuzz target "peer": a live ring of any kind, driven by a script, next to a hostile peer.
//
// The input creates a ring (kind, capacity 256..2048, max record size, start position near or
// far from the 2^32 wrap) and then runs a script of operations, all in this process and thread:
// producers write (copy-in, claim + commit, claim + abort, a claim left open), the consumer or a
// broadcast reader reads (poll, try_read, read with timeout 0), handles detach and re-attach,
// stats() and the dump walker (inspect::walk) look at the ring, and a hostile peer pokes words
// of the shared mapping: positions, record headers, slots, counters, anything. It may also
// truncate the object (to whole pages, 0 included) under every view: from then on the ring's
// calls run on the platform's revoked, zero-filled view (docs/security.md, "Truncation and
// SIGBUS"), and must answer without crashing; the raw view is no longer touched.
//
// Until the first poke the ring is honest and a model checks the results exactly:
//   spsc / mpsc  records arrive once each, in claim order, byte for byte; a committed record
//                at the head is always delivered (an open claim of a live producer holds back
//                what follows it); the walker sees the same records.
//   broadcast    records arrive in sequence order, byte for byte; the reader's lost() grows by
//                exactly the records it skipped; an empty poll leaves it at the producer position.
// After a poke only safety is checked: no crash, no access outside the mapping (the capacities
// chosen leave the object's end inside a page, so a stray access faults), no call that fails to
// return, every delivered record inside the record area. The rings are small so that wrap
// padding, full rings and broadcast laps happen within a few operations.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "shmring/inspect.hpp"
#include "shmring/layout.hpp"
#include "shmring/platform.hpp"
#include "shmring/ring.hpp"

using namespace shmring;
using shmring::fuzz::Input;
using shmring::fuzz::RawView;

namespace {

using layout::RingHeader;

bool trace() {
  static const bool on = std::getenv("SHMRING_FUZZ_TRACE") != nullptr;
  return on;
}

// A record is identified by its type: type = id (ids stay far below the reserved range).
uint32_t type_of(uint64_t id) {
  return static_cast<uint32_t>(id & 0x7FFFFFFFu);
}
std::byte payload_byte(uint64_t id, uint32_t j) {
  return static_cast<std::byte>((id * 0x9Du + j * 31u + (j >> 8)) ^ 0xA5u);
}
void fill(std::byte* out, uint64_t id, uint32_t size) {
  for (uint32_t j = 0; j < size; ++j) out[j] = payload_byte(id, j);
}
bool same(const std::byte* data, uint64_t id, uint32_t size) {
  for (uint32_t j = 0; j < size; ++j)
    if (data[j] != payload_byte(id, j)) return false;
  return true;
}

enum class State { claimed, committed, aborted };

struct Entry {
  uint64_t id = 0;
  uint32_t size = 0;
  uint32_t position = 0;  // Claim::position
  State state = State::claimed;
};

struct Writer {
  std::unique_ptr<Producer> producer;
  Claim claim;
  bool open = false;
  uint64_t open_id = 0;
};

class Session {
 public:
  Session(const std::string& name, Ring ring, Input& in)
      : name_(name), ring_(std::move(ring)), in_(in), raw_(name) {
    kind_ = ring_.kind();
    capacity_ = ring_.capacity();
    max_payload_ = ring_.max_payload();
    buffer_.resize(max_payload_ + 64);
    writers_.resize(kind_ == Kind::mpsc ? 2 : 1);
    for (auto& w : writers_) attach_writer(w);
    attach_reader_side();
  }

  bool truncated() const { return truncated_; }

  void run() {
    for (int step = 0; step < 400 && !in_.empty(); ++step) {
      const uint8_t op = in_.u8();
      if (trace() && !truncated_) {
        const RingHeader* h = header();
        std::fprintf(stderr, "step %d op %d writer %zu | p %u c %u intent %u latest %u\n", step,
                     op % 16, static_cast<std::size_t>((op >> 4) % writers_.size()),
                     h->producer_position.load(), h->consumer_position.load(),
                     h->tail_intent.load(), h->latest_position.load());
      }
      switch (op % 16) {
        case 0:
        case 1:
          write_copy(writer(op));
          break;
        case 2:
          claim(writer(op), Finish::commit);
          break;
        case 3:
          claim(writer(op), Finish::abort);
          break;
        case 4:
          claim(writer(op), Finish::leave_open);
          break;
        case 5:
          finish_open(writer(op), (op & 0x20) != 0);
          break;
        case 6:
        case 7:
          poll();
          break;
        case 8:
          try_read();
          break;
        case 9:
          read_zero_timeout();
          break;
        case 10:
          poke();
          break;
        case 11:
          poke_record();
          break;
        case 12:
          (void)ring_.stats();
          break;
        case 13:
          reattach_reader_side();
          break;
        case 14:
          reattach_writer(writer(op));
          break;
        case 15:
          walk();
          break;
      }
    }
    // Drain what is left, then a final exact check in honest runs.
    for (int i = 0; i < 4; ++i) poll();
    walk();
  }

 private:
  enum class Finish { commit, abort, leave_open };

  bool claim_open() const {
    for (const Writer& w : writers_)
      if (w.open) return true;
    return false;
  }

  Writer& writer(uint8_t op) { return writers_[(op >> 4) % writers_.size()]; }

  const RingHeader* header() const { return reinterpret_cast<const RingHeader*>(raw_.base()); }

  // ---- attach ------------------------------------------------------------------------------

  void attach_writer(Writer& w) {
    auto p = ring_.attach_producer();
    if (!p) {
      FUZZ_CHECK(p.error().message.find("'" + name_ + "'") != std::string::npos,
                 "attach_producer error does not name the ring: %s", p.error().message.c_str());
      // Honest: every writer gets a slot (spsc/broadcast have one writer, mpsc two slots+).
      FUZZ_CHECK(hostile_, "honest attach_producer failed: %s", p.error().message.c_str());
      return;
    }
    w.producer = std::make_unique<Producer>(std::move(p.value()));
  }

  void attach_reader_side() {
    if (kind_ == Kind::broadcast) {
      ReaderOptions o;
      o.join = JoinAt::oldest;
      auto r = ring_.attach_reader(o);
      if (r) {
        reader_ = std::make_unique<Reader>(std::move(r.value()));
        have_last_delivered_ = false;
        reader_lost_ = reader_->lost();
        expected_lost_ = 0;
        first_pending_ = false;
        joined_at_ = sequence_ids_.size();
        if (trace())
          std::fprintf(stderr, "  reader joined at %u, %zu committed\n", reader_->position(),
                       sequence_ids_.size());
      } else {
        FUZZ_CHECK(hostile_, "honest attach_reader failed: %s", r.error().message.c_str());
      }
      return;
    }
    ConsumerOptions o;
    o.stuck_claim_timeout_ns = 0;  // recovery runs at once on dead-owner claims (pokes)
    o.wait.strategy = WaitStrategy::busy_spin;
    auto c = ring_.attach_consumer(o);
    if (c) {
      consumer_ = std::make_unique<Consumer>(std::move(c.value()));
    } else {
      FUZZ_CHECK(c.error().message.find("'" + name_ + "'") != std::string::npos,
                 "attach_consumer error does not name the ring: %s", c.error().message.c_str());
      FUZZ_CHECK(hostile_, "honest attach_consumer failed: %s", c.error().message.c_str());
    }
  }

  void reattach_reader_side() {
    consumer_.reset();
    reader_.reset();
    attach_reader_side();
  }

  void reattach_writer(Writer& w) {
    if (w.open) {  // detach abandons the open claim: padding (mpsc), nothing (spsc), lost bytes
                   // announced as overwritten (broadcast)
      mark(w.open_id, State::aborted);
      w.open = false;
    }
    w.producer.reset();
    attach_writer(w);
  }

  // ---- writes ------------------------------------------------------------------------------

  void write_copy(Writer& w) {
    if (!w.producer) return;
    const uint64_t id = next_id_;
    const uint32_t size = pick_size();
    fill(buffer_.data(), id, size);
    const Status s = w.producer->try_write(type_of(id), buffer_.data(), size);
    if (s == Status::ok) {
      ++next_id_;
      entries_.push_back(Entry{id, size, 0, State::committed});
      committed_in_order(id);
    } else if (!hostile_) {
      FUZZ_CHECK(s == Status::full || s == Status::claim_pending, "try_write returned %s",
                 to_string(s));
      FUZZ_CHECK(s != Status::full || kind_ != Kind::broadcast, "broadcast producer was full");
    }
  }

  void claim(Writer& w, Finish finish) {
    if (!w.producer || w.open) return;
    const uint64_t id = next_id_;
    const uint32_t size = pick_size();
    Claim c;
    const Status s = w.producer->try_claim(type_of(id), size, c);
    if (s != Status::ok) {
      if (!hostile_)
        FUZZ_CHECK(s == Status::full, "try_claim of %u bytes returned %s", size, to_string(s));
      return;
    }
    FUZZ_CHECK(c.size == size && c.data != nullptr, "claim of %u bytes gave %u", size, c.size);
    ++next_id_;
    fill(c.data, id, size);
    entries_.push_back(Entry{id, size, c.position, State::claimed});
    if (finish == Finish::leave_open) {
      w.claim = c;
      w.open = true;
      w.open_id = id;
      return;
    }
    if (finish == Finish::commit) {
      w.producer->commit(c);
      mark(id, State::committed);
    } else {
      w.producer->abort(c);
      mark(id, State::aborted);
    }
  }

  void finish_open(Writer& w, bool commit) {
    if (!w.producer || !w.open) return;
    w.open = false;
    if (commit) {
      w.producer->commit(w.claim);
      mark(w.open_id, State::committed);
    } else {
      w.producer->abort(w.claim);
      mark(w.open_id, State::aborted);
    }
  }

  void mark(uint64_t id, State state) {
    for (Entry& e : entries_) {
      if (e.id != id) continue;
      e.state = state;
      if (state == State::committed) committed_in_order(id);
      break;
    }
    // spsc and broadcast: an aborted claim leaves no trace (spsc) or only announced-overwritten
    // bytes (broadcast); it is not a record.
    if (state == State::aborted && kind_ != Kind::mpsc)
      entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                    [&](const Entry& e) { return e.id == id; }),
                     entries_.end());
  }

  // broadcast: sequence numbers follow commit order.
  void committed_in_order(uint64_t id) {
    if (kind_ == Kind::broadcast) sequence_ids_.push_back(id);
  }

  uint32_t pick_size() {
    const uint8_t b = in_.u8();
    if (b < 16) return max_payload_;
    if (b < 24) return 0;
    if (b < 128) return in_.u8() % (max_payload_ + 1);
    return in_.u16() % (max_payload_ + 1);
  }

  // ---- reads -------------------------------------------------------------------------------

  void check_bounds(const RecordView& v) {
    FUZZ_CHECK(v.size <= max_payload_, "delivered %u bytes, max payload %u", v.size, max_payload_);
    FUZZ_CHECK(v.type != layout::kPaddingType, "delivered padding");
    if (kind_ != Kind::broadcast) {
      const uint32_t index = v.position & (capacity_ - 1);
      FUZZ_CHECK(index + layout::kRecordHeaderSize + v.size <= capacity_,
                 "record at index %u, %u bytes, leaves the %u-byte area", index, v.size, capacity_);
    }
  }

  // The next record the model expects (spsc/mpsc): the oldest entry that is not aborted.
  void deliver(uint32_t type, const std::byte* data, uint32_t size) {
    if (hostile_) return;
    if (kind_ == Kind::broadcast) return deliver_broadcast(type, data, size);
    while (!entries_.empty() && entries_.front().state == State::aborted) entries_.pop_front();
    FUZZ_CHECK(!entries_.empty(), "delivered a record (type %u, %u bytes) nobody wrote", type,
               size);
    const Entry e = entries_.front();
    FUZZ_CHECK(e.state == State::committed,
               "delivered record id %" PRIu64 " before its commit (type %u)", e.id, type);
    FUZZ_CHECK(type == type_of(e.id) && size == e.size,
               "delivered type %u size %u, expected id %" PRIu64
               " size %u (lost, duplicated or "
               "reordered)",
               type, size, e.id, e.size);
    FUZZ_CHECK(same(data, e.id, size), "record id %" PRIu64 " delivered with wrong bytes", e.id);
    entries_.pop_front();
  }

  void deliver_broadcast(uint32_t type, const std::byte* data, uint32_t size) {
    // Which committed record is it? Ids are delivered in increasing order.
    std::size_t k = have_last_delivered_ ? last_delivered_seq_ + 1 : 0;
    while (k < sequence_ids_.size() && type_of(sequence_ids_[k]) != type) ++k;
    FUZZ_CHECK(k < sequence_ids_.size(), "reader delivered type %u that was never committed", type);
    const uint64_t id = sequence_ids_[k];
    const Entry* e = find(id);
    FUZZ_CHECK(e != nullptr && e->size == size, "reader delivered id %" PRIu64 " with %u bytes", id,
               size);
    FUZZ_CHECK(same(data, id, size), "reader delivered id %" PRIu64 " with wrong bytes", id);
    // A reader counts losses from its join: the first record it delivers may follow records it
    // skipped since then (resynchronised to the newest after being overtaken). after_read()
    // checks that those started at a sequence that existed when it joined.
    if (!have_last_delivered_) {
      first_pending_ = true;
      first_sequence_ = k;
    }
    const uint64_t skipped = have_last_delivered_ ? k - last_delivered_seq_ - 1 : 0;
    if (trace())
      std::fprintf(stderr, "  reader delivered sequence %zu (id %" PRIu64 "), lost() %" PRIu64 "\n",
                   k, id, reader_->lost());
    expected_lost_ += skipped;
    have_last_delivered_ = true;
    last_delivered_seq_ = k;
  }

  const Entry* find(uint64_t id) const {
    for (const Entry& e : entries_)
      if (e.id == id) return &e;
    return nullptr;
  }

  // Honest spsc/mpsc: is a committed record waiting at the head?
  bool committed_at_head() {
    while (!entries_.empty() && entries_.front().state == State::aborted) entries_.pop_front();
    return !entries_.empty() && entries_.front().state == State::committed;
  }

  void after_read(std::size_t delivered, Status status) {
    if (status == Status::corrupt) {
      FUZZ_CHECK(hostile_, "honest ring reported corrupt: %s",
                 consumer_ ? consumer_->last_error().c_str() : reader_->last_error().c_str());
      return;
    }
    if (hostile_) return;
    if (kind_ == Kind::broadcast) {
      const uint64_t lost_now = reader_->lost();
      if (first_pending_) {
        first_pending_ = false;
        const uint64_t before_first = lost_now - reader_lost_ - expected_lost_;
        FUZZ_CHECK(before_first <= first_sequence_ && first_sequence_ - before_first <= joined_at_,
                   "reader counted %" PRIu64
                   " lost before its first record (sequence %zu); it "
                   "joined when %zu were committed",
                   before_first, first_sequence_, joined_at_);
        expected_lost_ += before_first;
      }
      FUZZ_CHECK(lost_now - reader_lost_ == expected_lost_,
                 "reader counted %" PRIu64 " lost records, it skipped %" PRIu64,
                 lost_now - reader_lost_, expected_lost_);
      // A claim (open, or aborted: tail_intent never moves back) may have announced an overwrite
      // of the newest records: then nothing is readable although the reader is behind the
      // producer position.
      const uint32_t tail = header()->producer_position.load();
      if (delivered == 0 && status == Status::empty && header()->tail_intent.load() == tail)
        FUZZ_CHECK(reader_->position() == header()->producer_position.load(),
                   "empty poll left the reader at %u, producer at %u", reader_->position(),
                   header()->producer_position.load());
      return;
    }
    if (delivered == 0 && (status == Status::empty || status == Status::timeout))
      FUZZ_CHECK(!committed_at_head(), "a committed record at the head was not delivered (%s)",
                 to_string(status));
  }

  void poll() {
    const std::size_t max = 1 + in_.u8() % 8;
    std::size_t delivered = 0;
    auto handler = [&](const RecordView& v) {
      check_bounds(v);
      deliver(v.type, v.data, v.size);
      ++delivered;
    };
    PollResult r;
    if (consumer_) {
      r = consumer_->poll(handler, max);
    } else if (reader_) {
      r = reader_->poll(handler, max);
    } else {
      return;
    }
    FUZZ_CHECK(r.count == delivered && r.count <= max, "poll said %zu, delivered %zu, max %zu",
               r.count, delivered, max);
    after_read(delivered, r.status);
  }

  void try_read() {
    const uint32_t cap = in_.u8() % 2 == 0 ? max_payload_ : in_.u8();
    uint32_t size = 0, type = 0;
    Status s = Status::empty;
    if (consumer_) {
      s = consumer_->try_read(buffer_.data(), cap, size, type);
    } else if (reader_) {
      s = reader_->try_read(buffer_.data(), cap, size, type);
    } else {
      return;
    }
    if (s == Status::ok) {
      FUZZ_CHECK(size <= cap, "try_read returned %u bytes into %u", size, cap);
      deliver(type, buffer_.data(), size);
    }
    if (s == Status::too_large) {
      FUZZ_CHECK(size > cap, "too_large for a %u-byte record into %u", size, cap);
      return;
    }
    after_read(s == Status::ok ? 1 : 0, s);
  }

  void read_zero_timeout() {
    std::size_t delivered = 0;
    auto handler = [&](const RecordView& v) {
      check_bounds(v);
      deliver(v.type, v.data, v.size);
      ++delivered;
    };
    PollResult r;
    if (consumer_) {
      r = consumer_->read(handler, 4, 0);
    } else if (reader_) {
      r = reader_->read(handler, 4, 0);
    } else {
      return;
    }
    after_read(delivered, r.status);
  }

  // ---- the hostile peer --------------------------------------------------------------------

  uint32_t poke_value(uint32_t current) {
    const uint8_t how = in_.u8();
    switch (how % 8) {
      case 0:
        return in_.u32();
      case 1:
        return current + 8u * static_cast<uint32_t>(static_cast<int8_t>(in_.u8()));
      case 2:
        return current + static_cast<uint32_t>(static_cast<int8_t>(in_.u8()));
      case 3:
        return current + capacity_ * (1 + in_.u8() % 2);
      case 4:
        return 0;
      case 5:
        return 0xFFFFFFFFu;
      case 6:
        return 0x7FFFFFF0u;  // a pid that names no process
      default:
        return static_cast<uint32_t>(-static_cast<int32_t>(8 * (1 + in_.u8() % 32)));
    }
  }

  void poke_word(std::size_t offset) {
    if (truncated_ || !raw_.ok() || offset + 4 > raw_.size()) return;
    offset &= ~std::size_t{3};
    auto* word = reinterpret_cast<std::atomic<uint32_t>*>(raw_.base() + offset);
    const uint32_t value = poke_value(word->load(std::memory_order_relaxed));
    word->store(value, std::memory_order_relaxed);
    hostile_ = true;
  }

  // A word of the header or of the slots, chosen among the fields a peer can write.
  void poke() {
    static const std::size_t kFields[] = {
        offsetof(RingHeader, producer_position),
        offsetof(RingHeader, tail_intent),
        offsetof(RingHeader, consumer_position),
        offsetof(RingHeader, consumer_waiting),
        offsetof(RingHeader, data_signal),
        offsetof(RingHeader, producers_waiting),
        offsetof(RingHeader, consumer) + offsetof(layout::ConsumerSlot, pid),
        offsetof(RingHeader, consumer) + offsetof(layout::ConsumerSlot, release_target),
        offsetof(RingHeader, latest_position),
        offsetof(RingHeader, wrapped),
        offsetof(RingHeader, next_sequence),
        offsetof(RingHeader, next_sequence) + 4,
        offsetof(RingHeader, checkpoint),
    };
    constexpr std::size_t kFieldCount = sizeof kFields / sizeof kFields[0];
    const uint8_t which = in_.u8();
    if (truncated_ || !raw_.ok()) return;
    if (which >= 250) {
      truncate_object();
      return;
    }
    const RingHeader* h = header();
    if (which < 128) {
      std::size_t offset = kFields[which % kFieldCount];
      if (offset == offsetof(RingHeader, checkpoint)) offset += 4 * (in_.u8() % 16);
      poke_word(offset);
    } else if (which < 224) {
      // A producer slot (pid, claim_active, claim_position, claim_length) or a reader slot.
      const uint32_t slots = h->max_producers + h->max_readers;
      const std::size_t slot = in_.u8() % std::max<uint32_t>(slots, 1);
      poke_word(sizeof(RingHeader) + slot * layout::kLine + 4 * (in_.u8() % 4));
    } else if (which < 240) {
      poke_word(in_.u16() % raw_.size());  // anywhere in the header pages
    } else {
      poke_word(h->header_size + in_.u16() % capacity_);
    }
  }

  // A record header at a position near the consumer / producer positions.
  // Shrinks the object to whole pages (0 included) under every view of it.
  void truncate_object() {
    const std::size_t pages = in_.u8() % (raw_.size() / 4096 + 1);
    const int fd = ::shm_open(("/shmring." + name_).c_str(), O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) return;
    const bool shrunk = ::ftruncate(fd, static_cast<off_t>(pages * 4096)) == 0;
    ::close(fd);
    if (!shrunk) return;
    truncated_ = true;  // raw_ (a plain mapping, not guarded) is never touched again
    hostile_ = true;
  }

  void poke_record() {
    if (truncated_ || !raw_.ok()) return;
    const RingHeader* h = header();
    const uint32_t base_pos =
        in_.u8() % 2 == 0 ? h->consumer_position.load() : h->producer_position.load();
    const uint32_t position = base_pos + 8u * static_cast<uint32_t>(static_cast<int8_t>(in_.u8()));
    const std::size_t offset = h->header_size + (position & (capacity_ - 1));
    poke_word(offset + 4 * (in_.u8() % 2));
  }

  // ---- the dump walker on the live ring ----------------------------------------------------

  void walk() {
    if (truncated_ || !raw_.ok()) return;
    uint32_t position = 0;
    std::string reason;
    if (!inspect::start_position(name_, raw_.base(), raw_.size(), inspect::From::consumer, position,
                                 reason)) {
      FUZZ_CHECK(hostile_, "walker refused an honest ring: %s", reason.c_str());
      return;
    }
    std::vector<uint64_t> seen;
    std::size_t in_flight = 0;
    const inspect::WalkResult r = inspect::walk(
        name_, raw_.base(), raw_.size(), position, 1u << 16, [&](const inspect::WalkedRecord& w) {
          FUZZ_CHECK(w.payload_size <= max_payload_, "walker payload %u", w.payload_size);
          if (w.state == inspect::RecordState::committed) {
            FUZZ_CHECK(w.index + layout::align_record(static_cast<uint32_t>(w.length)) <= capacity_,
                       "walker record leaves the area");
            if (!hostile_)
              FUZZ_CHECK(same(w.payload, w.type, w.payload_size) || kind_ == Kind::broadcast,
                         "walker copy of type %u has wrong bytes", w.type);
            seen.push_back(w.type);
          } else {
            ++in_flight;
          }
          return true;
        });
    if (hostile_) return;
    // B9 (fixed in core): the walker once called a broadcast record that an open claim is
    // overwriting corrupt rather than overwritten.
    FUZZ_CHECK(r.stop == inspect::WalkStop::end || r.stop == inspect::WalkStop::in_flight ||
                   (kind_ == Kind::broadcast && r.stop == inspect::WalkStop::overwritten),
               "walker stopped on an honest ring: %s", r.reason.c_str());
    if (kind_ == Kind::broadcast) return;
    // The walker sees the committed records the consumer has not read yet, in order, up to the
    // first one still being written (mpsc).
    std::size_t k = 0;
    for (const Entry& e : entries_) {
      if (e.state == State::aborted) continue;
      if (e.state == State::claimed) break;
      FUZZ_CHECK(k < seen.size() && seen[k] == type_of(e.id),
                 "walker saw %zu records, the model has id %" PRIu64 " at %zu", seen.size(), e.id,
                 k);
      ++k;
    }
    FUZZ_CHECK(k == seen.size(), "walker saw %zu committed records, the model %zu", seen.size(), k);
  }

  std::string name_;
  Ring ring_;
  Input& in_;
  RawView raw_;
  bool truncated_ = false;  // the script shrank the object: raw_ must not be touched
  Kind kind_ = Kind::spsc;
  uint32_t capacity_ = 0, max_payload_ = 0;
  std::vector<std::byte> buffer_;
  std::vector<Writer> writers_;
  std::unique_ptr<Consumer> consumer_;
  std::unique_ptr<Reader> reader_;
  std::deque<Entry> entries_;
  std::vector<uint64_t> sequence_ids_;  // broadcast: id of each sequence number
  uint64_t next_id_ = 1;
  bool hostile_ = false;
  bool have_last_delivered_ = false;
  std::size_t last_delivered_seq_ = 0;
  uint64_t expected_lost_ = 0, reader_lost_ = 0;
  bool first_pending_ = false;
  std::size_t first_sequence_ = 0, joined_at_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  Input in(data, size);
  const uint8_t b0 = in.u8(), b1 = in.u8(), b2 = in.u8();
  CreateOptions o;
  o.kind = b0 % 3 == 0 ? Kind::spsc : b0 % 3 == 1 ? Kind::mpsc : Kind::broadcast;
  o.capacity = 256u << ((b0 / 3) % 4);  // 256..2048: the object ends inside a page
  switch (b1 % 3) {
    case 0:
      o.max_record_size = 0;
      break;
    case 1:
      o.max_record_size = o.capacity / 2;
      break;
    default:
      o.max_record_size = 32;
      break;
  }
  switch ((b1 / 3) % 4) {
    case 0:
      o.initial_position = 0;
      break;
    case 1:
      o.initial_position = 0xFFFFFF00u;
      break;
    case 2:
      o.initial_position = 0u - o.capacity - 8 * (b2 % 8);
      break;
    default:
      o.initial_position = (static_cast<uint32_t>(b2) << 24) | 0x00ABCD00u;
      break;
  }
  o.max_producers = 2 + b2 % 3;
  o.max_readers = 2;
  static const std::string name = shmring::fuzz::image_name("peer");
  (void)Ring::unlink(name);
  auto ring = Ring::create(name, o);
  FUZZ_CHECK(ring.ok(), "create: %s", ring.error().message.c_str());
  const uint64_t revoked_before = platform::revoked_views();
  bool truncated = false;
  {
    Session session(name, std::move(ring.value()), in);
    session.run();
    truncated = session.truncated();
  }
  (void)Ring::unlink(name);
  // Unless the script truncated the object, a revoked view is an access past its end (SIGBUS),
  // absorbed by the platform's truncation handler; it is a bug all the same.
  FUZZ_CHECK(truncated || platform::revoked_views() == revoked_before,
             "an access past the end of the object (SIGBUS)");
  return 0;
}

// shmring process tests — shared helpers: seeds, unique ring names, the checksummed message
// format, the verifier, the child-process guard and the producer / consumer loops that every
// tier reuses. Tests: multiprocess_test.cpp, stress_test.cpp, fault_test.cpp.
//
// Processes. Every peer is a real process: fork() on Linux, CreateProcessW of the test executable
// on Windows (tests/common/child.hpp). A child runs a named role, opens the ring by name
// (Ring::open) and never touches the parent's handle; it reports through two pipes (events to the
// parent, control from it), so Catch2 never runs in a child. A child dies with its parent, and
// the parent's Child guard kills and reaps it on every path out of a test. Nothing sleeps to
// synchronise: children say "attached" / "claimed" through the event pipe, and the few waits on
// ring state poll the ring's own counters, with a deadline.
//
// Message (payload) format, little-endian:
//    0  uint32 producer_id
//    4  uint32 reserved (0)
//    8  uint64 sequence      per producer: 0, 1, 2, ...
//   16  uint32 checksum      over producer_id, sequence, body_len and the body (see checksum())
//   20  uint32 body_len      payload size - 24
//   24  body                 deterministic bytes from (producer_id, sequence)
// Record type kMessageType. A payload shorter than 24 bytes cannot hold that header; such a
// "compact" record carries producer_id and the low 24 bits of the sequence in its type, and its
// bytes are the first `size` body bytes of (producer_id, sequence), regenerated and compared by
// the verifier. So every size from 0 to max_payload is a checked message.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "child.hpp"
#include "shmring/ring.hpp"

namespace shmring::proctest {

// ---- seeds, names, time ---------------------------------------------------------------------

// SHMRING_TEST_SEED from the environment, else a fresh random seed. Tests print it.
uint64_t test_seed();
// "pt-<pid>-<n>": unique per process and call.
std::string unique_ring_name();
uint64_t now_ns();

// Owns a unique ring name and unlinks it on destruction (the ring objects are unlinked at the
// end of every test, passed or failed).
class RingName {
 public:
  RingName() : name_(unique_ring_name()) {}
  ~RingName() { (void)Ring::unlink(name_); }
  RingName(const RingName&) = delete;
  RingName& operator=(const RingName&) = delete;
  const std::string& str() const noexcept { return name_; }

 private:
  std::string name_;
};

struct Rng {
  uint64_t state;
  explicit Rng(uint64_t seed) : state(seed) {}
  uint64_t next() noexcept {  // splitmix64
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint32_t below(uint32_t n) noexcept {  // [0, n), n > 0
    return static_cast<uint32_t>((next() >> 32) * n >> 32);
  }
  bool percent(uint32_t p) noexcept { return below(100) < p; }
};

inline uint64_t derive_seed(uint64_t seed, uint64_t stream) {
  Rng r(seed ^ (stream * 0xD6E8FEB86659FD93ull));
  return r.next();
}

// ---- message format -------------------------------------------------------------------------

inline constexpr uint32_t kMessageType = 1;
inline constexpr uint32_t kMessageHeader = 24;
inline constexpr uint32_t kCompactBase = 0x40000000u;
inline constexpr uint32_t kMaxProducerId = 63;  // compact records carry 6 bits of producer id

// Writes message (producer_id, sequence) into `out` (`size` bytes) and returns its record type.
uint32_t fill_message(std::byte* out, uint32_t size, uint32_t producer_id, uint64_t sequence);
uint32_t checksum(uint32_t producer_id, uint64_t sequence, const std::byte* body, uint32_t n);

// Size picker: mostly uniform in [0, typical], sometimes uniform over [0, max], and exactly 0 or
// exactly max now and then, so the edges and every wrap padding size show up.
uint32_t pick_size(Rng& rng, uint32_t max, uint32_t typical);

// Verifies every delivered record: format, checksum, and per producer sequence == last + 1.
class Verifier {
 public:
  explicit Verifier(uint32_t producers);
  // Producer p is expected to deliver `count` messages in total.
  void expect(uint32_t producer, uint64_t count) { expected_[producer] = count; }
  // The replacement-consumer window: the first record of `producer` this verifier sees may
  // repeat sequences in [lowest, next_seq] (a batch the previous consumer delivered but had not
  // released); after it, strictly +1.
  void resume(uint32_t producer, uint64_t next_seq, uint64_t lowest);

  // Returns false on the first bad record (and on every record after it); error() says why.
  bool check(uint32_t type, const std::byte* data, uint32_t size) noexcept;
  // Structure of positions (batch poll only): a gap between consecutive records must be wrap
  // padding unless gaps_allowed. Also notes crossings of the 32-bit position wrap.
  void check_position(uint32_t position, uint32_t size) noexcept;
  void break_chain() noexcept { have_position_ = false; }
  void set_capacity(uint32_t capacity);  // enables check_position's padding bookkeeping
  void allow_gaps(bool allowed) noexcept { gaps_allowed_ = allowed; }

  bool ok() const noexcept { return error_.empty(); }
  bool complete() const noexcept;
  const std::string& error() const noexcept { return error_; }
  std::string summary() const;  // counts per producer, for failure messages

  uint32_t producers() const noexcept { return static_cast<uint32_t>(next_.size()); }
  uint64_t next_seq(uint32_t p) const noexcept { return next_[p]; }
  uint64_t expected(uint32_t p) const noexcept { return expected_[p]; }
  bool seen(uint32_t p) const noexcept { return seen_[p]; }
  uint64_t received() const noexcept { return received_; }
  uint64_t received_bytes() const noexcept { return bytes_; }
  uint64_t duplicates() const noexcept { return duplicates_; }
  uint64_t wraps_crossed() const noexcept { return wraps_crossed_; }
  uint64_t paddings() const noexcept { return paddings_; }
  // Distinct wrap padding sizes seen (bytes, multiples of 8).
  std::size_t padding_sizes_seen() const noexcept;
  uint32_t last_producer() const noexcept { return last_producer_; }
  uint64_t last_sequence() const noexcept { return last_sequence_; }

 private:
  bool fail(const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3)));
  bool accept(uint32_t producer, uint64_t sequence) noexcept;

  std::vector<uint64_t> next_, expected_, lowest_;
  std::vector<bool> seen_;
  std::vector<bool> padding_sizes_;
  uint64_t received_ = 0, bytes_ = 0, duplicates_ = 0, wraps_crossed_ = 0, paddings_ = 0;
  uint32_t capacity_mask_ = 0;
  uint32_t last_position_ = 0, last_occupied_ = 0;
  uint32_t last_producer_ = 0;
  uint64_t last_sequence_ = 0;
  bool have_position_ = false, gaps_allowed_ = false;
  std::string error_;
  std::vector<std::byte> scratch_;
};

// ---- child processes ------------------------------------------------------------------------
// Child, ChildIo, Event, Params, SharedBook: tests/common/child.hpp. A child runs a role that a
// test file registers (static const ChildRole); the plans below travel as Params.

// Polls `condition` (cheap, reads shared state) with a thread yield until it holds or timeout_ms
// passes. For waits on ring counters that the test cannot get through a pipe.
bool wait_until(const std::function<bool()>& condition, int timeout_ms);

// ---- the producer loop (runs in a child) ----------------------------------------------------

struct ProducerPlan {
  std::string ring;
  uint32_t id = 0;
  uint64_t first_sequence = 0;
  uint64_t count = 0;
  uint64_t seed = 0;
  uint32_t size_max = 0;        // 0: the ring's max payload
  uint32_t size_typical = 0;    // 0: size_max
  uint32_t claim_percent = 50;  // messages written in place through claim/commit
  ProducerOptions options{};
  int64_t op_timeout_ns = 60'000'000'000;
  bool wait_go = true;               // wait for 'G' on the control pipe after attaching
  bool wait_consumer_sleep = false;  // start only once the consumer has parked in the kernel
  bool until_stopped = false;        // write until 'S' arrives on the control pipe (count is a cap)
  uint64_t progress_after = 0;       // send 'P' once this many are written (0: never)
  // Busy work while holding each zero-copy claim (a slow writer; fault tests aim kills there).
  uint32_t hold_rounds = 0;
};

// Opens the ring by name, attaches, sends 'A' {slot}, optionally waits for 'G', writes `count`
// messages and sends 'R' {sent}. Returns the exit code.
int run_producer(ChildIo& io, const ProducerPlan& plan);
// The plan as a child's parameters, and back (role "producer" runs run_producer).
Params to_params(const ProducerPlan& plan);
ProducerPlan producer_plan(const Params& params);
// ProducerOptions / WaitOptions under a key prefix.
void put_options(Params& params, const std::string& prefix, const ProducerOptions& options);
ProducerOptions get_options(const Params& params, const std::string& prefix);

// ---- the consumer loop (parent side) --------------------------------------------------------
// Parent-side helpers below use Catch2 assertions; never call them in a child.

struct DrainOptions {
  uint64_t seed = 0;
  uint32_t copy_out_percent = 25;  // iterations that use the copy-out read instead of poll
  uint32_t max_batch = 256;
  int64_t step_timeout_ns = 20'000'000;
  int64_t no_progress_timeout_ns = 30'000'000'000;
};

// Reads with a mix of copy-out reads and batch polls, verifying every record.
class Drain {
 public:
  Drain(Consumer& consumer, Verifier& verifier, uint32_t max_payload, const DrainOptions& o);
  // One blocking read step; returns the status of the read (ok / timeout / corrupt).
  Status step();
  uint64_t steps() const noexcept { return steps_; }
  const Consumer& consumer() const noexcept { return consumer_; }

 private:
  Consumer& consumer_;
  Verifier& verifier_;
  DrainOptions options_;
  Rng rng_;
  std::vector<std::byte> buffer_;
  uint64_t steps_ = 0;
};

// Runs drain steps until the verifier has every expected message. Fails (Catch2) with the seed
// and the counts when a record is bad, the ring reports corrupt, a producer child fails, or no
// record arrives for no_progress_timeout_ns. `between` runs after every step.
// `between` runs after every step; while it returns true the loop goes on even once the
// verifier is complete (a test that still needs the consumer running, e.g. to recover claims).
void drain_until_complete(Drain& drain, Verifier& verifier, const std::vector<Child*>& producers,
                          uint64_t seed, int64_t no_progress_timeout_ns = 30'000'000'000,
                          const std::function<bool()>& between = {});

// Waits for each producer child to exit (timeout_ms each) and checks exit status 0 and that its
// 'R' report says it sent exactly what the verifier expected of its id (ids[i]).
void finish_producers(const std::vector<Child*>& producers, const std::vector<uint32_t>& ids,
                      const Verifier& verifier, uint64_t seed, int timeout_ms = 60'000);

// Spawns a producer child running run_producer(plan) and waits for its 'A' (attached).
std::unique_ptr<Child> spawn_producer(const ProducerPlan& plan, uint64_t seed);

// One streaming run: the parent creates the ring and consumes (mixing copy-out reads and batch
// polls); `producers` child processes open it by name and write `per_producer` messages each
// (mixing copy-in writes and zero-copy claims). Every record is verified; at the end the ring
// is empty and the stats agree with the counts.
struct StreamPlan {
  std::string label;
  Kind kind = Kind::spsc;
  uint32_t producers = 1;
  uint64_t per_producer = 0;
  uint32_t capacity = 1u << 16;
  uint32_t max_record_size = 0;  // 0: the ring's default (capacity / 8)
  uint32_t initial_position = 0;
  uint32_t size_max = 0, size_typical = 0;  // 0: max payload
  uint32_t claim_percent = 50, copy_out_percent = 25, max_batch = 256;
  WaitOptions consumer_wait{}, producer_wait{};
  bool consumer_parks_first = false;  // producers start only once the consumer has slept
  bool producers_park_first = false;  // the consumer starts only once every producer has slept
};

struct StreamOutcome {
  Stats stats;
  uint64_t received = 0, bytes = 0, paddings = 0, wraps_crossed = 0;
  std::size_t padding_sizes = 0;
  double seconds = 0;
};

StreamOutcome run_stream(const StreamPlan& plan, uint64_t seed);

}  // namespace shmring::proctest

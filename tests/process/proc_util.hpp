// shmring process tests — shared helpers: seeds, unique ring names, the checksummed message
// format, the verifier, the child-process guard and the producer / consumer loops that every
// tier reuses. Tests: multiprocess_test.cpp, stress_test.cpp, fault_test.cpp.
//
// Processes. Every peer is a real process made with fork(). A child opens the ring by name
// (Ring::open) and never touches the parent's handle; it reports through two pipes (events to the
// parent, control from it) and ends with _exit(), so Catch2 never runs in a child. A child dies
// with its parent (PR_SET_PDEATHSIG), and the parent's Child guard SIGKILLs and reaps it on every
// path out of a test. Nothing sleeps to synchronise: children say "attached" / "claimed" through
// the event pipe, and the few waits on ring state poll the ring's own counters, with a deadline.
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

#include <sys/mman.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

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

// One fixed-size message from a child. Smaller than PIPE_BUF, so a write is atomic.
struct Event {
  char tag = 0;  // 'A' attached, 'C' claimed, 'F' full, 'P' progress, 'R' report, 'E' error
  uint32_t code = 0;
  uint64_t v[6] = {};
  char text[400] = {};
};

// The child's ends of its pipes.
struct ChildIo {
  int events = -1;   // to the parent
  int control = -1;  // from the parent
  void send(const Event& e) const noexcept;
  void send(char tag, uint64_t v0 = 0, uint64_t v1 = 0, uint64_t v2 = 0,
            uint64_t v3 = 0) const noexcept;
  // Sends an 'E' event (also to stderr) and returns the exit code to use.
  int fail(const char* fmt, ...) const noexcept __attribute__((format(printf, 2, 3)));
  // Next control byte, or 0 after timeout_ms or when the parent closed the pipe.
  char wait_control(int timeout_ms) const noexcept;
};

inline constexpr int kChildFailed = 2;

// A forked child running `body`; the guard SIGKILLs and reaps it if it is still running when
// the guard dies (a failed REQUIRE unwinds through here).
class Child {
 public:
  using Body = std::function<int(ChildIo&)>;
  explicit Child(const Body& body);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const noexcept { return pid_; }
  // Next event, waiting at most timeout_ms. false on timeout or once the child is gone and
  // its pipe is drained.
  bool next_event(Event& e, int timeout_ms);
  // Waits (at most timeout_ms) for an event with `tag`; an 'E' event or the child's exit makes
  // it return false, with the reason in `why`.
  bool expect_event(char tag, Event& e, int timeout_ms, std::string& why);
  void send(char c) noexcept;
  // Reaps the child if it has exited, waiting at most timeout_ms. true once reaped.
  bool wait_exit(int timeout_ms);
  bool exited() { return wait_exit(0); }
  // Waits until the child has terminated but leaves it unreaped (a zombie).
  bool wait_zombie(int timeout_ms);
  void kill_and_reap() noexcept;
  bool succeeded() const noexcept;
  std::string describe() const;  // "running", "exited with 0", "killed by signal 9"
  // Text of the 'E' events received so far (and any still in the pipe).
  std::string errors();
  // The last 'R' (report) event, whether or not something already took it; false if none.
  bool report(Event& e);

 private:
  bool read_event(Event& e, int timeout_ms);
  pid_t pid_ = -1;
  int pidfd_ = -1;
  int events_ = -1;
  int control_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::vector<Event> pending_;  // events read while looking for another tag
  std::string errors_;
  Event report_;
  bool has_report_ = false;
};

// Test bookkeeping that outlives the child that writes it: an anonymous MAP_SHARED mapping made
// before fork (not a ring; the rings are always opened by name). T must be zero-initialisable
// and hold only lock-free atomics and plain bytes.
template <class T>
class SharedBook {
 public:
  SharedBook() {
    void* p = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap of the test bookkeeping failed");
    book_ = new (p) T();
  }
  ~SharedBook() {
    book_->~T();
    ::munmap(book_, sizeof(T));
  }
  SharedBook(const SharedBook&) = delete;
  SharedBook& operator=(const SharedBook&) = delete;
  T* operator->() const noexcept { return book_; }
  T& operator*() const noexcept { return *book_; }

 private:
  T* book_ = nullptr;
};

// Polls `condition` (cheap, reads shared state) with sched_yield until it holds or timeout_ms
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

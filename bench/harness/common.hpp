// shmring-bench — what every mechanism and driver shares: the cell description, message framing
// and its verifier, the shared control block, timing, percentiles, pinning and the role runner
// (forked processes, or threads for the in-process peers).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <vector>

namespace bench {

// busy: spin on empty/full (non-blocking calls). block: each mechanism's default blocking call
// (shmring: spin_then_park). park: shmring's park strategy (the peers treat it as block).
enum class Mode { busy, block, park };
const char* to_string(Mode m);
bool parse_mode(const std::string& s, Mode& out);

struct Cell {
  std::string mech;
  uint32_t size = 64;
  Mode mode = Mode::block;
  int producers = 1;
  double seconds = 0.3;  // throughput: each producer sends for this long...
  uint64_t count = 0;    // ...or exactly this many messages (syscall counting)
  uint64_t gap_ns = 0;   // throughput: busy pause after each message (lets the peer park)
  uint64_t round_trips = 200000;
  uint64_t warmup = 20000;
  bool pin = false;
  uint32_t queue_bytes = 256 * 1024;  // buffer depth given to every mechanism (>= 16 messages)
  double timeout_s = 120;
  std::string tag;  // unique prefix for OS object names

  uint32_t depth() const {
    const uint32_t d = queue_bytes / (size == 0 ? 1 : size);
    return d < 16 ? 16 : d;
  }
};

// ---- time, CPU -----------------------------------------------------------------------------

uint64_t now_ns() noexcept;  // CLOCK_MONOTONIC through the vDSO: no system call
void busy_wait_ns(uint64_t ns) noexcept;
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::atomic_signal_fence(std::memory_order_seq_cst);
#endif
}
// The first two CPUs this process may run on (pinning: producer/pinger, consumer/echo).
std::vector<int> usable_cpus();
void pin_self(int cpu);  // -1: no pinning

[[noreturn]] void fatal(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// ---- message framing -----------------------------------------------------------------------
// First 8 bytes: word = [63] end flag | [62:56] producer | [55:0] sequence number (or, on the
// end message, the number of messages that producer sent). Last 8 bytes (size >= 16): ~word.

constexpr uint64_t kEndFlag = uint64_t{1} << 63;
constexpr uint64_t kSeqMask = (uint64_t{1} << 56) - 1;
inline uint64_t make_word(uint32_t producer, uint64_t seq) {
  return (uint64_t{producer} << 56) | (seq & kSeqMask);
}
void stamp(std::byte* buf, uint32_t size, uint64_t word) noexcept;
// Reads the word of a received message; false if its size or trailer is wrong.
bool read_word(const std::byte* p, uint32_t n, uint32_t expected_size, uint64_t& word) noexcept;

// Consumer side of a throughput cell: checks size, trailer, per-producer order and the end
// message's count. done() once every producer's end message arrived.
class Verifier {
 public:
  Verifier(uint32_t size, int producers);
  void operator()(const std::byte* p, uint32_t n) noexcept;
  bool done() const noexcept { return ends_ == producers_; }
  uint64_t messages() const noexcept { return messages_; }
  uint64_t errors() const noexcept { return errors_; }
  const std::string& first_error() const noexcept { return first_error_; }

 private:
  void error(const char* what, uint64_t word) noexcept;
  uint32_t size_;
  int producers_;
  int ends_ = 0;
  uint64_t messages_ = 0, errors_ = 0;
  std::vector<uint64_t> next_;
  std::string first_error_;
};

// ---- the shared control block --------------------------------------------------------------

struct Control {
  alignas(64) std::atomic<uint32_t> ready{0};
  alignas(64) std::atomic<uint32_t> go{0};
  alignas(64) std::atomic<uint64_t> start_ns{0};
  std::atomic<uint64_t> end_ns{0};
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> depth{0};
  // latency: filled by the pinger
  uint64_t p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, min = 0, samples = 0;
  double mean = 0;
  // idle consumer
  uint64_t cpu_ns = 0, wall_ns = 0, voluntary_switches = 0, involuntary_switches = 0;
  std::atomic<uint32_t> error_set{0};
  char error[512] = {};
  void fail(const std::string& message) noexcept;
};
void* map_shared(std::size_t bytes);  // MAP_SHARED | MAP_ANONYMOUS, zero-filled
Control* make_control();              // MAP_SHARED | MAP_ANONYMOUS: visible to forked roles
void wait_go(const Control& ctl) noexcept;

// ---- roles ---------------------------------------------------------------------------------

struct Role {
  int cpu = -1;
  std::function<int()> run;  // exit code: 0 = fine
};
// Runs every role at once: in forked processes (threads == false) or threads. Waits until all
// roles raised ctl.ready, stamps start_ns and raises go; then waits for all of them (at most
// timeout_s; stragglers are killed). Returns false (with ctl.error set) if any role failed.
bool run_roles(std::vector<Role>& roles, bool threads, double timeout_s, Control& ctl);

// ---- statistics ----------------------------------------------------------------------------

void summarize(std::vector<uint64_t>& samples, Control& ctl);  // sorts; fills p50..max, mean

// ---- JSON output ---------------------------------------------------------------------------

class JsonLine {
 public:
  JsonLine& add(const char* key, const std::string& value);
  JsonLine& add(const char* key, const char* value) { return add(key, std::string(value)); }
  JsonLine& add(const char* key, double value);
  JsonLine& add(const char* key, uint64_t value);
  JsonLine& add(const char* key, int value) { return add(key, static_cast<uint64_t>(value)); }
  JsonLine& add(const char* key, uint32_t value) { return add(key, static_cast<uint64_t>(value)); }
  JsonLine& add(const char* key, bool value);
  void print() const;  // one line on stdout

 private:
  std::string body_;
};

}  // namespace bench

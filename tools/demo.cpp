// shmring-demo — streams records between two processes through a named ring and checks them.
//
//   parent:    create ring ─ fork consumer ─ fork producer ─ wait "ready" x2 ─ "go" ─ sleep S
//              ─ run `shmring stat` (live) ─ "stop" ─ collect results ─ unlink ring
//   producer:  open + attach ─ "ready" ─ wait "go" ─ claim/fill/commit until "stop" ─ end record
//   consumer:  open + attach ─ "ready" ─ wait "go" ─ verify every record until the end record
//
// Every signal between processes is a pipe: "ready" is a byte on a shared pipe, "go" and
// "stop" are the parent closing a pipe's write end (EOF wakes every reader), results travel
// back as one fixed-size struct per child (< PIPE_BUF, so one atomic write). The parent only
// sleeps for the demo's duration; nothing relies on timing for correctness.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "cli_common.hpp"
#include "shmring/platform.hpp"
#include "shmring/ring.hpp"

namespace shmring::tools {
namespace {

const char* const kDemoHelp =
    "usage: shmring-demo [--seconds S] [--size BYTES] [--kind spsc|mpsc] [--name NAME]\n"
    "                    [--capacity BYTES] [--rate N] [--no-pin]\n"
    "\n"
    "Creates a ring, forks a producer and a consumer process that stream records\n"
    "through it for S seconds, shows `shmring stat` of the live ring, and reports\n"
    "throughput, verification (every record's sequence number and checksum) and\n"
    "one-way latency. Removes the ring at the end.\n"
    "\n"
    "  --seconds S         how long the producer runs (default 3)\n"
    "  --size BYTES        payload bytes per record, at least 24 (default 64)\n"
    "  --kind spsc|mpsc    ring kind (default spsc; one producer either way)\n"
    "  --name NAME         ring name (default demo-<pid>)\n"
    "  --capacity BYTES    ring capacity, a power of two (default 1M)\n"
    "  --rate N            producer pace in records per second (default 0: flat out;\n"
    "                      flat out, latency includes time queued in a full ring)\n"
    "  --no-pin            let the scheduler place the two processes (by default they\n"
    "                      are pinned to two different CPUs when there are two)\n"
    "\n"
    "exit status: 0 all records verified, 1 verification or run failure, 2 usage error\n";

constexpr uint32_t kDataType = 1;
constexpr uint32_t kEndType = 2;
constexpr std::size_t kMaxLatencySamples = std::size_t{1} << 20;
constexpr int64_t kWaitSliceNs = 100'000'000;  // blocking calls wake to look at the pipes
constexpr int kStartupTimeoutMs = 10'000;      // watchdog: children attach and report ready
constexpr int kFinishTimeoutMs = 20'000;       // watchdog: children drain and report
constexpr uint64_t kStopCheckIntervalNs = 1'000'000;

// The first 24 payload bytes of every data record; the rest is filler derived from sequence.
struct RecordPrefix {
  uint64_t sequence;
  uint64_t send_ns;   // platform::monotonic_ns() just before commit
  uint64_t checksum;  // over sequence, send_ns and the filler
};
static_assert(sizeof(RecordPrefix) == 24);

struct ProducerResult {
  int ok;
  uint64_t sent;
  uint64_t elapsed_ns;
  char error[256];
};

struct ConsumerResult {
  int ok;
  uint64_t received, bytes, lost, corrupt, out_of_order, sent_by_producer;
  uint64_t elapsed_ns;
  uint64_t samples, sample_stride, p50_ns, p99_ns, p999_ns, max_ns;
  char error[256];
};
static_assert(sizeof(ConsumerResult) < PIPE_BUF && sizeof(ProducerResult) < PIPE_BUF);

// Word-at-a-time mix: cheap enough for ~10 M records/s, and any flipped bit changes it.
uint64_t mix(uint64_t h, uint64_t word) {
  h ^= word;
  h *= 0x9E3779B97F4A7C15ull;
  return h ^ (h >> 31);
}

uint64_t record_checksum(const std::byte* payload, std::size_t size) {
  RecordPrefix prefix;
  std::memcpy(&prefix, payload, sizeof prefix);
  uint64_t h = mix(mix(0x53484D52494E4731ull, prefix.sequence), prefix.send_ns);
  std::size_t i = sizeof(RecordPrefix);
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, payload + i, 8);
    h = mix(h, word);
  }
  uint64_t tail = 0;
  std::memcpy(&tail, payload + i, size - i);
  return mix(h, tail ^ size);
}

void fill_record(std::byte* payload, std::size_t size, uint64_t sequence) {
  uint64_t word = sequence * 0xD6E8FEB86659FD93ull;
  std::size_t i = sizeof(RecordPrefix);
  for (; i + 8 <= size; i += 8, ++word) std::memcpy(payload + i, &word, 8);
  std::memcpy(payload + i, &word, size - i);
  RecordPrefix prefix{sequence, platform::monotonic_ns(), 0};
  std::memcpy(payload, &prefix, sizeof prefix);
  prefix.checksum = record_checksum(payload, size);
  std::memcpy(payload + offsetof(RecordPrefix, checksum), &prefix.checksum, 8);
}

template <std::size_t N>
void set_error(char (&buf)[N], const std::string& message) {
  std::snprintf(buf, N, "%s", message.c_str());
}

// ---- pipes -----------------------------------------------------------------------------------

struct Pipe {
  int read_end = -1, write_end = -1;
};

Pipe make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) fail(kExitError, std::string("pipe: ") + std::strerror(errno));
  return Pipe{fds[0], fds[1]};
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

bool write_all(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// Reads exactly `size` bytes before `deadline_ns` (monotonic). false on EOF, error or timeout.
bool read_all(int fd, void* data, std::size_t size, uint64_t deadline_ns) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    const uint64_t now = platform::monotonic_ns();
    if (now >= deadline_ns) return false;
    pollfd pfd{fd, POLLIN, 0};
    const int ms =
        static_cast<int>(std::min<uint64_t>((deadline_ns - now) / 1'000'000 + 1, INT_MAX));
    const int r = ::poll(&pfd, 1, ms);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;  // timeout: the loop re-checks the deadline
    const ssize_t n = ::read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// Blocks until the parent closes the write end ("go").
void wait_for_eof(int fd) {
  char byte;
  for (;;) {
    const ssize_t n = ::read(fd, &byte, 1);
    if (n == 0 || (n < 0 && errno != EINTR)) return;
  }
}

// Non-blocking: has the parent closed the write end ("stop")?
bool eof_reached(int fd) {
  pollfd pfd{fd, POLLIN, 0};
  return ::poll(&pfd, 1, 0) > 0;
}

// ---- producer process ------------------------------------------------------------------------

struct ChildPipes {
  int ready;   // write 1 byte: 'P'/'C' attached, 'p'/'c' failed (producer/consumer)
  int go;      // read: EOF = start
  int stop;    // poll: EOF = stop (producer only)
  int result;  // write the result struct
};

int run_producer(const std::string& name, uint32_t size, uint64_t rate, const ChildPipes& io) {
  ProducerResult result{};
  auto report = [&] { return write_all(io.result, &result, sizeof result) && result.ok ? 0 : 1; };
  auto ring = Ring::open(name);
  Result<Producer> attached = ring ? ring->attach_producer() : Result<Producer>(ring.error());
  const char ready = attached ? 'P' : 'p';
  write_all(io.ready, &ready, 1);
  if (!attached) {
    set_error(result.error, attached.error().message);
    return report();
  }
  Producer& producer = attached.value();
  wait_for_eof(io.go);

  const uint64_t start = platform::monotonic_ns();
  uint64_t last_stop_check = start;
  uint64_t sequence = 0;
  for (;;) {
    const uint64_t now = platform::monotonic_ns();
    if (now - last_stop_check >= kStopCheckIntervalNs) {
      last_stop_check = now;
      if (eof_reached(io.stop)) break;
    }
    if (rate != 0) {
      // Pace: record n goes out at start + n / rate. Spinning keeps the pacing accurate.
      const uint64_t due = start + static_cast<uint64_t>(static_cast<double>(sequence) * 1e9 /
                                                         static_cast<double>(rate));
      if (now < due) {
        platform::cpu_relax();
        continue;
      }
    }
    Claim claim;
    const Status s = producer.claim(kDataType, size, claim, kWaitSliceNs);
    if (s == Status::timeout) continue;  // ring full for a while: look at the stop pipe again
    if (s != Status::ok) {
      set_error(result.error, "ring '" + name + "': claim failed: " + to_string(s));
      result.sent = sequence;
      return report();
    }
    fill_record(claim.data, size, sequence);
    producer.commit(claim);
    ++sequence;
  }
  result.elapsed_ns = platform::monotonic_ns() - start;
  result.sent = sequence;
  // The end record carries the count, so the consumer can tell "lost at the tail" from "done".
  for (int attempt = 0;; ++attempt) {
    const Status s = producer.write(kEndType, &sequence, sizeof sequence, kWaitSliceNs);
    if (s == Status::ok) break;
    if (s != Status::timeout || attempt >= 50) {
      set_error(result.error,
                "ring '" + name + "': could not send the end record: " + to_string(s));
      return report();
    }
  }
  result.ok = 1;
  return report();
}

// ---- consumer process ------------------------------------------------------------------------

// The poll() handler: verifies each record and samples latency. No allocation, no throw.
class Verifier {
 public:
  Verifier(uint32_t size, std::vector<uint64_t>& samples) : size_(size), samples_(samples) {}

  void operator()(const RecordView& r) noexcept {
    if (r.type == kEndType && r.size == sizeof(uint64_t)) {
      std::memcpy(&sent_by_producer_, r.data, sizeof(uint64_t));
      end_seen_ = true;
      return;
    }
    ++received_;
    bytes_ += r.size;
    if (r.type != kDataType || r.size != size_) {
      ++corrupt_;
      return;
    }
    RecordPrefix prefix;
    std::memcpy(&prefix, r.data, sizeof prefix);
    if (record_checksum(r.data, r.size) != prefix.checksum) {
      ++corrupt_;
      return;
    }
    if (prefix.sequence == next_sequence_) {
      ++next_sequence_;
    } else if (prefix.sequence > next_sequence_) {
      lost_ += prefix.sequence - next_sequence_;
      next_sequence_ = prefix.sequence + 1;
    } else {
      ++out_of_order_;
    }
    if (prefix.sequence % stride_ == 0) sample(prefix.sequence, prefix.send_ns);
  }

  bool end_seen() const noexcept { return end_seen_; }

  void finish(ConsumerResult& out) {
    if (end_seen_ && sent_by_producer_ > next_sequence_)
      lost_ += sent_by_producer_ - next_sequence_;
    out.received = received_;
    out.bytes = bytes_;
    // A corrupt record still used up a sequence number: it shows up as a gap, too.
    out.lost = lost_ - std::min(lost_, corrupt_);
    out.corrupt = corrupt_;
    out.out_of_order = out_of_order_;
    out.sent_by_producer = sent_by_producer_;
    out.samples = count_;
    out.sample_stride = stride_;
    if (count_ == 0) return;
    std::sort(samples_.begin(), samples_.begin() + static_cast<std::ptrdiff_t>(count_));
    auto rank = [&](double q) {
      const auto index = static_cast<std::size_t>(std::ceil(q * static_cast<double>(count_)));
      return samples_[std::min(count_ - 1, index == 0 ? 0 : index - 1)];
    };
    out.p50_ns = rank(0.50);
    out.p99_ns = rank(0.99);
    out.p999_ns = rank(0.999);
    out.max_ns = samples_[count_ - 1];
  }

 private:
  // Samples every stride-th sequence number. When the array is full, keep every other sample
  // and double the stride: memory stays fixed and the samples stay spread over the whole run.
  void sample(uint64_t sequence, uint64_t send_ns) noexcept {
    const uint64_t latency_ns = platform::monotonic_ns() - send_ns;
    if (count_ == samples_.size()) {
      for (std::size_t i = 0; 2 * i < count_; ++i) samples_[i] = samples_[2 * i];
      count_ = (count_ + 1) / 2;
      stride_ *= 2;
      if (sequence % stride_ != 0) return;
    }
    samples_[count_++] = latency_ns;
  }

  uint32_t size_;
  std::vector<uint64_t>& samples_;
  std::size_t count_ = 0;
  uint64_t stride_ = 1;
  uint64_t next_sequence_ = 0;
  uint64_t received_ = 0, bytes_ = 0, lost_ = 0, corrupt_ = 0, out_of_order_ = 0;
  uint64_t sent_by_producer_ = 0;
  bool end_seen_ = false;
};

int run_consumer(const std::string& name, uint32_t size, const ChildPipes& io) {
  ConsumerResult result{};
  auto report = [&] { return write_all(io.result, &result, sizeof result) && result.ok ? 0 : 1; };
  std::vector<uint64_t> samples(kMaxLatencySamples);  // allocated (and touched) before "go"
  auto ring = Ring::open(name);
  Result<Consumer> attached = ring ? ring->attach_consumer() : Result<Consumer>(ring.error());
  const char ready = attached ? 'C' : 'c';
  write_all(io.ready, &ready, 1);
  if (!attached) {
    set_error(result.error, attached.error().message);
    return report();
  }
  Consumer& consumer = attached.value();
  wait_for_eof(io.go);

  Verifier verifier(size, samples);
  const uint64_t start = platform::monotonic_ns();
  while (!verifier.end_seen()) {
    const PollResult r = consumer.read(verifier, 1024, kWaitSliceNs);
    if (r.status == Status::corrupt) {
      set_error(result.error, consumer.last_error());
      verifier.finish(result);
      return report();
    }
  }
  result.elapsed_ns = platform::monotonic_ns() - start;
  verifier.finish(result);
  result.ok = 1;
  return report();
}

// ---- parent ----------------------------------------------------------------------------------

volatile std::sig_atomic_t g_interrupted = 0;
void on_interrupt(int) {
  g_interrupted = 1;
}

std::string grouped(uint64_t v) {
  std::string digits = std::to_string(v), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string duration(uint64_t ns) {
  char buf[32];
  const double v = static_cast<double>(ns);
  if (ns < 1'000)
    std::snprintf(buf, sizeof buf, "%" PRIu64 " ns", ns);
  else if (ns < 1'000'000)
    std::snprintf(buf, sizeof buf, "%.1f us", v / 1e3);
  else if (ns < 1'000'000'000)
    std::snprintf(buf, sizeof buf, "%.2f ms", v / 1e6);
  else
    std::snprintf(buf, sizeof buf, "%.2f s", v / 1e9);
  return buf;
}

std::string exit_description(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
  return "stopped";
}

// The 1-minute load average from /proc/loadavg, or "?".
std::string load_average() {
  std::string value = "?";
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    char buf[32];
    if (std::fscanf(f, "%31s", buf) == 1) value = buf;
    std::fclose(f);
  }
  return value;
}

// Sleeps up to `ns`; returns early on SIGINT/SIGTERM.
void sleep_interruptible(uint64_t ns) {
  const uint64_t until = platform::monotonic_ns() + ns;
  while (!g_interrupted) {
    const uint64_t now = platform::monotonic_ns();
    if (now >= until) return;
    timespec ts{static_cast<time_t>((until - now) / 1'000'000'000u),
                static_cast<long>((until - now) % 1'000'000'000u)};
    ::nanosleep(&ts, nullptr);  // EINTR: the loop re-checks the flag
  }
}

std::string sibling_cli_path() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "shmring";
  std::string path(buf, static_cast<std::size_t>(n));
  const std::size_t slash = path.rfind('/');
  return (slash == std::string::npos ? std::string(".") : path.substr(0, slash)) + "/shmring";
}

// Runs `shmring stat NAME` with our stdout; waits for it.
void show_live_stat(const std::string& name) {
  const std::string cli = sibling_cli_path();
  if (::access(cli.c_str(), X_OK) != 0) {
    std::printf("  (no `shmring` binary next to the demo at %s; skipping the live stat)\n",
                cli.c_str());
    return;
  }
  std::fflush(stdout);
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::printf("  (fork for `shmring stat` failed: %s)\n", std::strerror(errno));
    return;
  }
  if (pid == 0) {
    const char* argv[] = {cli.c_str(), "stat", name.c_str(), nullptr};
    ::execv(cli.c_str(), const_cast<char* const*>(argv));
    std::fprintf(stderr, "shmring-demo: exec %s: %s\n", cli.c_str(), std::strerror(errno));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

struct Child {
  const char* role;
  pid_t pid = -1;
  int status = 0;
  int cpu = -1;  // pinned CPU, or -1
};

// Two distinct CPUs this process may run on, or nothing. Pinning matters on small machines:
// when a wake-up puts both children on one CPU the scheduler may leave them there, and a
// spinning peer then holds the CPU for whole time slices (milliseconds of "latency").
std::vector<int> two_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE && cpus.size() < 2; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  if (cpus.size() < 2) cpus.clear();
  return cpus;
}

void pin_to(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (::sched_setaffinity(0, sizeof set, &set) != 0)
    std::fprintf(stderr, "shmring-demo: could not pin to CPU %d: %s\n", cpu, std::strerror(errno));
}

void reap(Child& child, bool kill_first) {
  if (child.pid <= 0) return;
  if (kill_first) ::kill(child.pid, SIGKILL);
  while (::waitpid(child.pid, &child.status, 0) < 0 && errno == EINTR) {
  }
  child.pid = -1;
}

// Removes the ring name and kills children still running, on every way out of run_demo().
struct Cleanup {
  std::string ring_name;
  std::vector<Child*> children;
  ~Cleanup() {
    for (Child* c : children) reap(*c, true);
    (void)Ring::unlink(ring_name);
  }
};

int run_demo(const std::vector<std::string>& argv) {
  const Args args(argv, {{"--seconds", true},
                         {"--size", true},
                         {"--kind", true},
                         {"--name", true},
                         {"--capacity", true},
                         {"--rate", true},
                         {"--no-pin", false}});
  if (args.help()) return print_help(kDemoHelp);
  if (!args.positionals().empty())
    usage_error("unexpected argument '" + args.positionals()[0] + "'");
  double seconds = 3.0;
  if (auto s = args.value("--seconds")) {
    char* end = nullptr;
    seconds = std::strtod(s->c_str(), &end);
    if (s->empty() || *end != '\0' || !(seconds > 0.0) || seconds > 3600.0)
      usage_error("bad value '" + *s + "' for --seconds: expected a number in (0, 3600]");
  }
  CreateOptions options;
  if (auto k = args.value("--kind")) options.kind = parse_kind(*k, "--kind");
  if (auto c = args.value("--capacity"))
    options.capacity = static_cast<uint32_t>(parse_size(*c, "--capacity", UINT32_MAX));
  const uint32_t size = static_cast<uint32_t>(
      args.value("--size") ? parse_size(*args.value("--size"), "--size", UINT32_MAX) : 64);
  if (size < sizeof(RecordPrefix))
    usage_error("--size must be at least " + std::to_string(sizeof(RecordPrefix)) +
                " bytes (sequence, timestamp, checksum)");
  const uint64_t rate =
      args.value("--rate") ? parse_uint(*args.value("--rate"), "--rate", 1'000'000'000) : 0;
  const std::string name =
      args.value("--name") ? *args.value("--name") : "demo-" + std::to_string(::getpid());

  Child consumer{"consumer"}, producer{"producer"};  // outlive `cleanup`, which reaps them
  Ring ring = must(Ring::create(name, options));
  Cleanup cleanup{name, {&consumer, &producer}};
  if (size > ring.max_payload())
    usage_error("--size " + std::to_string(size) + " is above the ring's max payload of " +
                std::to_string(ring.max_payload()) + " bytes (raise --capacity)");

  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  Pipe ready = make_pipe(), go = make_pipe(), stop = make_pipe();
  Pipe producer_out = make_pipe(), consumer_out = make_pipe();
  if (!args.has("--no-pin")) {
    const std::vector<int> cpus = two_cpus();
    if (!cpus.empty()) {
      consumer.cpu = cpus[0];
      producer.cpu = cpus[1];
    }
  }

  std::printf("shmring-demo: %s ring '%s' (%s), %s payloads, %g s%s\n", kind_name(options.kind),
              name.c_str(), human_bytes(ring.capacity()).c_str(),
              (std::to_string(size) + "-byte").c_str(), seconds,
              rate ? (", " + grouped(rate) + " records/s").c_str() : ", producer flat out");
  std::printf("  machine: %ld CPUs online, load average %s (other work makes the numbers noisy)\n",
              ::sysconf(_SC_NPROCESSORS_ONLN), load_average().c_str());
  std::fflush(stdout);

  // Each child keeps only its own ends; the "go"/"stop" write ends must live in the parent
  // alone, or closing them would not produce EOF.
  auto spawn = [&](Child& child, auto&& body) {
    const pid_t pid = ::fork();
    if (pid < 0) fail(kExitError, std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      pin_to(child.cpu);
      ::signal(SIGINT, SIG_DFL);
      ::signal(SIGTERM, SIG_DFL);
      for (int fd : {ready.read_end, go.write_end, stop.write_end, producer_out.read_end,
                     consumer_out.read_end})
        ::close(fd);
      // Never unwind into the parent's frames (their destructors would clean up for it).
      int code = kExitError;
      try {
        code = body();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "shmring-demo: %s: %s\n", child.role, e.what());
      } catch (...) {
      }
      ::_exit(code);
    }
    child.pid = pid;
  };
  spawn(consumer, [&] {
    ::close(stop.read_end);
    ::close(producer_out.write_end);
    return run_consumer(name, size,
                        ChildPipes{ready.write_end, go.read_end, -1, consumer_out.write_end});
  });
  spawn(producer, [&] {
    ::close(consumer_out.write_end);
    return run_producer(
        name, size, rate,
        ChildPipes{ready.write_end, go.read_end, stop.read_end, producer_out.write_end});
  });
  close_fd(ready.write_end);
  close_fd(go.read_end);
  close_fd(stop.read_end);
  close_fd(producer_out.write_end);
  close_fd(consumer_out.write_end);

  // Start barrier: both attached, then "go".
  char flags[2] = {0, 0};
  const bool both_ready = read_all(ready.read_end, flags, 2,
                                   platform::monotonic_ns() + kStartupTimeoutMs * 1'000'000ull);
  const auto failed = [&](char flag) { return flags[0] == flag || flags[1] == flag; };
  if (!both_ready || failed('c') || failed('p')) {
    // A failed child wrote its result right after its flag; a healthy one is killed unheard.
    const uint64_t deadline = platform::monotonic_ns() + 2'000'000'000ull;
    ConsumerResult c{};
    ProducerResult p{};
    if (failed('c') && read_all(consumer_out.read_end, &c, sizeof c, deadline))
      std::fprintf(stderr, "shmring-demo: consumer: %s\n", c.error);
    if (failed('p') && read_all(producer_out.read_end, &p, sizeof p, deadline))
      std::fprintf(stderr, "shmring-demo: producer: %s\n", p.error);
    fail(kExitError, both_ready ? "could not start the producer and the consumer"
                                : "the producer and the consumer did not attach within 10 s");
  }
  auto where = [](const Child& c) {
    return c.cpu < 0 ? std::string() : " on CPU " + std::to_string(c.cpu);
  };
  std::printf("  producer pid %d%s  ->  consumer pid %d%s, wait strategy spin_then_park\n",
              static_cast<int>(producer.pid), where(producer).c_str(),
              static_cast<int>(consumer.pid), where(consumer).c_str());
  std::fflush(stdout);
  close_fd(go.write_end);

  sleep_interruptible(static_cast<uint64_t>(seconds * 1e9));
  if (!g_interrupted) {
    std::printf("\n-- live `shmring stat %s`, just before the producer stops --\n", name.c_str());
    show_live_stat(name);
    std::printf("--\n\n");
    std::fflush(stdout);
  }
  close_fd(stop.write_end);

  ConsumerResult c{};
  ProducerResult p{};
  const uint64_t deadline = platform::monotonic_ns() + kFinishTimeoutMs * 1'000'000ull;
  const bool have_p = read_all(producer_out.read_end, &p, sizeof p, deadline);
  // Without the producer's end record the consumer cannot finish: do not wait long for it.
  const bool have_c = read_all(consumer_out.read_end, &c, sizeof c,
                               have_p && p.ok ? deadline : platform::monotonic_ns() + 500'000'000);
  reap(producer, !have_p);
  reap(consumer, !have_c);
  if (g_interrupted) fail(130, "interrupted; ring '" + name + "' removed");
  for (const auto& [child, have] :
       {std::pair<Child*, bool>{&producer, have_p}, {&consumer, have_c}}) {
    if (!have)
      fail(kExitError,
           std::string(child->role) + " gave no result (" + exit_description(child->status) + ")");
  }
  if (!p.ok) std::fprintf(stderr, "shmring-demo: producer: %s\n", p.error);
  if (!c.ok) std::fprintf(stderr, "shmring-demo: consumer: %s\n", c.error);

  const Stats stats = ring.stats();
  const double secs = static_cast<double>(c.elapsed_ns) / 1e9;
  const bool verified = p.ok && c.ok && c.lost == 0 && c.corrupt == 0 && c.out_of_order == 0 &&
                        c.received == p.sent && c.sent_by_producer == p.sent;
  std::printf("results\n");
  std::printf("  sent           %s records in %.3f s (producer)\n", grouped(p.sent).c_str(),
              static_cast<double>(p.elapsed_ns) / 1e9);
  std::printf("  received       %s records in %.3f s (consumer, incl. draining)\n",
              grouped(c.received).c_str(), secs);
  if (secs > 0) {
    std::printf("  throughput     %.2f M records/s, %.1f MB/s of payload\n",
                static_cast<double>(c.received) / secs / 1e6,
                static_cast<double>(c.bytes) / secs / 1e6);
  }
  std::printf("  verification   %s records checked: %s lost, %s corrupt, %s out of order: %s\n",
              grouped(c.received).c_str(), grouped(c.lost).c_str(), grouped(c.corrupt).c_str(),
              grouped(c.out_of_order).c_str(), verified ? "OK" : "FAILED");
  if (c.samples > 0) {
    std::printf("  latency        p50 %s, p99 %s, p99.9 %s, max %s\n", duration(c.p50_ns).c_str(),
                duration(c.p99_ns).c_str(), duration(c.p999_ns).c_str(),
                duration(c.max_ns).c_str());
    std::printf("                 one-way, commit to receipt; %s samples, 1 in %s records\n",
                grouped(c.samples).c_str(), grouped(c.sample_stride).c_str());
    if (rate == 0)
      std::printf(
          "                 (flat out, so this includes time queued in a full ring;\n"
          "                 try --rate 100000 for latency without queueing)\n");
  }
  std::printf(
      "  waiting        producer found the ring full %s times and slept %s times;\n"
      "                 consumer slept %s times\n",
      grouped(stats.full_count).c_str(), grouped(stats.producer_sleeps).c_str(),
      grouped(stats.consumer_sleeps).c_str());
  std::printf("ring '%s' removed\n", name.c_str());
  std::fflush(stdout);
  return verified ? kExitOk : kExitError;
}

}  // namespace
}  // namespace shmring::tools

int main(int argc, char** argv) {
  using namespace shmring::tools;
  try {
    return run_demo(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const Failure& f) {
    std::fflush(stdout);
    std::fprintf(stderr, "shmring-demo: %s\n", f.what());
    if (f.exit_code() == kExitUsage)
      std::fprintf(stderr, "Try 'shmring-demo --help' for more information.\n");
    return f.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmring-demo: unexpected error: %s\n", e.what());
    return kExitError;
  }
}

#include "common.hpp"

#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace bench {

const char* to_string(Mode m) {
  switch (m) {
    case Mode::busy:
      return "busy";
    case Mode::block:
      return "block";
    case Mode::park:
      return "park";
  }
  return "?";
}

bool parse_mode(const std::string& s, Mode& out) {
  if (s == "busy") {
    out = Mode::busy;
  } else if (s == "block") {
    out = Mode::block;
  } else if (s == "park") {
    out = Mode::park;
  } else {
    return false;
  }
  return true;
}

uint64_t now_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

void busy_wait_ns(uint64_t ns) noexcept {
  const uint64_t until = now_ns() + ns;
  while (now_ns() < until) cpu_relax();
}

std::vector<int> usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int i = 0; i < CPU_SETSIZE && cpus.size() < 2; ++i)
    if (CPU_ISSET(i, &set)) cpus.push_back(i);
  return cpus;
}

void pin_self(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  // pid 0 = the calling thread, which is what we want for thread roles too.
  if (sched_setaffinity(0, sizeof set, &set) != 0) fatal("pinning to CPU %d failed", cpu);
}

void fatal(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "shmring-bench: ");
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, "\n");
  va_end(ap);
  std::fflush(stderr);
  _exit(3);
}

// ---- framing -------------------------------------------------------------------------------

void stamp(std::byte* buf, uint32_t size, uint64_t word) noexcept {
  if (size >= 8) std::memcpy(buf, &word, 8);
  if (size >= 16) {
    const uint64_t trailer = ~word;
    std::memcpy(buf + size - 8, &trailer, 8);
  }
}

bool read_word(const std::byte* p, uint32_t n, uint32_t expected_size, uint64_t& word) noexcept {
  if (n != expected_size || n < 8) return false;
  std::memcpy(&word, p, 8);
  if (n >= 16) {
    uint64_t trailer;
    std::memcpy(&trailer, p + n - 8, 8);
    if (trailer != ~word) return false;
  }
  return true;
}

Verifier::Verifier(uint32_t size, int producers)
    : size_(size), producers_(producers), next_(static_cast<std::size_t>(producers), 0) {}

void Verifier::error(const char* what, uint64_t word) noexcept {
  if (errors_++ == 0) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s (word %016" PRIx64 ", after %" PRIu64 " messages)", what,
                  word, messages_);
    first_error_ = buf;
  }
}

void Verifier::operator()(const std::byte* p, uint32_t n) noexcept {
  uint64_t word = 0;
  if (!read_word(p, n, size_, word)) return error("bad size or trailer", word);
  const uint32_t producer = static_cast<uint32_t>((word >> 56) & 0x7f);
  if (producer >= next_.size()) return error("unknown producer", word);
  const uint64_t seq = word & kSeqMask;
  if ((word & kEndFlag) != 0) {
    if (seq != next_[producer]) return error("end message count differs from messages seen", word);
    ++ends_;
    return;
  }
  if (seq != next_[producer]) return error("out of order or lost", word);
  ++next_[producer];
  ++messages_;
}

// ---- control -------------------------------------------------------------------------------

void Control::fail(const std::string& message) noexcept {
  uint32_t expected = 0;
  if (error_set.compare_exchange_strong(expected, 1)) {
    std::snprintf(error, sizeof error, "%s", message.c_str());
  }
}

void* map_shared(std::size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fatal("mmap of %zu shared bytes failed: %s", bytes, std::strerror(errno));
  return p;
}

Control* make_control() {
  return new (map_shared(sizeof(Control))) Control();
}

void wait_go(const Control& ctl) noexcept {
  for (uint32_t i = 0; ctl.go.load(std::memory_order_acquire) == 0; ++i) {
    cpu_relax();
    if ((i & 1023) == 1023) sched_yield();  // roles may outnumber CPUs (mpsc, 2 producers)
  }
}

// ---- roles ---------------------------------------------------------------------------------

namespace {

void wait_ready(Control& ctl, uint32_t n, uint64_t deadline) {
  while (ctl.ready.load(std::memory_order_acquire) < n && now_ns() < deadline) usleep(200);
}

constexpr int kMaxChildren = 16;
pid_t g_children[kMaxChildren];
int g_child_count = 0;
volatile sig_atomic_t g_timed_out = 0;

void kill_children() {
  for (int i = 0; i < g_child_count; ++i)
    if (g_children[i] > 0) kill(g_children[i], SIGKILL);
}

void on_alarm(int) {
  g_timed_out = 1;
  kill_children();  // async-signal-safe: kill() on a fixed array
}

void start(Control& ctl) {
  ctl.start_ns.store(now_ns(), std::memory_order_relaxed);
  ctl.go.store(1, std::memory_order_release);
}

}  // namespace

bool run_roles(std::vector<Role>& roles, bool threads, double timeout_s, Control& ctl) {
  const uint64_t deadline = now_ns() + static_cast<uint64_t>(timeout_s * 1e9);
  const auto n = static_cast<uint32_t>(roles.size());
  if (threads) {
    std::vector<int> codes(roles.size(), 0);
    std::vector<std::thread> pool;
    for (std::size_t i = 0; i < roles.size(); ++i) {
      pool.emplace_back([&, i] {
        pin_self(roles[i].cpu);
        codes[i] = roles[i].run();
      });
    }
    wait_ready(ctl, n, deadline);
    if (ctl.ready.load() < n) fatal("roles did not become ready within %.0f s", timeout_s);
    start(ctl);
    // A watchdog: threads cannot be killed one by one, so a hung cell ends the process.
    std::atomic<bool> finished{false};
    std::thread watchdog([&] {
      while (!finished.load() && now_ns() < deadline) usleep(10000);
      if (!finished.load()) fatal("cell timed out after %.0f s", timeout_s);
    });
    for (auto& t : pool) t.join();
    finished.store(true);
    watchdog.join();
    for (std::size_t i = 0; i < codes.size(); ++i)
      if (codes[i] != 0) {
        ctl.fail("role " + std::to_string(i) + " failed with code " + std::to_string(codes[i]));
        return false;
      }
    return ctl.error_set.load() == 0;
  }

  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t parent = getpid();
  g_child_count = 0;
  g_timed_out = 0;
  for (auto& role : roles) {
    const pid_t pid = fork();
    if (pid < 0) fatal("fork failed: %s", std::strerror(errno));
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the harness
      if (getppid() != parent) _exit(4);
      pin_self(role.cpu);
      const int code = role.run();
      std::fflush(stdout);
      std::fflush(stderr);
      // exit(), not _exit(): static destructors deregister from services such as iox-roudi.
      std::exit(code);
    }
    if (g_child_count < kMaxChildren) g_children[g_child_count++] = pid;
  }
  // The parent makes no system call per message: it blocks in waitpid() once the roles run, and
  // a SIGALRM kills them at the timeout (the syscall counts of a cell are then its own).
  struct sigaction sa {};
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, nullptr);
  alarm(static_cast<unsigned>(std::ceil(timeout_s)));
  bool ok = true;
  std::size_t alive = roles.size();
  auto reap = [&](pid_t done, int status) {
    for (int i = 0; i < g_child_count; ++i) {
      if (g_children[i] != done) continue;
      g_children[i] = -1;
      --alive;
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
      ok = false;
      const std::string why = WIFSIGNALED(status)
                                  ? "killed by signal " + std::to_string(WTERMSIG(status))
                                  : "exited with code " + std::to_string(WEXITSTATUS(status));
      ctl.fail("role " + std::to_string(i) + " " + why);
      kill_children();  // its peers would wait for it forever
    }
  };
  while (alive > 0 && ctl.ready.load(std::memory_order_acquire) < roles.size()) {
    int status = 0;
    const pid_t done = waitpid(-1, &status, WNOHANG);
    if (done > 0) {
      reap(done, status);
    } else {
      usleep(100);
    }
  }
  if (alive > 0 && ok) start(ctl);
  while (alive > 0) {
    int status = 0;
    const pid_t done = waitpid(-1, &status, 0);
    if (done > 0) {
      reap(done, status);
    } else if (errno != EINTR) {
      break;
    }
  }
  alarm(0);
  if (g_timed_out != 0) {
    ctl.fail("cell timed out after " + std::to_string(static_cast<int>(timeout_s)) + " s");
    ok = false;
  }
  return ok && ctl.error_set.load() == 0;
}

// ---- statistics ----------------------------------------------------------------------------

void summarize(std::vector<uint64_t>& samples, Control& ctl) {
  if (samples.empty()) return;
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) {
    const auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples.size()))) - 1;
    return samples[std::min(i, samples.size() - 1)];
  };
  ctl.p50 = at(0.50);
  ctl.p90 = at(0.90);
  ctl.p99 = at(0.99);
  ctl.p999 = at(0.999);
  ctl.max = samples.back();
  ctl.min = samples.front();
  ctl.samples = samples.size();
  double sum = 0;
  for (uint64_t s : samples) sum += static_cast<double>(s);
  ctl.mean = sum / static_cast<double>(samples.size());
}

// ---- JSON ----------------------------------------------------------------------------------

namespace {
std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", ch);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}
}  // namespace

JsonLine& JsonLine::add(const char* key, const std::string& value) {
  body_ += (body_.empty() ? "" : ", ") + quote(key) + ": " + quote(value);
  return *this;
}
JsonLine& JsonLine::add(const char* key, double value) {
  char buf[64];
  if (std::isfinite(value)) {
    std::snprintf(buf, sizeof buf, "%.6g", value);
  } else {
    std::snprintf(buf, sizeof buf, "null");
  }
  body_ += (body_.empty() ? "" : ", ") + quote(key) + ": " + buf;
  return *this;
}
JsonLine& JsonLine::add(const char* key, uint64_t value) {
  body_ += (body_.empty() ? "" : ", ") + quote(key) + ": " + std::to_string(value);
  return *this;
}
JsonLine& JsonLine::add(const char* key, bool value) {
  body_ += (body_.empty() ? "" : ", ") + quote(key) + ": " + (value ? "true" : "false");
  return *this;
}
void JsonLine::print() const {
  std::printf("{%s}\n", body_.c_str());
  std::fflush(stdout);
}

}  // namespace bench

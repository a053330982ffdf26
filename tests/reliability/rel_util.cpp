#include "rel_util.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>

#include "shmring/platform.hpp"

namespace shmring::reltest {

uint32_t scaled(uint32_t n, uint32_t minimum) {
  static const double scale = [] {
    const char* env = std::getenv("SHMRING_RELIABILITY_SCALE");
    const double v = env != nullptr ? std::atof(env) : 1.0;
    return v > 0 ? v : 1.0;
  }();
  const double v = std::ceil(n * scale);
  return std::max<uint32_t>(minimum, static_cast<uint32_t>(v));
}

void busy_wait_us(uint64_t us) noexcept {
  const uint64_t until = proctest::now_ns() + us * 1000;
  while (proctest::now_ns() < until) platform::cpu_relax();
}

void spin_forever() noexcept {
  for (;;) platform::cpu_relax();
}

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::spsc:
      return "spsc";
    case Kind::mpsc:
      return "mpsc";
    case Kind::broadcast:
      return "broadcast";
  }
  return "?";
}

ReaderDrain::ReaderDrain(Reader& reader, proctest::Verifier& verifier, uint32_t max_payload,
                         uint64_t seed)
    : reader_(reader), verifier_(verifier), rng_(seed), buffer_(max_payload + 1) {}

Status ReaderDrain::step(int64_t step_timeout_ns) {
  const Status w = reader_.wait_readable(step_timeout_ns);
  if (w != Status::ok) return w;
  if (rng_.percent(25)) {
    uint32_t size = 0, type = 0;
    const Status s =
        reader_.try_read(buffer_.data(), static_cast<uint32_t>(buffer_.size()), size, type);
    if (s == Status::ok) (void)verifier_.check(type, buffer_.data(), size);
    return s;
  }
  const PollResult r =
      reader_.poll([this](const RecordView& v) { (void)verifier_.check(v.type, v.data, v.size); },
                   1 + rng_.below(256));
  return r.status;
}

void drain_loop(const std::function<Status()>& step, int64_t step_timeout_ns,
                proctest::Verifier& verifier, const std::vector<Child*>& producers, uint64_t seed,
                const std::function<bool()>& between, const std::function<std::string()>& why,
                int64_t no_progress_ns) {
  INFO("seed " << seed);
  uint64_t last_received = verifier.received();
  uint64_t last_progress = proctest::now_ns();
  bool busy = between ? between() : false;
  while (busy || !verifier.complete()) {
    const Stopwatch watch;
    const Status s = step();
    const uint64_t took = watch.elapsed_ns();
    if (took > static_cast<uint64_t>(step_timeout_ns) + kTimeoutSlackNs)
      FAIL("a read with a " << step_timeout_ns / 1000 << " us timeout took " << took / 1000
                            << " us");
    if (!verifier.ok()) FAIL(verifier.error() << "\n" << verifier.summary());
    if (s == Status::corrupt)
      FAIL("reader reports corrupt: " << why() << "\n" << verifier.summary());
    const uint64_t now = proctest::now_ns();
    if (verifier.received() != last_received) {
      last_received = verifier.received();
      last_progress = now;
    } else if (now - last_progress > static_cast<uint64_t>(no_progress_ns)) {
      FAIL("no record for " << no_progress_ns / 1'000'000 << " ms\n" << verifier.summary());
    }
    for (Child* p : producers)
      if (p->exited() && !p->succeeded())
        FAIL("producer child " << p->describe() << ": " << p->errors() << "\n"
                               << verifier.summary());
    busy = between ? between() : false;
  }
}

std::string object_path(const std::string& ring) {
  return "/dev/shm/shmring." + ring;
}

long long object_size(const std::string& ring) {
  struct stat st {};
  if (::stat(object_path(ring).c_str(), &st) != 0) return -1;
  return static_cast<long long>(st.st_size);
}

bool truncate_object(const std::string& ring, long long size) {
  return ::truncate(object_path(ring).c_str(), static_cast<off_t>(size)) == 0;
}

Result<Ring> open_with_guard_page(const std::string& ring) {
  const long long size = object_size(ring);
  if (size < 0 || !truncate_object(ring, size + 4096))
    return make_error(ErrorCode::os_error, "cannot grow " + object_path(ring));
  auto r = Ring::open(ring);
  if (!truncate_object(ring, size))
    return make_error(ErrorCode::os_error, "cannot shrink " + object_path(ring));
  return r;
}

std::string setpriv_path() {
  for (const char* p : {"/usr/bin/setpriv", "/bin/setpriv", "/usr/sbin/setpriv"})
    if (::access(p, X_OK) == 0) return p;
  return "";
}

}  // namespace shmring::reltest

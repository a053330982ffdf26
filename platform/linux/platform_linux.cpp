// shmring — Linux implementation of the platform contract (platform/README.md).
//  * regions: POSIX shared memory via Boost.Interprocess (shared_memory_object + mapped_region);
//    ring "NAME" is the object "/shmring.NAME", visible as /dev/shm/shmring.NAME.
//  * waiting: futex(FUTEX_WAIT / FUTEX_WAKE) without FUTEX_PRIVATE_FLAG, so it works across
//    processes that map the same object at different addresses.
//  * liveness: kill(pid, 0).
//  * fences: membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED).
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

#include "shmring/platform.hpp"

namespace bip = boost::interprocess;

namespace shmring::platform {

struct Region::Impl {
  bip::mapped_region mapping;
};

struct RegionAccess {
  static Region make(bip::mapped_region&& mapping, bool writable) {
    Region r;
    r.impl_ = std::make_unique<Region::Impl>();
    r.impl_->mapping.swap(mapping);
    r.data_ = static_cast<std::byte*>(r.impl_->mapping.get_address());
    r.size_ = r.impl_->mapping.get_size();
    r.writable_ = writable;
    return r;
  }
};

Region::Region() noexcept = default;
Region::Region(Region&&) noexcept = default;
Region& Region::operator=(Region&&) noexcept = default;
Region::~Region() = default;

namespace {

std::string boost_name(std::string_view ring_name) {
  return "shmring." + std::string(ring_name);
}

ErrorCode classify(int err) {
  switch (err) {
    case EEXIST:
      return ErrorCode::already_exists;
    case ENOENT:
      return ErrorCode::not_found;
    case EACCES:
    case EPERM:
      return ErrorCode::permission_denied;
    case ENAMETOOLONG:
    case EINVAL:
      return ErrorCode::invalid_name;
    default:
      return ErrorCode::os_error;
  }
}

Error os_failure(std::string_view ring_name, const char* what, int err) {
  std::string msg = "ring '" + std::string(ring_name) + "': " + what + " " +
                    object_name(ring_name) + " failed: " + std::strerror(err);
  return make_error(classify(err), std::move(msg), err);
}

}  // namespace

std::string object_name(std::string_view ring_name) {
  return "/dev/shm/" + boost_name(ring_name);
}

Result<Region> create_region(std::string_view ring_name, std::size_t size,
                             const RegionOptions& options) {
  if (!options.sddl.empty())
    return make_error(ErrorCode::invalid_argument,
                      "ring '" + std::string(ring_name) +
                          "': a security descriptor (SDDL) is Windows-only; use a mode");
  const uint32_t mode = options.mode;
  const std::string name = boost_name(ring_name);
  try {
    // create_only -> shm_open(O_CREAT | O_EXCL); Boost then fchmods to `mode` so the umask
    // cannot widen or narrow what the caller asked for.
    bip::permissions perms(static_cast<int>(mode & 0777));
    bip::shared_memory_object shm(bip::create_only, name.c_str(), bip::read_write, perms);
    try {
      shm.truncate(static_cast<bip::offset_t>(size));  // ftruncate: zero-filled pages
      bip::mapped_region mapping(shm, bip::read_write);
      return RegionAccess::make(std::move(mapping), true);
    } catch (const bip::interprocess_exception& e) {
      bip::shared_memory_object::remove(name.c_str());
      return os_failure(ring_name, "sizing/mapping", e.get_native_error());
    }
  } catch (const bip::interprocess_exception& e) {
    return os_failure(ring_name, "creating", e.get_native_error());
  }
}

Result<Region> open_region(std::string_view ring_name, bool writable, const RegionOptions&) {
  const std::string name = boost_name(ring_name);
  try {
    bip::shared_memory_object shm(bip::open_only, name.c_str(),
                                  writable ? bip::read_write : bip::read_only);
    bip::offset_t size = 0;
    if (!shm.get_size(size)) return os_failure(ring_name, "fstat of", errno);
    if (size == 0) return RegionAccess::make(bip::mapped_region(), writable);  // not sized yet
    bip::mapped_region mapping(shm, writable ? bip::read_write : bip::read_only);
    return RegionAccess::make(std::move(mapping), writable);
  } catch (const bip::interprocess_exception& e) {
    return os_failure(ring_name, "opening", e.get_native_error());
  }
}

Result<void> unlink_region(std::string_view ring_name, const RegionOptions&) {
  const std::string name = boost_name(ring_name);
  if (::shm_unlink(("/" + name).c_str()) != 0) return os_failure(ring_name, "removing", errno);
  return {};
}

// ---- Notifier: futex on the word itself ----------------------------------------------------

struct Notifier::Impl {};

Notifier::Notifier() noexcept = default;
Notifier::Notifier(Notifier&& o) noexcept : word_(o.word_), impl_(std::move(o.impl_)) {}
Notifier& Notifier::operator=(Notifier&& o) noexcept {
  word_ = o.word_;
  impl_ = std::move(o.impl_);
  return *this;
}
Notifier::~Notifier() = default;

Result<Notifier> Notifier::open(std::string_view, std::string_view, std::atomic<uint32_t>* word,
                                const RegionOptions&, bool) {
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  Notifier n;
  n.word_ = word;
  return n;
}

WaitOutcome Notifier::wait(uint32_t expected, int64_t timeout_ns) noexcept {
  struct timespec ts {};
  struct timespec* tsp = nullptr;
  if (timeout_ns >= 0) {
    ts.tv_sec = static_cast<time_t>(timeout_ns / 1000000000);
    ts.tv_nsec = static_cast<long>(timeout_ns % 1000000000);
    tsp = &ts;
  }
  // Shared (not FUTEX_PRIVATE): the kernel keys the wait on the page, not the address.
  const long rc = ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word_), FUTEX_WAIT, expected,
                            tsp, nullptr, 0);
  if (rc == 0) return WaitOutcome::woken;
  switch (errno) {
    case EAGAIN:
      return WaitOutcome::value_changed;
    case ETIMEDOUT:
      return WaitOutcome::timed_out;
    default:
      return WaitOutcome::interrupted;
  }
}

void Notifier::wake_all() noexcept {
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word_), FUTEX_WAKE, INT_MAX, nullptr, nullptr,
            0);
}

// ---- processes, time, fences ---------------------------------------------------------------

uint32_t current_pid() noexcept {
  return static_cast<uint32_t>(::getpid());
}

bool process_alive(uint32_t pid) noexcept {
  if (pid == 0 || pid > static_cast<uint32_t>(INT_MAX)) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return false;  // EPERM: exists
  // A zombie (exited, not yet reaped) still answers kill(); it will never act again, so it is
  // dead for us. /proc/<pid>/stat is "pid (comm) S ...": the state follows the last ')'.
  char path[32];
  std::snprintf(path, sizeof path, "/proc/%u/stat", pid);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno != ENOENT;  // no /proc, or raced with the reaper
  char buf[512];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return true;
  buf[n] = '\0';
  const char* paren = std::strrchr(buf, ')');
  if (paren == nullptr || paren[1] != ' ') return true;
  const char state = paren[2];
  return state != 'Z' && state != 'X';
}

uint64_t monotonic_ns() noexcept {
  struct timespec ts {};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t wall_clock_ns() noexcept {
  struct timespec ts {};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

void yield_thread() noexcept {
  ::sched_yield();
}

void sleep_ns(int64_t ns) noexcept {
  struct timespec ts {};
  ts.tv_sec = static_cast<time_t>(ns / 1000000000);
  ts.tv_nsec = static_cast<long>(ns % 1000000000);
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

bool enable_light_fences() noexcept {
  // Registration makes every thread of this process a target of other processes'
  // MEMBARRIER_CMD_GLOBAL_EXPEDITED. Idempotent; cheap; done once per attach.
  return ::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0;
}

bool heavy_fence() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // Runs a full barrier on every running thread of every registered process before returning.
  // Together with our own fence this orders their earlier stores before our later loads.
  return ::syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) == 0;
}

}  // namespace shmring::platform

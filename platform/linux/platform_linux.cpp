// shmring — Linux implementation of the platform contract (platform/README.md).
//  * regions: POSIX shared memory via Boost.Interprocess (shared_memory_object + mapped_region);
//    ring "NAME" is the object "/shmring.NAME", visible as /dev/shm/shmring.NAME. Every mapped
//    region is listed in a lock-free table that a SIGBUS handler consults (below).
//  * waiting: futex(FUTEX_WAIT / FUTEX_WAKE) without FUTEX_PRIVATE_FLAG, so it works across
//    processes that map the same object at different addresses.
//  * liveness: kill(pid, 0).
//  * fences: membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED).
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "shmring/platform.hpp"

namespace bip = boost::interprocess;

namespace shmring::platform {

// ---- truncation guard ------------------------------------------------------------------------
//
// Any process with write access can ftruncate the object under everyone; an access past the new
// end then raises SIGBUS, which would kill a process that merely attached to a ring. It cannot
// be prevented (F_SEAL_SHRINK exists only for memfd objects, and shm_open objects are born with
// F_SEAL_SEAL), so it is handled: every mapped region is listed in `g_regions`, and a SIGBUS
// handler, (re)installed on top whenever a region is mapped and chained to whatever was there
// before, maps anonymous zero pages over the whole region whose address faulted (MAP_FIXED
// replaces the mapping in one system call, for every thread), marks it revoked and returns: the
// faulting instruction runs again on zeros, and core, which checks Region::revoked() on every
// path that could otherwise trust those zeros, answers Status::corrupt naming the ring. Faults
// at any other address, and SIGBUS for any other reason (alignment, hardware memory errors,
// kill -BUS), are not ours and go to the previous disposition (once; see forward_sigbus).
// docs/security.md, "Truncation and SIGBUS".
//
// The table is fixed-size and lock-free because the handler reads it: a slot is claimed with a
// CAS (free -> busy), filled, then published with a release store (busy -> live); the handler
// acquires `state` before trusting base and length. A Region unpublishes its slot before its
// mapping is unmapped.
namespace {

constexpr std::size_t kMaxRegions = 4096;
enum : uint32_t { kSlotFree = 0, kSlotBusy = 1, kSlotLive = 2 };

struct RegionSlot {
  std::atomic<uint32_t> state{kSlotFree};
  std::atomic<uint32_t> revoked{0};
  std::atomic<uintptr_t> base{0};
  std::atomic<std::size_t> length{0};  // whole pages: the extent of the mapping
  std::atomic<int> prot{0};
};

RegionSlot g_regions[kMaxRegions];
// The disposition we replaced. Written (under g_install_lock) only while our handler is not the
// installed one, so a running handler never sees it change.
struct sigaction g_previous_sigbus;
std::mutex g_install_lock;
std::atomic<uint32_t> g_forwarded{0};
std::atomic<uint64_t> g_revoked_views{0};  // revoked_views(); relaxed: a statistic

bool replace_with_zero_pages(RegionSlot& slot) noexcept {
  void* base = reinterpret_cast<void*>(slot.base.load(std::memory_order_relaxed));
  const std::size_t length = slot.length.load(std::memory_order_relaxed);
  void* r = ::mmap(base, length, slot.prot.load(std::memory_order_relaxed),
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  return r == base;
}

void forward_sigbus(int sig, siginfo_t* info, void* context) {
  const struct sigaction& prev = g_previous_sigbus;
  // To the previous handler once. A handler that "restores the previous disposition and raises"
  // (test frameworks do) would otherwise bounce the signal between us forever when we had
  // re-installed ourselves over it; the second time, we die the default way instead.
  // relaxed: a counter private to this process's signal path; no data depends on it.
  const bool first = g_forwarded.fetch_add(1, std::memory_order_relaxed) == 0;
  if (first && (prev.sa_flags & SA_SIGINFO) != 0 && prev.sa_sigaction != nullptr) {
    prev.sa_sigaction(sig, info, context);
    return;
  }
  if (first && (prev.sa_flags & SA_SIGINFO) == 0 && prev.sa_handler != SIG_DFL &&
      prev.sa_handler != SIG_IGN) {
    prev.sa_handler(sig);
    return;
  }
  // Default (or ignored, which cannot stop a fault from re-faulting): die as we would have
  // without this handler. A fault re-executes and kills with SIGBUS; a sent signal (si_code <= 0)
  // is raised again and delivered when we return (SIGBUS is blocked inside its handler).
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(SIGBUS, &dfl, nullptr);
  if (info == nullptr || info->si_code <= 0) ::raise(SIGBUS);
}

// Async-signal-safe: atomics on lock-free words, mmap, sigaction, raise, errno saved.
void on_sigbus(int sig, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  if (info != nullptr && info->si_code == BUS_ADRERR) {
    const uintptr_t address = reinterpret_cast<uintptr_t>(info->si_addr);
    for (RegionSlot& slot : g_regions) {
      // acquire: pairs with the release store that published the slot; base and length are
      // complete.
      if (slot.state.load(std::memory_order_acquire) != kSlotLive) continue;
      const uintptr_t base = slot.base.load(std::memory_order_relaxed);
      if (address - base >= slot.length.load(std::memory_order_relaxed)) continue;
      if (!replace_with_zero_pages(slot)) break;  // cannot map: not survivable, forward
      // relaxed: see Region::revoked_flag(); the zero pages are already in place.
      slot.revoked.store(1, std::memory_order_relaxed);
      g_revoked_views.fetch_add(1, std::memory_order_relaxed);
      errno = saved_errno;
      return;
    }
  }
  forward_sigbus(sig, info, context);
  errno = saved_errno;
}

// Called for every region mapped, not once per process: code that ran since (a test framework
// restoring "its" previous handlers, an application installing its own without chaining) may
// have replaced ours. Then we go back on top and forward to whatever is there now.
void ensure_sigbus_handler() {
  const std::lock_guard<std::mutex> guard(g_install_lock);
  struct sigaction current {};
  if (::sigaction(SIGBUS, nullptr, &current) != 0) return;
  if ((current.sa_flags & SA_SIGINFO) != 0 && current.sa_sigaction == on_sigbus) return;
  g_previous_sigbus = current;
  struct sigaction action {};
  action.sa_sigaction = on_sigbus;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGBUS, &action, nullptr);
}

// Returns the slot, or nullptr when the table is full.
RegionSlot* publish_region(void* base, std::size_t size, bool writable) {
  ensure_sigbus_handler();
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  for (RegionSlot& slot : g_regions) {
    uint32_t expected = kSlotFree;
    // relaxed CAS: it only reserves the slot for us; publication is the release store below.
    if (!slot.state.compare_exchange_strong(expected, kSlotBusy, std::memory_order_relaxed))
      continue;
    slot.revoked.store(0, std::memory_order_relaxed);
    slot.base.store(reinterpret_cast<uintptr_t>(base), std::memory_order_relaxed);
    slot.length.store((size + page - 1) / page * page, std::memory_order_relaxed);
    slot.prot.store(writable ? PROT_READ | PROT_WRITE : PROT_READ, std::memory_order_relaxed);
    // release: pairs with the handler's acquire load of state.
    slot.state.store(kSlotLive, std::memory_order_release);
    return &slot;
  }
  return nullptr;
}

}  // namespace

struct Region::Impl {
  bip::shared_memory_object object;  // kept open: verify() asks it for the current size
  bip::mapped_region mapping;
  RegionSlot* slot = nullptr;
  // Unpublish before `mapping` is destroyed (munmap): the range may be reused by then.
  ~Impl() {
    // release: a handler that still sees kSlotLive read base/length before this point.
    if (slot != nullptr) slot->state.store(kSlotFree, std::memory_order_release);
  }
};

namespace {
Error os_failure(std::string_view ring_name, const char* what, int err);
}

struct RegionAccess {
  static Result<Region> make(std::string_view ring_name, bip::shared_memory_object&& object,
                             bip::mapped_region&& mapping, bool writable) {
    Region r;
    r.impl_ = std::make_unique<Region::Impl>();
    r.impl_->object.swap(object);
    r.impl_->mapping.swap(mapping);
    r.data_ = static_cast<std::byte*>(r.impl_->mapping.get_address());
    r.size_ = r.impl_->mapping.get_size();
    r.writable_ = writable;
    if (r.size_ == 0) return r;  // nothing mapped (an object not sized yet)
    r.impl_->slot = publish_region(r.data_, r.size_, writable);
    if (r.impl_->slot == nullptr)
      return make_error(ErrorCode::os_error,
                        "ring '" + std::string(ring_name) + "': this process already maps " +
                            std::to_string(kMaxRegions) + " shmring regions (the limit)");
    r.revoked_ = &r.impl_->slot->revoked;
    return r;
  }
};

Region::Region() noexcept = default;
Region::Region(Region&&) noexcept = default;
Region& Region::operator=(Region&&) noexcept = default;
Region::~Region() = default;

bool Region::verify() noexcept {
  if (impl_ == nullptr || impl_->slot == nullptr) return true;  // nothing mapped
  RegionSlot& slot = *impl_->slot;
  if (slot.revoked.load(std::memory_order_relaxed) != 0) return false;
  struct stat st {};
  if (::fstat(impl_->object.get_mapping_handle().handle, &st) != 0) return true;  // no verdict
  if (static_cast<unsigned long long>(st.st_size) >= size_) return true;
  // Shrunk: pages past the end would raise SIGBUS. Do now what the handler would do then.
  if (!replace_with_zero_pages(slot)) return true;   // out of memory: the handler still guards
  slot.revoked.store(1, std::memory_order_relaxed);  // relaxed: see revoked_flag()
  g_revoked_views.fetch_add(1, std::memory_order_relaxed);
  return false;
}

uint64_t revoked_views() noexcept {
  return g_revoked_views.load(std::memory_order_relaxed);
}

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
      // Commit the pages now: a full /dev/shm (tmpfs) fails here with ENOSPC, in a message,
      // instead of raising SIGBUS in whichever process first touches an unbacked page.
      // EOPNOTSUPP/EINVAL: a filesystem without fallocate; the pages are then committed lazily.
      const int rc =
          ::posix_fallocate(shm.get_mapping_handle().handle, 0, static_cast<off_t>(size));
      if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL) {
        bip::shared_memory_object::remove(name.c_str());
        return os_failure(ring_name, "reserving memory for", rc);
      }
      bip::mapped_region mapping(shm, bip::read_write);
      return RegionAccess::make(ring_name, std::move(shm), std::move(mapping), true);
    } catch (const bip::interprocess_exception& e) {
      bip::shared_memory_object::remove(name.c_str());
      return os_failure(ring_name, "sizing/mapping", e.get_native_error());
    }
  } catch (const bip::interprocess_exception& e) {
    return os_failure(ring_name, "creating", e.get_native_error());
  }
}

Result<Region> open_region(std::string_view ring_name, bool writable,
                           const RegionOptions& options) {
  const std::string name = boost_name(ring_name);
  try {
    bip::shared_memory_object shm(bip::open_only, name.c_str(),
                                  writable ? bip::read_write : bip::read_only);
    if (writable && !options.any_owner) {  // squatting: see RegionOptions::any_owner
      struct stat st {};
      if (::fstat(shm.get_mapping_handle().handle, &st) != 0)
        return os_failure(ring_name, "fstat of", errno);
      // root may own it: root can do anything to us anyway, so trusting it costs nothing.
      if (st.st_uid != ::geteuid() && st.st_uid != 0)
        return make_error(
            ErrorCode::permission_denied,
            "ring '" + std::string(ring_name) + "': " + object_name(ring_name) +
                " is owned by uid " + std::to_string(st.st_uid) + ", not by this user (uid " +
                std::to_string(::geteuid()) +
                ") or root; refusing to write to an object another user may have planted. Open it "
                "read-only, or allow other owners (OpenOptions::allow_other_owner, CLI "
                "--any-owner) when the ring is shared across users on purpose");
    }
    bip::offset_t size = 0;
    if (!shm.get_size(size)) return os_failure(ring_name, "fstat of", errno);
    if (size == 0)  // not sized yet
      return RegionAccess::make(ring_name, std::move(shm), bip::mapped_region(), writable);
    bip::mapped_region mapping(shm, writable ? bip::read_write : bip::read_only);
    return RegionAccess::make(ring_name, std::move(shm), std::move(mapping), writable);
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

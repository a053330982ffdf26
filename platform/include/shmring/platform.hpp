// shmring — the platform contract. core/ calls only what is declared here; exactly one folder
// under platform/ (linux/, later win32/ and wince/) implements it, chosen by CMake.
// The contract in prose, with the rules each implementation must keep: platform/README.md.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "shmring/result.hpp"

namespace shmring::platform {

// ---- named regions -------------------------------------------------------------------------

// A mapped view of a named shared-memory object. Move-only; unmaps and closes on destruction.
class Region {
 public:
  Region() noexcept;
  Region(Region&&) noexcept;
  Region& operator=(Region&&) noexcept;
  ~Region();
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;

  std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool writable() const noexcept { return writable_; }

  // True once the platform has withdrawn this view because the object under it can no longer be
  // accessed (Linux: another process truncated it; docs/security.md, "Truncation and SIGBUS").
  // The view then reads as zeros private to this process, so nothing faults, and core answers
  // Status::corrupt instead of trusting those zeros. The flag lives as long as the Region.
  bool revoked() const noexcept { return revoked_flag()->load(std::memory_order_relaxed) != 0; }
  // Core caches this pointer in its handles and checks it with one relaxed load: the flag
  // carries no data (the zero pages are in place before it is set, and a thread that has not
  // seen it yet reads zeros, which every read path already rejects).
  const std::atomic<uint32_t>* revoked_flag() const noexcept {
    return revoked_ != nullptr ? revoked_ : &kNeverRevoked;
  }

  // Cold path (one system call): checks that the object still backs the whole view and, if it
  // does not, revokes the view now. Returns false once the view is revoked. Core calls it when a
  // blocking call is about to time out, so a waiter that never touches a lost page still learns
  // of the truncation (docs/security.md). Platforms whose objects cannot shrink return true.
  bool verify() noexcept;

  struct Impl;  // per-OS handles

 private:
  friend struct RegionAccess;
  static inline const std::atomic<uint32_t> kNeverRevoked{0};
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  bool writable_ = false;
  const std::atomic<uint32_t>* revoked_ = nullptr;  // set by platforms that can revoke
  std::unique_ptr<Impl> impl_;
};

// How a ring's OS objects are named and protected. Linux uses `mode` only; Windows maps
// `global` to the Global\ namespace (Local\ otherwise) and builds the DACL from `sddl`, or
// grants the current user's SID alone when it is empty (never a NULL DACL).
struct RegionOptions {
  uint32_t mode = 0600;
  bool global = false;
  std::string sddl;
  // open_region for writing refuses an object owned by another user unless this is set (Linux:
  // st_uid must be our effective uid, or root). Anyone who can create names in /dev/shm can plant a
  // shmring.NAME before its creator runs; a writer would then hand its records to them and a
  // consumer would take theirs. Read-only opens (inspection) are not checked: a reader survives
  // any contents. Windows: Local\ is per session and the DACL decides (docs/security.md).
  bool any_owner = false;
};

// The OS object name for a (validated) ring name, e.g. "/dev/shm/shmring.orders" on Linux.
std::string object_name(std::string_view ring_name);

// Creates a new object exclusively (fails with already_exists if the name is taken), sized
// `size` bytes, zero-filled, with the given permission bits (POSIX mode; the Windows layer maps
// 0600 to a current-user-only DACL). Its memory is committed up front where the OS allows
// (Linux: a full /dev/shm fails here, with a message, instead of faulting later). Errors name
// the ring.
Result<Region> create_region(std::string_view ring_name, std::size_t size,
                             const RegionOptions& options);

// Opens an existing object and maps all of it (its current size, which may be 0 while a
// creator is still sizing it). `writable` false maps read-only.
Result<Region> open_region(std::string_view ring_name, bool writable, const RegionOptions& options);

// Removes the name. Existing mappings stay valid until unmapped.
Result<void> unlink_region(std::string_view ring_name, const RegionOptions& options);

// How many views this process has revoked (Region::revoked) since it started. Diagnostics: tests
// and fuzzers that never shrink an object assert it stays 0, because an access they provoke past
// the end of an object on purpose (a guard page) is otherwise absorbed like a truncation.
uint64_t revoked_views() noexcept;

// ---- waiting on a 32-bit word in shared memory ---------------------------------------------

enum class WaitOutcome { woken, value_changed, timed_out, interrupted };

// Futex-like: sleeps while *word == expected, until woken or timeout_ns elapses (negative =
// forever). Spurious returns are allowed; callers always re-check their condition.
// `Notifier` exists so that platforms without address-based waiting (Windows: named events)
// can bind a kernel object derived from the ring name and the word's purpose.
class Notifier {
 public:
  Notifier() noexcept;
  Notifier(Notifier&&) noexcept;
  Notifier& operator=(Notifier&&) noexcept;
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // `create` is true for the ring's creator (Windows creates the named kernel object then).
  static Result<Notifier> open(std::string_view ring_name, std::string_view purpose,
                               std::atomic<uint32_t>* word, const RegionOptions& options,
                               bool create);
  WaitOutcome wait(uint32_t expected, int64_t timeout_ns) noexcept;
  void wake_all() noexcept;

  struct Impl;

 private:
  std::atomic<uint32_t>* word_ = nullptr;
  std::unique_ptr<Impl> impl_;
};

// ---- processes, time, fences ---------------------------------------------------------------

uint32_t current_pid() noexcept;
// false only when the OS says no such process exists. pid 0 is never alive. (A recycled pid
// reads as alive: the safe direction, it only delays recovery.)
bool process_alive(uint32_t pid) noexcept;
uint64_t monotonic_ns() noexcept;  // system-wide monotonic clock, comparable across processes
uint64_t wall_clock_ns() noexcept;
void yield_thread() noexcept;
void sleep_ns(int64_t ns) noexcept;  // cold paths only (e.g. waiting for a creator)

// Asymmetric fences for the announce/re-check handshake (see core/src/ring.cpp, "Waking").
// `enable_light_fences()` registers this process so that a peer's heavy_fence() acts as a full
// barrier on our threads; it returns false when the OS cannot do that, and then this process
// must use real seq_cst fences on its fast path. `heavy_fence()` returns false if it could not
// guarantee that (the caller then parks in short slices instead of trusting the handshake).
bool enable_light_fences() noexcept;
bool heavy_fence() noexcept;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || (defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH >= 7)
  asm volatile("yield" ::: "memory");
#else
  std::atomic_signal_fence(std::memory_order_seq_cst);
#endif
}

}  // namespace shmring::platform

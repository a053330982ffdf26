// shmring reliability tests — helpers on top of tests/process/proc_util.hpp (processes, the
// checksummed message format, the Verifier, the consumer Drain), for the fault-injection, race,
// truncation, access-control and soak tests in this folder.
//
// Scale. SHMRING_RELIABILITY_SCALE (default 1) multiplies the number of kills and rounds, so
// that the sanitizer builds can run the same tests shorter (0.25) and a long local run can run
// them longer (10). Seeds: SHMRING_TEST_SEED replays one (every test prints its seed).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "proc_util.hpp"
#include "shmring/ring.hpp"

namespace shmring::reltest {

using proctest::Child;
using proctest::ChildIo;
using proctest::ChildRole;
using proctest::Params;
using proctest::Rng;
using proctest::SharedBook;

// n scaled by SHMRING_RELIABILITY_SCALE, at least `minimum`.
uint32_t scaled(uint32_t n, uint32_t minimum = 1);

// Spins for about `us` microseconds without a system call (a busy delay of random length in a
// victim: the kill lands while it runs, at a point the scheduler did not choose).
void busy_wait_us(uint64_t us) noexcept;
// Spins for ever: a victim parked at its kill point.
[[noreturn]] void spin_forever() noexcept;

const char* kind_name(Kind kind);

// Reads a broadcast ring with poll / try_read (never Reader::read: known bug B6 in
// docs/security.md) and checks every record with a Verifier. A Verifier needs contiguous
// sequences per producer, so the tests size their rings so that the reader is never lapped, and
// check that lost() stays 0.
class ReaderDrain {
 public:
  ReaderDrain(Reader& reader, proctest::Verifier& verifier, uint32_t max_payload, uint64_t seed);
  // One step: waits up to step_timeout_ns for a record, then reads a batch or one record.
  Status step(int64_t step_timeout_ns);
  Reader& reader() { return reader_; }

 private:
  Reader& reader_;
  proctest::Verifier& verifier_;
  Rng rng_;
  std::vector<std::byte> buffer_;
};

// The consumer loop of the fault tests, for any reader: runs `step` (one blocking read of at most
// step_timeout_ns) until the verifier has every expected message and `between` (run after each
// step; the test's state machine) returns false. Fails (Catch2) on a bad record, on a corrupt
// status (`why` explains it), when a producer child fails, when nothing arrives for
// no_progress_ns, and when a step overruns its timeout by more than kTimeoutSlackNs.
void drain_loop(const std::function<Status()>& step, int64_t step_timeout_ns,
                proctest::Verifier& verifier, const std::vector<Child*>& producers, uint64_t seed,
                const std::function<bool()>& between, const std::function<std::string()>& why,
                int64_t no_progress_ns = 60'000'000'000);

// Checks that a blocking call honoured its timeout: it must not take longer than
// timeout + slack (the slack covers a loaded 2-vCPU machine). Returns the elapsed ns.
struct Stopwatch {
  uint64_t start = proctest::now_ns();
  uint64_t elapsed_ns() const { return proctest::now_ns() - start; }
};
inline constexpr uint64_t kTimeoutSlackNs = 2'000'000'000;

// /dev/shm/shmring.NAME
std::string object_path(const std::string& ring);
// Size of the ring's OS object, or -1.
long long object_size(const std::string& ring);
// ftruncate of the ring's OS object (as root or owner). true on success.
bool truncate_object(const std::string& ring, long long size);

// Opens ring `ring` with one page beyond the end of its object mapped: the object is grown by a
// page, opened (Ring::open maps the whole object), and shrunk back. An access past the end of
// the record area through this handle then raises SIGBUS at once, instead of landing in
// whatever the kernel placed next (the capacity must make the object a whole number of pages).
Result<Ring> open_with_guard_page(const std::string& ring);

// The setpriv(1) path, or "" when util-linux's setpriv is not installed.
std::string setpriv_path();

}  // namespace shmring::reltest

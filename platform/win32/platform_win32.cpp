// shmring — Windows (desktop) implementation of the platform contract (platform/README.md).
// Built with mingw-w64 and tested under Wine; docs/windows.md says what that does and does not
// show.
//  * regions: a named, pagefile-backed file mapping (CreateFileMappingW / OpenFileMappingW).
//    Ring "NAME" is the section object Local\shmring.NAME (Global\shmring.NAME on request). A
//    section lives while any handle to it is open: there is no name to remove, so
//    unlink_region() only checks that the ring exists.
//  * access: every object gets a DACL that grants the current user's SID alone, unless the
//    caller widened it (a mode with group/other bits, or an explicit SDDL). Never a NULL DACL.
//  * waiting: named manual-reset events, one per "wake epoch", derived from the ring name:
//    Local\shmring.NAME:data.<epoch> and Local\shmring.NAME:space.<epoch> (see
//    "Notifier" below for the protocol and the argument that no wake-up is lost).
//    WaitOnAddress is not an option: it wakes waiters of the calling process only.
//  * liveness: OpenProcess + WaitForSingleObject(h, 0).
//  * fences: Windows has no cross-process membarrier (FlushProcessWriteBuffers acts on the
//    calling process only), so light fences are never enabled and every side pays a seq_cst
//    fence on its fast path.
#include <windows.h>
// windows.h first: the headers below depend on its types.
#include <aclapi.h>
#include <sddl.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>
#include <cwchar>
#include <mutex>

#include "shmring/platform.hpp"

namespace shmring::platform {

// ---- errors and names ------------------------------------------------------------------------

namespace {

std::string system_message(DWORD err) {
  char* text = nullptr;
  const DWORD n = ::FormatMessageA(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
      nullptr, err, MAKELANGID(LANG_NEUTRAL, SUBLANG_DEFAULT), reinterpret_cast<char*>(&text), 0,
      nullptr);
  std::string s;
  if (n != 0 && text != nullptr) {
    s.assign(text, n);
    while (!s.empty() &&
           (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '.'))
      s.pop_back();
  }
  if (text != nullptr) ::LocalFree(text);
  return "error " + std::to_string(err) + (s.empty() ? "" : " (" + s + ")");
}

ErrorCode classify(DWORD err) {
  switch (err) {
    case ERROR_ALREADY_EXISTS:
    case ERROR_INVALID_HANDLE:  // the name belongs to an object of another type
      return ErrorCode::already_exists;
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
      return ErrorCode::not_found;
    case ERROR_ACCESS_DENIED:
    case ERROR_PRIVILEGE_NOT_HELD:
      return ErrorCode::permission_denied;
    case ERROR_INVALID_NAME:
    case ERROR_BAD_PATHNAME:
    case ERROR_FILENAME_EXCED_RANGE:
      return ErrorCode::invalid_name;
    default:
      return ErrorCode::os_error;
  }
}

std::string namespace_prefix(bool global) {
  return global ? "Global\\" : "Local\\";
}

std::string mapping_name(std::string_view ring_name, bool global) {
  return namespace_prefix(global) + "shmring." + std::string(ring_name);
}

// Ring names are validated by core: ASCII letters, digits, '_', '-', '.'.
std::wstring widen(const std::string& s) {
  return std::wstring(s.begin(), s.end());
}

std::string ring_prefix(std::string_view ring_name) {
  return "ring '" + std::string(ring_name) + "': ";
}

Error os_failure(std::string_view ring_name, const char* what, const std::string& object, DWORD err,
                 const std::string& hint = {}) {
  std::string msg =
      ring_prefix(ring_name) + what + " " + object + " failed: " + system_message(err) + hint;
  return make_error(classify(err), std::move(msg), static_cast<int>(err));
}

// What a user without SeCreateGlobalPrivilege gets when creating in Global\ from a normal
// session: ERROR_ACCESS_DENIED from CreateFileMappingW. Say why.
std::string global_hint(bool global, DWORD err) {
  if (!global || err != ERROR_ACCESS_DENIED) return {};
  return "; creating a file mapping in Global\\ outside session 0 needs "
         "SeCreateGlobalPrivilege (services and administrators hold it)";
}

// ---- security descriptors --------------------------------------------------------------------

// The current user's SID as a string ("S-1-5-21-..."), read once from the process token.
const std::wstring& current_user_sid() {
  static std::once_flag once;
  static std::wstring sid;
  std::call_once(once, [] {
    HANDLE token = nullptr;
    if (!::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token)) return;
    DWORD needed = 0;
    ::GetTokenInformation(token, TokenUser, nullptr, 0, &needed);
    std::string buffer(needed, '\0');
    if (needed != 0 && ::GetTokenInformation(token, TokenUser, buffer.data(), needed, &needed)) {
      const auto* user = reinterpret_cast<const TOKEN_USER*>(buffer.data());
      wchar_t* text = nullptr;
      if (::ConvertSidToStringSidW(user->User.Sid, &text)) {
        sid = text;
        ::LocalFree(text);
      }
    }
    ::CloseHandle(token);
  });
  return sid;
}

// A self-relative security descriptor from LocalAlloc (owned; LocalFree'd on destruction).
struct Descriptor {
  PSECURITY_DESCRIPTOR sd = nullptr;
  Descriptor() = default;
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() {
    if (sd != nullptr) ::LocalFree(sd);
  }
  SECURITY_ATTRIBUTES attributes() const {
    SECURITY_ATTRIBUTES sa{};
    sa.nLength = sizeof sa;
    sa.lpSecurityDescriptor = sd;
    sa.bInheritHandle = FALSE;
    return sa;
  }
};

}  // namespace

// The SDDL of a ring's objects (docs/windows.md, "Access control"):
//   explicit sddl              -> used as given; it must carry a DACL, and not a NULL one
//   mode without group/other   -> D:P(A;;GA;;;<current user>)                       (0600)
//   group or other may read    -> ... (A;;GR;;;AU)          Authenticated Users read
//   group or other may write   -> ... (A;;GRGWGX;;;AU)      Authenticated Users read/write/wait
// The owner bits are not mapped: the creating user always has full access. "P" protects the
// DACL from inheriting ACEs of the namespace directory.
static Result<std::wstring> security_sddl(std::string_view ring_name,
                                          const RegionOptions& options) {
  if (!options.sddl.empty()) {
    if (options.mode != 0600)
      return make_error(
          ErrorCode::invalid_argument,
          ring_prefix(ring_name) + "give either a mode or a security descriptor (SDDL), not both");
    // NO_ACCESS_CONTROL is the SDDL spelling of a NULL DACL (Wine turns it into something
    // else, so it is refused by name as well as by the check in make_descriptor).
    std::string upper = options.sddl;
    for (char& c : upper) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    if (upper.find("NO_ACCESS_CONTROL") != std::string::npos)
      return make_error(ErrorCode::invalid_argument,
                        ring_prefix(ring_name) + "security descriptor '" + options.sddl +
                            "' asks for a NULL DACL (everyone full access); refusing it");
    return widen(options.sddl);
  }
  if ((options.mode & ~0777u) != 0)
    return make_error(ErrorCode::invalid_argument,
                      ring_prefix(ring_name) + "mode must be within 0777");
  const std::wstring& user = current_user_sid();
  if (user.empty())
    return make_error(ErrorCode::os_error,
                      ring_prefix(ring_name) + "cannot read the current user's SID from the token");
  std::wstring sddl = L"D:P(A;;GA;;;" + user + L")";
  if ((options.mode & 022) != 0) {
    sddl += L"(A;;GRGWGX;;;AU)";
  } else if ((options.mode & 044) != 0) {
    sddl += L"(A;;GR;;;AU)";
  }
  return sddl;
}

static Result<void> make_descriptor(std::string_view ring_name, const RegionOptions& options,
                                    Descriptor& out) {
  auto sddl = security_sddl(ring_name, options);
  if (!sddl) return sddl.error();
  if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl->c_str(), SDDL_REVISION_1,
                                                              &out.sd, nullptr)) {
    const DWORD err = ::GetLastError();
    return make_error(ErrorCode::invalid_argument,
                      ring_prefix(ring_name) + "bad security descriptor '" + options.sddl +
                          "': " + system_message(err),
                      static_cast<int>(err));
  }
  BOOL present = FALSE, defaulted = FALSE;
  PACL dacl = nullptr;
  if (!::GetSecurityDescriptorDacl(out.sd, &present, &dacl, &defaulted) || !present ||
      dacl == nullptr)
    return make_error(ErrorCode::invalid_argument,
                      ring_prefix(ring_name) + "security descriptor '" + options.sddl +
                          "' has no DACL or a NULL DACL (everyone full access); refusing it");
  return {};
}

// ---- Region ----------------------------------------------------------------------------------

struct Region::Impl {
  HANDLE mapping = nullptr;
  void* view = nullptr;
  ~Impl() {
    if (view != nullptr) ::UnmapViewOfFile(view);
    if (mapping != nullptr) ::CloseHandle(mapping);
  }
};

struct RegionAccess {
  static Region make(HANDLE mapping, void* view, std::size_t size, bool writable) {
    Region r;
    r.impl_ = std::make_unique<Region::Impl>();
    r.impl_->mapping = mapping;
    r.impl_->view = view;
    r.data_ = static_cast<std::byte*>(view);
    r.size_ = size;
    r.writable_ = writable;
    return r;
  }
};

Region::Region() noexcept = default;
Region::Region(Region&&) noexcept = default;
Region& Region::operator=(Region&&) noexcept = default;
Region::~Region() = default;

// A pagefile-backed section cannot shrink while it is mapped: nothing to revoke.
bool Region::verify() noexcept {
  return true;
}

uint64_t revoked_views() noexcept {
  return 0;
}

namespace {

// The size of a section object. NtQuerySection reports what the creator asked for (Wine rounds
// it up to whole pages); without it, the view's extent, which is page-granular.
std::size_t section_size(HANDLE mapping, const void* view) {
  struct SectionBasicInformation {
    PVOID base;
    ULONG attributes;
    LARGE_INTEGER size;
  };
  using NtQuerySectionFn = LONG(NTAPI*)(HANDLE, int, PVOID, SIZE_T, PSIZE_T);
  static const auto query = reinterpret_cast<NtQuerySectionFn>(reinterpret_cast<void*>(
      ::GetProcAddress(::GetModuleHandleW(L"ntdll.dll"), "NtQuerySection")));
  if (query != nullptr) {
    SectionBasicInformation info{};
    SIZE_T returned = 0;
    if (query(mapping, 0 /* SectionBasicInformation */, &info, sizeof info, &returned) == 0 &&
        info.size.QuadPart > 0)
      return static_cast<std::size_t>(info.size.QuadPart);
  }
  MEMORY_BASIC_INFORMATION mbi{};
  if (::VirtualQuery(view, &mbi, sizeof mbi) == 0) return 0;
  return mbi.RegionSize;
}

}  // namespace

std::string object_name(std::string_view ring_name) {
  return mapping_name(ring_name, false);
}

Result<Region> create_region(std::string_view ring_name, std::size_t size,
                             const RegionOptions& options) {
  Descriptor descriptor;
  if (auto made = make_descriptor(ring_name, options, descriptor); !made) return made.error();
  SECURITY_ATTRIBUTES sa = descriptor.attributes();
  const std::string name = mapping_name(ring_name, options.global);
  const uint64_t size64 = size;
  // Pagefile-backed (INVALID_HANDLE_VALUE): zero-filled, committed, gone with its last handle.
  HANDLE mapping = ::CreateFileMappingW(
      INVALID_HANDLE_VALUE, &sa, PAGE_READWRITE | SEC_COMMIT, static_cast<DWORD>(size64 >> 32),
      static_cast<DWORD>(size64 & 0xFFFFFFFFu), widen(name).c_str());
  const DWORD err = ::GetLastError();
  if (mapping == nullptr)
    return os_failure(ring_name, "creating", name, err, global_hint(options.global, err));
  if (err == ERROR_ALREADY_EXISTS) {
    // CreateFileMappingW opened someone else's object: leave it alone.
    ::CloseHandle(mapping);
    return os_failure(ring_name, "creating", name, ERROR_ALREADY_EXISTS);
  }
  void* view = ::MapViewOfFile(mapping, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, size);
  if (view == nullptr) {
    const DWORD map_err = ::GetLastError();
    ::CloseHandle(mapping);
    return os_failure(ring_name, "mapping", name, map_err);
  }
  return RegionAccess::make(mapping, view, size, true);
}

Result<Region> open_region(std::string_view ring_name, bool writable,
                           const RegionOptions& options) {
  const std::string name = mapping_name(ring_name, options.global);
  const DWORD access = writable ? FILE_MAP_READ | FILE_MAP_WRITE : FILE_MAP_READ;
  // SECTION_QUERY as well, for NtQuerySection's size; a DACL that grants the mapping rights
  // alone still opens (the size then comes from the view).
  HANDLE mapping = ::OpenFileMappingW(access | SECTION_QUERY, FALSE, widen(name).c_str());
  if (mapping == nullptr && ::GetLastError() == ERROR_ACCESS_DENIED)
    mapping = ::OpenFileMappingW(access, FALSE, widen(name).c_str());
  if (mapping == nullptr)
    return os_failure(ring_name, writable ? "opening (read/write)" : "opening (read-only)", name,
                      ::GetLastError());
  void* view = ::MapViewOfFile(mapping, access, 0, 0, 0);
  if (view == nullptr) {
    const DWORD err = ::GetLastError();
    ::CloseHandle(mapping);
    return os_failure(ring_name, "mapping", name, err);
  }
  return RegionAccess::make(mapping, view, section_size(mapping, view), writable);
}

// A section has no name apart from its handles: it disappears when the last one is closed. So
// there is nothing to remove; this only reports not_found for a ring that does not exist (as
// unlinking a missing name does on Linux). An object we may not open still exists.
Result<void> unlink_region(std::string_view ring_name, const RegionOptions& options) {
  const std::string name = mapping_name(ring_name, options.global);
  HANDLE mapping = ::OpenFileMappingW(FILE_MAP_READ, FALSE, widen(name).c_str());
  if (mapping == nullptr) {
    const DWORD err = ::GetLastError();
    if (err != ERROR_ACCESS_DENIED) return os_failure(ring_name, "looking up", name, err);
    return {};
  }
  ::CloseHandle(mapping);
  return {};
}

// ---- Notifier: named manual-reset events, one per wake epoch -----------------------------------
//
// State: the Notifier's word (data_signal / space_signal, incremented by core before every
// wake_all) and the 32-bit word after it (data_sleepers / space_sleepers), which this layer
// splits into
//     sleepers = low 8 bits    threads between "registered" and "done waiting"
//     epoch    = high 24 bits  bumped by every wake_all
// A sleeper waits on the manual-reset event  <ns>\shmring.NAME:<purpose>.<epoch, 6 hex digits>.
//
//   wait(expected):  S1 CAS sleepers += 1, read epoch E
//                    S2 h = CreateEvent(name(E))       (opens it if another sleeper made it)
//                    S3 re-read epoch; if != E: close h, E = new epoch, back to S2
//                    S4 seq_cst fence; if *word != expected: done (value_changed)
//                    S5 WaitForSingleObject(h, timeout)
//                    S6 CloseHandle(h); sleepers -= 1
//   wake_all():      W0 (core: *word += 1) ; seq_cst fence
//                    W1 v = fetch_add(epoch += 1)      ; if sleepers(v) == 0: done
//                    W2 OpenEvent(name(epoch(v))) ; SetEvent ; CloseHandle
//
// Why no wake-up is lost. Take a sleeper S that blocks in S5 with `expected`, and a waker W
// whose increment of the word S's check in S4 did not see. The two fences make S4/W0 a Dekker
// pair: S4 missed W0, so W1 comes after S3 (and after S1) in the single order of the fences'
// operations. S3 read epoch E, so the first epoch bump after S3 -- W1 itself or an earlier one
// -- bumps exactly E. Its fetch_add sees S counted (S1 precedes it, S6 follows S5), so it goes
// on to W2 and sets the event named by E, which exists because S created or opened it in S2,
// before S3, and holds it until S6. A manual-reset event stays set, so S wakes whether it is
// already blocked or about to block. Every other sleeper of epoch E wakes too: wake_all.
// Sleepers of a later epoch wait on another event, so unlike a counting semaphore (whose tokens
// a newer sleeper can take from an older one that has not reached its wait yet) no wake
// meant for one sleeper can be consumed by another.
//
// The fast path is untouched: core calls wake_all only after claiming a sleeper's
// announcement, and W1 skips the kernel when nobody is registered. A new epoch costs a named
// object per sleep (created by the first sleeper, gone with the last handle), which is the
// slow path by definition. Limits: more than 255 concurrent sleepers on one word (core has at
// most 64 slots a side) would overflow the count, so a 256th sleeper polls in 1 ms slices
// instead; an epoch name is reused after 2^24 wakes, which matters only for a process that has
// held a stale event handle across all of them (it then sees one spurious wake-up).

struct Notifier::Impl {
  std::wstring prefix;  // L"Local\\shmring.NAME:data."
  Descriptor descriptor;
  ~Impl() = default;
};

namespace {

constexpr uint32_t kSleeperBits = 8;
constexpr uint32_t kSleeperMask = (1u << kSleeperBits) - 1;
constexpr uint32_t kEpochOne = 1u << kSleeperBits;

struct EventName {
  wchar_t text[160];
  EventName(const std::wstring& prefix, uint32_t epoch) {
    std::swprintf(text, sizeof text / sizeof text[0], L"%ls%06x", prefix.c_str(),
                  static_cast<unsigned>(epoch));
  }
};

DWORD to_ms(int64_t timeout_ns) {
  if (timeout_ns < 0) return INFINITE;
  const int64_t ms = (timeout_ns + 999'999) / 1'000'000;  // round up: never wake early
  return static_cast<DWORD>(std::min<int64_t>(ms, INFINITE - 1));
}

// Copies the DACL of ring `name`'s mapping into `out`, so that events created by a process
// that opened (rather than created) the ring are as accessible as the ring itself.
bool copy_mapping_dacl(const std::string& mapping, Descriptor& out) {
  HANDLE h = ::OpenFileMappingW(READ_CONTROL, FALSE, widen(mapping).c_str());
  if (h == nullptr) return false;
  PACL dacl = nullptr;
  PSECURITY_DESCRIPTOR sd = nullptr;
  const DWORD rc = ::GetSecurityInfo(h, SE_KERNEL_OBJECT, DACL_SECURITY_INFORMATION, nullptr,
                                     nullptr, &dacl, nullptr, &sd);
  ::CloseHandle(h);
  if (rc != ERROR_SUCCESS || sd == nullptr) return false;
  if (dacl == nullptr) {  // never hand a NULL DACL on
    ::LocalFree(sd);
    return false;
  }
  out.sd = sd;
  return true;
}

}  // namespace

Notifier::Notifier() noexcept = default;
Notifier::Notifier(Notifier&& o) noexcept : word_(o.word_), impl_(std::move(o.impl_)) {}
Notifier& Notifier::operator=(Notifier&& o) noexcept {
  word_ = o.word_;
  impl_ = std::move(o.impl_);
  return *this;
}
Notifier::~Notifier() = default;

Result<Notifier> Notifier::open(std::string_view ring_name, std::string_view purpose,
                                std::atomic<uint32_t>* word, const RegionOptions& options,
                                bool create) {
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  Notifier n;
  n.word_ = word;
  n.impl_ = std::make_unique<Impl>();
  const std::string mapping = mapping_name(ring_name, options.global);
  // ':' cannot occur in a ring name, so no event name can be another ring's mapping name.
  n.impl_->prefix = widen(mapping + ":" + std::string(purpose) + ".");
  // The creator knows the ring's options; an opener copies the mapping's DACL (it does not
  // know the SDDL the creator used) and falls back to current-user-only if it may not read it.
  if (create || !copy_mapping_dacl(mapping, n.impl_->descriptor)) {
    RegionOptions own = options;
    if (!create) own = RegionOptions{0600, options.global, {}};
    if (auto made = make_descriptor(ring_name, own, n.impl_->descriptor); !made)
      return made.error();
  }
  return n;
}

WaitOutcome Notifier::wait(uint32_t expected, int64_t timeout_ns) noexcept {
  if (impl_ == nullptr) return WaitOutcome::interrupted;  // moved from / never opened
  auto* sleepers = word_ + 1;  // data_sleepers / space_sleepers (layout.hpp)
  // S1: register, unless the count is saturated (then poll: never block unannounced).
  uint32_t v = sleepers->load(std::memory_order_seq_cst);
  do {
    if ((v & kSleeperMask) == kSleeperMask) {
      sleep_ns(std::min<int64_t>(timeout_ns < 0 ? INT64_MAX : timeout_ns, 1'000'000));
      return WaitOutcome::woken;  // spurious; the caller re-checks
    }
  } while (!sleepers->compare_exchange_weak(v, v + 1, std::memory_order_seq_cst));
  uint32_t epoch = v >> kSleeperBits;
  // S2/S3: hold the event of the epoch that is current after we hold it.
  SECURITY_ATTRIBUTES sa = impl_->descriptor.attributes();
  HANDLE event = nullptr;
  for (;;) {
    const EventName name(impl_->prefix, epoch);
    event = ::CreateEventExW(&sa, name.text, CREATE_EVENT_MANUAL_RESET,
                             SYNCHRONIZE | EVENT_MODIFY_STATE);
    if (event == nullptr) break;  // e.g. squatted by another user: poll below
    const uint32_t now = sleepers->load(std::memory_order_seq_cst) >> kSleeperBits;
    if (now == epoch) break;
    ::CloseHandle(event);
    event = nullptr;
    epoch = now;
  }
  // S4: pairs with the fence in wake_all (see the argument above).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  WaitOutcome outcome;
  if (word_->load(std::memory_order_seq_cst) != expected) {
    outcome = WaitOutcome::value_changed;
  } else if (event == nullptr) {
    sleep_ns(std::min<int64_t>(timeout_ns < 0 ? INT64_MAX : timeout_ns, 1'000'000));
    outcome = WaitOutcome::woken;
  } else {
    // S5
    const DWORD r = ::WaitForSingleObject(event, to_ms(timeout_ns));
    outcome = r == WAIT_OBJECT_0  ? WaitOutcome::woken
              : r == WAIT_TIMEOUT ? WaitOutcome::timed_out
                                  : WaitOutcome::interrupted;
  }
  // S6
  if (event != nullptr) ::CloseHandle(event);
  sleepers->fetch_sub(1, std::memory_order_seq_cst);
  return outcome;
}

void Notifier::wake_all() noexcept {
  if (impl_ == nullptr) return;
  auto* sleepers = word_ + 1;
  // W0 happened in core; this fence pairs with S4.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const uint32_t v = sleepers->fetch_add(kEpochOne, std::memory_order_seq_cst);  // W1
  if ((v & kSleeperMask) == 0) return;
  const EventName name(impl_->prefix, v >> kSleeperBits);
  HANDLE event = ::OpenEventW(EVENT_MODIFY_STATE, FALSE, name.text);  // W2
  if (event == nullptr) return;  // every sleeper of that epoch is gone already
  ::SetEvent(event);
  ::CloseHandle(event);
}

// ---- processes, time, fences ---------------------------------------------------------------

uint32_t current_pid() noexcept {
  return static_cast<uint32_t>(::GetCurrentProcessId());
}

bool process_alive(uint32_t pid) noexcept {
  if (pid == 0) return false;
  HANDLE h = ::OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
  if (h == nullptr) {
    const DWORD err = ::GetLastError();
    if (err == ERROR_INVALID_PARAMETER) return false;  // no such process
    // Not ours to open (access denied): it exists. Try the query right alone.
    h = ::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
    if (h == nullptr) return true;
    DWORD code = 0;
    const bool alive = !::GetExitCodeProcess(h, &code) || code == STILL_ACTIVE;
    ::CloseHandle(h);
    return alive;
  }
  // A process object outlives the process while handles to it are open; it is signalled
  // once the process has exited, and an exited process never acts again.
  const bool alive = ::WaitForSingleObject(h, 0) == WAIT_TIMEOUT;
  ::CloseHandle(h);
  return alive;
}

uint64_t monotonic_ns() noexcept {
  static const uint64_t frequency = [] {
    LARGE_INTEGER f;
    ::QueryPerformanceFrequency(&f);
    return static_cast<uint64_t>(f.QuadPart);
  }();
  LARGE_INTEGER c;
  ::QueryPerformanceCounter(&c);  // system-wide: comparable across processes
  const uint64_t ticks = static_cast<uint64_t>(c.QuadPart);
  return ticks / frequency * 1'000'000'000u + ticks % frequency * 1'000'000'000u / frequency;
}

uint64_t wall_clock_ns() noexcept {
  FILETIME ft;
  ::GetSystemTimePreciseAsFileTime(&ft);
  const uint64_t t100 = (uint64_t{ft.dwHighDateTime} << 32) | ft.dwLowDateTime;
  constexpr uint64_t kUnixEpoch = 116444736000000000ull;  // 1970-01-01 in 100 ns since 1601
  return t100 < kUnixEpoch ? 0 : (t100 - kUnixEpoch) * 100u;
}

void yield_thread() noexcept {
  ::SwitchToThread();
}

void sleep_ns(int64_t ns) noexcept {
  if (ns <= 0) return;
  ::Sleep(to_ms(ns));
}

bool enable_light_fences() noexcept {
  return false;  // no cross-process membarrier on Windows
}

bool heavy_fence() noexcept {
  // Every process runs with enable_light_fences() == false, so the other side's fast path has
  // a seq_cst fence of its own; ours completes the pair.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return true;
}

}  // namespace shmring::platform

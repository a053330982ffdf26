#include "child.hpp"

#if defined(_WIN32)
#include <windows.h>
#else
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <csignal>
#endif

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "shmring/platform.hpp"

namespace shmring::proctest {

#if !defined(_WIN32)
static_assert(sizeof(Event) <= PIPE_BUF, "an event must be written atomically");
#endif

namespace {

uint64_t now_ns() {
  return platform::monotonic_ns();
}

int remaining_ms(uint64_t deadline) {
  const uint64_t now = now_ns();
  if (now >= deadline) return 0;
  return static_cast<int>(std::min<uint64_t>((deadline - now + 999'999) / 1'000'000, 1 << 30));
}

uint64_t deadline_after(int timeout_ms) {
  return now_ns() + static_cast<uint64_t>(std::max(timeout_ms, 0)) * 1'000'000u;
}

std::map<std::string, RoleFunction>& roles() {
  static std::map<std::string, RoleFunction> r;
  return r;
}

RoleFunction find_role(const std::string& name) {
  auto it = roles().find(name);
  return it == roles().end() ? nullptr : it->second;
}

int exit_role(ChildIo&, const Params& params) {
  return static_cast<int>(params.u64("code"));
}
const ChildRole kExitRole("exit", exit_role);

// Stays alive until the parent writes a byte, closes the pipe or exits.
int idle_role(ChildIo& io, const Params&) {
  (void)io.wait_control(24 * 3600 * 1000);
  return 0;
}
const ChildRole kIdleRole("idle", idle_role);

int run_role(const std::string& role, ChildIo& io, const Params& params) {
  const RoleFunction fn = find_role(role);
  if (fn == nullptr) return io.fail("no child role '%s' in this executable", role.c_str());
  try {
    return fn(io, params);
  } catch (const std::exception& e) {
    return io.fail("exception: %s", e.what());
  } catch (...) {
    return io.fail("unknown exception");
  }
}

}  // namespace

ChildRole::ChildRole(const char* name, RoleFunction function) {
  roles()[name] = function;
}

// ---- Params ----------------------------------------------------------------------------------

Params& Params::set(const std::string& key, const std::string& value) {
  values_[key] = value;
  return *this;
}
Params& Params::set(const std::string& key, uint64_t value) {
  return set(key, std::to_string(value));
}
Params& Params::set(const std::string& key, int64_t value) {
  return set(key, std::to_string(value));
}
std::string Params::str(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? std::string() : it->second;
}
uint64_t Params::u64(const std::string& key) const {
  return std::strtoull(str(key).c_str(), nullptr, 10);
}
int64_t Params::i64(const std::string& key) const {
  return std::strtoll(str(key).c_str(), nullptr, 10);
}

std::string Params::encode() const {
  static const char digits[] = "0123456789abcdef";
  std::string plain;
  for (const auto& [key, value] : values_) plain += key + '=' + value + '\n';
  std::string hex = "p";  // never empty on a command line
  for (unsigned char c : plain) {
    hex += digits[c >> 4];
    hex += digits[c & 15];
  }
  return hex;
}

Params Params::decode(std::string_view text) {
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  std::string plain;
  for (std::size_t i = 1; i + 1 < text.size(); i += 2)
    plain += static_cast<char>(nibble(text[i]) * 16 + nibble(text[i + 1]));
  Params p;
  std::size_t start = 0;
  while (start < plain.size()) {
    const std::size_t end = plain.find('\n', start);
    const std::string line = plain.substr(start, end - start);
    const std::size_t eq = line.find('=');
    if (eq != std::string::npos) p.values_[line.substr(0, eq)] = line.substr(eq + 1);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return p;
}

// ---- pipes -----------------------------------------------------------------------------------

namespace {

#if defined(_WIN32)

HANDLE as_handle(intptr_t h) {
  return reinterpret_cast<HANDLE>(h);
}

bool write_all(intptr_t fd, const void* data, std::size_t n) noexcept {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    DWORD wrote = 0;
    if (!::WriteFile(as_handle(fd), p, static_cast<DWORD>(n), &wrote, nullptr) || wrote == 0)
      return false;
    p += wrote;
    n -= wrote;
  }
  return true;
}

// Bytes readable now: -1 once the writer is gone and nothing is left.
long long pipe_available(intptr_t fd) {
  DWORD avail = 0;
  if (!::PeekNamedPipe(as_handle(fd), nullptr, 0, nullptr, &avail, nullptr)) return -1;
  return avail;
}

bool read_exact(intptr_t fd, void* buffer, std::size_t n) {
  char* p = static_cast<char*>(buffer);
  while (n > 0) {
    DWORD got = 0;
    if (!::ReadFile(as_handle(fd), p, static_cast<DWORD>(n), &got, nullptr) || got == 0)
      return false;
    p += got;
    n -= got;
  }
  return true;
}

// Waits until `want` bytes are readable (true), or the deadline passes / the writer is gone
// with fewer left (false). Anonymous pipes cannot be waited on: poll, backing off from yields
// to 1 ms and then 5 ms sleeps (each peek is a wineserver round trip under Wine).
bool wait_readable(intptr_t fd, std::size_t want, uint64_t deadline) {
  const uint64_t start = now_ns();
  for (unsigned spins = 0;; ++spins) {
    const long long avail = pipe_available(fd);
    if (avail < 0) return false;
    if (static_cast<std::size_t>(avail) >= want) return true;
    const uint64_t now = now_ns();
    if (now >= deadline) return false;
    if (spins < 16)
      ::SwitchToThread();
    else
      ::Sleep(now - start < 50'000'000 ? 1 : 5);
  }
}

#else

bool write_all(intptr_t fd, const void* data, std::size_t n) noexcept {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(static_cast<int>(fd), p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// Parent-side pipe ends of live Child guards. A new child closes them, so that each pipe has
// exactly one writer and EOF on an event pipe means that child is gone.
std::vector<int>& parent_fds() {
  static std::vector<int> fds;
  return fds;
}

void forget_fd(int fd) {
  auto& fds = parent_fds();
  fds.erase(std::remove(fds.begin(), fds.end(), fd), fds.end());
}

#endif

}  // namespace

void ChildIo::send(const Event& e) const noexcept {
  (void)write_all(events, &e, sizeof e);
}

void ChildIo::send(char tag, uint64_t v0, uint64_t v1, uint64_t v2, uint64_t v3) const noexcept {
  Event e;
  e.tag = tag;
  e.v[0] = v0;
  e.v[1] = v1;
  e.v[2] = v2;
  e.v[3] = v3;
  send(e);
}

int ChildIo::fail(const char* fmt, ...) const noexcept {
  Event e;
  e.tag = 'E';
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(e.text, sizeof e.text, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "[child %u] %s\n", static_cast<unsigned>(platform::current_pid()), e.text);
  send(e);
  return kChildFailed;
}

char ChildIo::wait_control(int timeout_ms) const noexcept {
  const uint64_t deadline = deadline_after(timeout_ms);
#if defined(_WIN32)
  char c = 0;
  if (!wait_readable(control, 1, deadline)) return 0;
  return read_exact(control, &c, 1) ? c : 0;
#else
  for (;;) {
    struct pollfd pfd {
      static_cast<int>(control), POLLIN, 0
    };
    const int r = ::poll(&pfd, 1, remaining_ms(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return 0;
    char c = 0;
    const ssize_t n = ::read(static_cast<int>(control), &c, 1);
    if (n < 0 && errno == EINTR) continue;
    return n == 1 ? c : 0;
  }
#endif
}

// ---- the child's entry point (Windows) -------------------------------------------------------

int run_child_role(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--shmring-child") != 0) return -1;
#if defined(_WIN32)
  if (argc != 7) {
    std::fprintf(stderr, "usage: --shmring-child ROLE PARENT_PID EVENTS CONTROL PARAMS\n");
    return 96;
  }
  ChildIo io;
  io.events = static_cast<intptr_t>(std::strtoll(argv[4], nullptr, 10));
  io.control = static_cast<intptr_t>(std::strtoll(argv[5], nullptr, 10));
  // Die with the parent (the PR_SET_PDEATHSIG of this platform).
  const DWORD parent = static_cast<DWORD>(std::strtoul(argv[3], nullptr, 10));
  HANDLE parent_process = ::OpenProcess(SYNCHRONIZE, FALSE, parent);
  if (parent_process == nullptr) return 97;
  HANDLE watchdog = ::CreateThread(
      nullptr, 0,
      [](void* h) -> DWORD {
        ::WaitForSingleObject(static_cast<HANDLE>(h), INFINITE);
        ::TerminateProcess(::GetCurrentProcess(), 97);
        return 0;
      },
      parent_process, 0, nullptr);
  if (watchdog == nullptr) return 97;
  ::CloseHandle(watchdog);
  const int rc = run_role(argv[2], io, Params::decode(argv[6]));
  std::fflush(nullptr);
  ::ExitProcess(static_cast<UINT>(rc));  // not through Catch2's or anyone's static destructors
#else
  (void)argv;
  std::fprintf(stderr, "--shmring-child: children are forked on this platform\n");
  return 96;
#endif
}

// ---- Child (parent side) ---------------------------------------------------------------------

#if defined(_WIN32)

Child::Child(const std::string& role, const Params& params) {
  SECURITY_ATTRIBUTES sa{sizeof sa, nullptr, FALSE};
  HANDLE ev_read = nullptr, ev_write = nullptr, ctl_read = nullptr, ctl_write = nullptr;
  if (!::CreatePipe(&ev_read, &ev_write, &sa, 0)) throw std::runtime_error("CreatePipe failed");
  if (!::CreatePipe(&ctl_read, &ctl_write, &sa, 0)) {
    ::CloseHandle(ev_read);
    ::CloseHandle(ev_write);
    throw std::runtime_error("CreatePipe failed");
  }
  // Only the child's two ends are inheritable, and only while this child is created.
  ::SetHandleInformation(ev_write, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
  ::SetHandleInformation(ctl_read, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
  wchar_t self[MAX_PATH];
  const DWORD len = ::GetModuleFileNameW(nullptr, self, MAX_PATH);
  const std::string tail =
      " --shmring-child " + role + " " + std::to_string(::GetCurrentProcessId()) + " " +
      std::to_string(reinterpret_cast<intptr_t>(ev_write)) + " " +
      std::to_string(reinterpret_cast<intptr_t>(ctl_read)) + " " + params.encode();
  std::wstring command =
      L"\"" + std::wstring(self, len) + L"\"" + std::wstring(tail.begin(), tail.end());
  STARTUPINFOW si{};
  si.cb = sizeof si;
  PROCESS_INFORMATION pi{};
  std::fflush(nullptr);
  const BOOL created = ::CreateProcessW(nullptr, command.data(), nullptr, nullptr, TRUE, 0, nullptr,
                                        nullptr, &si, &pi);
  const DWORD err = ::GetLastError();
  ::CloseHandle(ev_write);
  ::CloseHandle(ctl_read);
  if (!created) {
    ::CloseHandle(ev_read);
    ::CloseHandle(ctl_write);
    throw std::runtime_error("CreateProcessW failed: error " + std::to_string(err));
  }
  ::CloseHandle(pi.hThread);
  pid_ = pi.dwProcessId;
  process_ = reinterpret_cast<intptr_t>(pi.hProcess);
  events_ = reinterpret_cast<intptr_t>(ev_read);
  control_ = reinterpret_cast<intptr_t>(ctl_write);
}

Child::~Child() {
  kill_and_reap();
  for (intptr_t h : {events_, control_, process_})
    if (h != -1) ::CloseHandle(as_handle(h));
}

void Child::kill() noexcept {
  if (reaped_ || killed_) return;
  if (::WaitForSingleObject(as_handle(process_), 0) == WAIT_OBJECT_0) return;  // exited already
  ::TerminateProcess(as_handle(process_), 137);
  killed_ = true;
}

void Child::kill_and_reap() noexcept {
  if (reaped_) return;
  kill();
  ::WaitForSingleObject(as_handle(process_), INFINITE);
  DWORD code = 0;
  ::GetExitCodeProcess(as_handle(process_), &code);
  status_ = static_cast<int>(code);
  reaped_ = true;
}

bool Child::wait_exit(int timeout_ms) {
  if (reaped_) return true;
  const DWORD r =
      ::WaitForSingleObject(as_handle(process_), static_cast<DWORD>(std::max(timeout_ms, 0)));
  if (r != WAIT_OBJECT_0) return false;
  DWORD code = 0;
  ::GetExitCodeProcess(as_handle(process_), &code);
  status_ = static_cast<int>(code);
  reaped_ = true;
  return true;
}

bool Child::wait_zombie(int timeout_ms) {
  if (reaped_) return false;
  return ::WaitForSingleObject(as_handle(process_), static_cast<DWORD>(std::max(timeout_ms, 0))) ==
         WAIT_OBJECT_0;
}

bool Child::succeeded() const noexcept {
  return reaped_ && !killed_ && status_ == 0;
}

std::string Child::describe() const {
  std::string who = "pid " + std::to_string(pid_) + " ";
  if (!reaped_) return who + "running";
  if (killed_) return who + "terminated by the test (TerminateProcess)";
  return who + "exited with " + std::to_string(static_cast<unsigned>(status_));
}

bool Child::read_some(void* buffer, std::size_t size, std::size_t& got, uint64_t deadline) {
  got = 0;
  if (!wait_readable(events_, size, deadline)) return false;
  if (!read_exact(events_, buffer, size)) return false;
  got = size;
  return true;
}

void Child::send(char c) noexcept {
  (void)write_all(control_, &c, 1);
}

#else  // Linux

Child::Child(const std::string& role, const Params& params) {
  static const bool sigpipe_ignored = [] {
    std::signal(SIGPIPE, SIG_IGN);  // a write to a dead child's pipe must not kill the test
    return true;
  }();
  (void)sigpipe_ignored;
  int ev[2], ctl[2];
  if (::pipe2(ev, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  if (::pipe2(ctl, O_CLOEXEC) != 0) {
    ::close(ev[0]);
    ::close(ev[1]);
    throw std::runtime_error("pipe2 failed");
  }
  std::fflush(nullptr);  // the child must not repeat buffered output
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    for (int fd : {ev[0], ev[1], ctl[0], ctl[1]}) ::close(fd);
    throw std::runtime_error(std::string("fork failed: ") + std::strerror(err));
  }
  if (pid == 0) {
    // Child: die with the parent; never return into Catch2.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(97);
    for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGTERM, SIGINT})
      std::signal(sig, SIG_DFL);
    for (int fd : parent_fds()) ::close(fd);
    ::close(ev[0]);
    ::close(ctl[1]);
    ChildIo io{ev[1], ctl[0]};
    ::_exit(run_role(role, io, params));
  }
  pid_ = static_cast<uint32_t>(pid);
  ::close(ev[1]);
  ::close(ctl[0]);
  events_ = ev[0];
  control_ = ctl[1];
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));  // -1: poll waitpid
  if (pidfd >= 0) ::fcntl(pidfd, F_SETFD, FD_CLOEXEC);
  process_ = pidfd;
  parent_fds().push_back(ev[0]);
  parent_fds().push_back(ctl[1]);
  if (pidfd >= 0) parent_fds().push_back(pidfd);
}

Child::~Child() {
  kill_and_reap();
  for (intptr_t fd : {events_, control_, process_}) {
    if (fd < 0) continue;
    forget_fd(static_cast<int>(fd));
    ::close(static_cast<int>(fd));
  }
}

void Child::kill() noexcept {
  if (reaped_ || pid_ == 0) return;
  ::kill(static_cast<pid_t>(pid_), SIGKILL);
  killed_ = true;
}

void Child::kill_and_reap() noexcept {
  if (reaped_ || pid_ == 0) return;
  kill();
  while (::waitpid(static_cast<pid_t>(pid_), &status_, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
}

bool Child::wait_exit(int timeout_ms) {
  if (reaped_) return true;
  const int pidfd = static_cast<int>(process_);
  const uint64_t deadline = deadline_after(timeout_ms);
  for (;;) {
    if (pidfd >= 0) {
      struct pollfd pfd {
        pidfd, POLLIN, 0
      };
      const int r = ::poll(&pfd, 1, remaining_ms(deadline));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
    }
    const pid_t w = ::waitpid(static_cast<pid_t>(pid_), &status_, WNOHANG);
    if (w == static_cast<pid_t>(pid_)) {
      reaped_ = true;
      return true;
    }
    if (w < 0 && errno != EINTR) {
      reaped_ = true;  // not our child any more; nothing to reap
      return true;
    }
    if (now_ns() >= deadline) return false;
    if (pidfd < 0) {
      struct timespec ts {
        0, 1'000'000
      };
      ::nanosleep(&ts, nullptr);  // no pidfd: a bounded wait for exit, not synchronisation
    }
  }
}

bool Child::wait_zombie(int timeout_ms) {
  if (reaped_) return false;
  const int pidfd = static_cast<int>(process_);
  const uint64_t deadline = deadline_after(timeout_ms);
  for (;;) {
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == static_cast<pid_t>(pid_))
      return true;
    if (now_ns() >= deadline) return false;
    if (pidfd >= 0) {
      struct pollfd pfd {
        pidfd, POLLIN, 0
      };
      (void)::poll(&pfd, 1, remaining_ms(deadline));
    } else {
      ::sched_yield();
    }
  }
}

bool Child::succeeded() const noexcept {
  return reaped_ && WIFEXITED(status_) && WEXITSTATUS(status_) == 0;
}

std::string Child::describe() const {
  std::string who = "pid " + std::to_string(pid_) + " ";
  if (!reaped_) return who + "running";
  if (WIFEXITED(status_)) return who + "exited with " + std::to_string(WEXITSTATUS(status_));
  if (WIFSIGNALED(status_)) return who + "killed by signal " + std::to_string(WTERMSIG(status_));
  return who + "status " + std::to_string(status_);
}

bool Child::read_some(void* buffer, std::size_t size, std::size_t& got, uint64_t deadline) {
  auto* p = static_cast<char*>(buffer);
  got = 0;
  while (got < size) {
    struct pollfd pfd {
      static_cast<int>(events_), POLLIN, 0
    };
    const int r = ::poll(&pfd, 1, remaining_ms(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;  // timeout (a partial event is lost with the child anyway)
    const ssize_t n = ::read(static_cast<int>(events_), p + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // EOF: the child is gone and its pipe is drained
    got += static_cast<std::size_t>(n);
  }
  return true;
}

void Child::send(char c) noexcept {
  (void)write_all(control_, &c, 1);
}

#endif

bool Child::read_event(Event& e, int timeout_ms) {
  std::size_t got = 0;
  if (!read_some(&e, sizeof e, got, deadline_after(timeout_ms))) return false;
  e.text[sizeof e.text - 1] = '\0';
  if (e.tag == 'E') errors_ += std::string(e.text) + "\n";
  if (e.tag == 'R') {
    report_ = e;
    has_report_ = true;
  }
  return true;
}

bool Child::next_event(Event& e, int timeout_ms) {
  if (!pending_.empty()) {
    e = pending_.front();
    pending_.erase(pending_.begin());
    return true;
  }
  return read_event(e, timeout_ms);
}

bool Child::expect_event(char tag, Event& e, int timeout_ms, std::string& why) {
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (it->tag == tag) {
      e = *it;
      pending_.erase(it);
      return true;
    }
  }
  const uint64_t deadline = deadline_after(timeout_ms);
  for (;;) {
    if (!read_event(e, remaining_ms(deadline))) {
      (void)wait_exit(now_ns() < deadline ? 1000 : 0);
      why = std::string("no '") + tag + "' event from child " + describe() +
            (reaped_ ? "" : " within " + std::to_string(timeout_ms) + " ms") +
            (errors_.empty() ? "" : "; it reported: " + errors_);
      return false;
    }
    if (e.tag == tag) return true;
    if (e.tag == 'E') {
      why = std::string("child ") + describe() + " reported: " + e.text;
      return false;
    }
    pending_.push_back(e);
  }
}

std::string Child::errors() {
  Event e;
  while (read_event(e, 0)) pending_.push_back(e);
  return errors_;
}

bool Child::report(Event& e) {
  Event x;
  while (read_event(x, 0)) pending_.push_back(x);
  if (has_report_) e = report_;
  return has_report_;
}

// ---- shared bookkeeping memory ---------------------------------------------------------------

namespace detail {

namespace {
std::mutex& shared_mutex() {
  static std::mutex m;
  return m;
}
uint32_t next_shared_id() {
  static uint32_t n = 0;
  return n++;
}
#if !defined(_WIN32)
// Linux: fork()ed children inherit both the mapping and this table.
std::map<std::string, void*>& shared_by_name() {
  static std::map<std::string, void*> m;
  return m;
}
#endif
}  // namespace

void* create_shared(std::size_t size, std::string& name, intptr_t& handle) {
  const std::lock_guard<std::mutex> lock(shared_mutex());
  name = "shmring-test-book-" + std::to_string(platform::current_pid()) + "-" +
         std::to_string(next_shared_id());
#if defined(_WIN32)
  const std::wstring wide = L"Local\\" + std::wstring(name.begin(), name.end());
  HANDLE h = ::CreateFileMappingW(INVALID_HANDLE_VALUE, nullptr, PAGE_READWRITE, 0,
                                  static_cast<DWORD>(size), wide.c_str());
  if (h == nullptr) throw std::runtime_error("CreateFileMappingW of the test bookkeeping failed");
  void* p = ::MapViewOfFile(h, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, size);
  if (p == nullptr) {
    ::CloseHandle(h);
    throw std::runtime_error("MapViewOfFile of the test bookkeeping failed");
  }
  handle = reinterpret_cast<intptr_t>(h);
  return p;
#else
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("mmap of the test bookkeeping failed");
  shared_by_name()[name] = p;
  handle = 1;  // ours: unmap on release
  return p;
#endif
}

void* attach_shared(const std::string& name, std::size_t size, intptr_t& handle) {
#if defined(_WIN32)
  const std::wstring wide = L"Local\\" + std::wstring(name.begin(), name.end());
  HANDLE h = ::OpenFileMappingW(FILE_MAP_READ | FILE_MAP_WRITE, FALSE, wide.c_str());
  if (h == nullptr) return nullptr;
  void* p = ::MapViewOfFile(h, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, size);
  if (p == nullptr) {
    ::CloseHandle(h);
    return nullptr;
  }
  handle = reinterpret_cast<intptr_t>(h);
  return p;
#else
  (void)size;
  const std::lock_guard<std::mutex> lock(shared_mutex());
  auto it = shared_by_name().find(name);
  handle = -1;  // inherited from the parent: not ours to unmap
  return it == shared_by_name().end() ? nullptr : it->second;
#endif
}

void release_shared(void* memory, std::size_t size, intptr_t handle) noexcept {
#if defined(_WIN32)
  (void)size;
  ::UnmapViewOfFile(memory);
  if (handle != -1) ::CloseHandle(reinterpret_cast<HANDLE>(handle));
#else
  if (handle == -1) return;
  {
    const std::lock_guard<std::mutex> lock(shared_mutex());
    for (auto it = shared_by_name().begin(); it != shared_by_name().end(); ++it) {
      if (it->second == memory) {
        shared_by_name().erase(it);
        break;
      }
    }
  }
  ::munmap(memory, size);
#endif
}

}  // namespace detail

}  // namespace shmring::proctest

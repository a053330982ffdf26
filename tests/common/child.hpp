// shmring tests — child processes that run a named *role*, on Linux and on Windows.
//
// A test starts a peer with Child("producer", params): the child runs the role function
// registered under that name with those parameters, talks to the parent through two pipes
// (events to the parent, control bytes from it) and exits with the role's return value; Catch2
// never runs in a child.
//  * Linux: fork(). The child dies with its parent (PR_SET_PDEATHSIG) and calls the role
//    directly, then _exit().
//  * Windows: CreateProcessW of the test executable itself with
//      --shmring-child ROLE PARENT_PID EVENTS_HANDLE CONTROL_HANDLE PARAMS
//    (the two inherited pipe ends; PARAMS hex-encoded). The test main() hands such a command
//    line to run_child_role() before Catch2 sees it. A watchdog thread ends the child when the
//    parent process exits.
// In both, the parent's Child guard kills (SIGKILL / TerminateProcess) and reaps the child on
// every path out of a test. Roles are registered by a static ChildRole object in the test file
// that defines them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

namespace shmring::proctest {

// ---- parameters ------------------------------------------------------------------------------

// String key/value pairs that survive a command line (hex-encoded).
class Params {
 public:
  Params& set(const std::string& key, const std::string& value);
  Params& set(const std::string& key, const char* value) { return set(key, std::string(value)); }
  Params& set(const std::string& key, uint64_t value);
  Params& set(const std::string& key, uint32_t value) { return set(key, uint64_t{value}); }
  Params& set(const std::string& key, int64_t value);
  Params& set(const std::string& key, bool value) { return set(key, uint64_t{value ? 1u : 0u}); }

  // Missing keys read as "" / 0 / false.
  std::string str(const std::string& key) const;
  uint64_t u64(const std::string& key) const;
  uint32_t u32(const std::string& key) const { return static_cast<uint32_t>(u64(key)); }
  int64_t i64(const std::string& key) const;
  bool flag(const std::string& key) const { return u64(key) != 0; }

  std::string encode() const;
  static Params decode(std::string_view text);

 private:
  std::map<std::string, std::string> values_;
};

// ---- events and the child's side -------------------------------------------------------------

// One fixed-size message from a child. Smaller than PIPE_BUF, so a write is atomic.
struct Event {
  char tag = 0;  // 'A' attached, 'C' claimed, 'F' full, 'P' progress, 'R' report, 'E' error
  uint32_t code = 0;
  uint64_t v[6] = {};
  char text[400] = {};
};

// The child's ends of its pipes (file descriptors on Linux, HANDLEs on Windows).
struct ChildIo {
  intptr_t events = -1;   // to the parent
  intptr_t control = -1;  // from the parent
  void send(const Event& e) const noexcept;
  void send(char tag, uint64_t v0 = 0, uint64_t v1 = 0, uint64_t v2 = 0,
            uint64_t v3 = 0) const noexcept;
  // Sends an 'E' event (also to stderr) and returns the exit code to use.
  int fail(const char* fmt, ...) const noexcept
#if defined(__GNUC__)
      __attribute__((format(printf, 2, 3)))
#endif
      ;
  // Next control byte, or 0 after timeout_ms or when the parent closed the pipe.
  char wait_control(int timeout_ms) const noexcept;
};

inline constexpr int kChildFailed = 2;

using RoleFunction = int (*)(ChildIo&, const Params&);

// Registers a role at static-initialisation time: static const ChildRole r("name", function);
struct ChildRole {
  ChildRole(const char* name, RoleFunction function);
};

// For the test main(): if argv is a child's command line, runs the role and returns its exit
// code; otherwise returns -1 and the caller runs Catch2. Built-in roles: "exit" exits with
// params "code"; "idle" waits until the parent sends a byte or goes away.
int run_child_role(int argc, char** argv);

// ---- the parent's side -----------------------------------------------------------------------

class Child {
 public:
  Child(const std::string& role, const Params& params = {});
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  uint32_t pid() const noexcept { return pid_; }
  // Next event, waiting at most timeout_ms. false on timeout or once the child is gone and
  // its pipe is drained.
  bool next_event(Event& e, int timeout_ms);
  // Waits (at most timeout_ms) for an event with `tag`; an 'E' event or the child's exit makes
  // it return false, with the reason in `why`.
  bool expect_event(char tag, Event& e, int timeout_ms, std::string& why);
  void send(char c) noexcept;
  // Reaps the child if it has exited, waiting at most timeout_ms. true once reaped.
  bool wait_exit(int timeout_ms);
  bool exited() { return wait_exit(0); }
  // Kills the child (SIGKILL / TerminateProcess) without reaping it.
  void kill() noexcept;
  // Waits until the child has terminated but leaves it unreaped: a zombie on Linux, a process
  // object still held open by our handle on Windows.
  bool wait_zombie(int timeout_ms);
  void kill_and_reap() noexcept;
  bool succeeded() const noexcept;
  std::string describe() const;  // "running", "exited with 0", "killed by signal 9"
  // Text of the 'E' events received so far (and any still in the pipe).
  std::string errors();
  // The last 'R' (report) event, whether or not something already took it; false if none.
  bool report(Event& e);

 private:
  bool read_event(Event& e, int timeout_ms);
  bool read_some(void* buffer, std::size_t size, std::size_t& got, uint64_t deadline_ns);
  uint32_t pid_ = 0;
  intptr_t process_ = -1;  // Linux: pidfd (or -1); Windows: process HANDLE
  intptr_t events_ = -1;
  intptr_t control_ = -1;
  bool reaped_ = false;
  bool killed_ = false;
  int status_ = 0;
  std::vector<Event> pending_;  // events read while looking for another tag
  std::string errors_;
  Event report_;
  bool has_report_ = false;
};

// ---- memory shared with children -------------------------------------------------------------

namespace detail {
// Creates zeroed shared memory of `size` bytes named by `name` (Linux: an anonymous MAP_SHARED
// mapping that fork() children inherit; Windows: a named file mapping).
void* create_shared(std::size_t size, std::string& name, intptr_t& handle);
// In a child: the memory of create_shared(name).
void* attach_shared(const std::string& name, std::size_t size, intptr_t& handle);
void release_shared(void* memory, std::size_t size, intptr_t handle) noexcept;
}  // namespace detail

// Test bookkeeping that outlives the children that write it. Not a ring: rings are always
// opened by name. T must be zero-initialisable and hold only lock-free atomics and plain bytes.
template <class T>
class SharedBook {
 public:
  SharedBook() : owner_(true) {
    book_ = new (detail::create_shared(sizeof(T), name_, handle_)) T();
  }
  // In a child: the parent's book, by name().
  static std::unique_ptr<SharedBook> attach(const std::string& name) {
    std::unique_ptr<SharedBook> b(new SharedBook(name));
    return b->book_ != nullptr ? std::move(b) : nullptr;
  }
  ~SharedBook() {
    if (owner_ && book_ != nullptr) book_->~T();
    if (book_ != nullptr) detail::release_shared(book_, sizeof(T), handle_);
  }
  SharedBook(const SharedBook&) = delete;
  SharedBook& operator=(const SharedBook&) = delete;
  const std::string& name() const noexcept { return name_; }
  T* operator->() const noexcept { return book_; }
  T& operator*() const noexcept { return *book_; }

 private:
  explicit SharedBook(const std::string& name) : owner_(false), name_(name) {
    book_ = static_cast<T*>(detail::attach_shared(name, sizeof(T), handle_));
  }
  bool owner_;
  std::string name_;
  intptr_t handle_ = -1;
  T* book_ = nullptr;
};

}  // namespace shmring::proctest

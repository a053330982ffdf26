// Windows only: how rings map to named sections, the DACLs they get, the lifetime of a section
// (it dies with its last handle), liveness of exited processes, and the event-based Notifier.
// Runs under Wine in CI; docs/windows.md lists what Wine cannot show.
#include <windows.h>
// windows.h first.
#include <aclapi.h>
#include <sddl.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "child.hpp"
#include "support.hpp"

using namespace shmring;
using ut::NameGuard;

namespace {

std::wstring wide(const std::string& s) {
  return std::wstring(s.begin(), s.end());
}

std::string narrow(const wchar_t* s) {
  std::string out;
  for (; *s != 0; ++s) out += static_cast<char>(*s);
  return out;
}

std::string user_sid() {
  HANDLE token = nullptr;
  REQUIRE(::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token));
  DWORD needed = 0;
  ::GetTokenInformation(token, TokenUser, nullptr, 0, &needed);
  std::vector<char> buffer(needed);
  REQUIRE(::GetTokenInformation(token, TokenUser, buffer.data(), needed, &needed));
  ::CloseHandle(token);
  wchar_t* text = nullptr;
  REQUIRE(::ConvertSidToStringSidW(reinterpret_cast<TOKEN_USER*>(buffer.data())->User.Sid, &text));
  const std::string sid = narrow(text);
  ::LocalFree(text);
  return sid;
}

// The DACL of a named object as SDDL ("D:P(A;;...;;;S-1-5-...)...").
std::string dacl_of(const std::string& object) {
  HANDLE h = ::OpenFileMappingW(READ_CONTROL, FALSE, wide(object).c_str());
  INFO("OpenFileMappingW(READ_CONTROL) " << object << ": error " << ::GetLastError());
  REQUIRE(h != nullptr);
  PSECURITY_DESCRIPTOR sd = nullptr;
  PACL dacl = nullptr;
  const DWORD rc = ::GetSecurityInfo(h, SE_KERNEL_OBJECT, DACL_SECURITY_INFORMATION, nullptr,
                                     nullptr, &dacl, nullptr, &sd);
  ::CloseHandle(h);
  REQUIRE(rc == ERROR_SUCCESS);
  REQUIRE(dacl != nullptr);  // never a NULL DACL
  wchar_t* text = nullptr;
  REQUIRE(::ConvertSecurityDescriptorToStringSecurityDescriptorW(
      sd, SDDL_REVISION_1, DACL_SECURITY_INFORMATION, &text, nullptr));
  const std::string sddl = narrow(text);
  ::LocalFree(text);
  ::LocalFree(sd);
  return sddl;
}

// ACEs of an SDDL DACL string: the parenthesised groups.
std::vector<std::string> aces(const std::string& sddl) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while ((at = sddl.find('(', at)) != std::string::npos) {
    const std::size_t end = sddl.find(')', at);
    out.push_back(sddl.substr(at + 1, end - at - 1));
    at = end;
  }
  return out;
}

bool mentions(const std::vector<std::string>& list, const std::string& what) {
  for (const std::string& s : list)
    if (s.find(what) != std::string::npos) return true;
  return false;
}

// In a child process: opens ring "ring" for write and read-only; sends 'O' {write code, read
// code} (ErrorCode values; 0 = opened).
int open_ring_role(proctest::ChildIo& io, const proctest::Params& p) {
  OpenOptions rw;
  rw.ready_timeout_ns = 1'000'000;
  OpenOptions ro = rw;
  ro.read_only = true;
  auto w = Ring::open(p.str("ring"), rw);
  auto r = Ring::open(p.str("ring"), ro);
  uint64_t stat_ok = 0;
  if (r) stat_ok = r->stats().capacity == p.u32("capacity") ? 1 : 0;
  io.send('O', static_cast<uint64_t>(w ? ErrorCode::ok : w.error().code),
          static_cast<uint64_t>(r ? ErrorCode::ok : r.error().code), stat_ok);
  return 0;
}
const proctest::ChildRole kOpenRingRole("open-ring", open_ring_role);

}  // namespace

TEST_CASE("win32: ring NAME is the section Local\\shmring.NAME", "[unit][win32]") {
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(Kind::spsc, 4096));
  CHECK(platform::object_name(name.str()) == "Local\\shmring." + name.str());
  HANDLE h = ::OpenFileMappingW(FILE_MAP_READ, FALSE, wide(ut::shm_path(name.str())).c_str());
  CHECK(h != nullptr);
  if (h != nullptr) ::CloseHandle(h);
}

TEST_CASE("win32: by default the DACL grants the current user alone", "[unit][win32]") {
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(Kind::mpsc, 4096));
  const std::string sddl = dacl_of(ut::shm_path(name.str()));
  INFO("DACL: " << sddl << ", user " << user_sid());
  const std::vector<std::string> list = aces(sddl);
  REQUIRE(list.size() == 1u);
  CHECK(list[0].rfind("A;", 0) == 0);  // an allow ACE
  CHECK(list[0].find(user_sid()) != std::string::npos);
  CHECK(sddl.find("D:P") == 0);  // protected: nothing inherited
}

TEST_CASE("win32: a mode with group/other bits adds Authenticated Users", "[unit][win32]") {
  struct Case {
    uint32_t mode;
    bool others;
    bool write;
  };
  for (const Case c : {Case{0600, false, false}, Case{0700, false, false}, Case{0640, true, false},
                       Case{0604, true, false}, Case{0660, true, true}, Case{0666, true, true}}) {
    CAPTURE(c.mode);
    NameGuard name;
    CreateOptions o = ut::options(Kind::spsc, 4096);
    o.mode = c.mode;
    Ring ring = ut::create_ring(name.str(), o);
    const std::string sddl = dacl_of(ut::shm_path(name.str()));
    INFO("DACL: " << sddl);
    const std::vector<std::string> list = aces(sddl);
    CHECK(mentions(list, user_sid()));
    CHECK(mentions(list, ";;;AU") == c.others);
    CHECK(list.size() == (c.others ? 2u : 1u));
    if (c.others) {
      // Section rights once generic rights are mapped: read = 0x4 (SECTION_MAP_READ) with
      // query; write adds SECTION_MAP_WRITE (0x2).
      HANDLE h = ::OpenFileMappingW(READ_CONTROL, FALSE, wide(ut::shm_path(name.str())).c_str());
      REQUIRE(h != nullptr);
      PACL dacl = nullptr;
      PSECURITY_DESCRIPTOR sd = nullptr;
      REQUIRE(::GetSecurityInfo(h, SE_KERNEL_OBJECT, DACL_SECURITY_INFORMATION, nullptr, nullptr,
                                &dacl, nullptr, &sd) == ERROR_SUCCESS);
      ::CloseHandle(h);
      PSID au = nullptr;
      REQUIRE(::ConvertStringSidToSidW(L"AU", &au));
      bool found = false;
      for (DWORD i = 0; i < dacl->AceCount; ++i) {
        void* ace = nullptr;
        REQUIRE(::GetAce(dacl, i, &ace));
        auto* allowed = static_cast<ACCESS_ALLOWED_ACE*>(ace);
        if (!::EqualSid(&allowed->SidStart, au)) continue;
        found = true;
        const ACCESS_MASK m = allowed->Mask;
        INFO("Authenticated Users mask 0x" << std::hex << m);
        CHECK(((m & (GENERIC_READ | SECTION_MAP_READ)) != 0));
        CHECK(((m & (GENERIC_WRITE | SECTION_MAP_WRITE)) != 0) == c.write);
      }
      CHECK(found);
      ::LocalFree(au);
      ::LocalFree(sd);
    }
  }
}

TEST_CASE("win32: an explicit SDDL is used as given; NULL or missing DACLs are refused",
          "[unit][win32]") {
  const std::string me = user_sid();
  SECTION("granted as given") {
    NameGuard name;
    CreateOptions o = ut::options(Kind::spsc, 4096);
    o.security_descriptor = "D:P(A;;GA;;;" + me + ")(A;;GR;;;BU)";
    Ring ring = ut::create_ring(name.str(), o);
    const std::vector<std::string> list = aces(dacl_of(ut::shm_path(name.str())));
    CHECK(list.size() == 2u);
    CHECK(mentions(list, ";;;BU"));
  }
  SECTION("refused") {
    for (const std::string& bad :
         {std::string("D:NO_ACCESS_CONTROL"), std::string("O:" + me), std::string("garbage(")}) {
      CAPTURE(bad);
      NameGuard name;
      CreateOptions o = ut::options(Kind::spsc, 4096);
      o.security_descriptor = bad;
      ut::check_error(Ring::create(name.str(), o), ErrorCode::invalid_argument, name.str());
      CHECK_FALSE(ut::object_exists(name.str()));
    }
  }
  SECTION("a mode and an SDDL together are ambiguous") {
    NameGuard name;
    CreateOptions o = ut::options(Kind::spsc, 4096);
    o.mode = 0644;
    o.security_descriptor = "D:P(A;;GA;;;" + me + ")";
    ut::check_error(Ring::create(name.str(), o), ErrorCode::invalid_argument, name.str());
  }
}

TEST_CASE("win32: a DACL that grants read only: write opens are denied, read-only opens work",
          "[unit][win32]") {
  NameGuard name;
  CreateOptions o = ut::options(Kind::mpsc, 4096);
  o.security_descriptor = "D:P(A;;GR;;;" + user_sid() + ")";
  Ring ring = ut::create_ring(name.str(), o);  // the creator's own handle is read/write
  Producer producer = ut::attach_producer(ring);
  REQUIRE(producer.try_write(1, "x", 1) == Status::ok);

  // This process: the same user, but the DACL says read only.
  OpenOptions rw = ut::quick_open();
  ut::check_error(Ring::open(name.str(), rw), ErrorCode::permission_denied, name.str());
  Ring reader = ut::open_ring(name.str(), /*read_only=*/true);
  CHECK(reader.stats().messages_written == 1u);

  // Another process: the same answers.
  proctest::Child child("open-ring",
                        proctest::Params().set("ring", name.str()).set("capacity", 4096u));
  proctest::Event e;
  std::string why;
  REQUIRE(child.expect_event('O', e, 30'000, why));
  CHECK(static_cast<ErrorCode>(e.v[0]) == ErrorCode::permission_denied);
  CHECK(static_cast<ErrorCode>(e.v[1]) == ErrorCode::ok);
  CHECK(e.v[2] == 1u);
  CHECK(child.wait_exit(30'000));
  CHECK(child.succeeded());
}

TEST_CASE("win32: another process of the same user opens a default (0600) ring", "[unit][win32]") {
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(Kind::spsc, 4096));
  proctest::Child child("open-ring",
                        proctest::Params().set("ring", name.str()).set("capacity", 4096u));
  proctest::Event e;
  std::string why;
  REQUIRE(child.expect_event('O', e, 30'000, why));
  CHECK(static_cast<ErrorCode>(e.v[0]) == ErrorCode::ok);
  CHECK(static_cast<ErrorCode>(e.v[1]) == ErrorCode::ok);
  CHECK(e.v[2] == 1u);
}

TEST_CASE("win32: a ring lives while a handle is open; unlink only checks it exists",
          "[unit][win32]") {
  const std::string name = ut::unique_name();  // no NameGuard: nothing keeps it alive
  {
    auto created = Ring::create(name, ut::options(Kind::spsc, 4096));
    REQUIRE(created.ok());
    Ring other = ut::open_ring(name);
    Producer producer = ut::attach_producer(other);
    Consumer consumer = ut::attach_consumer(created.value());
    REQUIRE(Ring::unlink(name).ok());
    CHECK(ut::object_exists(name));  // still open here: nothing was removed
    CHECK(Ring::open(name, ut::quick_open()).ok());
    ut::check_error(Ring::create(name, ut::options(Kind::mpsc, 4096)), ErrorCode::already_exists,
                    name);
    REQUIRE(producer.try_write(1, "abc", 3) == Status::ok);
    CHECK(ut::poll_all(consumer, 10).size() == 1u);
  }
  // The last handle is gone, and the ring with it.
  CHECK_FALSE(ut::object_exists(name));
  ut::check_error(Ring::open(name, ut::quick_open()), ErrorCode::not_found, name);
  ut::check_error(Ring::unlink(name), ErrorCode::not_found, name);
  auto again = Ring::create(name, ut::options(Kind::mpsc, 4096));
  CHECK(again.ok());
}

TEST_CASE("win32: Global\\ on request, or a clear error naming SeCreateGlobalPrivilege",
          "[unit][win32]") {
  const std::string name = ut::unique_name();
  CreateOptions o = ut::options(Kind::spsc, 4096);
  o.global_namespace = true;
  auto ring = Ring::create(name, o);
  if (!ring) {
    // Real Windows outside session 0 without the privilege.
    INFO(ring.error().message);
    CHECK(ring.error().code == ErrorCode::permission_denied);
    CHECK(ring.error().message.find("SeCreateGlobalPrivilege") != std::string::npos);
    CHECK(ring.error().message.find("Global\\shmring." + name) != std::string::npos);
    return;
  }
  OpenOptions global = ut::quick_open();
  global.global_namespace = true;
  auto opened = Ring::open(name, global);
  REQUIRE(opened.ok());
  CHECK(opened->capacity() == 4096u);
  CHECK(Ring::unlink(name, true).ok());
  HANDLE h = ::OpenFileMappingW(FILE_MAP_READ, FALSE, wide("Global\\shmring." + name).c_str());
  CHECK(h != nullptr);
  if (h != nullptr) ::CloseHandle(h);
}

TEST_CASE("win32: process_alive", "[unit][win32]") {
  CHECK_FALSE(platform::process_alive(0));
  CHECK(platform::process_alive(platform::current_pid()));
  CHECK_FALSE(platform::process_alive(ut::dead_pid()));
  proctest::Child idle("idle");
  CHECK(platform::process_alive(idle.pid()));
  idle.kill();
  REQUIRE(idle.wait_zombie(30'000));
  // Exited, but our handle keeps its process object: dead all the same.
  CHECK_FALSE(platform::process_alive(idle.pid()));
}

TEST_CASE("win32: clocks", "[unit][win32]") {
  const uint64_t a = platform::monotonic_ns();
  platform::sleep_ns(20'000'000);
  const uint64_t b = platform::monotonic_ns();
  CHECK(b - a >= 15'000'000u);
  CHECK(b - a < 5'000'000'000u);
  const uint64_t wall = platform::wall_clock_ns();
  CHECK(wall > 1'600'000'000'000'000'000ull);  // after 2020
  CHECK_FALSE(platform::enable_light_fences());
  CHECK(platform::heavy_fence());
}

namespace {

// A word and its sleeper word, as in the ring header.
struct alignas(8) WaitWords {
  std::atomic<uint32_t> word{0};
  std::atomic<uint32_t> sleepers{0};
};

platform::Notifier notifier_for(const std::string& ring, WaitWords& w, bool create) {
  auto n = platform::Notifier::open(ring, "data", &w.word, platform::RegionOptions{}, create);
  INFO(n.error().message);
  REQUIRE(n.ok());
  return std::move(n.value());
}

}  // namespace

TEST_CASE("win32 notifier: wake_all wakes every sleeper", "[unit][win32]") {
  NameGuard name;
  WaitWords w;
  platform::Notifier n = notifier_for(name.str(), w, true);
  constexpr int kSleepers = 8;
  std::atomic<int> woken{0}, timed_out{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kSleepers; ++i) {
    threads.emplace_back([&] {
      const uint32_t seen = w.word.load();
      while (w.word.load() == seen) {
        if (n.wait(seen, 20'000'000'000) == platform::WaitOutcome::timed_out) ++timed_out;
      }
      ++woken;
    });
  }
  // Wait until all of them are registered, then wake once.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((w.sleepers.load() & 0xFF) != kSleepers && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  CHECK((w.sleepers.load() & 0xFF) == kSleepers);
  w.word.fetch_add(1);
  n.wake_all();
  for (std::thread& t : threads) t.join();
  CHECK(woken.load() == kSleepers);
  CHECK(timed_out.load() == 0);
  CHECK((w.sleepers.load() & 0xFF) == 0u);  // every sleeper deregistered
}

TEST_CASE("win32 notifier: a wake that lands before the wait is not lost", "[unit][win32]") {
  NameGuard name;
  WaitWords w;
  platform::Notifier n = notifier_for(name.str(), w, true);
  const uint32_t seen = w.word.load();
  w.word.fetch_add(1);
  n.wake_all();
  CHECK(n.wait(seen, 10'000'000'000) == platform::WaitOutcome::value_changed);
  CHECK(n.wait(w.word.load(), 1'000'000) == platform::WaitOutcome::timed_out);
}

// Several waiters for "space" and one for "data" on separate words, woken in a tight loop by two
// threads: every round must end with every waiter awake (a lost wake-up shows as a sleeper that
// runs into its 10 s timeout).
TEST_CASE("win32 notifier: no lost wake-up under churn", "[unit][win32]") {
  NameGuard name;
  WaitWords w;
  platform::Notifier n = notifier_for(name.str(), w, true);
  constexpr int kSleepers = 4;
  constexpr int kRounds = 300;
  std::atomic<int> timeouts{0}, done{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < kSleepers; ++i) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        const uint32_t seen = w.word.load();
        if (n.wait(seen, 10'000'000'000) == platform::WaitOutcome::timed_out) ++timeouts;
      }
      ++done;
    });
  }
  for (int r = 0; r < kRounds; ++r) {
    w.word.fetch_add(1);
    n.wake_all();
    if (r % 7 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  stop.store(true);
  while (done.load() != kSleepers) {
    w.word.fetch_add(1);
    n.wake_all();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (std::thread& t : threads) t.join();
  CHECK(timeouts.load() == 0);
  CHECK((w.sleepers.load() & 0xFF) == 0u);
}

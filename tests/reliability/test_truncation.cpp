// [reliability] The backing object is truncated, grown, overwritten or replaced while processes
// are attached to it.
//
// Truncation: an access to a page beyond the new end of the object raises SIGBUS. The platform
// layer handles it (docs/security.md, "Truncation and SIGBUS"): the attached reader and writer
// see Status::corrupt with a message that names the ring and says it was truncated, and exit
// normally; nobody dies of signal 7. Also:
//  * growing the object is harmless;
//  * a new opener of a truncated object gets `truncated` (or `not_ready` for size 0), never a
//    mapping it trusts;
//  * zero-filling the whole object under a streaming producer and consumer crashes nobody and
//    hangs nobody: every call returns within its timeout (the data is gone; that is the point),
//    and each keeps making calls afterwards;
//  * unlinking the name and creating a new ring under it leaves attached processes on the old
//    ring, and detaching them does not free slots of the new one;
//  * overwriting it with random bytes (a hostile act, see docs/security.md) crashes and hangs
//    nobody either.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "rel_util.hpp"
#include "shmring/layout.hpp"
#include "shmring/platform.hpp"

using namespace shmring;
using namespace shmring::proctest;
using namespace shmring::reltest;

namespace {

// A peer that keeps using the ring until 'S' arrives (or it dies): a writer writes, a reader
// reads, each call with a 10 ms timeout whose overrun it reports as an error. Sends 'A' once
// attached, 'P' {calls} after its first 100 calls and in answer to each 'Q' (between two of its
// calls), 'X' {status} at its first error, and 'R' {calls, errors seen, last status} at the end.
// Statuses other than ok / full / empty / timeout are counted, not fatal: after the ring is
// destroyed under it, corrupt is the right answer. With `truncated`, every error must be corrupt
// with a last_error() that names the ring and the truncation.
int run_peer(ChildIo& io, const std::string& ring_name, bool writer, bool truncated) {
  auto ring = Ring::open(ring_name);
  if (!ring) return io.fail("open: %s", ring.error().message.c_str());
  const Kind kind = ring->kind();
  std::unique_ptr<Producer> producer;
  std::unique_ptr<Consumer> consumer;
  std::unique_ptr<Reader> reader;
  if (writer) {
    ProducerOptions po;
    po.fail_if_consumer_dead = false;
    auto p = ring->attach_producer(po);
    if (!p) return io.fail("attach_producer: %s", p.error().message.c_str());
    producer = std::make_unique<Producer>(std::move(p.value()));
  } else if (kind == Kind::broadcast) {
    auto r = ring->attach_reader();
    if (!r) return io.fail("attach_reader: %s", r.error().message.c_str());
    reader = std::make_unique<Reader>(std::move(r.value()));
  } else {
    ConsumerOptions co;
    co.stuck_claim_timeout_ns = 5'000'000;
    auto c = ring->attach_consumer(co);
    if (!c) return io.fail("attach_consumer: %s", c.error().message.c_str());
    consumer = std::make_unique<Consumer>(std::move(c.value()));
  }
  io.send('A');
  std::vector<std::byte> buffer(ring->max_payload() + 1, std::byte{7});
  uint64_t calls = 0, errors = 0;
  Status last = Status::ok;
  constexpr int64_t kTimeout = 10'000'000;
  Rng rng(::getpid());
  for (;;) {
    const char control = io.wait_control(0);
    if (control == 'S') break;
    if (control == 'Q') io.send('P', calls);
    const Stopwatch watch;
    Status s = Status::ok;
    if (producer) {
      const uint32_t size = rng.below(static_cast<uint32_t>(buffer.size()));
      s = producer->write(1, buffer.data(), size, kTimeout);
    } else if (consumer) {
      s = consumer->read([](const RecordView&) {}, 64, kTimeout).status;
    } else {
      s = reader->wait_readable(kTimeout);
      if (s == Status::ok) s = reader->poll([](const RecordView&) {}, 64).status;
    }
    if (watch.elapsed_ns() > static_cast<uint64_t>(kTimeout) + kTimeoutSlackNs)
      return io.fail("a call with a 10 ms timeout took %" PRIu64 " ms",
                     watch.elapsed_ns() / 1'000'000);
    if (s != Status::ok && s != Status::full && s != Status::empty && s != Status::timeout) {
      if (errors++ == 0) io.send('X', static_cast<uint64_t>(s));
      if (truncated) {
        const std::string& why = producer   ? producer->last_error()
                                 : consumer ? consumer->last_error()
                                            : reader->last_error();
        if (s != Status::corrupt || why.find("'" + ring_name + "'") == std::string::npos ||
            why.find("truncated") == std::string::npos)
          return io.fail("after the truncation: status %s, last_error \"%s\"", to_string(s),
                         why.c_str());
      }
    }
    last = s;
    if (++calls == 100) io.send('P', calls);
  }
  io.send('R', calls, errors, static_cast<uint64_t>(last));
  return 0;
}

int peer_role(ChildIo& io, const Params& p) {
  return run_peer(io, p.str("ring"), p.flag("writer"), p.flag("truncated"));
}
const ChildRole kPeerRole("rel-peer", peer_role);

// The SIGBUS handler itself, in a child (case by number):
//  0: a view of our own touches a page past the object's shrunk end: absorbed, the view reads
//     zeros and says revoked, revoked_views() counts it; the process lives on.
//  1: a fault outside every view of ours (a plain mmap past an object's end) is not ours: with
//     no handler before ours, the process dies of SIGBUS as it would without shmring.
//  2: the application had its own SIGBUS handler first: a fault outside our views reaches it
//     (it exits 42), and a fault inside one of our views does not.
// Case 0 reports 'R' {1}; the others report 'R' {1} only if they were wrongly survived.
std::atomic<int> g_app_handler_calls{0};
void app_sigbus(int, siginfo_t*, void*) {
  g_app_handler_calls.fetch_add(1);
  ::_exit(42);
}

volatile std::byte* past_end_of_plain_mapping(const std::string& object) {
  const int fd = ::shm_open(("/shmring." + object).c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0 || ::ftruncate(fd, 8192) != 0) return nullptr;
  void* p = ::mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const bool shrunk = ::ftruncate(fd, 4096) == 0;
  ::close(fd);
  ::shm_unlink(("/shmring." + object).c_str());
  if (p == MAP_FAILED || !shrunk) return nullptr;
  return static_cast<volatile std::byte*>(p) + 4096;
}

int sigbus_role(ChildIo& io, const Params& p) {
  const std::string ring = p.str("ring");
  const uint32_t which = p.u32("case");
  if (which == 2) {
    struct sigaction a {};
    a.sa_sigaction = app_sigbus;
    a.sa_flags = SA_SIGINFO;
    sigemptyset(&a.sa_mask);
    ::sigaction(SIGBUS, &a, nullptr);
  }
  CreateOptions co;
  co.kind = Kind::spsc;
  co.capacity = 1u << 16;
  auto created = Ring::create(ring, co);  // installs our handler (on top of the app's)
  if (!created) return io.fail("create: %s", created.error().message.c_str());
  const long long size = object_size(ring);
  if (!truncate_object(ring, size + 4096)) return io.fail("grow");
  auto view = platform::open_region(ring, true, platform::RegionOptions{});
  if (!view || view->size() != static_cast<std::size_t>(size + 4096)) return io.fail("map");
  if (!truncate_object(ring, size)) return io.fail("shrink");
  if (which == 0 || which == 2) {
    volatile std::byte* guard = view->data() + size;  // the page past the end
    const std::byte seen = guard[0];                  // SIGBUS, absorbed
    guard[8] = std::byte{1};                          // and writable: private zeros
    const bool ok = seen == std::byte{0} && view->revoked() && platform::revoked_views() == 1 &&
                    g_app_handler_calls.load() == 0 && !view->verify();
    if (which == 0) {
      io.send('R', ok ? 1 : 0);
      return 0;
    }
    if (!ok)
      return io.fail("inside our view: revoked %d, app handler calls %d", view->revoked() ? 1 : 0,
                     g_app_handler_calls.load());
  }
  volatile std::byte* outside = past_end_of_plain_mapping(ring + ".plain");
  if (outside == nullptr) return io.fail("plain mapping");
  const std::byte b = outside[0];  // not ours: dies (case 1) or reaches the app (case 2)
  io.send('R', 1, static_cast<uint64_t>(b));
  return 0;
}
const ChildRole kSigbusRole("rel-sigbus", sigbus_role);

struct Peers {
  std::unique_ptr<Child> writer, reader;
};

Peers start_peers(const std::string& ring, bool truncated = false) {
  Peers p;
  Params params;
  params.set("ring", ring).set("writer", false).set("truncated", truncated);
  p.reader = std::make_unique<Child>("rel-peer", params);
  params.set("writer", true);
  p.writer = std::make_unique<Child>("rel-peer", params);
  Event e;
  std::string why;
  for (Child* c : {p.reader.get(), p.writer.get()}) {
    if (!c->expect_event('A', e, 30'000, why)) FAIL(why);
    if (!c->expect_event('P', e, 30'000, why)) FAIL(why);
  }
  return p;
}

// Returns once each peer has made `more` calls after this point, each answered within its
// timeout: asked over the control pipe ('Q'), answered between two of the peer's calls ('P').
// What the tests below wait for after changing the object under the peers, instead of a sleep.
void await_calls(Peers& p, uint64_t more) {
  for (Child* c : {p.reader.get(), p.writer.get()}) {
    Event e;
    std::string why;
    c->send('Q');
    if (!c->expect_event('P', e, 30'000, why)) FAIL(why);
    const uint64_t first = e.v[0];
    do {
      c->send('Q');
      if (!c->expect_event('P', e, 30'000, why)) FAIL(why);
    } while (e.v[0] < first + more);
  }
}

// Stops both peers and describes how each ended ("exited with 0 after N calls, M errors" or
// "killed by signal 7").
std::string stop_peers(Peers& p, bool& both_clean) {
  both_clean = true;
  std::string out;
  for (auto* c : {p.reader.get(), p.writer.get()}) {
    c->send('S');
    const bool exited = c->wait_exit(5'000);  // it checks for 'S' after every 10 ms call
    Event r;
    const bool reported = c->report(r);
    std::string line = (c == p.reader.get() ? "reader: " : "writer: ") + c->describe();
    if (reported)
      line += ", " + std::to_string(r.v[0]) + " calls, " + std::to_string(r.v[1]) +
              " errors, last status " + to_string(static_cast<Status>(r.v[2]));
    const std::string errors = c->errors();
    if (!errors.empty()) line += ", reported: " + errors;
    if (!exited || !c->succeeded() || !reported) both_clean = false;
    out += line + "\n";
  }
  return out;
}

Ring make_ring(const RingName& name, Kind kind) {
  CreateOptions co;
  co.kind = kind;
  co.capacity = 1u << 16;
  auto ring = Ring::create(name.str(), co);
  REQUIRE(ring.ok());
  return std::move(ring.value());
}

Kind kind_of(int i) {
  return i == 0 ? Kind::spsc : i == 1 ? Kind::mpsc : Kind::broadcast;
}

}  // namespace

// Both peers must report corrupt (checked in the peer: the message names the ring and the
// truncation) and then exit normally. The writer meets a lost page at its next record; the
// reader either meets one too, or, waiting on a header that still exists, finds the object
// shrunk when its 10 ms timeout ends (Region::verify).
TEST_CASE("reliability: truncated under attached processes, they get an error, not SIGBUS",
          "[reliability][truncate]") {
  for (int k = 0; k < 3; ++k) {
    for (const long long to : {static_cast<long long>(layout::kHeaderAlign), 0LL}) {
      const Kind kind = kind_of(k);
      INFO(kind_name(kind) << ", truncated to " << to << " bytes");
      RingName name;
      Ring ring = make_ring(name, kind);
      Peers peers = start_peers(name.str(), true);
      REQUIRE(truncate_object(name.str(), to));  // 4096: header kept, area gone; 0: all gone
      Event e;
      std::string why;
      for (Child* c : {peers.reader.get(), peers.writer.get()}) {
        CHECK(c->expect_event('X', e, 30'000, why));
        INFO(why);
        CHECK(static_cast<Status>(e.v[0]) == Status::corrupt);
      }
      bool clean = false;
      const std::string how = stop_peers(peers, clean);
      std::printf("  %s ring truncated to %lld bytes under a reader and a writer:\n%s",
                  kind_name(kind), to, how.c_str());
      std::fflush(stdout);
      INFO(how);
      CHECK(clean);
    }
  }
}

TEST_CASE("reliability: the SIGBUS handler absorbs faults in our views only, and chains",
          "[reliability][truncate]") {
  for (uint32_t which : {0u, 1u, 2u}) {
    INFO("case " << which);
    RingName name;
    Child child("rel-sigbus", Params().set("ring", name.str()).set("case", which));
    REQUIRE(child.wait_exit(30'000));
    Event r;
    const bool reported = child.report(r);
    INFO(child.describe() << " " << child.errors());
    switch (which) {
      case 0:  // absorbed, counted, the process lives
        CHECK(child.succeeded());
        CHECK((reported && r.v[0] == 1));
        break;
      case 1:  // not ours, no handler before us: the default action
        CHECK(child.describe().find("killed by signal " + std::to_string(SIGBUS)) !=
              std::string::npos);
        CHECK_FALSE(reported);
        break;
      case 2:  // not ours: the application's handler gets it
        CHECK(child.describe().find("exited with 42") != std::string::npos);
        CHECK_FALSE(reported);
        break;
    }
  }
}

TEST_CASE("reliability: growing the object under attached processes is harmless",
          "[reliability][truncate]") {
  for (int k = 0; k < 3; ++k) {
    const Kind kind = kind_of(k);
    INFO(kind_name(kind));
    RingName name;
    Ring ring = make_ring(name, kind);
    Peers peers = start_peers(name.str());
    const long long size = object_size(name.str());
    REQUIRE(truncate_object(name.str(), size * 2));
    await_calls(peers, 50);
    bool clean = false;
    const std::string how = stop_peers(peers, clean);
    INFO(how);
    CHECK(clean);
    auto again = Ring::open(name.str());  // a larger object than the header says is fine
    CHECK(again.ok());
  }
}

TEST_CASE("reliability: a new opener of a truncated object is refused", "[reliability][truncate]") {
  RingName name;
  Ring ring = make_ring(name, Kind::mpsc);
  const long long size = object_size(name.str());
  for (long long to : {size - 1, size / 2, static_cast<long long>(layout::kHeaderAlign), 64LL}) {
    INFO("truncated to " << to);
    REQUIRE(truncate_object(name.str(), to));
    OpenOptions o;
    o.ready_timeout_ns = 0;
    auto r = Ring::open(name.str(), o);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::truncated);
    CHECK(r.error().message.find(name.str()) != std::string::npos);
  }
  REQUIRE(truncate_object(name.str(), 0));
  OpenOptions o;
  o.ready_timeout_ns = 10'000'000;
  auto r = Ring::open(name.str(), o);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::not_ready);  // indistinguishable from a creator not done
}

TEST_CASE("reliability: the object zero-filled under a streaming writer and reader",
          "[reliability][overwrite]") {
  for (int k = 0; k < 3; ++k) {
    const Kind kind = kind_of(k);
    INFO(kind_name(kind));
    RingName name;
    Ring ring = make_ring(name, kind);
    Peers peers = start_peers(name.str());
    {
      auto raw = platform::open_region(name.str(), true, platform::RegionOptions{});
      REQUIRE(raw.ok());
      std::memset(raw->data(), 0, raw->size());  // a hostile or buggy peer wipes it
    }
    await_calls(peers, 50);
    bool clean = false;
    const std::string how = stop_peers(peers, clean);
    std::printf("  zero-filled %s ring under a reader and a writer:\n%s", kind_name(kind),
                how.c_str());
    std::fflush(stdout);
    INFO(how);
    CHECK(clean);
  }
}

TEST_CASE("reliability: the object overwritten with garbage under a writer and reader",
          "[reliability][overwrite]") {
  const uint64_t seed = test_seed();
  INFO("seed " << seed);
  Rng rng(seed);
  for (int k = 0; k < 3; ++k) {
    const Kind kind = kind_of(k);
    INFO(kind_name(kind));
    RingName name;
    Ring ring = make_ring(name, kind);
    Peers peers = start_peers(name.str());
    {
      auto raw = platform::open_region(name.str(), true, platform::RegionOptions{});
      REQUIRE(raw.ok());
      for (std::size_t i = 8; i + 8 <= raw->size(); i += 8) {
        const uint64_t v = rng.next();
        std::memcpy(raw->data() + i, &v, 8);  // everything but the magic
      }
    }
    await_calls(peers, 50);
    bool clean = false;
    const std::string how = stop_peers(peers, clean);
    std::printf("  garbage over a %s ring (seed %" PRIu64 "):\n%s", kind_name(kind), seed,
                how.c_str());
    std::fflush(stdout);
    INFO(how);
    CHECK(clean);
  }
}

TEST_CASE("reliability: unlink and re-create under attached processes",
          "[reliability][overwrite]") {
  RingName name;
  Ring old_ring = make_ring(name, Kind::mpsc);
  auto old_consumer = old_ring.attach_consumer();
  REQUIRE(old_consumer.ok());
  auto old_producer = old_ring.attach_producer();
  REQUIRE(old_producer.ok());
  REQUIRE(Ring::unlink(name.str()).ok());
  Ring new_ring = make_ring(name, Kind::mpsc);
  auto new_consumer = new_ring.attach_consumer();
  REQUIRE(new_consumer.ok());  // the old consumer holds the old ring's slot, not this one
  REQUIRE(old_producer->try_write(1, "old", 3) == Status::ok);
  std::vector<std::string> got;
  (void)old_consumer->poll(
      [&](const RecordView& v) { got.emplace_back(reinterpret_cast<const char*>(v.data), v.size); },
      8);
  CHECK(got == std::vector<std::string>{"old"});
  CHECK(new_consumer->poll([](const RecordView&) {}, 8).status == Status::empty);
  // Dropping the old handles must not release the new ring's consumer slot.
  old_consumer = Result<Consumer>(Error{});
  old_producer = Result<Producer>(Error{});
  auto second = new_ring.attach_consumer();
  CHECK_FALSE(second.ok());
  if (!second.ok()) CHECK(second.error().code == ErrorCode::busy);
}

// [known-bug] Reproductions of the core bugs the fuzzers and fault tests found (docs/security.md,
// "Known bugs"). Each runs the faulty sequence in a child process, so that a crash or a hang
// cannot take the test runner with it, and asserts the behaviour the API promises. They are
// tagged [!mayfail] while open; all of them are fixed in core now and guard against regressions.
// Every case builds the hostile state deterministically: a real ring, then a few words of its
// mapping written through a second, raw view (what any process that can open the ring can do).
#include <signal.h>

#include <catch2/catch.hpp>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "rel_util.hpp"
#include "shmring/inspect.hpp"
#include "shmring/layout.hpp"
#include "shmring/platform.hpp"

using namespace shmring;
using namespace shmring::proctest;
using namespace shmring::reltest;
using layout::RingHeader;

namespace {

// The child's verdict: 'R' {0: the promised behaviour, 1: the bug} with a description.
// Nothing here shrinks a ring under its own views, so a revoked view means that core touched
// the guard page past an area (open_with_guard_page): the SIGBUS the reproduction counts on was
// absorbed by the truncation handler, and the bug is back.
int verdict(ChildIo& io, bool ok, const std::string& what) {
  Event e;
  e.tag = 'R';
  const bool guard_hit = platform::revoked_views() != 0;
  e.v[0] = ok && !guard_hit ? 0 : 1;
  std::snprintf(e.text, sizeof e.text, "%s",
                guard_hit ? ("an access past the area hit the guard page (SIGBUS, absorbed as a "
                             "truncation); " +
                             what)
                                .c_str()
                          : what.c_str());
  io.send(e);
  return 0;
}

// Runs role `role` in a child with a deadline; returns "" when the child reported the promised
// behaviour, else what went wrong (its verdict, a signal, or a hang).
std::string isolated(const char* role, const Params& params, int deadline_ms = 5'000) {
  Child child(role, params);
  Event e;
  std::string why;
  if (!child.expect_event('R', e, deadline_ms, why)) {
    const bool ran = child.wait_exit(1'000);
    child.kill_and_reap();
    return ran ? "child " + child.describe() + ": " + why
               : "no answer within " + std::to_string(deadline_ms) + " ms (hung): " + why;
  }
  (void)child.wait_exit(5'000);
  return e.v[0] == 0 ? std::string() : std::string(e.text);
}

struct Raw {
  explicit Raw(const std::string& ring) {
    auto r = platform::open_region(ring, true, platform::RegionOptions{});
    if (r) region = std::move(r.value());
  }
  RingHeader* header() const { return reinterpret_cast<RingHeader*>(region.data()); }
  std::byte* area() const { return region.data() + header()->header_size; }
  layout::ProducerSlot* slot(uint32_t i) const {
    return reinterpret_cast<layout::ProducerSlot*>(region.data() + sizeof(RingHeader)) + i;
  }
  platform::Region region;
};

Ring make(const std::string& name, Kind kind, uint32_t capacity, uint32_t max_record = 0) {
  CreateOptions co;
  co.kind = kind;
  co.capacity = capacity;
  co.max_record_size = max_record;
  co.max_producers = kind == Kind::mpsc ? 4 : 1;
  co.max_readers = 2;
  auto r = Ring::create(name, co);
  if (!r) throw std::runtime_error(r.error().message);
  return std::move(r.value());
}

}  // namespace

namespace {

int bug_b1(ChildIo& io, const Params& p) {
  const std::string ring = p.str("ring");

  Ring r = make(ring, Kind::mpsc, 4096);
  auto consumer = r.attach_consumer();
  auto producer = r.attach_producer();
  if (!consumer || !producer) return io.fail("attach");
  (void)producer->try_write(1, "a", 1);
  (void)consumer->poll([](const RecordView&) {}, 8);
  Raw raw(ring);
  // A record header in the free space right at the producer position (never written by an
  // honest producer: the consumer zeroes what it consumes).
  auto* rec = reinterpret_cast<layout::RecordHeader*>(
      raw.area() + (raw.header()->producer_position.load() & 4095));
  rec->type.store(7);
  rec->length.store(64);
  const PollResult got = consumer->poll([](const RecordView&) {}, 8);
  const Stats st = r.stats();
  if (got.count != 0 || st.consumer_position - st.producer_position - 1 < 0x7FFFFFFFu) {
    io.send('W');  // now see whether a producer survives it
    const Status s = producer->try_write(1, "b", 1);
    return verdict(io, false,
                   "poll delivered " + std::to_string(got.count) +
                       " record(s) from beyond the producer position (consumer " +
                       std::to_string(st.consumer_position) + ", producer " +
                       std::to_string(st.producer_position) + "); try_write then returned " +
                       to_string(s));
  }
  return verdict(io, true, "");
}
const ChildRole kBug_b1("rel-bug-b1", bug_b1);

int bug_b1b(ChildIo& io, const Params& p) {
  const std::string ring = p.str("ring");

  Ring r = make(ring, Kind::mpsc, 4096);
  auto producer = r.attach_producer();
  if (!producer) return io.fail("attach");
  Raw raw(ring);
  raw.header()->consumer_position.store(raw.header()->producer_position.load() + 8);
  const Status s = producer->try_write(1, "x", 1);  // "never blocks"
  return verdict(io, s == Status::corrupt || s == Status::full,
                 std::string("try_write returned ") + to_string(s));
}
const ChildRole kBug_b1b("rel-bug-b1b", bug_b1b);

int bug_b2(ChildIo& io, const Params& p) {
  const std::string ring = p.str("ring");
  const Kind kind = static_cast<Kind>(p.u32("kind"));
  Ring created = make(ring, kind, 4096);
  auto r = open_with_guard_page(ring);  // a write past the area raises SIGBUS
  if (!r) return io.fail("open: %s", r.error().message.c_str());
  Raw raw(ring);
  // 4 bytes before the end of the area: a record does not fit, so the producer writes an
  // 8-byte padding header there, 4 bytes of it past the end of the area.
  raw.header()->producer_position.store(4092);
  raw.header()->consumer_position.store(4088);  // room for the record after the wrap
  auto producer = r->attach_producer();
  if (!producer) return verdict(io, true, "");  // refusing to attach is fine
  const Status s = producer->try_write(1, "12345678", 8);
  return verdict(io, s == Status::corrupt,
                 std::string("try_write at position 4092 returned ") + to_string(s));
}
const ChildRole kBug_b2("rel-bug-b2", bug_b2);

int bug_b3(ChildIo& io, const Params& p) {
  const std::string ring = p.str("ring");

  Ring r = make(ring, Kind::mpsc, 256);
  Raw raw(ring);
  raw.header()->max_producers = 64;  // slots 16..63 would lie past the object
  const Stats st = r.stats();        // stat, clear_stale_intents, attach_* read it
  return verdict(
      io, st.max_producers == 4,
      "stats() used max_producers " + std::to_string(st.max_producers) + " from the live header");
}
const ChildRole kBug_b3("rel-bug-b3", bug_b3);

int bug_b4(ChildIo& io, const Params& p) {
  const std::string ring = p.str("ring");

  Ring r = make(ring, Kind::broadcast, 256, 128);
  auto producer = r.attach_producer();
  if (!producer) return io.fail("attach");
  auto write = [&](uint64_t seq, uint32_t size) {
    std::vector<std::byte> bytes(size, static_cast<std::byte>(seq));
    return producer->try_write(static_cast<uint32_t>(1 + seq), bytes.data(), size);
  };
  uint64_t seq = 0;
  for (; seq < 24; ++seq) (void)write(seq, 16);  // 32-byte records, three laps
  auto reader = r.attach_reader();               // joins the newest record
  if (!reader) return io.fail("attach_reader");
  (void)reader->poll([](const RecordView&) {}, 64);    // caught up
  for (int i = 0; i < 5; ++i) (void)write(seq++, 16);  // the reader lags 160 bytes
  Claim c;
  if (producer->try_claim(99, 112, c) != Status::ok) return io.fail("claim");
  std::memset(c.data, 0xFF, 112);  // bytes of the records the reader has not read yet
  producer->abort(c);
  (void)write(seq++, 8);  // a short record: tail_intent moves back
  std::string bad;
  const PollResult got = reader->poll(
      [&](const RecordView& v) {
        for (uint32_t j = 0; j < v.size; ++j)
          if (v.data[j] != static_cast<std::byte>(v.type - 1)) bad = "a record with wrong bytes";
      },
      64);
  if (got.status == Status::corrupt) bad = "reader: " + reader->last_error();
  return verdict(io, bad.empty(), bad);
}
const ChildRole kBug_b4("rel-bug-b4", bug_b4);

int bug_b5(ChildIo& io, const Params& p) {
  const std::string ring = p.str("ring");
  const uint32_t dead = p.u32("dead");

  Ring created = make(ring, Kind::mpsc, 4096);
  Raw raw(ring);
  RingHeader* h = raw.header();
  const uint32_t c = h->consumer_position.load();
  h->producer_position.store(c + 4096);  // a full ring whose first record is unwritten
  // Two dead producers' claim intents: one ends at the producer position, one (hostile) at an
  // unaligned position 3 bytes before the end of the area.
  for (uint32_t i = 0; i < 2; ++i) {
    raw.slot(i)->pid.store(dead);
    raw.slot(i)->claim_position.store(c);
    raw.slot(i)->claim_length.store(i == 0 ? 4093 : 4096);
    raw.slot(i)->claim_active.store(layout::kClaimIntent);
  }
  ConsumerOptions o;
  o.stuck_claim_timeout_ns = 0;
  auto r = open_with_guard_page(ring);  // a read past the area raises SIGBUS
  if (!r) return io.fail("open: %s", r.error().message.c_str());
  auto consumer = r->attach_consumer(o);
  if (!consumer) return verdict(io, true, "");
  for (int i = 0; i < 3; ++i) (void)consumer->poll([](const RecordView&) {}, 8);
  return verdict(io, true, "recovery survived (no read past the area)");
}
const ChildRole kBug_b5("rel-bug-b5", bug_b5);

int bug_b6_claim(ChildIo& io, const Params& p) {
  const std::string ring = p.str("ring");

  Ring r = make(ring, Kind::broadcast, 256, 128);
  auto producer = r.attach_producer();
  if (!producer) return io.fail("attach");
  std::vector<std::byte> bytes(128);
  for (int i = 0; i < 3; ++i) (void)producer->try_write(1, bytes.data(), 16);  // to index 96
  (void)producer->try_write(1, bytes.data(), 24);  // 96..136: the newest record
  auto reader = r.attach_reader();                 // joins it
  if (!reader) return io.fail("attach_reader");
  Claim c;
  if (producer->try_claim(2, 112, c) != Status::ok) return io.fail("claim");
  // 120 bytes of wrap padding + 128: the announced overwrite covers the newest record.
  const Stopwatch watch;
  const PollResult got = reader->read([](const RecordView&) {}, 8, 10'000'000);
  return verdict(io, got.status == Status::timeout && watch.elapsed_ns() < 1'000'000'000,
                 std::string("read returned ") + to_string(got.status));
}
const ChildRole kBug_b6_claim("rel-bug-b6-claim", bug_b6_claim);

int bug_b6_latest(ChildIo& io, const Params& p) {
  const std::string ring = p.str("ring");

  Ring r = make(ring, Kind::broadcast, 4096);
  auto producer = r.attach_producer();
  if (!producer) return io.fail("attach");
  (void)producer->try_write(1, "12345678", 8);
  Raw raw(ring);
  raw.header()->latest_position.store(raw.header()->latest_position.load() + 4);
  auto reader = r.attach_reader();
  if (!reader) return io.fail("attach_reader");
  const PollResult got = reader->read([](const RecordView&) {}, 8, 10'000'000);
  return verdict(io, true, std::string("read returned ") + to_string(got.status));
}
const ChildRole kBug_b6_latest("rel-bug-b6-latest", bug_b6_latest);

int bug_b7(ChildIo& io, const Params& p) {
  const std::string ring = p.str("ring");

  Ring r = make(ring, Kind::mpsc, 4096);  // opened (validated) first, poked afterwards
  Raw raw(ring);
  RingHeader* h = raw.header();
  const uint32_t c = h->consumer_position.load();
  h->producer_position.store(c + (1u << 21));
  h->consumer.release_target.store(c + (1u << 20));
  auto consumer = r.attach_consumer();
  return verdict(io, !consumer.ok() && consumer.error().code == ErrorCode::corrupt,
                 consumer ? "attach_consumer accepted a release target 1 MiB ahead"
                          : consumer.error().message);
}
const ChildRole kBug_b7("rel-bug-b7", bug_b7);

int bug_b8(ChildIo& io, const Params& p) {
  const std::string ring = p.str("ring");

  Ring created = make(ring, Kind::spsc, 4096);
  auto r = open_with_guard_page(ring);  // a read past the area raises SIGBUS
  if (!r) return io.fail("open: %s", r.error().message.c_str());
  Raw raw(ring);
  RingHeader* h = raw.header();
  h->consumer_position.store(4092);  // unaligned, 4 bytes before the end of the area
  h->producer_position.store(4100);
  auto consumer = r->attach_consumer();
  return verdict(io, !consumer.ok(), "attach_consumer accepted an unaligned consumer position");
}
const ChildRole kBug_b8("rel-bug-b8", bug_b8);

int bug_b9(ChildIo& io, const Params& p) {
  const std::string ring = p.str("ring");

  Ring r = make(ring, Kind::broadcast, 256, 128);
  auto producer = r.attach_producer();
  if (!producer) return io.fail("attach");
  std::vector<std::byte> bytes(128);
  for (int i = 0; i < 3; ++i) (void)producer->try_write(1, bytes.data(), 16);
  (void)producer->try_write(1, bytes.data(), 24);  // the newest record, at index 96
  Claim c;
  if (producer->try_claim(2, 112, c) != Status::ok) return io.fail("claim");
  std::memset(c.data, 0xFF, 112);  // being written: covers the newest record's bytes
  Raw raw(ring);
  uint32_t position = 0;
  std::string reason;
  if (!inspect::start_position(ring, raw.region.data(), raw.region.size(), inspect::From::consumer,
                               position, reason))
    return io.fail("start_position: %s", reason.c_str());
  const inspect::WalkResult w =
      inspect::walk(ring, raw.region.data(), raw.region.size(), position, 16,
                    [](const inspect::WalkedRecord&) { return true; });
  return verdict(io, w.stop != inspect::WalkStop::corrupt, "walker: corrupt: " + w.reason);
}
const ChildRole kBug_b9("rel-bug-b9", bug_b9);

int bug_b10(ChildIo& io, const Params& p) {
  const std::string ring = p.str("ring");
  Ring created = make(ring, Kind::broadcast, 4096);
  auto producer = created.attach_producer();
  if (!producer) return io.fail("attach");
  (void)producer->try_write(1, "12345678", 8);  // so that a reader joins at a record
  auto r = open_with_guard_page(ring);          // a read past the area raises SIGBUS
  if (!r) return io.fail("open: %s", r.error().message.c_str());
  Raw raw(ring);
  // The newest record "starts" 8 bytes before the end of the area: its 16-byte header would
  // cross it (an honest producer never puts a record there).
  const uint32_t latest = raw.header()->latest_position.load();
  raw.header()->latest_position.store((latest & ~4095u) + 4088);
  auto reader = r->attach_reader();  // joins the newest record
  return verdict(io, true, reader ? "attached" : reader.error().message);
}
const ChildRole kBug_b10("rel-bug-b10", bug_b10);

int bug_b11(ChildIo& io, const Params& p) {
  const std::string ring = p.str("ring");
  Ring r = make(ring, Kind::broadcast, 4096);
  auto reader = r.attach_reader();
  if (!reader) return io.fail("attach_reader");
  uint64_t delivered = 0;
  auto drain = [&] { delivered += reader->poll([](const RecordView&) {}, 64).count; };
  {
    auto producer = r.attach_producer();
    if (!producer) return io.fail("attach");
    for (int i = 0; i < 3; ++i) (void)producer->try_write(1, "12345678", 8);
    drain();  // sequences 0, 1, 2
    // The producer dies inside commit() of sequence 2: after it stored the producer position,
    // before it stored next_sequence = 3.
    Raw raw(ring);
    raw.header()->next_sequence.store(2);
  }
  auto next = r.attach_producer();  // the replacement: it starts at next_sequence
  if (!next) return io.fail("attach");
  for (int i = 0; i < 5; ++i) (void)next->try_write(2, "12345678", 8);
  drain();
  const uint64_t accounted = delivered - 3 + reader->lost();
  return verdict(io, accounted == 5,
                 "5 records written after the replacement: the reader delivered " +
                     std::to_string(delivered - 3) + " and counted " +
                     std::to_string(reader->lost()) + " lost");
}
const ChildRole kBug_b11("rel-bug-b11", bug_b11);

}  // namespace

TEST_CASE("known bug B1: an mpsc consumer runs past the producer position; producers spin",
          "[known-bug]") {
  RingName name;
  const std::string ring = name.str();
  const std::string problem = isolated("rel-bug-b1", Params().set("ring", ring));
  INFO(problem);
  CHECK(problem.empty());
}

TEST_CASE("known bug B1b: try_claim spins for ever when consumer_position > producer_position",
          "[known-bug]") {
  RingName name;
  const std::string ring = name.str();
  const std::string problem = isolated("rel-bug-b1b", Params().set("ring", ring));
  INFO(problem);
  CHECK(problem.empty());
}

TEST_CASE("known bug B2: a producer writes past the record area at an unaligned position",
          "[known-bug]") {
  for (Kind kind : {Kind::spsc, Kind::mpsc, Kind::broadcast}) {
    INFO(kind_name(kind));
    RingName name;
    const std::string ring = name.str();
    const std::string problem =
        isolated("rel-bug-b2", Params().set("ring", ring).set("kind", static_cast<uint32_t>(kind)));
    INFO(problem);
    CHECK(problem.empty());
  }
}

TEST_CASE("known bug B3: geometry re-read from the header after validation", "[known-bug]") {
  RingName name;
  const std::string ring = name.str();
  const std::string problem = isolated("rel-bug-b3", Params().set("ring", ring));
  INFO(problem);
  CHECK(problem.empty());
}

TEST_CASE("known bug B4: a broadcast abort lets readers accept overwritten bytes", "[known-bug]") {
  RingName name;
  const std::string ring = name.str();
  const std::string problem = isolated("rel-bug-b4", Params().set("ring", ring));
  INFO(problem);
  CHECK(problem.empty());
}

TEST_CASE("known bug B5: mpsc recovery reads a record header past the area", "[known-bug]") {
  RingName name;
  const std::string ring = name.str();
  const uint32_t dead = static_cast<uint32_t>([] {
    Child c("exit", Params().set("code", uint32_t{0}));
    (void)c.wait_exit(10'000);
    return c.pid();
  }());
  const std::string problem = isolated("rel-bug-b5", Params().set("ring", ring).set("dead", dead));
  INFO(problem);
  CHECK(problem.empty());
}

TEST_CASE("known bug B6: a broadcast reader's read() ignores its timeout", "[known-bug]") {
  SECTION("a producer holds a claim over the newest record (or died holding it)") {
    RingName name;
    const std::string ring = name.str();
    const std::string problem = isolated("rel-bug-b6-claim", Params().set("ring", ring));
    INFO(problem);
    CHECK(problem.empty());
  }
  SECTION("latest_position is not a record start") {
    RingName name;
    const std::string ring = name.str();
    const std::string problem = isolated("rel-bug-b6-latest", Params().set("ring", ring));
    INFO(problem);
    CHECK(problem.empty());
  }
}

TEST_CASE("known bug B7: attach_consumer zeroes far past the area (release_target)",
          "[known-bug]") {
  RingName name;
  const std::string ring = name.str();
  const std::string problem = isolated("rel-bug-b7", Params().set("ring", ring));
  INFO(problem);
  CHECK(problem.empty());
}

TEST_CASE("known bug B8: attach_consumer walks records from an unchecked consumer position",
          "[known-bug]") {
  RingName name;
  const std::string ring = name.str();
  const std::string problem = isolated("rel-bug-b8", Params().set("ring", ring));
  INFO(problem);
  CHECK(problem.empty());
}

// Fixed in core (ca225da): kept as a regression test, no longer [!mayfail].
TEST_CASE("fixed bug B9: the walker calls a broadcast record being overwritten corrupt",
          "[known-bug]") {
  RingName name;
  const std::string ring = name.str();
  const std::string problem = isolated("rel-bug-b9", Params().set("ring", ring));
  INFO(problem);
  CHECK(problem.empty());
}

TEST_CASE("known bug B10: attach_reader reads a record header at an unchecked join position",
          "[known-bug]") {
  RingName name;
  const std::string ring = name.str();
  const std::string problem = isolated("rel-bug-b10", Params().set("ring", ring));
  INFO(problem);
  CHECK(problem.empty());
}

TEST_CASE("fixed bug B11: a broadcast producer dead inside commit made readers skip silently",
          "[known-bug]") {
  RingName name;
  const std::string ring = name.str();
  const std::string problem = isolated("rel-bug-b11", Params().set("ring", ring));
  INFO(problem);
  CHECK(problem.empty());
}

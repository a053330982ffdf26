// Attach rules (one consumer, one spsc producer, max_producers mpsc slots, read-only views) and
// the stats snapshot.
#include <algorithm>
#include <optional>

#include "support.hpp"

using namespace shmring;
using ut::NameGuard;
using ut::RawMap;

namespace {
uint32_t my_pid() {
  return platform::current_pid();
}
// A live process other than this one.
uint32_t other_live_pid() {
  return ut::other_live_pid();
}
}  // namespace

TEST_CASE("attach: a live consumer in another process makes attach busy", "[unit][attach]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  CAPTURE(kind);
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(kind, 256));
  RawMap map(name.str(), true);
  map.header()->consumer.pid.store(other_live_pid());
  auto r = ring.attach_consumer();
  ut::check_error(r, ErrorCode::busy, name.str());
  CHECK(r.error().message.find(std::to_string(other_live_pid())) != std::string::npos);
  CHECK(map.header()->consumer.pid.load() == other_live_pid());
  // A dead process's slot is taken over.
  map.header()->consumer.pid.store(ut::dead_pid());
  Consumer consumer = ut::attach_consumer(ring);
  CHECK(map.header()->consumer.pid.load() == my_pid());
}

TEST_CASE("attach: a second consumer while the first is attached is busy", "[unit][attach]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  CAPTURE(kind);
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(kind, 256));
  Ring other = ut::open_ring(name.str());
  Consumer first = ut::attach_consumer(ring);
  ut::check_error(other.attach_consumer(), ErrorCode::busy, name.str());
  ut::check_error(ring.attach_consumer(), ErrorCode::busy, name.str());
}

TEST_CASE("attach: after the consumer is destroyed, attach works", "[unit][attach]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  CAPTURE(kind);
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(kind, 256));
  RawMap map(name.str(), false);
  Producer producer = ut::attach_producer(ring);
  for (uint32_t i = 0; i < 3; ++i) REQUIRE(producer.try_write(i, "abcd", 4) == Status::ok);
  {
    Consumer first = ut::attach_consumer(ring);
    CHECK(map.header()->consumer.pid.load() == my_pid());
    CHECK(ut::poll_all(first, 1).size() == 1u);
  }
  CHECK(map.header()->consumer.pid.load() == 0u);
  Ring other = ut::open_ring(name.str());
  Consumer second = ut::attach_consumer(other);
  // It resumes at the consumer position: records 1 and 2.
  const std::vector<ut::Got> got = ut::poll_all(second, 10);
  REQUIRE(got.size() == 2u);
  CHECK(got[0].type == 1u);
  CHECK(got[1].type == 2u);
  CHECK(map.header()->consumer.attach_count.load() == 2u);
}

TEST_CASE("attach: a moved consumer keeps the slot", "[unit][attach]") {
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(Kind::spsc, 256));
  RawMap map(name.str(), false);
  Producer producer = ut::attach_producer(ring);
  REQUIRE(producer.try_write(1, "abcd", 4) == Status::ok);
  Consumer b = [&] {
    Consumer a = ut::attach_consumer(ring);
    Consumer moved(std::move(a));
    return moved;
  }();
  CHECK(map.header()->consumer.pid.load() == my_pid());
  CHECK(ut::poll_all(b, 10).size() == 1u);
  Producer p2 = std::move(producer);
  REQUIRE(p2.try_write(2, "efgh", 4) == Status::ok);
  CHECK(ut::poll_all(b, 10).size() == 1u);
}

TEST_CASE("attach: spsc second producer is busy", "[unit][attach]") {
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(Kind::spsc, 256));
  RawMap map(name.str(), true);
  SECTION("held by another live process") {
    map.producer_slot(0)->pid.store(other_live_pid());
    auto r = ring.attach_producer();
    ut::check_error(r, ErrorCode::busy, name.str());
    CHECK(r.error().message.find(std::to_string(other_live_pid())) != std::string::npos);
    map.producer_slot(0)->pid.store(ut::dead_pid());
    CHECK(ring.attach_producer().ok());
  }
  SECTION("released by a destroyed producer") {
    { Producer first = ut::attach_producer(ring); }
    CHECK(map.producer_slot(0)->pid.load() == 0u);
    Producer second = ut::attach_producer(ring);
    CHECK(map.producer_slot(0)->pid.load() == my_pid());
  }
}

TEST_CASE("attach: spsc second producer in the same process is busy", "[unit][attach]") {
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(Kind::spsc, 256));
  Producer first = ut::attach_producer(ring);
  ut::check_error(ring.attach_producer(), ErrorCode::busy, name.str());
}

TEST_CASE("attach: mpsc producer slots run out", "[unit][attach]") {
  NameGuard name;
  CreateOptions o = ut::options(Kind::mpsc, 256);
  o.max_producers = 3;
  Ring ring = ut::create_ring(name.str(), o);
  RawMap map(name.str(), true);
  SECTION("slots held by live processes") {
    for (uint32_t i = 0; i < 3; ++i) map.producer_slot(i)->pid.store(other_live_pid());
    ut::check_error(ring.attach_producer(), ErrorCode::busy, name.str());
    map.producer_slot(1)->pid.store(0);
    Producer p = ut::attach_producer(ring);
    CHECK(p.slot() == 1u);
    ut::check_error(ring.attach_producer(), ErrorCode::busy, name.str());
  }
  SECTION("a dead producer's slot is reused, unless it still holds a claim") {
    for (uint32_t i = 0; i < 3; ++i) map.producer_slot(i)->pid.store(other_live_pid());
    // Slot 2's owner died holding a claim on [0, 24): claimed, never committed.
    layout::ProducerSlot& dead = *map.producer_slot(2);
    dead.pid.store(ut::dead_pid());
    dead.claim_position.store(0);
    dead.claim_length.store(24);
    dead.claim_active.store(1);
    map.record(0)->type.store(1);
    map.record(0)->length.store(-24);
    map.header()->producer_position.store(24);
    ut::check_error(ring.attach_producer(), ErrorCode::busy, name.str());
    CHECK(dead.claim_active.load() != 0u);
    // Once the consumer has recovered the claim, the slot is free for the taking.
    dead.claim_active.store(0);
    Producer p = ut::attach_producer(ring);
    CHECK(p.slot() == 2u);
    CHECK(dead.pid.load() == my_pid());
  }
  SECTION("slots held by this process's producers") {
    std::vector<Producer> producers;
    for (uint32_t i = 0; i < 3; ++i) {
      producers.push_back(ut::attach_producer(ring));
      CHECK(producers.back().slot() == i);
      CHECK(map.producer_slot(i)->pid.load() == my_pid());
    }
    producers.erase(producers.begin() + 1);
    CHECK(map.producer_slot(1)->pid.load() == 0u);
    Producer again = ut::attach_producer(ring);
    CHECK(again.slot() == 1u);
  }
}

TEST_CASE("attach: mpsc slots exhausted by this process's producers is busy", "[unit][attach]") {
  NameGuard name;
  CreateOptions o = ut::options(Kind::mpsc, 256);
  o.max_producers = 2;
  Ring ring = ut::create_ring(name.str(), o);
  Producer a = ut::attach_producer(ring);
  Producer b = ut::attach_producer(ring);
  REQUIRE(a.slot() != b.slot());
  ut::check_error(ring.attach_producer(), ErrorCode::busy, name.str());
}

TEST_CASE("attach: a read-only ring cannot attach", "[unit][attach]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  CAPTURE(kind);
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(kind, 256));
  Ring ro = ut::open_ring(name.str(), true);
  ut::check_error(ro.attach_consumer(), ErrorCode::invalid_argument, name.str());
  ut::check_error(ro.attach_producer(), ErrorCode::invalid_argument, name.str());
  RawMap map(name.str(), false);
  CHECK(map.header()->consumer.pid.load() == 0u);
  CHECK(map.producer_slot(0)->pid.load() == 0u);
  // It still reads the header.
  CHECK(ro.kind() == kind);
  CHECK(ro.capacity() == 256u);
  CHECK(ro.stats().name == name.str());
}

TEST_CASE("stats: counters match what was done", "[unit][stats]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  CAPTURE(kind);
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(kind, 256, 128, 0xFFFFFFF0u));
  Ring ro = ut::open_ring(name.str(), true);
  {
    const Stats s = ro.stats();
    CHECK(s.messages_written == 0u);
    CHECK(s.consumer.pid == 0u);
    CHECK_FALSE(s.consumer.alive);
    CHECK(s.producers.empty());
  }
  Producer producer = ut::attach_producer(ring);
  Consumer consumer = ut::attach_consumer(ring);
  const auto d = ut::payload(0, 120);
  REQUIRE(producer.try_write(1, d.data(), 10) == Status::ok);   // 24 bytes
  REQUIRE(producer.try_write(2, d.data(), 20) == Status::ok);   // 32
  REQUIRE(producer.try_write(3, d.data(), 100) == Status::ok);  // 112
  Claim claim;
  REQUIRE(producer.try_claim(4, 50, claim) == Status::ok);
  producer.abort(claim);
  REQUIRE(producer.try_claim(4, 0, claim) == Status::ok);
  producer.abort(claim);
  // From index 240: 16 bytes of wrap padding, then 24 + 32 + 112 bytes of records; in mpsc the
  // two aborted claims stay as 64 + 8 bytes of padding. A 120-byte payload does not fit.
  REQUIRE(producer.try_write(5, d.data(), 120) == Status::full);
  REQUIRE(producer.try_write(5, d.data(), 120) == Status::full);
  REQUIRE(ut::poll_all(consumer, 2).size() == 2u);

  for (Ring* r : {&ring, &ro}) {
    const Stats s = r->stats();
    CHECK(s.name == name.str());
    CHECK(s.kind == kind);
    CHECK(s.capacity == 256u);
    CHECK(s.max_record_size == 128u);
    CHECK(s.max_producers == (kind == Kind::spsc ? 1u : 16u));
    CHECK(s.creator_pid == my_pid());
    CHECK(s.layout_version == layout::kLayoutVersion);
    CHECK(s.header_size == 4096u);
    CHECK(s.total_size == 4096u + 256u);
    CHECK(s.messages_written == 3u);
    CHECK(s.bytes_written == 130u);
    CHECK(s.aborts == 2u);
    CHECK(s.full_count == 2u);
    CHECK(s.messages_read == 2u);
    CHECK(s.bytes_read == 30u);
    CHECK(s.consumer_position == 0xFFFFFFF0u + 72);  // padding + two records
    const uint32_t produced = kind == Kind::spsc ? 184u : 184u + 64u + 8u;
    CHECK(s.producer_position == 0xFFFFFFF0u + produced);
    CHECK(s.used_bytes == produced - 72u);
    CHECK(s.consumer.pid == my_pid());
    CHECK(s.consumer.alive);
    CHECK(s.consumer.last_activity_ns > 0u);
    REQUIRE(s.producers.size() == 1u);
    CHECK(s.producers[0].pid == my_pid());
    CHECK(s.producers[0].alive);
    CHECK(s.producers[0].messages_written == 3u);
    CHECK(s.producers[0].bytes_written == 130u);
    CHECK(s.producers[0].aborts == 2u);
    CHECK(s.producers[0].full_count == 2u);
    CHECK_FALSE(s.producers[0].claim_active);
    CHECK_FALSE(s.consumer_waiting);
    CHECK_FALSE(s.producers_waiting);
  }
}

TEST_CASE("stats: mpsc producers are listed per slot with their claims", "[unit][stats]") {
  NameGuard name;
  CreateOptions o = ut::options(Kind::mpsc, 1024, 128);
  o.max_producers = 4;
  Ring ring = ut::create_ring(name.str(), o);
  Producer a = ut::attach_producer(ring);
  Producer b = ut::attach_producer(ring);
  REQUIRE(a.try_write(1, "12345678", 8) == Status::ok);
  REQUIRE(b.try_write(1, "1234", 4) == Status::ok);
  REQUIRE(b.try_write(1, "12", 2) == Status::ok);
  Claim claim;
  REQUIRE(b.try_claim(1, 16, claim) == Status::ok);
  Stats s = ring.stats();
  REQUIRE(s.producers.size() == 2u);
  CHECK(s.messages_written == 3u);
  CHECK(s.bytes_written == 14u);
  auto find = [&](uint64_t messages) {
    return std::find_if(s.producers.begin(), s.producers.end(),
                        [&](const ProducerStats& p) { return p.messages_written == messages; });
  };
  REQUIRE(find(1) != s.producers.end());
  REQUIRE(find(2) != s.producers.end());
  CHECK(find(1)->bytes_written == 8u);
  CHECK_FALSE(find(1)->claim_active);
  CHECK(find(2)->bytes_written == 6u);
  CHECK(find(2)->claim_active);
  CHECK(find(2)->claim_position == claim.position);
  CHECK(find(2)->claim_length == claim.end - claim.position);
  b.commit(claim);
  s = ring.stats();
  CHECK(s.messages_written == 4u);
  { Producer gone = std::move(a); }
  s = ring.stats();
  REQUIRE(s.producers.size() == 1u);  // a's slot is free again
  CHECK(s.messages_written == 4u);    // counters are kept in the slot
}

// Linux only: on Windows a ring cannot be re-created under its name while any handle of the old
// one is open (create says already_exists, test_win32.cpp), so there is no such successor.
#if !defined(_WIN32)
TEST_CASE("attach: a handle of an unlinked ring does not free the slot of its successor",
          "[unit][attach]") {
  // A process recreates a ring under the same name while it still holds a consumer of the old,
  // unlinked one. Detaching the old consumer must not make the new ring accept a second one.
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  CAPTURE(kind);
  NameGuard name;
  Ring old_ring = ut::create_ring(name.str(), ut::options(kind, 256));
  std::optional<Consumer> old_consumer(ut::attach_consumer(old_ring));
  std::optional<Producer> old_producer(ut::attach_producer(old_ring));
  REQUIRE(Ring::unlink(name.str()).ok());
  Ring ring = ut::create_ring(name.str(), ut::options(kind, 256));
  Consumer consumer = ut::attach_consumer(ring);
  Producer producer = ut::attach_producer(ring);
  ut::check_error(ring.attach_consumer(), ErrorCode::busy, name.str());
  old_consumer.reset();
  old_producer.reset();
  ut::check_error(ring.attach_consumer(), ErrorCode::busy, name.str());
  if (kind == Kind::spsc) ut::check_error(ring.attach_producer(), ErrorCode::busy, name.str());
}
#endif

// The broadcast kind: one producer that never blocks, readers with their own cursors that
// detect being overtaken, count exactly what they lost and never deliver a torn record.
// In one process first, then across real processes (label `broadcast`).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cinttypes>
#include <cstring>
#include <string>
#include <vector>

#include "inspect_util.hpp"
#include "shmring/platform.hpp"

namespace shmring::inspecttest {
namespace {

constexpr uint32_t kPayload = 40;  // + 16 header bytes = 56 bytes a record

Ring make_broadcast(const std::string& name, uint32_t capacity, uint32_t readers = 8,
                    uint32_t initial_position = 0) {
  CreateOptions o;
  o.kind = Kind::broadcast;
  o.capacity = capacity;
  o.max_readers = readers;
  o.initial_position = initial_position;
  auto ring = Ring::create(name, o);
  REQUIRE(ring.ok());
  return std::move(ring.value());
}

Reader attach(Ring& ring, JoinAt join, WaitStrategy strategy = WaitStrategy::spin_then_park) {
  ReaderOptions o;
  o.join = join;
  o.wait.strategy = strategy;
  auto r = ring.attach_reader(o);
  REQUIRE(r.ok());
  return std::move(r.value());
}

void write_records(Producer& p, uint64_t first, uint64_t count, uint32_t size = kPayload) {
  std::vector<std::byte> buf(size);
  for (uint64_t seq = first; seq < first + count; ++seq) {
    fill_binary_record(buf.data(), size, seq);
    // Never full, never blocks: the oldest records are overwritten.
    REQUIRE(p.try_write(7, buf.data(), size) == Status::ok);
  }
}

// Reads everything readable; checks every record and the loss accounting.
struct Drained {
  std::vector<uint64_t> seqs;
  uint64_t gaps = 0;  // sum of (seq - previous - 1) between delivered records
  std::string error;
};

Drained drain(Reader& r) {
  Drained d;
  for (;;) {
    const PollResult res = r.poll(
        [&](const RecordView& v) {
          uint64_t seq = 0;
          std::string why;
          if (!check_binary_record(v.data, v.size, seq, why)) {
            if (d.error.empty()) d.error = why;
            return;
          }
          if (!d.seqs.empty()) {
            if (seq <= d.seqs.back() && d.error.empty())
              d.error =
                  "sequence " + std::to_string(seq) + " after " + std::to_string(d.seqs.back());
            else
              d.gaps += seq - d.seqs.back() - 1;
          }
          d.seqs.push_back(seq);
        },
        64);
    if (res.count == 0) {
      REQUIRE(res.status == Status::empty);
      break;
    }
  }
  return d;
}

}  // namespace

TEST_CASE("broadcast: every record reaches every reader in order", "[broadcast]") {
  ObjectName name("bc-order");
  Ring ring = make_broadcast(name.str(), 1u << 16);
  Reader a = attach(ring, JoinAt::oldest);
  Reader b = attach(ring, JoinAt::newest);
  Producer p = ring.attach_producer().value();
  REQUIRE(p.max_payload() == (1u << 16) / 8 - 16);
  write_records(p, 0, 500);
  for (Reader* r : {&a, &b}) {
    const Drained d = drain(*r);
    INFO(d.error);
    REQUIRE(d.error.empty());
    REQUIRE(d.seqs.size() == 500);
    REQUIRE(d.seqs.front() == 0);
    REQUIRE(d.seqs.back() == 499);
    REQUIRE(r->lost() == 0);
    REQUIRE(r->laps() == 0);
    REQUIRE(r->received() == 500);
  }
  const Stats s = ring.stats();
  REQUIRE(s.kind == Kind::broadcast);
  REQUIRE(s.next_sequence == 500);
  REQUIRE(s.messages_written == 500);
  REQUIRE(s.readers.size() == 2);
  for (const ReaderStats& r : s.readers) {
    REQUIRE(r.messages_read == 500);
    REQUIRE(r.lag_bytes == 0);
    REQUIRE(r.alive);
  }
}

TEST_CASE("broadcast: joining at the oldest or the newest record", "[broadcast]") {
  ObjectName name("bc-join");
  const uint32_t capacity = 4096;
  Ring ring = make_broadcast(name.str(), capacity, 8, 0xFFFFF000u);  // crosses the 2^32 wrap
  Producer p = ring.attach_producer().value();

  SECTION("an empty ring: both start at the first record written later") {
    Reader oldest = attach(ring, JoinAt::oldest);
    Reader newest = attach(ring, JoinAt::newest);
    write_records(p, 0, 3);
    for (Reader* r : {&oldest, &newest}) {
      const Drained d = drain(*r);
      REQUIRE(d.seqs == std::vector<uint64_t>{0, 1, 2});
    }
  }
  SECTION("a ring not yet overwritten: oldest is the first record, newest the last") {
    write_records(p, 0, 20);
    Reader oldest = attach(ring, JoinAt::oldest);
    Reader newest = attach(ring, JoinAt::newest);
    REQUIRE(drain(oldest).seqs.size() == 20);
    REQUIRE(drain(newest).seqs == std::vector<uint64_t>{19});
  }
  SECTION(
      "a ring overwritten many times: oldest is within 1/16 of the capacity of the true "
      "oldest record") {
    const uint64_t n = 10 * capacity / 56;
    write_records(p, 0, n);
    Reader oldest = attach(ring, JoinAt::oldest);
    Reader newest = attach(ring, JoinAt::newest);
    const Drained d = drain(oldest);
    INFO(d.error);
    REQUIRE(d.error.empty());
    REQUIRE(d.gaps == 0);
    REQUIRE(oldest.lost() == 0);
    REQUIRE(d.seqs.back() == n - 1);
    const uint64_t held = d.seqs.size();
    const uint64_t per_lap = capacity / 56;
    CAPTURE(held, per_lap, d.seqs.front());
    REQUIRE(held <= per_lap);
    REQUIRE(held * 56 >= capacity - capacity / 16 - 2 * 56);
    REQUIRE(drain(newest).seqs == std::vector<uint64_t>{n - 1});
  }
}

TEST_CASE("broadcast: a blocking read on an empty ring times out", "[broadcast]") {
  ObjectName name("bc-timeout");
  Ring ring = make_broadcast(name.str(), 4096);
  for (WaitStrategy strategy :
       {WaitStrategy::busy_spin, WaitStrategy::spin_then_park, WaitStrategy::park}) {
    Reader r = attach(ring, JoinAt::oldest, strategy);
    std::byte buf[64];
    uint32_t size = 0, type = 0;
    REQUIRE(r.try_read(buf, sizeof buf, size, type) == Status::empty);
    REQUIRE(r.wait_readable(0) == Status::timeout);
    const uint64_t start = now_ns();
    const PollResult res =
        r.read([](const RecordView&) { FAIL("no record expected"); }, 16, 30'000'000);
    const uint64_t waited = now_ns() - start;
    REQUIRE(res.count == 0);
    REQUIRE(res.status == Status::timeout);
    REQUIRE(waited >= 30'000'000);
    REQUIRE(waited < 5'000'000'000);
    REQUIRE(r.wait_readable(20'000'000) == Status::timeout);
  }
}

TEST_CASE("broadcast: an overtaken reader counts exactly what it lost", "[broadcast]") {
  ObjectName name("bc-lapped");
  const uint32_t capacity = 4096;
  Ring ring = make_broadcast(name.str(), capacity);
  Reader slow = attach(ring, JoinAt::oldest);
  Producer p = ring.attach_producer().value();
  write_records(p, 0, 5);
  Drained first = drain(slow);
  REQUIRE(first.seqs.size() == 5);
  const uint64_t n = 5 + 7 * capacity / 56;  // seven laps while it does not read
  write_records(p, 5, n - 5);
  const Drained d = drain(slow);
  INFO(d.error);
  REQUIRE(d.error.empty());
  REQUIRE(slow.laps() >= 1);
  REQUIRE(d.seqs.back() == n - 1);
  REQUIRE(slow.received() + slow.lost() == n);
  REQUIRE(slow.lost() == d.gaps + (d.seqs.front() - 5));
  // Published to its slot, for stat / ls.
  const Stats s = ring.stats();
  REQUIRE(s.readers.size() == 1);
  REQUIRE(s.readers[0].lost == slow.lost());
  REQUIRE(s.readers[0].laps == slow.laps());
}

TEST_CASE("broadcast: a record too large for the buffer is reported, not skipped", "[broadcast]") {
  ObjectName name("bc-large");
  Ring ring = make_broadcast(name.str(), 4096);
  Reader r = attach(ring, JoinAt::oldest);
  Producer p = ring.attach_producer().value();
  write_records(p, 0, 2, 100);
  std::byte small[10], big[200];
  uint32_t size = 0, type = 0;
  REQUIRE(r.try_read(small, sizeof small, size, type) == Status::too_large);
  REQUIRE(size == 100);
  REQUIRE(r.try_read(big, sizeof big, size, type) == Status::ok);
  uint64_t seq = 99;
  std::string why;
  REQUIRE(check_binary_record(big, size, seq, why));
  REQUIRE(seq == 0);
  REQUIRE(r.received() == 1);
}

TEST_CASE("broadcast: reader slots run out; a dead reader's slot is reused", "[broadcast]") {
  ObjectName name("bc-slots");
  Ring ring = make_broadcast(name.str(), 4096, 2);
  Reader a = attach(ring, JoinAt::newest);
  {
    Reader b = attach(ring, JoinAt::newest);
    auto c = ring.attach_reader();
    REQUIRE_FALSE(c.ok());
    REQUIRE(c.error().code == ErrorCode::busy);
  }
  Reader b = attach(ring, JoinAt::newest);  // the slot freed by detach
  auto spsc_name = ObjectName("bc-notbc");
  CreateOptions so;
  so.capacity = 4096;
  auto spsc = Ring::create(spsc_name.str(), so);
  REQUIRE(spsc.ok());
  auto wrong = spsc->attach_reader();
  REQUIRE_FALSE(wrong.ok());
  REQUIRE(wrong.error().code == ErrorCode::kind_mismatch);
  auto consumer = ring.attach_consumer();
  REQUIRE_FALSE(consumer.ok());
  REQUIRE(consumer.error().code == ErrorCode::kind_mismatch);
}

// Core issue (reported): a reader that joins before any record (or at the oldest record of a
// ring never overwritten) has no expected sequence yet. If the producer overtakes it before it
// delivers its first record, it resynchronises to the newest record without counting the
// records it skipped: lost() stays 0 although received() + lost() < records written.
TEST_CASE("broadcast: a reader overtaken before its first record counts its losses",
          "[broadcast]") {
  ObjectName name("bc-firstlap");
  const uint32_t capacity = 4096;
  Ring ring = make_broadcast(name.str(), capacity);
  Reader r = attach(ring, JoinAt::oldest);
  Producer p = ring.attach_producer().value();
  const uint64_t n = 5 * capacity / 56;
  write_records(p, 0, n);
  const Drained d = drain(r);
  INFO(d.error);
  REQUIRE(d.error.empty());
  REQUIRE(r.laps() >= 1);
  CAPTURE(r.received(), r.lost(), n);
  CHECK(r.received() + r.lost() == n);
}

// Core issue (reported): attach_reader() resets a reused slot's cursor but not its
// messages_read / bytes_read / sleeps, which Reader::publish() adds to; lost and laps are
// overwritten instead. A new reader in a reused slot therefore shows its predecessor's reads in
// stat (per reader, and in the ring's messages_read total).
TEST_CASE("broadcast: a reused reader slot starts its statistics at zero",
          "[broadcast]") {
  ObjectName name("bc-reuse");
  Ring ring = make_broadcast(name.str(), 4096, 1);
  Producer p = ring.attach_producer().value();
  {
    Reader first = attach(ring, JoinAt::oldest);
    write_records(p, 0, 5);
    REQUIRE(drain(first).seqs.size() == 5);
  }
  Reader second = attach(ring, JoinAt::newest);
  const Stats s = ring.stats();
  REQUIRE(s.readers.size() == 1);
  CHECK(s.readers[0].messages_read == second.received());
  CHECK(s.readers[0].bytes_read == 0);
}

// ---- across processes ---------------------------------------------------------------------------

namespace {

constexpr uint32_t kMaxRecord = 200;  // payload bytes of the largest record

// A producer process: attach, 'A'; on 'G' write record 0 and send 'P'; on 'G' write records
// 1..count-1 as fast as it can (each write must succeed at once), 'R' {count, ns}.
// With pause_after > 0 it stops after that many records, sends 'P' and waits for 'G' again.
// With sleep_us > 0 it sleeps that long after every 64 records (a paced producer).
int bc_producer_role(ChildIo& io, const Params& p) {
  auto ring = Ring::open(p.str("ring"));
  if (!ring) return io.fail("producer: open: %s", ring.error().message.c_str());
  auto producer = ring->attach_producer();
  if (!producer) return io.fail("producer: attach: %s", producer.error().message.c_str());
  const uint64_t count = p.u64("count");
  const uint64_t pause_after = p.u64("pause_after");
  const int64_t sleep_ns = static_cast<int64_t>(p.u64("sleep_us")) * 1000;
  io.send('A');
  if (io.wait_control(60'000) != 'G') return io.fail("producer: no go");
  std::vector<std::byte> buf(kMaxRecord);
  const uint64_t start = now_ns();
  for (uint64_t seq = 0; seq < count; ++seq) {
    if (seq == pause_after && seq != 0) {
      io.send('P', seq);
      if (io.wait_control(60'000) != 'G') return io.fail("producer: no go after the pause");
    }
    const uint32_t size = binary_record_size(seq, kMaxRecord);
    fill_binary_record(buf.data(), size, seq);
    const Status s = producer->try_write(3, buf.data(), size);
    if (s != Status::ok)
      return io.fail("producer: write of record %" PRIu64
                     " returned %s (a broadcast producer "
                     "never blocks)",
                     seq, to_string(s));
    if (sleep_ns != 0 && seq % 64 == 63) platform::sleep_ns(sleep_ns);
  }
  io.send('R', count, now_ns() - start);
  return 0;
}
const ChildRole kBcProducerRole("bc-producer", bc_producer_role);

// A reader process: attach (join = params "join"), 'A'. Waits for its first record and sends
// 'F' {seq}. Then reads (slow_us > 0: sleeps that long after every batch of at most 4 records)
// and verifies every record: checksum, size, strictly increasing sequence; the reader's lost()
// must equal the gaps it saw. After 'S' it drains the ring and sends 'R' {received, lost, laps,
// first, last, gaps}.
int bc_reader_role(ChildIo& io, const Params& p) {
  auto ring = Ring::open(p.str("ring"));
  if (!ring) return io.fail("reader: open: %s", ring.error().message.c_str());
  ReaderOptions o;
  o.join = p.flag("join_newest") ? JoinAt::newest : JoinAt::oldest;
  o.wait.strategy = static_cast<WaitStrategy>(p.u32("strategy"));
  auto attached = ring->attach_reader(o);
  if (!attached) return io.fail("reader: attach: %s", attached.error().message.c_str());
  Reader& reader = attached.value();
  const uint64_t slow_us = p.u64("slow_us");
  io.send('A', reader.position());

  bool have = false;
  uint64_t first = 0, last = 0, gaps = 0, received = 0;
  std::string error;
  auto check = [&](const RecordView& v) {
    if (!error.empty()) return;
    uint64_t seq = 0;
    std::string why;
    if (!check_binary_record(v.data, v.size, seq, why)) {
      error = why;
      return;
    }
    if (v.size != binary_record_size(seq, kMaxRecord) || v.type != 3) {
      error = "seq " + std::to_string(seq) + ": wrong size or type";
      return;
    }
    if (have && seq <= last) {
      error = "seq " + std::to_string(seq) + " after " + std::to_string(last);
      return;
    }
    if (have) gaps += seq - last - 1;
    if (!have) first = seq;
    have = true;
    last = seq;
    ++received;
  };
  // The first record: blocking (this is also the cross-process wake-up).
  while (!have && error.empty()) {
    const PollResult r = reader.read(check, 1, 30'000'000'000);
    if (r.status == Status::timeout) return io.fail("reader: no first record within 30 s");
    if (r.status == Status::corrupt) return io.fail("reader: %s", reader.last_error().c_str());
  }
  if (!error.empty()) return io.fail("reader: %s", error.c_str());
  io.send('F', first);

  bool stopping = false;
  for (uint64_t round = 0;; ++round) {
    if (!stopping && (round % 32 == 0 || slow_us != 0)) stopping = io.wait_control(0) == 'S';
    const PollResult r =
        stopping ? reader.poll(check, 256) : reader.read(check, slow_us != 0 ? 4 : 256, 1'000'000);
    if (r.status == Status::corrupt) return io.fail("reader: %s", reader.last_error().c_str());
    if (!error.empty()) return io.fail("reader: %s", error.c_str());
    if (stopping && r.count == 0) break;
    if (slow_us != 0) platform::sleep_ns(static_cast<int64_t>(slow_us) * 1000);  // be slow
  }
  if (reader.lost() != gaps)
    return io.fail("reader: lost() says %" PRIu64 ", the sequence gaps say %" PRIu64, reader.lost(),
                   gaps);
  if (reader.received() != received)
    return io.fail("reader: received() says %" PRIu64 ", delivered %" PRIu64, reader.received(),
                   received);
  Event e;
  e.tag = 'R';
  e.v[0] = received;
  e.v[1] = reader.lost();
  e.v[2] = reader.laps();
  e.v[3] = first;
  e.v[4] = last;
  e.v[5] = gaps;
  io.send(e);
  return 0;
}
const ChildRole kBcReaderRole("bc-reader", bc_reader_role);

std::unique_ptr<Child> spawn_reader(const std::string& ring, bool join_newest, uint64_t slow_us,
                                    WaitStrategy strategy) {
  Params p;
  p.set("ring", ring)
      .set("join_newest", join_newest)
      .set("slow_us", slow_us)
      .set("strategy", static_cast<uint32_t>(strategy));
  auto child = std::make_unique<Child>("bc-reader", p);
  Event e;
  std::string why;
  INFO("reader " << child->describe() << ": " << why);
  REQUIRE(child->expect_event('A', e, 30'000, why));
  return child;
}

struct ReaderReport {
  uint64_t received, lost, laps, first, last, gaps;
};

ReaderReport stop_reader(Child& reader) {
  reader.send('S');
  Event e;
  std::string why;
  const bool ok = reader.expect_event('R', e, 60'000, why);
  INFO("reader " << reader.describe() << ": " << why << " " << reader.errors());
  REQUIRE(ok);
  REQUIRE(reader.wait_exit(30'000));
  REQUIRE(reader.succeeded());
  return ReaderReport{e.v[0], e.v[1], e.v[2], e.v[3], e.v[4], e.v[5]};
}

}  // namespace

TEST_CASE("broadcast: a fast producer, three reader processes, one of them slow", "[broadcast]") {
  ObjectName name("bc-procs");
  const uint64_t count = 200'000;
  CreateOptions o;
  o.kind = Kind::broadcast;
  o.capacity = 16384;
  o.max_record_size = 256;
  o.initial_position = 0xFFFF0000u;
  auto ring = Ring::create(name.str(), o);
  REQUIRE(ring.ok());

  // Readers join at the oldest record before the producer starts.
  auto fast = spawn_reader(name.str(), false, 0, WaitStrategy::spin_then_park);
  auto parked = spawn_reader(name.str(), false, 0, WaitStrategy::park);
  auto slow = spawn_reader(name.str(), false, 200, WaitStrategy::spin_then_park);
  Params pp;
  pp.set("ring", name.str()).set("count", count).set("pause_after", uint64_t{1});
  Child producer("bc-producer", pp);
  Event e;
  std::string why;
  REQUIRE(producer.expect_event('A', e, 30'000, why));
  producer.send('G');
  REQUIRE(producer.expect_event('P', e, 30'000, why));  // record 0 is written
  // Every reader has its first record (sequence 0) before the producer runs at full speed.
  for (Child* r : {fast.get(), parked.get(), slow.get()}) {
    const bool ok = r->expect_event('F', e, 30'000, why);
    INFO(r->describe() << ": " << why << " " << r->errors());
    REQUIRE(ok);
    REQUIRE(e.v[0] == 0);
  }
  producer.send('G');
  const bool done = producer.expect_event('R', e, 120'000, why);
  INFO("producer " << producer.describe() << ": " << why << " " << producer.errors());
  REQUIRE(done);
  REQUIRE(e.v[0] == count);
  const double seconds = static_cast<double>(e.v[1]) / 1e9;
  REQUIRE(producer.wait_exit(30'000));
  REQUIRE(producer.succeeded());

  const Stats before_stop = ring->stats();
  REQUIRE(before_stop.next_sequence == count);
  REQUIRE(before_stop.readers.size() == 3);

  const char* names[] = {"fast", "parked", "slow"};
  Child* readers[] = {fast.get(), parked.get(), slow.get()};
  for (int i = 0; i < 3; ++i) {
    const ReaderReport r = stop_reader(*readers[i]);
    std::printf("broadcast %-6s reader: received %" PRIu64 ", lost %" PRIu64 ", laps %" PRIu64
                " (producer: %" PRIu64 " records in %.3f s)\n",
                names[i], r.received, r.lost, r.laps, count, seconds);
    CAPTURE(names[i], r.received, r.lost, r.laps, r.first, r.last, r.gaps);
    REQUIRE(r.first == 0);
    REQUIRE(r.last == count - 1);
    REQUIRE(r.lost == r.gaps);
    REQUIRE(r.received + r.lost == count);  // exact
    if (i == 2) {
      REQUIRE(r.laps > 0);
      REQUIRE(r.lost > 0);
    }
  }
}

TEST_CASE("broadcast: readers joining a ring that already holds records", "[broadcast]") {
  ObjectName name("bc-late");
  const uint64_t count = 50'000, pause_after = 1'000;
  CreateOptions o;
  o.kind = Kind::broadcast;
  o.capacity = 16384;
  o.max_record_size = 256;
  auto ring = Ring::create(name.str(), o);
  REQUIRE(ring.ok());
  Params pp;
  pp.set("ring", name.str()).set("count", count).set("pause_after", pause_after);
  Child producer("bc-producer", pp);
  Event e;
  std::string why;
  REQUIRE(producer.expect_event('A', e, 30'000, why));
  producer.send('G');
  REQUIRE(producer.expect_event('P', e, 30'000, why));  // 1000 records written, ring wrapped
  REQUIRE(e.v[0] == pause_after);

  auto newest = spawn_reader(name.str(), true, 0, WaitStrategy::spin_then_park);
  auto oldest = spawn_reader(name.str(), false, 0, WaitStrategy::spin_then_park);
  uint64_t first_oldest = 0;
  for (Child* r : {newest.get(), oldest.get()}) {
    const bool ok = r->expect_event('F', e, 30'000, why);
    INFO(r->describe() << ": " << why << " " << r->errors());
    REQUIRE(ok);
    if (r == newest.get()) REQUIRE(e.v[0] == pause_after - 1);  // the newest record
    if (r == oldest.get()) first_oldest = e.v[0];
  }
  // Oldest: the ring was overwritten, so not record 0, but within one lap of the newest.
  const uint64_t per_lap_max = 16384 / 32;
  CAPTURE(first_oldest);
  REQUIRE(first_oldest > 0);
  REQUIRE(first_oldest < pause_after - 1);
  REQUIRE(pause_after - first_oldest <= per_lap_max);

  producer.send('G');
  REQUIRE(producer.expect_event('R', e, 120'000, why));
  REQUIRE(producer.wait_exit(30'000));
  REQUIRE(producer.succeeded());
  const ReaderReport n = stop_reader(*newest);
  REQUIRE(n.first == pause_after - 1);
  REQUIRE(n.last == count - 1);
  REQUIRE(n.received + n.lost == count - (pause_after - 1));
  const ReaderReport old = stop_reader(*oldest);
  REQUIRE(old.first == first_oldest);
  REQUIRE(old.last == count - 1);
  REQUIRE(old.received + old.lost == count - first_oldest);
}

}  // namespace shmring::inspecttest

// [reliability] The consumer is SIGKILLed at random instants and replaced, while producers
// stream; and broadcast readers are killed and replaced while the producer never waits.
//
// spsc / mpsc. Consumers are child processes. Each verifies every record (checksum, per-producer
// sequence) and keeps two marks per producer in a shared book: delivered (the next sequence it
// expects, updated after each record) and released (updated after each batch has been released).
// The parent kills a consumer a random number of milliseconds after it attached, reaps it, and
// starts the next, which must start each producer's stream inside the dead consumer's unreleased
// batch: its first record of producer p has a sequence in [released(p), delivered(p)] and
// everything after it follows strictly. (The book's released mark can lag the ring's by the one
// batch a consumer released just before it was killed, so the window checked is at most two
// batches; the ring itself repeats only the batch that was in flight.) So nothing is lost (no
// sequence above delivered), and the only records delivered twice are those of the batch in flight
// when the consumer died (the documented at-least-once window; counted, and bounded by the batch
// size). Producers block on the full ring while no consumer runs: one waits for a replacement
// (fail_if_consumer_dead = false), the other gets consumer_dead and retries; neither may lose or
// repeat a message, and each blocking call must return within its timeout. A final consumer reads
// to the end; the book must then hold exactly what the producers reported sending.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>

#include "rel_util.hpp"
#include "shmring/layout.hpp"
#include "shmring/platform.hpp"

using namespace shmring;
using namespace shmring::proctest;
using namespace shmring::reltest;

namespace {

constexpr uint32_t kMaxProducers = 2;
constexpr uint32_t kMaxBatch = 2048;

struct ConsumerBook {
  std::atomic<uint64_t> delivered[kMaxProducers];
  std::atomic<uint64_t> released[kMaxProducers];
  std::atomic<uint64_t> expected[kMaxProducers];  // set for the final consumer
  std::atomic<uint64_t> duplicates;               // summed over consumers
  std::atomic<uint64_t> max_window;  // largest [released, delivered) gap seen at a kill
  // A copy-out read releases its record as it copies it: a consumer killed after that and before
  // its bookkeeping consumed one record the book does not know about (at-most-once for that
  // record, see docs/security.md). in_copy_out marks that window; after a kill inside it the
  // parent adds one to pending_losses: later consumers may find the first record of one producer
  // that far ahead of the book (until every producer has been seen once). copy_out_losses counts
  // the records actually lost that way.
  std::atomic<uint32_t> in_copy_out;
  std::atomic<uint64_t> pending_losses;
  std::atomic<uint64_t> copy_out_losses;
  std::atomic<uint32_t> failed;
  char error[512];
};

int run_consumer(ChildIo& io, const std::string& ring_name, uint32_t producers, bool final_run,
                 uint64_t seed, const std::string& book_name) {
  auto shared = SharedBook<ConsumerBook>::attach(book_name);
  if (!shared) return io.fail("consumer: no book");
  ConsumerBook* book = &**shared;
  auto ring = Ring::open(ring_name);
  if (!ring) return io.fail("consumer: open: %s", ring.error().message.c_str());
  ConsumerOptions options;
  options.stuck_claim_timeout_ns = 50'000'000;
  auto consumer = ring->attach_consumer(options);
  if (!consumer) return io.fail("consumer: attach: %s", consumer.error().message.c_str());
  Verifier verifier(producers);
  for (uint32_t p = 0; p < producers; ++p) {
    verifier.resume(p, book->delivered[p].load(), book->released[p].load());
    if (final_run) verifier.expect(p, book->expected[p].load());
  }
  const uint64_t duplicates_before = book->duplicates.load();
  // Consumers killed inside a copy-out read: the first record of a producer may lie up to
  // pending_losses records after the book's mark (those went to dead consumers' buffers).
  uint64_t pending = book->pending_losses.load();
  uint32_t unseen = producers;
  auto skip_copy_out_loss = [&](uint32_t type, const std::byte* data, uint32_t size) {
    uint32_t producer = 0;
    uint64_t sequence = 0;
    if (type == kMessageType && size >= kMessageHeader) {
      std::memcpy(&producer, data, 4);
      std::memcpy(&sequence, data + 8, 8);
    } else if ((type & 0xC0000000u) == kCompactBase) {
      producer = (type >> 24) & kMaxProducerId;
      const uint64_t next = producer < producers ? verifier.next_seq(producer) : 0;
      sequence = next + ((type - next) & 0xFFFFFFu);  // the low 24 bits are the sequence's
    } else {
      return;
    }
    if (producer >= producers || verifier.seen(producer)) return;
    const uint64_t next = verifier.next_seq(producer);
    if (sequence > next && sequence - next <= pending) {
      verifier.resume(producer, sequence, sequence);
      pending -= sequence - next;
      book->copy_out_losses.fetch_add(sequence - next);
    }
    if (--unseen == 0) pending = 0;  // every producer seen: nothing else was lost
    book->pending_losses.store(pending);
  };
  io.send('A');
  Rng rng(seed);
  std::vector<std::byte> buffer(ring->max_payload() + 1);
  auto fail = [&](const std::string& what) {
    std::snprintf(book->error, sizeof book->error, "%s", what.c_str());
    book->failed.store(1);
    return io.fail("consumer: %s", what.c_str());
  };
  auto publish_released = [&] {
    for (uint32_t p = 0; p < producers; ++p) book->released[p].store(book->delivered[p].load());
  };
  const uint64_t deadline = now_ns() + 300'000'000'000ull;
  while (!final_run || !verifier.complete()) {
    if (now_ns() > deadline) return fail("no end after 300 s: " + verifier.summary());
    if (rng.percent(20)) {
      uint32_t size = 0, type = 0;
      book->in_copy_out.store(1);
      const Status s = consumer->read(buffer.data(), static_cast<uint32_t>(buffer.size()), size,
                                      type, 20'000'000);
      if (s == Status::ok) {
        if (pending != 0) skip_copy_out_loss(type, buffer.data(), size);
        if (!verifier.check(type, buffer.data(), size)) return fail(verifier.error());
        const uint32_t p = verifier.last_producer();
        book->delivered[p].store(verifier.next_seq(p));
        publish_released();
      }
      book->in_copy_out.store(0);
      if (s != Status::ok && s != Status::timeout) {
        return fail(std::string("read returned ") + to_string(s) + ": " + consumer->last_error());
      }
    } else {
      bool bad = false;
      const PollResult r = consumer->read(
          [&](const RecordView& v) {
            if (pending != 0) skip_copy_out_loss(v.type, v.data, v.size);
            if (bad || !verifier.check(v.type, v.data, v.size)) {
              bad = true;
              return;
            }
            const uint32_t p = verifier.last_producer();
            book->delivered[p].store(verifier.next_seq(p));
          },
          1 + rng.below(kMaxBatch), 20'000'000);
      if (bad) return fail(verifier.error());
      if (r.status == Status::corrupt) return fail("corrupt: " + consumer->last_error());
      publish_released();
    }
    book->duplicates.store(duplicates_before + verifier.duplicates());
  }
  io.send('R', verifier.received(), verifier.duplicates());
  return 0;
}

int consumer_role(ChildIo& io, const Params& p) {
  return run_consumer(io, p.str("ring"), p.u32("producers"), p.flag("final"), p.u64("seed"),
                      p.str("book"));
}
const ChildRole kConsumerRole("rel-consumer", consumer_role);

std::unique_ptr<Child> start_consumer(const std::string& ring, uint32_t producers, bool final_run,
                                      uint64_t seed, const std::string& book) {
  Params p;
  p.set("ring", ring)
      .set("producers", producers)
      .set("final", final_run)
      .set("seed", seed)
      .set("book", book);
  return std::make_unique<Child>("rel-consumer", p);
}

// Writes `count` messages; on consumer_dead waits 1 ms and writes the same message again.
int run_writer(ChildIo& io, const std::string& ring_name, uint32_t id, bool fail_if_dead,
               uint64_t count, uint64_t seed) {
  auto ring = Ring::open(ring_name);
  if (!ring) return io.fail("producer %u: open: %s", id, ring.error().message.c_str());
  ProducerOptions options;
  options.fail_if_consumer_dead = fail_if_dead;
  auto producer = ring->attach_producer(options);
  if (!producer) return io.fail("producer %u: attach: %s", id, producer.error().message.c_str());
  io.send('A');
  if (io.wait_control(60'000) != 'G') return io.fail("producer %u: no 'G'", id);
  Rng rng(seed);
  const uint32_t max = std::min<uint32_t>(producer->max_payload(), 2000);
  std::vector<std::byte> buffer(max + 1);
  uint64_t dead_retries = 0;
  constexpr int64_t kTimeout = 60'000'000'000;
  for (uint64_t seq = 0; seq < count; ++seq) {
    if ((seq & 1023) == 0 && io.wait_control(0) == 'S') {
      io.send('R', seq, dead_retries);
      return 0;
    }
    const uint32_t size = pick_size(rng, max, 200);
    const uint32_t type = fill_message(buffer.data(), size, id, seq);
    for (;;) {
      const Stopwatch watch;
      const Status s = producer->write(type, buffer.data(), size, kTimeout);
      if (watch.elapsed_ns() > static_cast<uint64_t>(kTimeout) + kTimeoutSlackNs)
        return io.fail("producer %u: write overran its timeout", id);
      if (s == Status::ok) break;
      if (s != Status::consumer_dead)
        return io.fail("producer %u: write of sequence %" PRIu64 " returned %s", id, seq,
                       to_string(s));
      ++dead_retries;
      busy_wait_us(1000);
    }
  }
  io.send('R', count, dead_retries);
  return 0;
}

int writer_role(ChildIo& io, const Params& p) {
  return run_writer(io, p.str("ring"), p.u32("id"), p.flag("fail_if_dead"), p.u64("count"),
                    p.u64("seed"));
}
const ChildRole kWriterRole("rel-writer", writer_role);

void run_consumer_kills(Kind kind) {
  const uint64_t seed = test_seed();
  INFO(kind_name(kind) << ", seed " << seed);
  const uint64_t started = now_ns();
  RingName name;
  CreateOptions co;
  co.kind = kind;
  co.capacity = 1u << 20;  // big batches: zeroing a released batch takes a while
  co.max_producers = kind == Kind::mpsc ? 4 : 1;
  co.initial_position = 0u - co.capacity - 128;
  auto ring = Ring::create(name.str(), co);
  if (!ring) FAIL("create: " << ring.error().message);
  auto raw = platform::open_region(name.str(), false, platform::RegionOptions{});
  REQUIRE(raw.ok());
  const auto* header = reinterpret_cast<const layout::RingHeader*>(raw->data());

  const uint32_t producers = kind == Kind::mpsc ? 2 : 1;
  SharedBook<ConsumerBook> book;
  std::vector<std::unique_ptr<Child>> writers;
  std::vector<Child*> writer_ptrs;
  for (uint32_t p = 0; p < producers; ++p) {
    Params params;
    params.set("ring", name.str())
        .set("id", p)
        .set("fail_if_dead", p == 1)
        .set("count", uint64_t{1'000'000'000})
        .set("seed", derive_seed(seed, 10 + p));
    writers.push_back(std::make_unique<Child>("rel-writer", params));
    Event e;
    std::string why;
    if (!writers.back()->expect_event('A', e, 30'000, why)) FAIL(why);
    writer_ptrs.push_back(writers.back().get());
  }
  for (Child* w : writer_ptrs) w->send('G');

  Rng rng(derive_seed(seed, 1));
  const uint32_t kills = scaled(40, 4);
  uint32_t mid_release = 0;
  for (uint32_t k = 0; k < kills; ++k) {
    auto consumer =
        start_consumer(name.str(), producers, false, derive_seed(seed, 100 + k), book.name());
    Event e;
    std::string why;
    if (!consumer->expect_event('A', e, 30'000, why)) FAIL("consumer " << k << ": " << why);
    const uint64_t deadline = now_ns() + 1'000'000 + uint64_t{rng.below(20'000)} * 1000;
    if (kind == Kind::mpsc && k % 2 == 1) {
      // Aim at release(): kill the moment the consumer announces a release target, while it
      // zeroes the batch it has just read (the next consumer must finish that release).
      while (now_ns() < deadline &&
             header->consumer.release_target.load() == header->consumer_position.load()) {
      }
    } else {
      busy_wait_us((deadline - now_ns()) / 1000);
    }
    consumer->kill_and_reap();
    if (book->in_copy_out.exchange(0) != 0) book->pending_losses.fetch_add(1);
    if (book->failed.load() != 0) FAIL("consumer " << k << ": " << book->error);
    if (kind == Kind::mpsc &&
        header->consumer.release_target.load() != header->consumer_position.load())
      ++mid_release;
    for (uint32_t p = 0; p < producers; ++p) {
      // The window a replacement may repeat: the batch in flight, plus at most the batch before
      // it when the consumer died between releasing it in the ring and marking it in the book.
      const uint64_t window = book->delivered[p].load() - book->released[p].load();
      CHECK(window <= 2 * kMaxBatch);
      if (window > book->max_window.load()) book->max_window.store(window);
    }
    for (Child* w : writer_ptrs)
      if (w->exited()) FAIL("producer " << w->describe() << ": " << w->errors());
  }
  // Stop the producers, then a last consumer reads everything they reported.
  for (Child* w : writer_ptrs) w->send('S');
  std::vector<uint64_t> sent(producers), retries(producers);
  {
    // The producers may be parked on a full ring: a consumer must run for them to see 'S'.
    auto drainer = start_consumer(name.str(), producers, false, seed, book.name());
    for (uint32_t p = 0; p < producers; ++p) {
      Event e;
      std::string why;
      if (!writers[p]->expect_event('R', e, 120'000, why)) FAIL("producer " << p << ": " << why);
      sent[p] = e.v[0];
      retries[p] = e.v[1];
      REQUIRE(writers[p]->wait_exit(30'000));
      CHECK(writers[p]->succeeded());
    }
    drainer->kill_and_reap();  // one more kill, at a random point of its reading
    if (book->in_copy_out.exchange(0) != 0) book->pending_losses.fetch_add(1);
  }
  for (uint32_t p = 0; p < producers; ++p) book->expected[p].store(sent[p]);
  {
    auto last = start_consumer(name.str(), producers, true, seed, book.name());
    Event e;
    std::string why;
    if (!last->expect_event('R', e, 300'000, why)) FAIL("final consumer: " << why);
    REQUIRE(last->wait_exit(30'000));
    CHECK(last->succeeded());
  }
  uint64_t total = 0;
  for (uint32_t p = 0; p < producers; ++p) {
    INFO("producer " << p);
    CHECK(book->delivered[p].load() == sent[p]);
    total += sent[p];
  }
  const Stats st = ring->stats();
  CHECK(st.consumer_position == st.producer_position);
  CHECK(st.recovered_claims == 0);
  std::printf("  %-5s seed %-20" PRIu64
              " %u consumer kills (+1 while draining), %u of them inside "
              "release(); %" PRIu64 " messages, %" PRIu64
              " delivered twice (largest unreleased batch at a kill: %" PRIu64 "); %" PRIu64
              " lost in a copy-out read; consumer_dead retries %" PRIu64 "; %.1f s\n",
              kind_name(kind), seed, kills, mid_release, total, book->duplicates.load(),
              book->max_window.load(), book->copy_out_losses.load(), producers > 1 ? retries[1] : 0,
              static_cast<double>(now_ns() - started) / 1e9);
  std::fflush(stdout);
}

// ---- broadcast readers ------------------------------------------------------------------------

struct ReaderBook {
  std::atomic<uint64_t> records;
  std::atomic<uint64_t> failed;
  char error[512];
};

// Reads for ever (until killed), checking every record: checksum, and strictly increasing
// sequences (a reader may lose records, never repeat or reorder them).
int run_reader(ChildIo& io, const std::string& ring_name, JoinAt join,
               const std::string& book_name) {
  auto shared = SharedBook<ReaderBook>::attach(book_name);
  if (!shared) return io.fail("reader: no book");
  ReaderBook* book = &**shared;
  auto ring = Ring::open(ring_name);
  if (!ring) return io.fail("reader: open: %s", ring.error().message.c_str());
  ReaderOptions o;
  o.join = join;
  auto reader = ring->attach_reader(o);
  if (!reader) return io.fail("reader: attach: %s", reader.error().message.c_str());
  io.send('A');
  bool have = false;
  uint64_t last = 0;
  for (;;) {
    if (reader->wait_readable(50'000'000) != Status::ok) continue;
    bool bad = false;
    const PollResult r = reader->poll(
        [&](const RecordView& v) {
          if (bad) return;
          uint64_t sequence = 0;
          uint32_t sum = 0, producer = 0;
          if (v.type != kMessageType || v.size < kMessageHeader) {
            bad = true;
            std::snprintf(book->error, sizeof book->error, "record type %u size %u", v.type,
                          v.size);
            return;
          }
          std::memcpy(&producer, v.data, 4);
          std::memcpy(&sequence, v.data + 8, 8);
          std::memcpy(&sum, v.data + 16, 4);
          if (sum !=
              checksum(producer, sequence, v.data + kMessageHeader, v.size - kMessageHeader)) {
            bad = true;
            std::snprintf(book->error, sizeof book->error, "sequence %" PRIu64 ": bad checksum",
                          sequence);
          } else if (have && sequence <= last) {
            bad = true;
            std::snprintf(book->error, sizeof book->error, "sequence %" PRIu64 " after %" PRIu64,
                          sequence, last);
          }
          have = true;
          last = sequence;
        },
        256);
    if (bad || r.status == Status::corrupt) {
      if (r.status == Status::corrupt)
        std::snprintf(book->error, sizeof book->error, "corrupt: %s", reader->last_error().c_str());
      book->failed.store(1);
      return io.fail("reader: %s", book->error);
    }
    book->records.fetch_add(r.count);
  }
}

int reader_role(ChildIo& io, const Params& p) {
  return run_reader(io, p.str("ring"), static_cast<JoinAt>(p.u32("join")), p.str("book"));
}
const ChildRole kReaderRole("rel-reader", reader_role);

}  // namespace

TEST_CASE("reliability: spsc consumer SIGKILLed at random instants and replaced",
          "[reliability][consumer-kill]") {
  run_consumer_kills(Kind::spsc);
}

TEST_CASE("reliability: mpsc consumer SIGKILLed at random instants and replaced",
          "[reliability][consumer-kill]") {
  run_consumer_kills(Kind::mpsc);
}

TEST_CASE("reliability: broadcast readers SIGKILLed and replaced; the producer never waits",
          "[reliability][consumer-kill]") {
  const uint64_t seed = test_seed();
  INFO("seed " << seed);
  const uint64_t started = now_ns();
  RingName name;
  CreateOptions co;
  co.kind = Kind::broadcast;
  co.capacity = 1u << 16;
  co.max_readers = 2;  // every replacement must get a dead reader's slot back
  auto ring = Ring::create(name.str(), co);
  if (!ring) FAIL("create: " << ring.error().message);
  auto producer = ring->attach_producer();
  REQUIRE(producer.ok());
  SharedBook<ReaderBook> book;
  Rng rng(seed);
  std::vector<std::byte> buffer(1024);
  uint64_t sequence = 0;
  uint64_t slow_writes = 0;
  auto write_some = [&](uint32_t n) {
    for (uint32_t i = 0; i < n; ++i, ++sequence) {
      const uint32_t size = kMessageHeader + rng.below(600);
      const uint32_t type = fill_message(buffer.data(), size, 0, sequence);
      const Stopwatch watch;
      if (producer->write(type, buffer.data(), size, 1'000'000'000) != Status::ok) ++slow_writes;
      if (watch.elapsed_ns() >= 1'000'000'000) ++slow_writes;  // it must never block
    }
  };
  const uint32_t kills = scaled(30, 4);
  for (uint32_t k = 0; k < kills; ++k) {
    Params params;
    params.set("ring", name.str())
        .set("join", static_cast<uint32_t>(k % 2 == 0 ? JoinAt::oldest : JoinAt::newest))
        .set("book", book.name());
    Child reader("rel-reader", params);
    Event e;
    std::string why;
    if (!reader.expect_event('A', e, 30'000, why)) FAIL("reader " << k << ": " << why);
    const uint64_t until = now_ns() + 1'000'000 + rng.below(10'000) * 1000ull;
    while (now_ns() < until) write_some(16);
    reader.kill_and_reap();
    if (book->failed.load() != 0) FAIL("reader " << k << ": " << book->error);
  }
  const Stats st = ring->stats();
  std::printf("  broadcast seed %-20" PRIu64 " %u reader kills, %" PRIu64
              " messages written, %" PRIu64 " checked by the readers; %.1f s\n",
              seed, kills, sequence, book->records.load(),
              static_cast<double>(now_ns() - started) / 1e9);
  std::fflush(stdout);
  CHECK(slow_writes == 0);
  CHECK(book->records.load() > 0);
  CHECK(st.next_sequence == sequence);
}

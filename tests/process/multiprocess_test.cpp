// [multiprocess] tier: a producer and a consumer in different processes over a named ring.
//
//  * spsc, 1 producer process; mpsc, 3 and 4 producer processes; ~200k checksummed messages per
//    producer, sizes 0..400 bytes. Producers mix copy-in write() and zero-copy claim()/commit();
//    the consumer (the parent) mixes copy-out read() and batch read(handler) (poll).
//  * The consumer is SIGKILLed mid-stream and replaced, several times over.
//
// The at-least-once window, as these tests pin it down. A batch consumer delivers records to its
// handler and releases the whole batch with one store of the consumer position when poll()
// returns. A consumer that dies in between has delivered records it never released, and the
// replacement (which resumes at the consumer position) delivers them again. So, per producer,
// the replacement's first record may repeat sequences of that last unreleased batch, never an
// older (released) one and never skip one; from there on sequences are strictly +1. In all, a
// replacement sees at most one batch (max records per poll) of duplicates. An mpsc consumer that
// dies while zeroing a batch it is releasing has its release finished by the replacement, so
// that batch is not redelivered.
// Half of the kills land inside the handler (the consumer signals and then waits in its handler
// for the SIGKILL): the replacement must then see exactly that batch's records again. The others
// land wherever the free-running consumer happens to be. The copy-out read() releases the record
// before it returns, so an application that dies after read() returned and before it recorded the
// message loses that one from its own point of view: a consumer that must not lose work uses the
// batch poll.
#include <catch2/catch.hpp>
#include <cinttypes>
#include <cstdio>

#include "proc_util.hpp"

using namespace shmring;
using namespace shmring::proctest;

namespace {

StreamPlan multiprocess_plan(std::string label, Kind kind, uint32_t producers) {
  StreamPlan plan;
  plan.label = std::move(label);
  plan.kind = kind;
  plan.producers = producers;
  plan.per_producer = 200'000;
  plan.capacity = 1u << 16;
  plan.size_max = 400;
  plan.size_typical = 400;
  return plan;
}

// ---- consumer replacement -----------------------------------------------------------------

// Written by the consumer children, read by the next one and by the parent. Survives SIGKILL.
struct KillBook {
  static constexpr uint32_t kProducers = 4;
  static constexpr uint32_t kGenerations = 16;
  // Per producer: 1 + the last sequence a consumer delivered to its handler.
  std::atomic<uint64_t> delivered_next[kProducers];
  // Per producer: every sequence below this has been released (it trails by at most a batch).
  std::atomic<uint64_t> released_floor[kProducers];
  // Per consumer generation.
  std::atomic<uint64_t> delivered[kGenerations];
  std::atomic<uint64_t> duplicates[kGenerations];
  std::atomic<uint64_t> in_batch[kGenerations];  // delivered by the poll() in progress
  std::atomic<uint32_t> failed;
  char error[1024];
};

struct ReplacementPlan {
  std::string ring;
  uint32_t generation = 0;
  uint32_t producers = 0;
  uint64_t per_producer = 0;
  uint64_t kill_after = 0;  // send 'P' after delivering this many (0: run to the end)
  bool freeze = false;      // after 'P', wait inside the handler for the SIGKILL
  uint32_t max_batch = 64;
  uint64_t seed = 0;
};

Params to_params(const ReplacementPlan& plan, const std::string& book) {
  Params p;
  p.set("book", book)
      .set("ring", plan.ring)
      .set("generation", plan.generation)
      .set("producers", plan.producers)
      .set("per_producer", plan.per_producer)
      .set("kill_after", plan.kill_after)
      .set("freeze", plan.freeze)
      .set("max_batch", plan.max_batch)
      .set("seed", plan.seed);
  return p;
}

// A consumer process that resumes where the previous (killed) one left off.
int run_replaceable_consumer(ChildIo& io, KillBook& book, const ReplacementPlan& plan) {
  auto fail = [&](const std::string& what) {
    if (book.failed.exchange(1) == 0)
      std::snprintf(book.error, sizeof book.error, "consumer generation %u: %s", plan.generation,
                    what.c_str());
    return io.fail("consumer generation %u: %s", plan.generation, what.c_str());
  };
  auto ring = Ring::open(plan.ring);
  if (!ring) return fail("open: " + ring.error().message);
  auto consumer = ring->attach_consumer();
  if (!consumer) return fail("attach_consumer: " + consumer.error().message);
  Verifier v(plan.producers);
  v.set_capacity(ring->capacity());
  for (uint32_t p = 0; p < plan.producers; ++p) {
    v.expect(p, plan.per_producer);
    v.resume(p, book.delivered_next[p].load(), book.released_floor[p].load());
  }
  io.send('A');
  Rng rng(plan.seed);
  uint64_t delivered = 0;
  uint64_t last_progress = now_ns();
  while (!v.complete()) {
    // poll() released everything it delivered before it returned.
    for (uint32_t p = 0; p < plan.producers; ++p)
      if (v.seen(p)) book.released_floor[p].store(v.next_seq(p));
    const std::size_t max = 1 + rng.below(plan.max_batch);
    book.in_batch[plan.generation].store(0);
    const PollResult r = consumer->read(
        [&](const RecordView& rec) {
          v.check_position(rec.position, rec.size);
          if (!v.check(rec.type, rec.data, rec.size)) return;
          book.delivered_next[v.last_producer()].store(v.last_sequence() + 1);
          book.duplicates[plan.generation].store(v.duplicates());
          book.delivered[plan.generation].store(++delivered);
          book.in_batch[plan.generation].store(book.in_batch[plan.generation].load() + 1);
          if (delivered == plan.kill_after) {
            io.send('P', delivered);
            if (plan.freeze) (void)io.wait_control(300'000);  // killed in here
          }
        },
        max, 100'000'000);
    if (!v.ok()) return fail(v.error() + "; " + v.summary());
    if (r.status == Status::corrupt) return fail("corrupt: " + consumer->last_error());
    const uint64_t now = now_ns();
    if (r.count > 0) {
      last_progress = now;
    } else if (now - last_progress > 30'000'000'000u) {
      return fail("no record for 30 s; " + v.summary());
    }
  }
  const PollResult extra = consumer->poll([](const RecordView&) {}, 16);
  if (extra.count != 0) return fail("records beyond the expected counts; " + v.summary());
  io.send('R', delivered, v.duplicates());
  return 0;
}

int replaceable_consumer_role(ChildIo& io, const Params& p) {
  ReplacementPlan plan;
  plan.ring = p.str("ring");
  plan.generation = p.u32("generation");
  plan.producers = p.u32("producers");
  plan.per_producer = p.u64("per_producer");
  plan.kill_after = p.u64("kill_after");
  plan.freeze = p.flag("freeze");
  plan.max_batch = p.u32("max_batch");
  plan.seed = p.u64("seed");
  auto book = SharedBook<KillBook>::attach(p.str("book"));
  if (!book) return io.fail("consumer generation %u: no shared book", plan.generation);
  return run_replaceable_consumer(io, **book, plan);
}
const ChildRole kReplaceableConsumer("replaceable-consumer", replaceable_consumer_role);

void run_consumer_replacement(Kind kind, uint32_t producer_count, uint64_t per_producer,
                              uint32_t kills) {
  const uint64_t seed = test_seed();
  INFO("seed " << seed << ", " << producer_count << " producers x " << per_producer << ", " << kills
               << " consumer kills");
  REQUIRE(producer_count <= KillBook::kProducers);
  REQUIRE(kills + 1 <= KillBook::kGenerations);
  RingName name;
  CreateOptions co;
  co.kind = kind;
  co.capacity = 1u << 16;
  co.max_producers = kind == Kind::mpsc ? 4 : 1;
  auto ring = Ring::create(name.str(), co);
  if (!ring) FAIL("create: " << ring.error().message);
  SharedBook<KillBook> book;

  std::vector<std::unique_ptr<Child>> children;
  std::vector<Child*> producers;
  for (uint32_t p = 0; p < producer_count; ++p) {
    ProducerPlan pp;
    pp.ring = name.str();
    pp.id = p;
    pp.count = per_producer;
    pp.seed = derive_seed(seed, p + 1);
    pp.size_max = 400;
    pp.options.fail_if_consumer_dead = false;  // wait for the replacement
    children.push_back(spawn_producer(pp, seed));
    producers.push_back(children.back().get());
  }
  for (Child* c : producers) c->send('G');

  constexpr uint32_t kMaxBatch = 64;
  Rng rng(seed);
  std::string log;
  for (uint32_t generation = 0; generation <= kills; ++generation) {
    const bool last = generation == kills;
    ReplacementPlan rp;
    rp.ring = name.str();
    rp.generation = generation;
    rp.producers = producer_count;
    rp.per_producer = per_producer;
    rp.kill_after = last ? 0 : 5'000 + rng.below(20'000);
    rp.freeze = generation % 2 == 0;
    rp.max_batch = kMaxBatch;
    rp.seed = derive_seed(seed, 100 + generation);
    Child consumer("replaceable-consumer", to_params(rp, book.name()));
    Event e;
    std::string why;
    if (!consumer.expect_event('A', e, 30'000, why))
      FAIL("consumer " << generation << " did not attach: " << why << "; " << book->error);
    if (!last) {
      if (!consumer.expect_event('P', e, 60'000, why))
        FAIL("consumer " << generation << ": " << why << "; " << book->error);
      consumer.kill_and_reap();  // mid-stream: it keeps consuming until the signal lands
    } else {
      if (!consumer.wait_exit(120'000)) FAIL("last consumer did not finish; " << book->error);
      if (!consumer.succeeded())
        FAIL("last consumer " << consumer.describe() << ": " << consumer.errors());
    }
    if (book->failed.load() != 0) FAIL(book->error);
    log += " [" + std::to_string(generation) + (rp.freeze ? " killed in handler" : "") +
           ": delivered " + std::to_string(book->delivered[generation].load()) + ", duplicates " +
           std::to_string(book->duplicates[generation].load()) + "]";
  }
  INFO("per consumer:" << log);
  for (uint32_t generation = 1; generation <= kills; ++generation) {
    INFO("generation " << generation);
    CHECK(book->duplicates[generation].load() <= kMaxBatch);  // at most the last batch again
    // Killed inside its handler: that whole unreleased batch, and nothing else, comes again.
    if ((generation - 1) % 2 == 0) {
      CHECK(book->in_batch[generation - 1].load() >= 1);
      CHECK(book->duplicates[generation].load() == book->in_batch[generation - 1].load());
    }
  }
  for (uint32_t p = 0; p < producer_count; ++p) {
    Child* c = producers[p];
    INFO("producer " << p);
    if (!c->wait_exit(60'000)) FAIL("producer " << c->describe() << " did not exit");
    if (!c->succeeded()) FAIL("producer " << c->describe() << ": " << c->errors());
    Event r;
    REQUIRE(c->report(r));
    CHECK(r.v[0] == per_producer);
    CHECK(book->delivered_next[p].load() == per_producer);
  }
  const Stats st = ring->stats();
  const uint64_t total = per_producer * producer_count;
  CHECK(st.messages_written == total);
  // Released exactly once each; a consumer killed between its position store and its counter
  // bump (or inside an mpsc release that its replacement finished) leaves the counter short.
  CHECK(st.messages_read <= total);
  CHECK(st.consumer_position == st.producer_position);
  std::printf("  consumer replacement (%s, %u producers) seed %" PRIu64 " messages_read %" PRIu64
              " of %" PRIu64 ":%s\n",
              kind == Kind::spsc ? "spsc" : "mpsc", producer_count, seed, st.messages_read, total,
              log.c_str());
  std::fflush(stdout);
}

}  // namespace

TEST_CASE("spsc: a producer process streams to a consumer process", "[multiprocess]") {
  (void)run_stream(multiprocess_plan("spsc, 1 producer", Kind::spsc, 1), test_seed());
}

TEST_CASE("mpsc: 3 producer processes stream to a consumer process", "[multiprocess]") {
  (void)run_stream(multiprocess_plan("mpsc, 3 producers", Kind::mpsc, 3), test_seed());
}

TEST_CASE("mpsc: 4 producer processes stream to a consumer process", "[multiprocess]") {
  (void)run_stream(multiprocess_plan("mpsc, 4 producers", Kind::mpsc, 4), test_seed());
}

TEST_CASE("spsc: consumer SIGKILLed mid-stream and replaced; nothing lost, at-least-once",
          "[multiprocess]") {
  run_consumer_replacement(Kind::spsc, 1, 200'000, 4);
}

TEST_CASE("mpsc: consumer SIGKILLed mid-stream and replaced; nothing lost, at-least-once",
          "[multiprocess]") {
  run_consumer_replacement(Kind::mpsc, 2, 200'000, 5);
}

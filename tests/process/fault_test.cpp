// [fault] tier: peers die at the worst moment and the survivors carry on.
//
//  * Victim producers (mpsc) claim a record, write part of it (or nothing), tell the parent
//    "claimed" through a pipe and block; the parent SIGKILLs and reaps them. The consumer, with
//    stuck_claim_timeout_ns = 50 ms, turns each dead claim into padding: recovered_claims counts
//    exactly the kills, recovered_bytes exactly their records, the victims' records are never
//    delivered, and the healthy producers' streams arrive whole and in order.
//  * Victims whose claim includes the wrap padding, forced deterministically: the victim first
//    writes filler messages until exactly `tail` bytes remain before the end of the area, then
//    claims a record that does not fit there. The padding is committed at claim time, so the
//    consumer reads it normally and recovers the record at index 0 (recovered_bytes counts the
//    record, not the padding).
//  * A dead consumer: the ring is full, the consumer is SIGKILLed, and a producer parked in a
//    blocking write returns consumer_dead (fail_if_consumer_dead) long before its timeout, or,
//    with fail_if_consumer_dead = false, keeps waiting and completes once a new consumer attaches.
#include <catch2/catch.hpp>
#include <cinttypes>
#include <cstdio>

#include "proc_util.hpp"
#include "shmring/layout.hpp"
#include "shmring/platform.hpp"

using namespace shmring;
using namespace shmring::proctest;

namespace {

constexpr uint32_t kVictimId = 60;  // a producer id no test expects: delivery is an error
constexpr int64_t kStuckClaimTimeoutNs = 50'000'000;

struct VictimPlan {
  std::string ring;
  uint32_t size = 0;     // payload bytes of the claim
  uint32_t partial = 0;  // bytes written into it before the kill (0: nothing at all)
  // Aim for a claim that wraps: claim when the tail is too short for the record (racy with the
  // healthy producers, so it only makes a wrap likely).
  bool aim_for_wrap = false;
  // Force a wrapping claim (only writer): write filler messages (filler_id, from filler_seq)
  // until exactly wrap_tail bytes are left before the end of the area. 0: no forcing.
  uint32_t wrap_tail = 0;
  uint32_t filler_id = 0;
  uint64_t filler_seq = 0;
  // Or: first write this many filler messages of random sizes (any kind of ring).
  uint64_t fillers_first = 0;
  uint64_t seed = 0;
};

// Claims, writes `partial` bytes, sends 'C' {position, end, fillers} and blocks until killed.
int run_victim(ChildIo& io, const VictimPlan& plan) {
  auto ring = Ring::open(plan.ring);
  if (!ring) return io.fail("victim: open: %s", ring.error().message.c_str());
  auto producer = ring->attach_producer();
  if (!producer) return io.fail("victim: attach: %s", producer.error().message.c_str());
  const uint32_t capacity = ring->capacity();
  const uint32_t mask = capacity - 1;
  const uint32_t occupied = layout::align_record(plan.size + layout::kRecordHeaderSize);
  uint64_t fillers = 0;
  if (plan.wrap_tail != 0) {
    const uint32_t max_occupied =
        layout::align_record(producer->max_payload() + layout::kRecordHeaderSize);
    std::vector<std::byte> buffer(producer->max_payload());
    uint32_t p = ring->stats().producer_position;  // we are the only writer in this test
    const uint32_t target = capacity - plan.wrap_tail;
    while ((p & mask) != target) {
      const uint32_t index = p & mask;
      const uint32_t distance = index < target ? target - index : capacity - index;
      const uint32_t fill = std::min(distance, max_occupied);  // multiples of 8: no runt left
      const uint32_t size = fill - layout::kRecordHeaderSize;
      const uint32_t type =
          fill_message(buffer.data(), size, plan.filler_id, plan.filler_seq + fillers);
      const Status s = producer->write(type, buffer.data(), size, 60'000'000'000);
      if (s != Status::ok) return io.fail("victim: filler write returned %s", to_string(s));
      ++fillers;
      p += fill;
    }
    if (ring->stats().producer_position != p)
      return io.fail("victim: another writer moved the producer position");
  }
  if (plan.fillers_first != 0) {
    Rng rng(plan.seed);
    std::vector<std::byte> buffer(producer->max_payload());
    for (; fillers < plan.fillers_first; ++fillers) {
      const uint32_t size = pick_size(rng, producer->max_payload(), 200);
      const uint32_t type =
          fill_message(buffer.data(), size, plan.filler_id, plan.filler_seq + fillers);
      const Status s = producer->write(type, buffer.data(), size, 60'000'000'000);
      if (s != Status::ok) return io.fail("victim: filler write returned %s", to_string(s));
    }
  }
  if (plan.aim_for_wrap) {
    for (int attempt = 0; attempt < 20'000; ++attempt) {
      const uint32_t p = ring->stats().producer_position;
      if (capacity - (p & mask) < occupied) break;
      platform::yield_thread();
    }
  }
  std::vector<std::byte> body(std::max<uint32_t>(plan.size, 1));
  const uint32_t type = fill_message(body.data(), plan.size, kVictimId, 0);
  Claim claim;
  const Status s = producer->claim(type, plan.size, claim, 60'000'000'000);
  if (s != Status::ok)
    return io.fail("victim: claim of %u bytes returned %s", plan.size, to_string(s));
  if (plan.partial != 0) std::memcpy(claim.data, body.data(), plan.partial);
  io.send('C', claim.position, claim.end, fillers);
  (void)io.wait_control(300'000);  // nobody ever writes: we block here until the SIGKILL
  return io.fail("victim: was not killed");
}

Params to_params(const VictimPlan& plan) {
  Params p;
  p.set("ring", plan.ring)
      .set("size", plan.size)
      .set("partial", plan.partial)
      .set("aim_for_wrap", plan.aim_for_wrap)
      .set("wrap_tail", plan.wrap_tail)
      .set("filler_id", plan.filler_id)
      .set("filler_seq", plan.filler_seq)
      .set("fillers_first", plan.fillers_first)
      .set("seed", plan.seed);
  return p;
}

int victim_role(ChildIo& io, const Params& p) {
  VictimPlan plan;
  plan.ring = p.str("ring");
  plan.size = p.u32("size");
  plan.partial = p.u32("partial");
  plan.aim_for_wrap = p.flag("aim_for_wrap");
  plan.wrap_tail = p.u32("wrap_tail");
  plan.filler_id = p.u32("filler_id");
  plan.filler_seq = p.u64("filler_seq");
  plan.fillers_first = p.u64("fillers_first");
  plan.seed = p.u64("seed");
  return run_victim(io, plan);
}
const ChildRole kVictimRole("victim", victim_role);

// Opens the ring, attaches as its consumer, sends 'A' and never reads; waits to be killed.
int idle_consumer_role(ChildIo& io, const Params& p) {
  auto r = Ring::open(p.str("ring"));
  if (!r) return io.fail("consumer: open: %s", r.error().message.c_str());
  auto c = r->attach_consumer();
  if (!c) return io.fail("consumer: attach: %s", c.error().message.c_str());
  io.send('A');
  (void)io.wait_control(300'000);  // never reads: the ring fills up; then it is killed
  return io.fail("consumer: was not killed");
}
const ChildRole kIdleConsumerRole("idle-consumer", idle_consumer_role);

// Drives victims one after another from the consumer loop (never blocking it): spawn, wait
// for 'C', check the claim intent in the slot, SIGKILL + reap, wait until the consumer has
// recovered the claim, next.
class VictimRunner {
 public:
  VictimRunner(Ring& ring, uint32_t victims, std::function<VictimPlan(uint32_t)> make_plan)
      : ring_(ring), victims_(victims), make_plan_(std::move(make_plan)) {}

  // true while victims remain.
  bool step() {
    switch (phase_) {
      case Phase::spawn: {
        plan_ = make_plan_(kills_);
        victim_ = std::make_unique<Child>("victim", to_params(plan_));
        phase_ = Phase::claiming;
        return true;
      }
      case Phase::claiming: {
        Event e;
        if (victim_->next_event(e, 0)) {
          if (e.tag == 'E') FAIL("victim " << kills_ << ": " << e.text);
          if (e.tag == 'C') on_claimed(e);
        } else if (victim_->exited()) {
          FAIL("victim " << kills_ << " " << victim_->describe()
                         << " before claiming: " << victim_->errors());
        }
        return true;
      }
      case Phase::recovering: {
        const Stats st = ring_.stats();
        if (st.recovered_claims > kills_)
          FAIL("recovered_claims " << st.recovered_claims << " > kills " << kills_);
        // mpsc: the consumer turned the dead claim into padding. spsc: the claim was never
        // published, so there is nothing to recover; wait until the consumer has caught up.
        const bool settled = ring_.kind() == Kind::mpsc
                                 ? st.recovered_claims == kills_
                                 : st.consumer_position == st.producer_position;
        if (settled) {
          victim_.reset();
          phase_ = kills_ == victims_ ? Phase::done : Phase::spawn;
        }
        return phase_ != Phase::done;
      }
      case Phase::done:
        return false;
    }
    return false;
  }

  uint32_t kills() const noexcept { return kills_; }
  uint32_t wrapped() const noexcept { return wrapped_; }
  uint32_t unwritten() const noexcept { return unwritten_; }
  uint64_t fillers() const noexcept { return fillers_; }
  uint64_t expected_recovered_bytes() const noexcept { return recovered_bytes_; }

 private:
  enum class Phase { spawn, claiming, recovering, done };

  void on_claimed(const Event& e) {
    const uint32_t position = static_cast<uint32_t>(e.v[0]);
    const uint32_t end = static_cast<uint32_t>(e.v[1]);
    const uint32_t occupied = layout::align_record(plan_.size + layout::kRecordHeaderSize);
    INFO("victim " << kills_ << ": " << plan_.size << " bytes, " << plan_.partial
                   << " written, claim [" << position << ", " << end << ")");
    CHECK(end - position == occupied);
    // The claim intent the consumer will recover from (mpsc; spsc has none).
    bool found = ring_.kind() == Kind::spsc;
    for (const ProducerStats& ps : ring_.stats().producers) {
      if (ps.pid != victim_->pid() || ring_.kind() != Kind::mpsc) continue;
      found = true;
      CHECK(ps.claim_active);
      CHECK(ps.claim_position + ps.claim_length == end);
      CHECK(ps.claim_length >= occupied);
      if (ps.claim_length > occupied) {
        ++wrapped_;  // the claim includes wrap padding before the record
        CHECK((position & (ring_.capacity() - 1)) == 0);
      }
      if (plan_.wrap_tail != 0) CHECK(ps.claim_length == plan_.wrap_tail + occupied);
    }
    CHECK(found);
    victim_->kill_and_reap();  // reaped: a zombie would still read as alive
    ++kills_;
    if (plan_.partial == 0) ++unwritten_;
    fillers_ += e.v[2];
    if (ring_.kind() == Kind::mpsc) recovered_bytes_ += occupied;  // not the wrap padding
    phase_ = Phase::recovering;
  }

  Ring& ring_;
  uint32_t victims_;
  std::function<VictimPlan(uint32_t)> make_plan_;
  Phase phase_ = Phase::spawn;
  VictimPlan plan_;
  std::unique_ptr<Child> victim_;
  uint32_t kills_ = 0, wrapped_ = 0, unwritten_ = 0;
  uint64_t fillers_ = 0, recovered_bytes_ = 0;
};

void check_no_dead_claims(const Stats& st) {
  for (const ProducerStats& ps : st.producers) {
    INFO("slot pid " << ps.pid);
    CHECK_FALSE((ps.claim_active && !ps.alive));
  }
}

// ---- dead consumer --------------------------------------------------------------------------

// Fills the ring with try_write, sends 'F' {messages}, then blocks in write() for the message
// that did not fit; sends 'R' {messages written, status of that write}; then `more` messages.
int run_filling_producer(ChildIo& io, const std::string& name, bool fail_if_dead, uint64_t more,
                         uint64_t seed) {
  auto ring = Ring::open(name);
  if (!ring) return io.fail("producer: open: %s", ring.error().message.c_str());
  ProducerOptions options;
  options.fail_if_consumer_dead = fail_if_dead;
  auto producer = ring->attach_producer(options);
  if (!producer) return io.fail("producer: attach: %s", producer.error().message.c_str());
  io.send('A');
  Rng rng(seed);
  std::vector<std::byte> buffer(400);
  uint64_t sequence = 0;
  uint32_t size = pick_size(rng, 400, 400);
  uint32_t type = fill_message(buffer.data(), size, 0, sequence);
  for (;;) {
    const Status s = producer->try_write(type, buffer.data(), size);
    if (s == Status::full) break;
    if (s != Status::ok) return io.fail("producer: try_write returned %s", to_string(s));
    ++sequence;
    size = pick_size(rng, 400, 400);
    type = fill_message(buffer.data(), size, 0, sequence);
  }
  io.send('F', sequence);
  const Status blocked = producer->write(type, buffer.data(), size, 120'000'000'000);
  if (blocked != Status::ok) {
    io.send('R', sequence, static_cast<uint64_t>(blocked));
    return 0;
  }
  ++sequence;
  for (uint64_t i = 0; i < more; ++i, ++sequence) {
    size = pick_size(rng, 400, 400);
    type = fill_message(buffer.data(), size, 0, sequence);
    const Status s = producer->write(type, buffer.data(), size, 60'000'000'000);
    if (s != Status::ok) return io.fail("producer: write returned %s", to_string(s));
  }
  io.send('R', sequence, static_cast<uint64_t>(Status::ok));
  return 0;
}

int filling_producer_role(ChildIo& io, const Params& p) {
  return run_filling_producer(io, p.str("ring"), p.flag("fail_if_dead"), p.u64("more"),
                              p.u64("seed"));
}
const ChildRole kFillingProducerRole("filling-producer", filling_producer_role);

uint64_t slot_sleeps(Ring& ring, uint32_t pid) {
  for (const ProducerStats& ps : ring.stats().producers)
    if (ps.pid == pid) return ps.sleeps;
  return 0;
}

void run_dead_consumer(Kind kind, bool fail_if_dead) {
  const uint64_t seed = test_seed();
  INFO("seed " << seed << ", " << (kind == Kind::spsc ? "spsc" : "mpsc")
               << ", fail_if_consumer_dead " << fail_if_dead);
  RingName name;
  CreateOptions co;
  co.kind = kind;
  co.capacity = 4096;
  co.max_producers = kind == Kind::mpsc ? 4 : 1;
  auto ring = Ring::create(name.str(), co);
  if (!ring) FAIL("create: " << ring.error().message);

  const std::string ring_name = name.str();
  Child consumer("idle-consumer", Params().set("ring", ring_name));
  Event e;
  std::string why;
  if (!consumer.expect_event('A', e, 30'000, why)) FAIL(why);

  constexpr uint64_t kMore = 20'000;
  const uint64_t producer_seed = derive_seed(seed, 1);
  Child producer("filling-producer", Params()
                                         .set("ring", ring_name)
                                         .set("fail_if_dead", fail_if_dead)
                                         .set("more", kMore)
                                         .set("seed", producer_seed));
  if (!producer.expect_event('A', e, 30'000, why)) FAIL(why);
  if (!producer.expect_event('F', e, 30'000, why)) FAIL(why);
  const uint64_t before_full = e.v[0];
  // The producer is parked in write() (it counted a sleep) before the consumer dies.
  if (!wait_until([&] { return slot_sleeps(*ring, producer.pid()) > 0; }, 30'000))
    FAIL("the producer never parked on the full ring");
  consumer.kill_and_reap();  // reaped: a zombie would still read as alive

  if (fail_if_dead) {
    // Its timeout is 120 s; the liveness re-check runs every 100 ms.
    if (!producer.expect_event('R', e, 30'000, why)) FAIL(why);
    CHECK(e.v[0] == before_full);
    CHECK(static_cast<Status>(e.v[1]) == Status::consumer_dead);
    REQUIRE(producer.wait_exit(30'000));
    CHECK(producer.succeeded());
    return;
  }

  // fail_if_consumer_dead = false: two more parked slices, so at least one full liveness
  // re-check ran after the consumer was reaped, and the write is still waiting.
  const uint64_t sleeps = slot_sleeps(*ring, producer.pid());
  if (!wait_until([&] { return slot_sleeps(*ring, producer.pid()) >= sleeps + 2; }, 30'000))
    FAIL("the producer stopped parking after the consumer died");
  CHECK_FALSE(producer.next_event(e, 0));
  CHECK_FALSE(producer.exited());

  // A new consumer (this process) attaches in place of the dead one and drains everything.
  ConsumerOptions options;
  auto replacement = ring->attach_consumer(options);
  if (!replacement) FAIL("attach_consumer after the death: " << replacement.error().message);
  Verifier verifier(1);
  verifier.expect(0, before_full + 1 + kMore);
  DrainOptions d;
  d.seed = derive_seed(seed, 2);
  Drain drain(replacement.value(), verifier, ring->max_payload(), d);
  drain_until_complete(drain, verifier, {&producer}, seed);
  if (!producer.expect_event('R', e, 30'000, why)) FAIL(why);
  CHECK(e.v[0] == before_full + 1 + kMore);
  CHECK(static_cast<Status>(e.v[1]) == Status::ok);
  REQUIRE(producer.wait_exit(30'000));
  CHECK(producer.succeeded());
  std::printf("  dead consumer (%s, keep waiting): %" PRIu64
              " messages before full, the parked write completed after the replacement\n",
              kind == Kind::spsc ? "spsc" : "mpsc", before_full);
}

}  // namespace

TEST_CASE("fault: 10 producers SIGKILLed holding claims among 3 healthy producers", "[fault]") {
  const uint64_t seed = test_seed();
  INFO("seed " << seed);
  RingName name;
  CreateOptions co;
  co.kind = Kind::mpsc;
  co.capacity = 4096;  // max payload 504: claims wrap often
  co.max_producers = 8;
  auto ring = Ring::create(name.str(), co);
  if (!ring) FAIL("create: " << ring.error().message);
  ConsumerOptions options;
  options.stuck_claim_timeout_ns = kStuckClaimTimeoutNs;
  auto consumer = ring->attach_consumer(options);
  if (!consumer) FAIL("attach_consumer: " << consumer.error().message);

  constexpr uint32_t kHealthy = 3;
  constexpr uint32_t kVictims = 10;
  Verifier verifier(kHealthy);  // no set_capacity: recovered claims leave non-wrap gaps
  std::vector<std::unique_ptr<Child>> children;
  std::vector<Child*> producers;
  std::vector<uint32_t> ids;
  for (uint32_t p = 0; p < kHealthy; ++p) {
    ProducerPlan pp;
    pp.ring = name.str();
    pp.id = p;
    pp.count = 50'000'000;  // a cap: they stream until told to stop
    pp.until_stopped = true;
    pp.seed = derive_seed(seed, p + 1);
    pp.size_typical = 200;
    children.push_back(spawn_producer(pp, seed));
    producers.push_back(children.back().get());
    ids.push_back(p);
  }
  for (Child* c : producers) c->send('G');

  const uint32_t max_payload = ring->max_payload();
  Rng rng(derive_seed(seed, 99));
  VictimRunner victims(*ring, kVictims, [&](uint32_t i) {
    VictimPlan vp;
    vp.ring = name.str();
    vp.size =
        i % 2 == 0 ? rng.below(max_payload + 1) : max_payload / 2 + rng.below(max_payload / 2 + 1);
    vp.partial = (i % 2 == 0 || vp.size == 0) ? 0 : 1 + rng.below(vp.size);  // even: nothing
    vp.aim_for_wrap = i % 3 != 0;
    return vp;
  });
  bool stopping = false;
  std::vector<bool> reported(kHealthy, false);
  DrainOptions d;
  d.seed = derive_seed(seed, 0);
  Drain drain(consumer.value(), verifier, max_payload, d);
  drain_until_complete(drain, verifier, producers, seed, 30'000'000'000, [&]() -> bool {
    if (victims.step()) return true;
    if (!stopping) {
      for (Child* c : producers) c->send('S');
      stopping = true;
    }
    bool all = true;
    for (uint32_t p = 0; p < kHealthy; ++p) {
      if (reported[p]) continue;
      Event e;
      std::string why;
      if (producers[p]->expect_event('R', e, 0, why)) {
        verifier.expect(p, e.v[0]);
        reported[p] = true;
      } else {
        all = false;
      }
    }
    return !all;
  });
  finish_producers(producers, ids, verifier, seed);

  const Stats st = ring->stats();
  INFO(verifier.summary());
  CHECK(victims.kills() == kVictims);
  CHECK(st.recovered_claims == kVictims);
  CHECK(st.recovered_bytes == victims.expected_recovered_bytes());
  CHECK(victims.unwritten() >= kVictims / 2);
  check_no_dead_claims(st);
  std::printf("  %u victims among %u healthy producers, seed %" PRIu64
              ": %u claims included wrap "
              "padding, %u unwritten; %" PRIu64 " healthy messages verified\n",
              kVictims, kHealthy, seed, victims.wrapped(), victims.unwritten(),
              verifier.received());
  std::fflush(stdout);
}

TEST_CASE("fault: victims SIGKILLed holding a claim that includes the wrap padding", "[fault]") {
  const uint64_t seed = test_seed();
  INFO("seed " << seed);
  RingName name;
  CreateOptions co;
  co.kind = Kind::mpsc;
  co.capacity = 4096;  // max record 512
  co.max_producers = 4;
  co.initial_position = 0xFFFFF000u + 24;  // and cross 2^32 on the way
  auto ring = Ring::create(name.str(), co);
  if (!ring) FAIL("create: " << ring.error().message);
  ConsumerOptions options;
  options.stuck_claim_timeout_ns = kStuckClaimTimeoutNs;
  auto consumer = ring->attach_consumer(options);
  if (!consumer) FAIL("attach_consumer: " << consumer.error().message);

  // Tail lengths left before the end of the area: from the smallest padding to max_occupied-8.
  const std::vector<uint32_t> tails = {8, 16, 24, 40, 64, 128, 256, 400, 496, 504, 8, 504};
  const uint32_t max_occupied = ring->max_payload() + layout::kRecordHeaderSize;
  Verifier verifier(1);  // the victims' fillers: producer 0, one sequence across victims
  Rng rng(derive_seed(seed, 7));
  VictimRunner* runner = nullptr;
  VictimRunner victims(*ring, static_cast<uint32_t>(tails.size()), [&](uint32_t i) {
    VictimPlan vp;
    vp.ring = name.str();
    vp.wrap_tail = tails[i];
    // A record that does not fit in the tail: occupied in (tail, max_occupied].
    const uint32_t occupied = tails[i] + 8 + 8 * rng.below((max_occupied - tails[i] - 8) / 8 + 1);
    vp.size = occupied - 8 - rng.below(std::min<uint32_t>(8, occupied - 8 + 1));
    vp.partial = (i % 2 == 0 || vp.size == 0) ? 0 : 1 + rng.below(vp.size);
    vp.filler_id = 0;
    vp.filler_seq = runner->fillers();
    return vp;
  });
  runner = &victims;
  DrainOptions d;
  d.seed = derive_seed(seed, 0);
  Drain drain(consumer.value(), verifier, ring->max_payload(), d);
  drain_until_complete(drain, verifier, {}, seed, 30'000'000'000, [&]() -> bool {
    if (victims.step()) return true;
    verifier.expect(0, victims.fillers());
    return false;
  });

  const Stats st = ring->stats();
  INFO(verifier.summary());
  CHECK(victims.wrapped() == tails.size());
  CHECK(st.recovered_claims == tails.size());
  CHECK(st.recovered_bytes == victims.expected_recovered_bytes());
  CHECK(st.producer_position < 0xFFFFF000u);  // crossed 2^32
  check_no_dead_claims(st);
  std::printf("  %zu wrap-straddling victims, seed %" PRIu64 ": %" PRIu64
              " filler messages verified, %" PRIu64 " bytes recovered\n",
              tails.size(), seed, verifier.received(), st.recovered_bytes);
  std::fflush(stdout);
}

TEST_CASE("fault: dead consumer makes a parked write return consumer_dead", "[fault]") {
  SECTION("spsc") {
    run_dead_consumer(Kind::spsc, true);
  }
  SECTION("mpsc") {
    run_dead_consumer(Kind::mpsc, true);
  }
}

TEST_CASE("fault: with fail_if_consumer_dead = false a parked write outlives the consumer",
          "[fault]") {
  SECTION("spsc") {
    run_dead_consumer(Kind::spsc, false);
  }
  SECTION("mpsc") {
    run_dead_consumer(Kind::mpsc, false);
  }
}

TEST_CASE("fault: spsc producer SIGKILLed holding a claim; the next producer resumes", "[fault]") {
  const uint64_t seed = test_seed();
  INFO("seed " << seed);
  RingName name;
  CreateOptions co;
  co.kind = Kind::spsc;
  co.capacity = 4096;
  co.initial_position = 0xFFFFF000u;
  auto ring = Ring::create(name.str(), co);
  if (!ring) FAIL("create: " << ring.error().message);
  auto consumer = ring->attach_consumer();
  if (!consumer) FAIL("attach_consumer: " << consumer.error().message);

  // Each victim takes over the dead one's slot, writes committed messages continuing producer
  // 0's sequence, then dies holding an unpublished claim (never visible in spsc).
  constexpr uint32_t kVictims = 6;
  Verifier verifier(1);
  verifier.set_capacity(co.capacity);
  Rng rng(derive_seed(seed, 5));
  VictimRunner* runner = nullptr;
  VictimRunner victims(*ring, kVictims, [&](uint32_t i) {
    VictimPlan vp;
    vp.ring = name.str();
    vp.fillers_first = 500 + rng.below(5'000);
    vp.filler_seq = runner->fillers();
    vp.seed = derive_seed(seed, 10 + i);
    vp.size = rng.below(ring->max_payload() + 1);
    vp.partial = i % 2 == 0 ? 0 : vp.size;  // odd: the whole message, still never committed
    return vp;
  });
  runner = &victims;
  DrainOptions d;
  d.seed = derive_seed(seed, 0);
  Drain drain(consumer.value(), verifier, ring->max_payload(), d);
  // spsc has nothing to recover: the runner's "recovered" wait becomes "drained".
  drain_until_complete(drain, verifier, {}, seed, 30'000'000'000, [&]() -> bool {
    if (victims.step()) return true;
    verifier.expect(0, victims.fillers());
    return false;
  });
  const Stats st = ring->stats();
  CHECK(st.recovered_claims == 0);
  CHECK(st.messages_read == victims.fillers());
  CHECK(st.consumer_position == st.producer_position);
}

namespace {

// A producer process SIGKILLed at an arbitrary instant of its write loop.
struct RandomVictim {
  std::unique_ptr<Child> child;
  uint32_t id = 0;
  uint64_t base_written = 0;  // the slot's counter when it attached (slots are reused)
  uint64_t written = 0;       // messages_written it added before it died
  uint32_t killed_at = 0;     // producer position right after the kill
};

const ProducerStats* find_slot(const Stats& st, uint32_t pid) {
  for (const ProducerStats& ps : st.producers)
    if (ps.pid == pid) return &ps;
  return nullptr;
}

}  // namespace

TEST_CASE("fault: streaming producers SIGKILLed at random instants", "[fault]") {
  const uint64_t seed = test_seed();
  INFO("seed " << seed);
  RingName name;
  CreateOptions co;
  co.kind = Kind::mpsc;
  co.capacity = 1u << 14;  // max payload 2040
  co.max_producers = 8;
  auto ring = Ring::create(name.str(), co);
  if (!ring) FAIL("create: " << ring.error().message);
  ConsumerOptions options;
  options.stuck_claim_timeout_ns = kStuckClaimTimeoutNs;
  auto consumer = ring->attach_consumer(options);
  if (!consumer) FAIL("attach_consumer: " << consumer.error().message);

  constexpr uint32_t kHealthy = 1;
  constexpr uint32_t kKills = 16;
  Verifier verifier(kHealthy + kKills);  // victim i writes as producer kHealthy + i
  std::vector<std::unique_ptr<Child>> children;
  std::vector<Child*> producers;
  std::vector<uint32_t> ids;
  for (uint32_t p = 0; p < kHealthy; ++p) {
    ProducerPlan pp;
    pp.ring = name.str();
    pp.id = p;
    pp.count = 50'000'000;
    pp.until_stopped = true;
    pp.seed = derive_seed(seed, p + 1);
    pp.size_typical = 200;
    children.push_back(spawn_producer(pp, seed));
    producers.push_back(children.back().get());
    ids.push_back(p);
  }
  for (Child* c : producers) c->send('G');

  enum class Phase { spawn, attaching, running, settling, stopping, done };
  Phase phase = Phase::spawn;
  std::vector<RandomVictim> victims;
  Rng rng(derive_seed(seed, 77));
  uint64_t recovered_before = 0;
  uint32_t kills_with_claim = 0;
  uint32_t countdown = 0;
  std::vector<bool> reported(kHealthy, false);
  auto step = [&]() -> bool {
    switch (phase) {
      case Phase::spawn: {
        ProducerPlan pp;
        pp.ring = name.str();
        pp.id = kHealthy + static_cast<uint32_t>(victims.size());
        pp.count = 50'000'000;
        pp.seed = derive_seed(seed, 1000 + victims.size());
        pp.size_typical = 2'000;
        pp.claim_percent = 100;
        if (pp.id % 2 == 1) {
          pp.hold_rounds = 50'000;  // holds each claim for tens of microseconds
          pp.progress_after = 20 + rng.below(200);
        } else {
          pp.progress_after = 200 + rng.below(10'000);
        }
        RandomVictim v;
        v.id = pp.id;
        v.child = std::make_unique<Child>("producer", to_params(pp));
        victims.push_back(std::move(v));
        phase = Phase::attaching;
        return true;
      }
      case Phase::attaching: {
        RandomVictim& v = victims.back();
        Event e;
        std::string why;
        if (!v.child->expect_event('A', e, 30'000, why)) FAIL("victim " << v.id << ": " << why);
        const Stats stats = ring->stats();  // keep it: ps points into it
        const ProducerStats* ps = find_slot(stats, v.child->pid());
        REQUIRE(ps != nullptr);
        v.base_written = ps->messages_written;
        v.child->send('G');
        phase = Phase::running;
        return true;
      }
      case Phase::running: {
        RandomVictim& v = victims.back();
        Event e;
        if (v.child->next_event(e, 0)) {
          if (e.tag == 'E') FAIL("victim " << v.id << ": " << e.text);
          if (e.tag != 'P') return true;
          // Not at once: the victim may sit right after its 'P' write (the wake-up preempted
          // it). Even victims: a few hundred more consumer steps let it run on and be
          // preempted anywhere. Odd victims: as soon as its slot shows a claim in progress.
          countdown = v.id % 2 == 0 ? 1 + rng.below(400) : 50'000;
        } else if (countdown == 0 && v.child->exited()) {
          FAIL("victim " << v.id << " " << v.child->describe() << ": " << v.child->errors());
        }
        if (countdown > 0 && v.id % 2 == 1) {
          const Stats stats = ring->stats();  // keep it: ps points into it
          const ProducerStats* ps = find_slot(stats, v.child->pid());
          if (ps != nullptr && ps->claim_active) countdown = 1;
        }
        if (countdown > 0 && --countdown == 0) {
          v.child->kill_and_reap();  // lands wherever its write loop happens to be
          const Stats st = ring->stats();
          const ProducerStats* ps = find_slot(st, v.child->pid());
          REQUIRE(ps != nullptr);
          v.written = ps->messages_written - v.base_written;
          v.killed_at = st.producer_position;
          phase = Phase::settling;
        }
        return true;
      }
      case Phase::settling: {
        // The consumer has passed everything claimed before the kill (recovering a claim the
        // victim died holding): the victim's delivered count is final.
        const RandomVictim& v = victims.back();
        const Stats st = ring->stats();
        if (static_cast<int32_t>(st.consumer_position - v.killed_at) < 0) return true;
        verifier.expect(v.id, verifier.next_seq(v.id));
        if (st.recovered_claims > recovered_before) ++kills_with_claim;
        CHECK(st.recovered_claims - recovered_before <= 1);
        recovered_before = st.recovered_claims;
        if (victims.size() < kKills) {
          phase = Phase::spawn;
        } else {
          for (Child* c : producers) c->send('S');
          phase = Phase::stopping;
        }
        return true;
      }
      case Phase::stopping: {
        bool all = true;
        for (uint32_t p = 0; p < kHealthy; ++p) {
          if (reported[p]) continue;
          Event e;
          std::string why;
          if (producers[p]->expect_event('R', e, 0, why)) {
            verifier.expect(p, e.v[0]);
            reported[p] = true;
          } else {
            all = false;
          }
        }
        if (all) phase = Phase::done;
        return !all;
      }
      case Phase::done:
        return false;
    }
    return false;
  };
  DrainOptions d;
  d.seed = derive_seed(seed, 0);
  Drain drain(consumer.value(), verifier, ring->max_payload(), d);
  drain_until_complete(drain, verifier, producers, seed, 30'000'000'000, step);
  finish_producers(producers, ids, verifier, seed);

  const Stats st = ring->stats();
  INFO(verifier.summary());
  std::string per_victim;
  for (const RandomVictim& v : victims) {
    // Every committed message arrived, in order (the verifier saw 0..n-1); the one it may have
    // died committing is there too if its length store landed before its counter bump.
    const uint64_t delivered = verifier.next_seq(v.id);
    INFO("victim " << v.id << ": counter says " << v.written << " written, " << delivered
                   << " delivered");
    CHECK((delivered == v.written || delivered == v.written + 1));
    per_victim += " " + std::to_string(delivered);
  }
  CHECK(st.recovered_claims == kills_with_claim);
  CHECK(st.recovered_claims <= kKills);
  uint32_t stale = 0;
  for (const ProducerStats& ps : st.producers) stale += (ps.claim_active && !ps.alive) ? 1 : 0;
  std::printf("  %u producers killed at random instants, seed %" PRIu64
              ": %u died holding a claim (recovered), %u left a stale claim intent; delivered "
              "per victim:%s\n",
              kKills, seed, kills_with_claim, stale, per_victim.c_str());
  std::fflush(stdout);
}

// ---- a kill inside the claim-intent protocol ------------------------------------------------
//
// try_claim() stores the claim intent (claim_position, claim_length, claim_active = 1) and then
// CASes the producer position; commit() stores +length and then claim_active = 0. A SIGKILL
// between those stores is possible but too narrow to hit on purpose with a signal, so these
// children do exactly the stores the library does up to that point, on their own slot (through
// a second, raw mapping of the ring), and are SIGKILLed there.

namespace {

enum class IntentKill { before_cas, after_commit };

// Sends 'C' {intent position, intent length} and blocks until killed.
int run_intent_victim(ChildIo& io, const std::string& name, IntentKill where, uint32_t length) {
  auto ring = Ring::open(name);
  if (!ring) return io.fail("open: %s", ring.error().message.c_str());
  auto producer = ring->attach_producer();
  if (!producer) return io.fail("attach: %s", producer.error().message.c_str());
  auto raw = platform::open_region(name, true, platform::RegionOptions{});
  if (!raw) return io.fail("raw map: %s", raw.error().message.c_str());
  auto* slot = reinterpret_cast<layout::ProducerSlot*>(raw->data() + sizeof(layout::RingHeader)) +
               producer->slot();
  uint32_t start = 0;
  if (where == IntentKill::after_commit) {
    // A real message (producer 0, sequence 0), committed; the intent it leaves is its own.
    std::vector<std::byte> buffer(length);
    const uint32_t type = fill_message(buffer.data(), length, 0, 0);
    if (producer->write(type, buffer.data(), length, 10'000'000'000) != Status::ok)
      return io.fail("write failed");
    start = slot->claim_position.load();
    length = slot->claim_length.load();
  } else {
    // The intent for the position it read; its CAS never happens.
    start = ring->stats().producer_position;
  }
  slot->claim_position.store(start, std::memory_order_relaxed);
  slot->claim_length.store(length, std::memory_order_relaxed);
  slot->claim_active.store(1, std::memory_order_relaxed);
  io.send('C', start, length);
  (void)io.wait_control(300'000);
  return io.fail("was not killed");
}

int intent_victim_role(ChildIo& io, const Params& p) {
  return run_intent_victim(io, p.str("ring"), static_cast<IntentKill>(p.u32("where")),
                           p.u32("length"));
}
const ChildRole kIntentVictimRole("intent-victim", intent_victim_role);

Params intent_victim(const std::string& ring, IntentKill where, uint32_t length) {
  return Params()
      .set("ring", ring)
      .set("where", static_cast<uint32_t>(where))
      .set("length", length);
}

}  // namespace

// Regression test: a producer killed between writing its claim
// intent and its CAS leaves claim_active = 1 on a claim it never made. When another producer
// then dies holding the claim at that position, the consumer used to find two dead "owners"
// with different lengths and report corrupt, stopping the ring for good, although the second
// producer's claim is the only real one. Core now marks a claim held after its CAS
// (kClaimHeld), so the held claim wins over the stale intent.
TEST_CASE("fault: producer killed between claim intent and CAS, then a real claimer dies",
          "[fault]") {
  const uint64_t seed = test_seed();
  INFO("seed " << seed);
  RingName name;
  CreateOptions co;
  co.kind = Kind::mpsc;
  co.capacity = 4096;
  co.max_producers = 4;
  auto ring = Ring::create(name.str(), co);
  if (!ring) FAIL("create: " << ring.error().message);
  ConsumerOptions options;
  options.stuck_claim_timeout_ns = kStuckClaimTimeoutNs;
  auto consumer = ring->attach_consumer(options);
  if (!consumer) FAIL("attach_consumer: " << consumer.error().message);

  const std::string ring_name = name.str();
  Child stale("intent-victim", intent_victim(ring_name, IntentKill::before_cas, 64));
  Event e;
  std::string why;
  if (!stale.expect_event('C', e, 30'000, why)) FAIL(why);
  const uint32_t stale_start = static_cast<uint32_t>(e.v[0]);
  stale.kill_and_reap();

  VictimPlan vp;
  vp.ring = ring_name;
  vp.size = 200;  // occupies 208: not the 64 bytes of the stale intent
  Child victim("victim", to_params(vp));
  if (!victim.expect_event('C', e, 30'000, why)) FAIL(why);
  CHECK(static_cast<uint32_t>(e.v[0]) == stale_start);  // the same position
  victim.kill_and_reap();

  ProducerPlan pp;
  pp.ring = ring_name;
  pp.id = 0;
  pp.count = 2'000;
  pp.seed = derive_seed(seed, 1);
  auto healthy = spawn_producer(pp, seed);
  healthy->send('G');
  Verifier verifier(1);
  verifier.expect(0, pp.count);
  DrainOptions d;
  d.seed = derive_seed(seed, 0);
  Drain drain(consumer.value(), verifier, ring->max_payload(), d);
  drain_until_complete(drain, verifier, {healthy.get()}, seed);
  finish_producers({healthy.get()}, {0}, verifier, seed);
  CHECK(ring->stats().recovered_claims == 1);
}

// Regression test: a producer killed between commit()'s length store and its claim_active = 0
// store leaves a dead slot that looks like it holds a claim. The consumer never gets stuck on a
// committed record, so it never clears it, and attach_producer() never reuses a dead slot with
// an active claim: the slot was lost until the ring was re-created. Core now clears dead intents
// that no longer overlap the unread window.
TEST_CASE("fault: producer killed between commit and clearing its claim intent", "[fault]") {
  const uint64_t seed = test_seed();
  INFO("seed " << seed);
  RingName name;
  CreateOptions co;
  co.kind = Kind::mpsc;
  co.capacity = 4096;
  co.max_producers = 2;
  auto ring = Ring::create(name.str(), co);
  if (!ring) FAIL("create: " << ring.error().message);
  ConsumerOptions options;
  options.stuck_claim_timeout_ns = kStuckClaimTimeoutNs;
  auto consumer = ring->attach_consumer(options);
  if (!consumer) FAIL("attach_consumer: " << consumer.error().message);

  const std::string ring_name = name.str();
  Child victim("intent-victim", intent_victim(ring_name, IntentKill::after_commit, 100));
  Event e;
  std::string why;
  if (!victim.expect_event('C', e, 30'000, why)) FAIL(why);
  victim.kill_and_reap();

  // Its committed message arrives; nothing is stuck, so nothing is recovered.
  Verifier verifier(1);
  verifier.expect(0, 1);
  DrainOptions d;
  d.seed = derive_seed(seed, 0);
  Drain drain(consumer.value(), verifier, ring->max_payload(), d);
  drain_until_complete(drain, verifier, {}, seed);
  CHECK(ring->stats().recovered_claims == 0);

  // Both slots should be usable again: one free, one of a dead process that holds no claim.
  auto first = ring->attach_producer();
  REQUIRE(first);
  auto second = ring->attach_producer();
  INFO((second ? std::string("attached") : second.error().message));
  CHECK(second.ok());
  check_no_dead_claims(ring->stats());
}

// Known platform gap: process_alive() is kill(pid, 0), which succeeds for a zombie (a process
// that has died but that its parent has not reaped yet). Until the parent reaps it, a dead
// consumer blocks its replacement (attach_consumer says busy) and producers never see
// consumer_dead; a dead producer's claim is likewise never recovered. A supervisor that starts
// the replacement before it reaps the old process (or a consumer whose own dead child is the
// producer) stalled. The Linux layer now reads /proc/<pid>/stat and treats a zombie as dead.
TEST_CASE("fault: a dead but unreaped (zombie) consumer is replaced", "[fault]") {
  RingName name;
  CreateOptions co;
  co.kind = Kind::mpsc;
  co.capacity = 4096;
  auto ring = Ring::create(name.str(), co);
  if (!ring) FAIL("create: " << ring.error().message);
  const std::string ring_name = name.str();
  Child consumer("idle-consumer", Params().set("ring", ring_name));
  Event e;
  std::string why;
  if (!consumer.expect_event('A', e, 30'000, why)) FAIL(why);
  consumer.kill();
  REQUIRE(consumer.wait_zombie(30'000));  // dead, not reaped
  auto replacement = ring->attach_consumer();
  INFO((replacement ? std::string("attached") : replacement.error().message));
  CHECK(replacement.ok());
}

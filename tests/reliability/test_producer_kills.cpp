// [reliability] Producers SIGKILLed at chosen points, with randomised timing, on every ring kind.
//
// A victim producer process writes a random number of checksummed messages (continuing one
// logical producer's sequence across victims), then goes to its kill point and spins there:
//   before_claim   after its last commit, before the next claim
//   in_claim       holding a claim, part of the payload written (mpsc: the claim blocks the
//                  consumer until it is recovered as padding)
//   after_commit   right after a commit, before its own bookkeeping knows about it
//   anywhere       the parent kills it at a random instant of its write loop
// The parent (the consumer, or a broadcast reader) kills it a random number of microseconds after
// it reached the point, reaps it, and keeps reading until it has passed everything the victim
// claimed. Then, exactly: every message committed before the kill arrived once and in order
// (in_claim: the claimed one never arrives; after_commit: the committed one does; anywhere: the
// one in flight arrived iff its commit landed), mpsc counted exactly one recovered claim per
// in_claim kill, no read overran its timeout, and (mpsc) a healthy producer streaming alongside
// lost nothing. The next victim continues the sequence. Seeds print; SHMRING_TEST_SEED replays.
#include <signal.h>

#include <array>
#include <catch2/catch.hpp>
#include <cinttypes>
#include <cstdio>
#include <memory>

#include "rel_util.hpp"
#include "shmring/layout.hpp"
#include "shmring/platform.hpp"

using namespace shmring;
using namespace shmring::proctest;
using namespace shmring::reltest;

namespace {

enum class Point : uint32_t { before_claim = 0, in_claim = 1, after_commit = 2, anywhere = 3 };
constexpr std::array<const char*, 4> kPointNames = {"before_claim", "in_claim", "after_commit",
                                                    "anywhere"};
constexpr uint32_t kHealthyId = 0;
constexpr uint32_t kVictimId = 1;

// Written by the victim in an anonymous shared mapping made before fork.
struct VictimBook {
  std::atomic<uint64_t> committed;       // the victim's sequences below this are committed
  std::atomic<uint64_t> at_point;        // 1 once it sits at its kill point (anywhere: running)
  std::atomic<uint64_t> point_sequence;  // in_claim / after_commit: the sequence at the point
};

struct VictimPlan {
  std::string ring;
  Point point = Point::before_claim;
  uint64_t first_sequence = 0;
  uint32_t messages = 0;  // written before the point
  uint32_t size_max = 0;
  uint32_t size_typical = 0;
  uint64_t seed = 0;
  std::string book;  // SharedBook<VictimBook>::name()
};

int run_victim(ChildIo& io, const VictimPlan& plan) {
  auto ring = Ring::open(plan.ring);
  if (!ring) return io.fail("victim: open: %s", ring.error().message.c_str());
  auto producer = ring->attach_producer();
  if (!producer) return io.fail("victim: attach: %s", producer.error().message.c_str());
  Rng rng(plan.seed);
  const uint32_t max = std::min(plan.size_max, producer->max_payload());
  std::vector<std::byte> buffer(max + 1);
  auto shared = SharedBook<VictimBook>::attach(plan.book);
  if (!shared) return io.fail("victim: no book '%s'", plan.book.c_str());
  VictimBook& book = **shared;
  book.committed.store(plan.first_sequence, std::memory_order_release);
  io.send('A');
  if (plan.point == Point::anywhere) book.at_point.store(1, std::memory_order_release);
  auto next_size = [&] { return pick_size(rng, max, plan.size_typical); };
  for (uint32_t i = 0; i < plan.messages; ++i) {
    const uint64_t sequence = plan.first_sequence + i;
    const uint32_t size = next_size();
    Status s = Status::ok;
    if (rng.percent(50)) {
      Claim claim;
      s = producer->claim(fill_message(buffer.data(), size, kVictimId, sequence), size, claim,
                          30'000'000'000);
      if (s == Status::ok) {
        std::memcpy(claim.data, buffer.data(), size);
        producer->commit(claim);
      }
    } else {
      s = producer->write(fill_message(buffer.data(), size, kVictimId, sequence), buffer.data(),
                          size, 30'000'000'000);
    }
    if (s != Status::ok) return io.fail("victim: message %u returned %s", i, to_string(s));
    book.committed.store(sequence + 1, std::memory_order_release);
    if (plan.point == Point::anywhere && rng.percent(20)) busy_wait_us(rng.below(30));
  }
  const uint64_t sequence = plan.first_sequence + plan.messages;
  const uint32_t size = next_size();
  const uint32_t type = fill_message(buffer.data(), size, kVictimId, sequence);
  switch (plan.point) {
    case Point::before_claim:
    case Point::anywhere:
      break;
    case Point::in_claim: {
      Claim claim;
      const Status s = producer->claim(type, size, claim, 30'000'000'000);
      if (s != Status::ok) return io.fail("victim: claim returned %s", to_string(s));
      const uint32_t partial = size == 0 ? 0 : rng.below(size + 1);
      std::memcpy(claim.data, buffer.data(), partial);
      break;
    }
    case Point::after_commit: {
      Claim claim;
      const Status s = producer->claim(type, size, claim, 30'000'000'000);
      if (s != Status::ok) return io.fail("victim: claim returned %s", to_string(s));
      std::memcpy(claim.data, buffer.data(), size);
      producer->commit(claim);
      break;
    }
  }
  book.point_sequence.store(sequence, std::memory_order_relaxed);
  book.at_point.store(1, std::memory_order_release);
  spin_forever();  // until the SIGKILL
}

int victim_role(ChildIo& io, const Params& p) {
  VictimPlan plan;
  plan.ring = p.str("ring");
  plan.point = static_cast<Point>(p.u32("point"));
  plan.first_sequence = p.u64("first_sequence");
  plan.messages = p.u32("messages");
  plan.size_max = p.u32("size_max");
  plan.size_typical = p.u32("size_typical");
  plan.seed = p.u64("seed");
  plan.book = p.str("book");
  return run_victim(io, plan);
}
const ChildRole kVictimRole("rel-victim", victim_role);

struct Tally {
  std::array<uint32_t, 4> kills{};
  uint32_t delivered_in_flight = 0;  // anywhere: the message in flight had been committed
  uint32_t b11 = 0;                  // broadcast kills inside commit's sequence window (B11's case)
  uint64_t recovered = 0;
};

// Spawns victims one after another from the reader loop, kills each at its point after a random
// delay, and checks the outcome once the reader has passed everything it claimed.
class Campaign {
 public:
  Campaign(Ring& ring, Verifier& verifier, std::function<uint32_t()> reader_position,
           uint32_t kills_per_point, uint64_t seed)
      : ring_(ring),
        verifier_(verifier),
        reader_position_(std::move(reader_position)),
        kills_per_point_(kills_per_point),
        rng_(seed) {}

  bool step() {
    switch (phase_) {
      case Phase::spawn:
        spawn();
        return true;
      case Phase::attaching: {
        Event e;
        std::string why;
        if (victim_->next_event(e, 0)) {
          if (e.tag == 'E') FAIL("victim " << number_ << ": " << e.text);
          if (e.tag == 'A') phase_ = Phase::armed;
        } else if (victim_->exited()) {
          FAIL("victim " << number_ << " " << victim_->describe() << ": " << victim_->errors());
        }
        return true;
      }
      case Phase::armed:
        if (book_->at_point.load(std::memory_order_acquire) == 1) {
          const uint32_t max_us = plan_.point == Point::anywhere ? 600 : 200;
          kill_at_ = now_ns() + uint64_t{rng_.below(max_us + 1)} * 1000;
          phase_ = Phase::countdown;
        } else if (victim_->exited()) {
          FAIL("victim " << number_ << " " << victim_->describe() << ": " << victim_->errors());
        }
        return true;
      case Phase::countdown:
        if (now_ns() >= kill_at_) kill();
        return true;
      case Phase::settling:
        return settle();
      case Phase::done:
        return false;
    }
    return false;
  }

  const Tally& tally() const { return tally_; }
  uint64_t next_sequence() const { return next_sequence_; }

 private:
  enum class Phase { spawn, attaching, armed, countdown, settling, done };

  void spawn() {
    const uint32_t total = kills_per_point_ * 4;
    if (number_ == total) {
      phase_ = Phase::done;
      return;
    }
    plan_ = VictimPlan{};
    plan_.ring = ring_.name();
    plan_.point = static_cast<Point>(number_ % 4);
    plan_.first_sequence = next_sequence_;
    plan_.messages = plan_.point == Point::anywhere ? rng_.below(300) : rng_.below(40);
    plan_.size_max = std::min<uint32_t>(ring_.max_payload(), 600);
    plan_.size_typical = 120;
    plan_.seed = derive_seed(rng_.next(), number_);
    book_->committed.store(next_sequence_);
    book_->at_point.store(0);
    book_->point_sequence.store(0);
    plan_.book = book_.name();
    recovered_before_ = ring_.stats().recovered_claims;
    Params params;
    params.set("ring", plan_.ring)
        .set("point", static_cast<uint32_t>(plan_.point))
        .set("first_sequence", plan_.first_sequence)
        .set("messages", plan_.messages)
        .set("size_max", plan_.size_max)
        .set("size_typical", plan_.size_typical)
        .set("seed", plan_.seed)
        .set("book", plan_.book);
    victim_ = std::make_unique<Child>("rel-victim", params);
    phase_ = Phase::attaching;
  }

  void kill() {
    victim_->kill_and_reap();  // reaped: a zombie still reads as alive
    killed_at_ = ring_.stats().producer_position;
    ++tally_.kills[static_cast<uint32_t>(plan_.point)];
    phase_ = Phase::settling;
  }

  bool settle() {
    // Until the reader has passed every byte the victim reserved.
    if (static_cast<int32_t>(reader_position_() - killed_at_) < 0) return true;
    const Stats st = ring_.stats();
    const uint64_t committed = book_->committed.load(std::memory_order_acquire);
    const uint64_t delivered = verifier_.next_seq(kVictimId);
    const uint64_t recovered = st.recovered_claims - recovered_before_;
    INFO("victim " << number_ << " killed " << kPointNames[static_cast<uint32_t>(plan_.point)]
                   << " after " << plan_.messages << " messages from sequence "
                   << plan_.first_sequence << ": committed " << committed << ", delivered up to "
                   << delivered << ", recovered claims " << recovered);
    switch (plan_.point) {
      case Point::before_claim:
        REQUIRE(delivered == plan_.first_sequence + plan_.messages);
        REQUIRE(recovered == 0);
        break;
      case Point::in_claim:
        REQUIRE(delivered == plan_.first_sequence + plan_.messages);
        REQUIRE(recovered == (ring_.kind() == Kind::mpsc ? 1u : 0u));
        break;
      case Point::after_commit:
        REQUIRE(delivered == plan_.first_sequence + plan_.messages + 1);
        REQUIRE(recovered == 0);
        break;
      case Point::anywhere:
        REQUIRE((delivered == committed || delivered == committed + 1));
        REQUIRE(recovered <= (ring_.kind() == Kind::mpsc ? 1u : 0u));
        if (delivered == committed + 1) ++tally_.delivered_in_flight;
        break;
    }
    tally_.recovered += recovered;
    next_sequence_ = delivered;
    if (ring_.kind() == Kind::broadcast) note_commit_window(delivered);
    victim_.reset();
    ++number_;
    phase_ = Phase::spawn;
    return true;
  }

  // B11 (fixed; docs/security.md): a broadcast producer killed inside commit(), after it
  // published the producer position and before it stored next_sequence, leaves next_sequence one
  // behind; the next producer must resume after the record it finds (attach_producer), or readers
  // skip records without counting them, which the verifier catches. Only victims write here, so
  // next_sequence lagging the count delivered means the kill hit that window: count it, touch
  // nothing.
  void note_commit_window(uint64_t committed) {
    if (ring_.stats().next_sequence != committed) ++tally_.b11;
  }

  Ring& ring_;
  Verifier& verifier_;
  std::function<uint32_t()> reader_position_;
  uint32_t kills_per_point_;
  Rng rng_;
  SharedBook<VictimBook> book_;
  Phase phase_ = Phase::spawn;
  VictimPlan plan_;
  std::unique_ptr<Child> victim_;
  uint32_t number_ = 0;
  uint64_t next_sequence_ = 0;
  uint64_t kill_at_ = 0;
  uint32_t killed_at_ = 0;
  uint64_t recovered_before_ = 0;
  Tally tally_;
};

void run_kills(Kind kind) {
  const uint64_t seed = test_seed();
  INFO(kind_name(kind) << ", seed " << seed);
  const uint64_t started = now_ns();
  RingName name;
  CreateOptions co;
  co.kind = kind;
  co.capacity = kind == Kind::broadcast ? 1u << 18 : 1u << 14;  // broadcast: never lapped here
  co.max_producers = kind == Kind::mpsc ? 4 : 1;
  co.initial_position = 0u - 2 * co.capacity - 64;  // crosses 2^32 early on
  auto ring = Ring::create(name.str(), co);
  if (!ring) FAIL("create: " << ring.error().message);

  Verifier verifier(2);
  const uint32_t kills_per_point = scaled(40, 4);
  constexpr int64_t kStep = 1'000'000;  // 1 ms reads: the kill timer runs between them

  std::unique_ptr<Consumer> consumer;
  std::unique_ptr<Reader> reader;
  if (kind == Kind::broadcast) {
    auto r = ring->attach_reader();
    if (!r) FAIL("attach_reader: " << r.error().message);
    reader = std::make_unique<Reader>(std::move(r.value()));
  } else {
    ConsumerOptions options;
    options.stuck_claim_timeout_ns = 2'000'000;
    auto c = ring->attach_consumer(options);
    if (!c) FAIL("attach_consumer: " << c.error().message);
    consumer = std::make_unique<Consumer>(std::move(c.value()));
  }
  // mpsc: a healthy producer streams through every kill.
  std::vector<std::unique_ptr<Child>> healthy;
  std::vector<Child*> producers;
  if (kind == Kind::mpsc) {
    ProducerPlan pp;
    pp.ring = name.str();
    pp.id = kHealthyId;
    pp.count = 1'000'000'000;
    pp.until_stopped = true;
    pp.seed = derive_seed(seed, 1);
    pp.size_typical = 100;
    pp.size_max = 600;
    healthy.push_back(spawn_producer(pp, seed));
    producers.push_back(healthy.back().get());
    healthy.back()->send('G');
  } else {
    verifier.expect(kHealthyId, 0);
  }

  Campaign campaign(
      *ring, verifier,
      [&]() -> uint32_t { return reader ? reader->position() : ring->stats().consumer_position; },
      kills_per_point, derive_seed(seed, 2));
  bool stopping = false, reported = kind != Kind::mpsc;
  auto between = [&]() -> bool {
    if (campaign.step()) return true;
    verifier.expect(kVictimId, campaign.next_sequence());
    if (reported) return false;
    if (!stopping) {
      healthy[0]->send('S');
      stopping = true;
    }
    Event e;
    std::string why;
    if (healthy[0]->expect_event('R', e, 0, why)) {
      verifier.expect(kHealthyId, e.v[0]);
      reported = true;
    }
    return !reported;
  };

  if (reader) {
    ReaderDrain drain(*reader, verifier, ring->max_payload(), derive_seed(seed, 3));
    drain_loop([&] { return drain.step(kStep); }, kStep, verifier, producers, seed, between,
               [&] { return reader->last_error(); });
    CHECK(reader->lost() == 0);
  } else {
    DrainOptions d;
    d.seed = derive_seed(seed, 3);
    d.step_timeout_ns = kStep;
    Drain drain(*consumer, verifier, ring->max_payload(), d);
    drain_loop([&] { return drain.step(); }, kStep, verifier, producers, seed, between,
               [&] { return consumer->last_error(); });
  }
  if (!producers.empty()) finish_producers(producers, {kHealthyId}, verifier, seed);

  const Tally& t = campaign.tally();
  const std::string b11 =
      t.b11 != 0 ? "; " + std::to_string(t.b11) + " kill(s) inside commit's sequence window (B11)"
                 : std::string();
  const Stats st = ring->stats();
  const uint32_t total = t.kills[0] + t.kills[1] + t.kills[2] + t.kills[3];
  CHECK(total == 4 * kills_per_point);
  CHECK(st.recovered_claims == t.recovered);
  if (kind == Kind::mpsc) CHECK(t.recovered >= t.kills[1]);
  // No dead claim left behind. A victim killed between writing its claim intent and its CAS (or
  // between its commit and clearing the intent) leaves a stale intent, which core clears when a
  // producer attaches or the consumer gets stuck; attach one, then look.
  {
    auto cleanup = ring->attach_producer();
    REQUIRE(cleanup.ok());
  }
  for (const ProducerStats& ps : ring->stats().producers) {
    INFO("slot pid " << ps.pid);
    CHECK_FALSE((ps.claim_active && !ps.alive));
  }
  std::printf("  %-9s seed %-20" PRIu64
              " %u kills (before_claim %u, in_claim %u, after_commit %u, anywhere %u; in flight "
              "delivered %u), %" PRIu64 " recovered claims, %" PRIu64
              " messages verified, %.1f s%s\n",
              kind_name(kind), seed, total, t.kills[0], t.kills[1], t.kills[2], t.kills[3],
              t.delivered_in_flight, t.recovered, verifier.received(),
              static_cast<double>(now_ns() - started) / 1e9, b11.c_str());
  std::fflush(stdout);
}

}  // namespace

TEST_CASE("reliability: spsc producers SIGKILLed at every point", "[reliability][kill]") {
  run_kills(Kind::spsc);
}

TEST_CASE("reliability: mpsc producers SIGKILLed at every point beside a healthy producer",
          "[reliability][kill]") {
  run_kills(Kind::mpsc);
}

TEST_CASE("reliability: broadcast producers SIGKILLed at every point", "[reliability][kill]") {
  run_kills(Kind::broadcast);
}

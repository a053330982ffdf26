#include "proc_util.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cinttypes>
#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>

#include "shmring/platform.hpp"

namespace shmring::proctest {

// ---- seeds, names, time ---------------------------------------------------------------------

uint64_t test_seed() {
  if (const char* env = std::getenv("SHMRING_TEST_SEED"); env != nullptr && *env != '\0')
    return std::strtoull(env, nullptr, 0);
  std::random_device rd;
  return (uint64_t{rd()} << 32) ^ rd();
}

std::string unique_ring_name() {
  static std::atomic<uint32_t> counter{0};
  return "pt-" + std::to_string(platform::current_pid()) + "-" +
         std::to_string(counter.fetch_add(1));
}

uint64_t now_ns() {
  return platform::monotonic_ns();
}

bool wait_until(const std::function<bool()>& condition, int timeout_ms) {
  const uint64_t deadline = now_ns() + static_cast<uint64_t>(timeout_ms) * 1'000'000u;
  for (;;) {
    if (condition()) return true;
    if (now_ns() >= deadline) return false;
    platform::yield_thread();
  }
}

// ---- message format -------------------------------------------------------------------------

namespace {

void fill_body(std::byte* out, uint32_t n, uint32_t producer_id, uint64_t sequence) {
  Rng r((uint64_t{producer_id} << 56) ^ (sequence * 0x9E3779B97F4A7C15ull) ^ 0x5DEECE66Dull);
  uint32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint64_t w = r.next();
    std::memcpy(out + i, &w, 8);
  }
  if (i < n) {
    const uint64_t w = r.next();
    std::memcpy(out + i, &w, n - i);
  }
}

uint32_t message_type(uint32_t size, uint32_t producer_id, uint64_t sequence) {
  if (size >= kMessageHeader) return kMessageType;
  return kCompactBase | (producer_id << 24) | static_cast<uint32_t>(sequence & 0xFFFFFFu);
}

}  // namespace

// FNV-1a over 8-byte little-endian words, with an xor-shift after each multiply so that high
// bits mix downwards; folded to 32 bits. Covers producer_id, sequence, body_len and the body.
uint32_t checksum(uint32_t producer_id, uint64_t sequence, const std::byte* body, uint32_t n) {
  uint64_t h = 0xCBF29CE484222325ull;
  auto step = [&h](uint64_t w) {
    h = (h ^ w) * 0x100000001B3ull;
    h ^= h >> 32;
  };
  step(producer_id);
  step(sequence);
  step(n);
  uint32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, body + i, 8);
    step(w);
  }
  if (i < n) {
    uint64_t w = 0;
    std::memcpy(&w, body + i, n - i);
    step(w);
  }
  return static_cast<uint32_t>(h ^ (h >> 32));
}

uint32_t fill_message(std::byte* out, uint32_t size, uint32_t producer_id, uint64_t sequence) {
  const uint32_t type = message_type(size, producer_id, sequence);
  if (size < kMessageHeader) {
    fill_body(out, size, producer_id, sequence);
    return type;
  }
  const uint32_t body_len = size - kMessageHeader;
  const uint32_t reserved = 0;
  fill_body(out + kMessageHeader, body_len, producer_id, sequence);
  const uint32_t sum = checksum(producer_id, sequence, out + kMessageHeader, body_len);
  std::memcpy(out + 0, &producer_id, 4);
  std::memcpy(out + 4, &reserved, 4);
  std::memcpy(out + 8, &sequence, 8);
  std::memcpy(out + 16, &sum, 4);
  std::memcpy(out + 20, &body_len, 4);
  return type;
}

uint32_t pick_size(Rng& rng, uint32_t max, uint32_t typical) {
  const uint32_t r = rng.below(100);
  if (r < 2) return max;
  if (r < 3) return 0;
  if (r < 15) return rng.below(max + 1);
  return rng.below(std::min(typical, max) + 1);
}

// ---- Verifier -------------------------------------------------------------------------------

Verifier::Verifier(uint32_t producers)
    : next_(producers, 0),
      expected_(producers, UINT64_MAX),
      lowest_(producers, 0),
      seen_(producers, false),
      scratch_(kMessageHeader) {}

void Verifier::resume(uint32_t producer, uint64_t next_seq, uint64_t lowest) {
  next_[producer] = next_seq;
  lowest_[producer] = std::min(lowest, next_seq);
  seen_[producer] = false;
}

void Verifier::set_capacity(uint32_t capacity) {
  capacity_mask_ = capacity - 1;
  padding_sizes_.assign(capacity / 8 + 1, false);
}

bool Verifier::fail(const char* fmt, ...) noexcept {
  if (!error_.empty()) return false;
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  error_ = std::string(buf) + " [after " + std::to_string(received_) + " good records]";
  return false;
}

bool Verifier::accept(uint32_t producer, uint64_t sequence) noexcept {
  if (!seen_[producer] && lowest_[producer] < next_[producer]) {
    // First record from this producer since a consumer replacement: it may repeat the dead
    // consumer's unreleased batch, never anything older and never skip ahead.
    if (sequence < lowest_[producer] || sequence > next_[producer])
      return fail("producer %u: first record after a consumer replacement has sequence %" PRIu64
                  ", outside the redelivery window [%" PRIu64 ", %" PRIu64 "]",
                  producer, sequence, lowest_[producer], next_[producer]);
    duplicates_ += next_[producer] - sequence;
    next_[producer] = sequence;
  }
  seen_[producer] = true;
  if (sequence != next_[producer])
    return fail("producer %u: sequence %" PRIu64 ", expected %" PRIu64 " (%s)", producer, sequence,
                next_[producer],
                sequence > next_[producer] ? "records lost" : "duplicated or reordered");
  if (sequence >= expected_[producer])
    return fail("producer %u: sequence %" PRIu64 " beyond the %" PRIu64 " messages it sends",
                producer, sequence, expected_[producer]);
  ++next_[producer];
  ++received_;
  last_producer_ = producer;
  last_sequence_ = sequence;
  return true;
}

bool Verifier::check(uint32_t type, const std::byte* data, uint32_t size) noexcept {
  if (!error_.empty()) return false;
  if (type == kMessageType) {
    if (size < kMessageHeader)
      return fail("message record of %u bytes, shorter than the 24-byte message header", size);
    uint32_t producer = 0, reserved = 0, sum = 0, body_len = 0;
    uint64_t sequence = 0;
    std::memcpy(&producer, data + 0, 4);
    std::memcpy(&reserved, data + 4, 4);
    std::memcpy(&sequence, data + 8, 8);
    std::memcpy(&sum, data + 16, 4);
    std::memcpy(&body_len, data + 20, 4);
    if (producer >= producers())
      return fail("record from unknown producer id %u (sequence %" PRIu64 ", %u bytes)", producer,
                  sequence, size);
    if (reserved != 0 || body_len != size - kMessageHeader)
      return fail("producer %u sequence %" PRIu64 ": reserved %u, body_len %u in a %u-byte record",
                  producer, sequence, reserved, body_len, size);
    const uint32_t want = checksum(producer, sequence, data + kMessageHeader, body_len);
    if (want != sum)
      return fail("producer %u sequence %" PRIu64 " (%u bytes): checksum 0x%08x, computed 0x%08x",
                  producer, sequence, size, sum, want);
    if (!accept(producer, sequence)) return false;
    bytes_ += size;
    return true;
  }
  if ((type & 0xC0000000u) == kCompactBase) {
    const uint32_t producer = (type >> 24) & kMaxProducerId;
    const uint32_t low = type & 0xFFFFFFu;
    if (size >= kMessageHeader)
      return fail("compact record type 0x%08x with %u bytes (compact is for < 24)", type, size);
    if (producer >= producers())
      return fail("compact record from unknown producer id %u (%u bytes)", producer, size);
    uint64_t sequence = next_[producer];
    if ((sequence & 0xFFFFFFu) != low) {
      const uint64_t back = (sequence - low) & 0xFFFFFFu;
      if (!seen_[producer] && back <= sequence - lowest_[producer]) {
        sequence -= back;  // a redelivered record inside the replacement window
      } else {
        return fail(
            "producer %u: compact record (%u bytes) has sequence low bits 0x%06x, expected "
            "sequence %" PRIu64 " (low bits 0x%06x): records lost, duplicated or reordered",
            producer, size, low, sequence, static_cast<uint32_t>(sequence & 0xFFFFFFu));
      }
    }
    fill_body(scratch_.data(), size, producer, sequence);
    if (size != 0 && std::memcmp(scratch_.data(), data, size) != 0)
      return fail("producer %u sequence %" PRIu64 ": compact record (%u bytes) has wrong bytes",
                  producer, sequence, size);
    if (!accept(producer, sequence)) return false;
    bytes_ += size;
    return true;
  }
  return fail("unexpected record type 0x%08x (%u bytes)", type, size);
}

void Verifier::check_position(uint32_t position, uint32_t size) noexcept {
  if (!error_.empty()) return;
  const uint32_t occupied = layout::align_record(size + layout::kRecordHeaderSize);
  if (have_position_) {
    const uint32_t expect = last_position_ + last_occupied_;
    const uint32_t gap = position - expect;
    if (position < last_position_) ++wraps_crossed_;  // the 32-bit position wrapped
    if (gap != 0) {
      if (gap >= 0x80000000u) {
        fail("record at position %u lies before the end (%u) of the previous record", position,
             expect);
        return;
      }
      ++paddings_;
      if (!gaps_allowed_ && capacity_mask_ != 0) {
        // Wrap padding: from the previous record's end to the end of the area; the record
        // starts at index 0 because it did not fit in that tail.
        const uint32_t to_end = capacity_mask_ + 1 - (expect & capacity_mask_);
        if ((position & capacity_mask_) != 0 || gap != to_end || occupied <= to_end) {
          fail(
              "%u-byte gap before the record at position %u (index %u) is not wrap padding "
              "(previous record ended at %u, %u bytes to the end, record occupies %u)",
              gap, position, position & capacity_mask_, expect, to_end, occupied);
          return;
        }
        padding_sizes_[gap / 8] = true;
      }
    }
  }
  have_position_ = true;
  last_position_ = position;
  last_occupied_ = occupied;
}

std::size_t Verifier::padding_sizes_seen() const noexcept {
  return static_cast<std::size_t>(std::count(padding_sizes_.begin(), padding_sizes_.end(), true));
}

bool Verifier::complete() const noexcept {
  for (std::size_t p = 0; p < next_.size(); ++p)
    if (expected_[p] == UINT64_MAX || next_[p] != expected_[p]) return false;
  return true;
}

std::string Verifier::summary() const {
  std::string s = "received " + std::to_string(received_) + " records (" + std::to_string(bytes_) +
                  " payload bytes), duplicates " + std::to_string(duplicates_);
  for (std::size_t p = 0; p < next_.size(); ++p) {
    s += "; producer " + std::to_string(p) + ": next sequence " + std::to_string(next_[p]);
    if (expected_[p] != UINT64_MAX) s += " of " + std::to_string(expected_[p]);
  }
  return s;
}

// ---- producer loop (child) ------------------------------------------------------------------

int run_producer(ChildIo& io, const ProducerPlan& plan) {
  auto ring = Ring::open(plan.ring);
  if (!ring)
    return io.fail("producer %u: open '%s': %s", plan.id, plan.ring.c_str(),
                   ring.error().message.c_str());
  auto producer = ring->attach_producer(plan.options);
  if (!producer)
    return io.fail("producer %u: attach: %s", plan.id, producer.error().message.c_str());
  io.send('A', producer->slot());
  if (plan.wait_go && io.wait_control(120'000) != 'G')
    return io.fail("producer %u: no 'G' from the parent", plan.id);
  if (plan.wait_consumer_sleep &&
      !wait_until([&] { return ring->stats().consumer_sleeps > 0; }, 60'000))
    return io.fail("producer %u: the consumer never parked", plan.id);

  const uint32_t max = plan.size_max != 0 ? std::min(plan.size_max, producer->max_payload())
                                          : producer->max_payload();
  const uint32_t typical = plan.size_typical != 0 ? std::min(plan.size_typical, max) : max;
  Rng rng(plan.seed);
  std::vector<std::byte> buffer(std::max<uint32_t>(max, 1));
  uint64_t sent = 0;
  for (uint64_t i = 0; i < plan.count; ++i) {
    if (plan.until_stopped && (i & 255) == 0 && io.wait_control(0) == 'S') break;
    const uint64_t sequence = plan.first_sequence + i;
    const uint32_t size = pick_size(rng, max, typical);
    const uint32_t type = message_type(size, plan.id, sequence);
    Status s = Status::ok;
    if (rng.percent(plan.claim_percent)) {
      Claim claim;
      s = producer->claim(type, size, claim, plan.op_timeout_ns);
      if (s == Status::ok) {
        (void)fill_message(claim.data, size, plan.id, sequence);
        if (plan.hold_rounds != 0) {
          static volatile uint64_t sink = 0;
          Rng work(sequence);
          for (uint32_t r = 0; r < plan.hold_rounds; ++r) sink = sink + work.next();
        }
        producer->commit(claim);
      }
    } else {
      (void)fill_message(buffer.data(), size, plan.id, sequence);
      s = producer->write(type, buffer.data(), size, plan.op_timeout_ns);
    }
    if (s != Status::ok)
      return io.fail("producer %u (seed %" PRIu64 "): message %" PRIu64 " (sequence %" PRIu64
                     ", %u bytes) returned %s",
                     plan.id, plan.seed, i, sequence, size, to_string(s));
    ++sent;
    if (sent == plan.progress_after) io.send('P', sent);
  }
  io.send('R', sent);
  return 0;
}

void put_options(Params& params, const std::string& prefix, const ProducerOptions& options) {
  params.set(prefix + "strategy", static_cast<uint32_t>(options.wait.strategy))
      .set(prefix + "spin_ns", options.wait.spin_ns)
      .set(prefix + "fail_if_consumer_dead", options.fail_if_consumer_dead);
}

ProducerOptions get_options(const Params& params, const std::string& prefix) {
  ProducerOptions o;
  o.wait.strategy = static_cast<WaitStrategy>(params.u32(prefix + "strategy"));
  o.wait.spin_ns = params.i64(prefix + "spin_ns");
  o.fail_if_consumer_dead = params.flag(prefix + "fail_if_consumer_dead");
  return o;
}

Params to_params(const ProducerPlan& plan) {
  Params p;
  p.set("ring", plan.ring)
      .set("id", plan.id)
      .set("first_sequence", plan.first_sequence)
      .set("count", plan.count)
      .set("seed", plan.seed)
      .set("size_max", plan.size_max)
      .set("size_typical", plan.size_typical)
      .set("claim_percent", plan.claim_percent)
      .set("op_timeout_ns", plan.op_timeout_ns)
      .set("wait_go", plan.wait_go)
      .set("wait_consumer_sleep", plan.wait_consumer_sleep)
      .set("until_stopped", plan.until_stopped)
      .set("progress_after", plan.progress_after)
      .set("hold_rounds", plan.hold_rounds);
  put_options(p, "options.", plan.options);
  return p;
}

ProducerPlan producer_plan(const Params& p) {
  ProducerPlan plan;
  plan.ring = p.str("ring");
  plan.id = p.u32("id");
  plan.first_sequence = p.u64("first_sequence");
  plan.count = p.u64("count");
  plan.seed = p.u64("seed");
  plan.size_max = p.u32("size_max");
  plan.size_typical = p.u32("size_typical");
  plan.claim_percent = p.u32("claim_percent");
  plan.op_timeout_ns = p.i64("op_timeout_ns");
  plan.wait_go = p.flag("wait_go");
  plan.wait_consumer_sleep = p.flag("wait_consumer_sleep");
  plan.until_stopped = p.flag("until_stopped");
  plan.progress_after = p.u64("progress_after");
  plan.hold_rounds = p.u32("hold_rounds");
  plan.options = get_options(p, "options.");
  return plan;
}

namespace {
int producer_role(ChildIo& io, const Params& params) {
  return run_producer(io, producer_plan(params));
}
const ChildRole kProducerRole("producer", producer_role);
}  // namespace

// ---- consumer loop (parent) -----------------------------------------------------------------

Drain::Drain(Consumer& consumer, Verifier& verifier, uint32_t max_payload, const DrainOptions& o)
    : consumer_(consumer),
      verifier_(verifier),
      options_(o),
      rng_(o.seed),
      buffer_(std::max<uint32_t>(max_payload, 1)) {}

Status Drain::step() {
  ++steps_;
  if (rng_.percent(options_.copy_out_percent)) {
    uint32_t size = 0, type = 0;
    const Status s = consumer_.read(buffer_.data(), static_cast<uint32_t>(buffer_.size()), size,
                                    type, options_.step_timeout_ns);
    if (s == Status::ok) {
      verifier_.break_chain();  // the copy-out read does not tell the position
      (void)verifier_.check(type, buffer_.data(), size);
    }
    return s;
  }
  const std::size_t max = 1 + rng_.below(options_.max_batch);
  const PollResult r = consumer_.read(
      [this](const RecordView& rec) {
        verifier_.check_position(rec.position, rec.size);
        (void)verifier_.check(rec.type, rec.data, rec.size);
      },
      max, options_.step_timeout_ns);
  return r.status;
}

void drain_until_complete(Drain& drain, Verifier& verifier, const std::vector<Child*>& producers,
                          uint64_t seed, int64_t no_progress_timeout_ns,
                          const std::function<bool()>& between) {
  INFO("seed " << seed);
  uint64_t last_received = verifier.received();
  uint64_t last_progress = now_ns();
  uint64_t all_exited_at = 0;
  bool busy = between ? between() : false;
  while (busy || !verifier.complete()) {
    const Status s = drain.step();
    if (!verifier.ok()) FAIL(verifier.error() << "\n" << verifier.summary());
    if (s == Status::corrupt)
      FAIL("consumer reports corrupt: " << drain.consumer().last_error() << "\n"
                                        << verifier.summary());
    const uint64_t now = now_ns();
    if (verifier.received() != last_received) {
      last_received = verifier.received();
      last_progress = now;
    } else if (s == Status::timeout) {
      bool all_exited = true;
      for (Child* p : producers) {
        if (!p->exited()) {
          all_exited = false;
          continue;
        }
        if (!p->succeeded())
          FAIL("producer child " << p->describe() << ": " << p->errors() << "\n"
                                 << verifier.summary());
      }
      if (all_exited && all_exited_at == 0) all_exited_at = now;
      // Once every producer is gone, whatever they committed is already in the ring.
      if (all_exited && !verifier.complete() &&
          now - std::max(all_exited_at, last_progress) > 5'000'000'000u)
        FAIL("all producers exited but records are missing\n" << verifier.summary());
      if (now - last_progress > static_cast<uint64_t>(no_progress_timeout_ns))
        FAIL("no record for " << no_progress_timeout_ns / 1'000'000 << " ms\n"
                              << verifier.summary());
    }
    busy = between ? between() : false;
  }
}

void finish_producers(const std::vector<Child*>& producers, const std::vector<uint32_t>& ids,
                      const Verifier& verifier, uint64_t seed, int timeout_ms) {
  INFO("seed " << seed << "; " << verifier.summary());
  for (std::size_t i = 0; i < producers.size(); ++i) {
    Child* p = producers[i];
    INFO("producer " << ids[i]);
    if (!p->wait_exit(timeout_ms)) FAIL("producer child " << p->describe() << " did not exit");
    if (!p->succeeded()) FAIL("producer child " << p->describe() << ": " << p->errors());
    Event r;
    REQUIRE(p->report(r));
    CHECK(r.v[0] == verifier.expected(ids[i]));
    CHECK(verifier.next_seq(ids[i]) == verifier.expected(ids[i]));
  }
}

std::unique_ptr<Child> spawn_producer(const ProducerPlan& plan, uint64_t seed) {
  auto child = std::make_unique<Child>("producer", to_params(plan));
  Event e;
  std::string why;
  if (!child->expect_event('A', e, 30'000, why))
    FAIL("producer " << plan.id << " did not attach (seed " << seed << "): " << why);
  return child;
}

StreamOutcome run_stream(const StreamPlan& plan, uint64_t seed) {
  INFO(plan.label << ": seed " << seed);
  RingName name;
  CreateOptions co;
  co.kind = plan.kind;
  co.capacity = plan.capacity;
  co.max_record_size = plan.max_record_size;
  co.initial_position = plan.initial_position;
  co.max_producers = plan.kind == Kind::mpsc ? std::max<uint32_t>(plan.producers, 4) : 1;
  auto ring = Ring::create(name.str(), co);
  if (!ring) FAIL("create: " << ring.error().message);
  ConsumerOptions consumer_options;
  consumer_options.wait = plan.consumer_wait;
  auto consumer = ring->attach_consumer(consumer_options);
  if (!consumer) FAIL("attach_consumer: " << consumer.error().message);

  Verifier verifier(plan.producers);
  for (uint32_t p = 0; p < plan.producers; ++p) verifier.expect(p, plan.per_producer);
  verifier.set_capacity(plan.capacity);

  std::vector<std::unique_ptr<Child>> children;
  std::vector<Child*> producers;
  std::vector<uint32_t> ids;
  for (uint32_t p = 0; p < plan.producers; ++p) {
    ProducerPlan pp;
    pp.ring = name.str();
    pp.id = p;
    pp.count = plan.per_producer;
    pp.seed = derive_seed(seed, p + 1);
    pp.size_max = plan.size_max;
    pp.size_typical = plan.size_typical;
    pp.claim_percent = plan.claim_percent;
    pp.options.wait = plan.producer_wait;
    pp.wait_consumer_sleep = plan.consumer_parks_first;
    children.push_back(spawn_producer(pp, seed));
    producers.push_back(children.back().get());
    ids.push_back(p);
  }
  const uint64_t start = now_ns();
  for (Child* c : producers) c->send('G');
  if (plan.producers_park_first) {
    // Hold the consumer back until every producer has found the ring full and parked.
    const bool parked = wait_until(
        [&] {
          uint32_t slept = 0;
          for (const ProducerStats& ps : ring->stats().producers) slept += ps.sleeps > 0 ? 1 : 0;
          return slept >= plan.producers;
        },
        60'000);
    if (!parked) FAIL("producers never parked on a full ring");
  }

  DrainOptions d;
  d.seed = derive_seed(seed, 0);
  d.copy_out_percent = plan.copy_out_percent;
  d.max_batch = plan.max_batch;
  Drain drain(consumer.value(), verifier, ring->max_payload(), d);
  drain_until_complete(drain, verifier, producers, seed);
  const double seconds = static_cast<double>(now_ns() - start) / 1e9;
  finish_producers(producers, ids, verifier, seed);

  // Nothing beyond what was sent: the ring is empty now that every producer has exited.
  const PollResult extra = consumer->poll([](const RecordView&) {}, 16);
  CHECK(extra.count == 0);
  CHECK(extra.status == Status::empty);

  StreamOutcome out;
  out.stats = ring->stats();
  out.received = verifier.received();
  out.bytes = verifier.received_bytes();
  out.paddings = verifier.paddings();
  out.padding_sizes = verifier.padding_sizes_seen();
  out.wraps_crossed = verifier.wraps_crossed();
  out.seconds = seconds;
  const uint64_t total = plan.per_producer * plan.producers;
  INFO(verifier.summary());
  CHECK(out.stats.messages_read == total);
  CHECK(out.stats.messages_written == total);
  CHECK(out.stats.bytes_read == verifier.received_bytes());
  CHECK(out.stats.consumer_position == out.stats.producer_position);
  CHECK(out.stats.recovered_claims == 0);
  std::printf("  %-44s seed %-20" PRIu64 " %9" PRIu64 " msgs %7.1f MB %6.2f s | paddings %" PRIu64
              " (%zu sizes) 2^32 crossings seen %" PRIu64 " | sleeps c %" PRIu64 " p %" PRIu64
              " wakes c %" PRIu64 " p %" PRIu64 "\n",
              plan.label.c_str(), seed, out.received, static_cast<double>(out.bytes) / 1e6, seconds,
              out.paddings, out.padding_sizes, out.wraps_crossed, out.stats.consumer_sleeps,
              out.stats.producer_sleeps, out.stats.consumer_wakes_sent,
              out.stats.producer_wakes_sent);
  std::fflush(stdout);
  return out;
}

}  // namespace shmring::proctest

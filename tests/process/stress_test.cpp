// [stress] tier: millions of checksummed messages between processes, on small rings so that
// the wrap happens constantly with every padding size, starting at positions just below 2^32 so
// that the 32-bit position wrap is crossed, with sizes from 0 to max_payload inclusive (exactly
// max_payload among them). Two runs put WaitStrategy::park on one side to drive the futex
// sleep/wake path, and check through the stats that sleeps and wakes happened.
//
// Every gap between two consecutive records of a batch poll must be wrap padding (the record
// that follows starts at index 0 and did not fit in the tail); in spsc the padding sizes depend
// only on the seed, and a run covers most of the possible ones.
#include <catch2/catch.hpp>

#include "proc_util.hpp"

using namespace shmring;
using namespace shmring::proctest;

namespace {

constexpr uint32_t kNearWrap = 0xFFFF0000u;  // 64 KiB below 2^32

}  // namespace

TEST_CASE("stress spsc: 4 KiB ring, records up to half the ring, every padding size", "[stress]") {
  StreamPlan plan;
  plan.label = "spsc cap 4096, payload 0..2040";
  plan.kind = Kind::spsc;
  plan.per_producer = 3'000'000;
  plan.capacity = 4096;
  plan.max_record_size = 2048;  // the largest allowed: capacity / 2
  plan.initial_position = kNearWrap;
  plan.size_typical = 200;
  const StreamOutcome out = run_stream(plan, test_seed());
  CHECK(out.stats.producer_position < kNearWrap);  // crossed 2^32
  // Wrap padding can be 8..2040 bytes (255 sizes); the sizes are seeded, not timed.
  CHECK(out.padding_sizes >= 200);
}

TEST_CASE("stress spsc: 64 KiB ring, default max record", "[stress]") {
  StreamPlan plan;
  plan.label = "spsc cap 65536, payload 0..8184";
  plan.kind = Kind::spsc;
  plan.per_producer = 1'500'000;
  plan.capacity = 1u << 16;
  plan.initial_position = kNearWrap + 8;
  plan.size_typical = 300;
  const StreamOutcome out = run_stream(plan, test_seed());
  CHECK(out.stats.producer_position < kNearWrap);
  CHECK(out.paddings > 0);
}

TEST_CASE("stress mpsc: 3 producers on a 4 KiB ring", "[stress]") {
  StreamPlan plan;
  plan.label = "mpsc 3 producers, cap 4096, payload 0..504";
  plan.kind = Kind::mpsc;
  plan.producers = 3;
  plan.per_producer = 1'200'000;
  plan.capacity = 4096;
  plan.initial_position = kNearWrap - 4096 + 40;
  plan.size_typical = 200;
  const StreamOutcome out = run_stream(plan, test_seed());
  CHECK(out.stats.producer_position < kNearWrap);
  CHECK(out.paddings > 0);
}

TEST_CASE("stress mpsc: 2 producers on a 64 KiB ring, records up to 16 KiB", "[stress]") {
  StreamPlan plan;
  plan.label = "mpsc 2 producers, cap 65536, payload 0..16376";
  plan.kind = Kind::mpsc;
  plan.producers = 2;
  plan.per_producer = 800'000;
  plan.capacity = 1u << 16;
  plan.max_record_size = 1u << 14;
  plan.initial_position = kNearWrap;
  plan.size_typical = 300;
  const StreamOutcome out = run_stream(plan, test_seed());
  CHECK(out.stats.producer_position < kNearWrap);
}

TEST_CASE("stress spsc: consumer parks (WaitStrategy::park), producer wakes it", "[stress]") {
  StreamPlan plan;
  plan.label = "spsc cap 4096, consumer park";
  plan.kind = Kind::spsc;
  plan.per_producer = 1'000'000;
  plan.capacity = 4096;
  plan.initial_position = kNearWrap;
  plan.size_typical = 100;
  plan.consumer_wait.strategy = WaitStrategy::park;
  plan.consumer_parks_first = true;
  const StreamOutcome out = run_stream(plan, test_seed());
  CHECK(out.stats.consumer_sleeps > 0);
  CHECK(out.stats.producer_wakes_sent > 0);
}

TEST_CASE("stress mpsc: producers park (WaitStrategy::park), consumer wakes them", "[stress]") {
  StreamPlan plan;
  plan.label = "mpsc 2 producers cap 4096, producers park";
  plan.kind = Kind::mpsc;
  plan.producers = 2;
  plan.per_producer = 800'000;
  plan.capacity = 4096;
  plan.initial_position = kNearWrap;
  plan.size_typical = 100;
  plan.producer_wait.strategy = WaitStrategy::park;
  plan.producers_park_first = true;
  const StreamOutcome out = run_stream(plan, test_seed());
  CHECK(out.stats.producer_sleeps >= 2);
  CHECK(out.stats.consumer_wakes_sent > 0);
}

// Named counters regions: allocation state in the region, one atomic update per change, reads
// from any process, a reuse delay, and a ring's own counters in the same form.
#include <catch2/catch.hpp>
#include <cinttypes>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "inspect_util.hpp"
#include "shmring/counters.hpp"
#include "shmring/platform.hpp"

namespace shmring::inspecttest {
namespace {

CountersRegion make_region(const std::string& name, uint32_t slots, uint64_t reuse_delay_ns) {
  CountersOptions o;
  o.slots = slots;
  o.reuse_delay_ns = reuse_delay_ns;
  auto r = CountersRegion::create(name, o);
  REQUIRE(r.ok());
  return std::move(r.value());
}

const CounterValue* find(const std::vector<CounterValue>& values, const std::string& label) {
  for (const CounterValue& v : values) {
    if (v.label == label) return &v;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("counters: allocate, update, read from another mapping", "[inspect]") {
  ObjectName name("ctr-basic");
  CountersRegion region = make_region(name.str(), 8, 1'000'000'000);
  REQUIRE(region.slot_count() == 8);
  Counter requests = region.allocate("http.requests", 1).value();
  Counter bytes = region.allocate("http.bytes", 2).value();
  requests.add(3);
  requests.add(4);
  bytes.store(1000);
  REQUIRE(requests.load() == 7);

  auto view = CountersRegion::open(name.str(), /*read_only=*/true);
  REQUIRE(view.ok());
  const std::vector<CounterValue> values = view->snapshot();
  REQUIRE(values.size() == 2);
  const CounterValue* r = find(values, "http.requests");
  REQUIRE(r != nullptr);
  REQUIRE(r->value == 7);
  REQUIRE(r->type_id == 1);
  REQUIRE(r->owner_pid == platform::current_pid());
  REQUIRE(r->owner_alive);
  REQUIRE(r->generation >= 1);
  uint64_t v = 0;
  REQUIRE(view->read(requests.slot(), requests.generation(), v));
  REQUIRE(v == 7);
  REQUIRE_FALSE(view->read(requests.slot(), requests.generation() + 1, v));
  REQUIRE_FALSE(view->read(999, 1, v));

  auto ro = view->allocate("nope", 1);
  REQUIRE_FALSE(ro.ok());
  auto empty = region.allocate("", 1);
  REQUIRE_FALSE(empty.ok());
  REQUIRE(empty.error().code == ErrorCode::invalid_argument);
  auto long_label = region.allocate(std::string(layout::kCounterLabelSize, 'x'), 1);
  REQUIRE_FALSE(long_label.ok());
}

TEST_CASE("counters: a freed slot stays retired for the reuse delay", "[inspect]") {
  ObjectName name("ctr-reuse");
  CountersRegion region = make_region(name.str(), 1, 100'000'000);
  uint32_t slot = 0, generation = 0;
  {
    Counter c = region.allocate("first", 1).value();
    c.store(42);
    slot = c.slot();
    generation = c.generation();
  }  // freed
  uint64_t v = 0;
  REQUIRE_FALSE(region.read(slot, generation, v));
  REQUIRE(region.snapshot().empty());
  auto too_soon = region.allocate("second", 2);
  REQUIRE_FALSE(too_soon.ok());
  REQUIRE(too_soon.error().code == ErrorCode::busy);
  sleep_ms(150);
  Counter again = region.allocate("second", 2).value();
  REQUIRE(again.slot() == slot);
  REQUIRE(again.generation() == generation + 1);
  REQUIRE(again.load() == 0);  // never the old value under the new label
  REQUIRE_FALSE(region.read(slot, generation, v));
  REQUIRE(region.read(slot, generation + 1, v));
  REQUIRE(region.snapshot().at(0).label == "second");
}

TEST_CASE("counters: rings and counters regions tell each other apart", "[inspect]") {
  ObjectName counters("ctr-kind");
  ObjectName ring("ctr-ring");
  CountersRegion region = make_region(counters.str(), 4, 0);
  CreateOptions o;
  o.kind = Kind::mpsc;
  o.capacity = 4096;
  auto r = Ring::create(ring.str(), o);
  REQUIRE(r.ok());

  auto as_ring = Ring::open(counters.str());
  REQUIRE_FALSE(as_ring.ok());
  REQUIRE(as_ring.error().code == ErrorCode::not_a_ring);
  REQUIRE_THAT(as_ring.error().message, Catch::Contains("counters region"));
  auto as_counters = CountersRegion::open(ring.str(), true);
  REQUIRE_FALSE(as_counters.ok());
  REQUIRE(as_counters.error().code == ErrorCode::not_a_ring);
  REQUIRE_THAT(as_counters.error().message, Catch::Contains("ring"));

  std::vector<std::byte> garbage(4096, std::byte{0x5A});
  auto v = CountersRegion::validate("junk", garbage.data(), garbage.size());
  REQUIRE_FALSE(v.ok());
  REQUIRE(v.error().code == ErrorCode::not_a_ring);

  // A ring's own counters, readable the same way.
  Producer p = r->attach_producer().value();
  REQUIRE(p.try_write(1, "abc", 3) == Status::ok);
  const std::vector<CounterValue> own = ring_counters(r->stats());
  const CounterValue* written = find(own, "messages_written");
  REQUIRE(written != nullptr);
  REQUIRE(written->value == 1);
  REQUIRE(find(own, "bytes_written")->value == 3);
  REQUIRE(find(own, "used_bytes")->value == 16);
}

namespace {

// Allocates `count` counters labelled "<tag>.<i>" and adds i + 1 to each, `rounds` times; 'R'.
// With hold, it then waits (to be killed with its counters still live).
int counter_owner_role(ChildIo& io, const Params& p) {
  auto region = CountersRegion::open(p.str("region"));
  if (!region) return io.fail("owner: open: %s", region.error().message.c_str());
  std::vector<Counter> mine;
  const uint32_t count = p.u32("count");
  for (uint32_t i = 0; i < count; ++i) {
    auto c = region->allocate(p.str("tag") + "." + std::to_string(i), i);
    if (!c) return io.fail("owner: allocate: %s", c.error().message.c_str());
    mine.push_back(std::move(c.value()));
  }
  io.send('A');
  if (io.wait_control(30'000) != 'G') return io.fail("owner: no go");
  const uint64_t rounds = p.u64("rounds");
  for (uint64_t r = 0; r < rounds; ++r) {
    for (uint32_t i = 0; i < count; ++i) mine[i].add(i + 1);
  }
  io.send('R');
  if (p.flag("hold")) (void)io.wait_control(300'000);
  return 0;
}
const ChildRole kCounterOwnerRole("counter-owner", counter_owner_role);

}  // namespace

TEST_CASE("counters: owners in several processes allocate and update concurrently", "[inspect]") {
  ObjectName name("ctr-procs");
  CountersRegion region = make_region(name.str(), 64, 1'000'000'000);
  const uint32_t per_owner = 12;
  const uint64_t rounds = 20'000;
  std::vector<std::unique_ptr<Child>> owners;
  for (int i = 0; i < 4; ++i) {
    Params p;
    p.set("region", name.str())
        .set("tag", "owner" + std::to_string(i))
        .set("count", per_owner)
        .set("rounds", rounds)
        .set("hold", true);
    owners.push_back(std::make_unique<Child>("counter-owner", p));
  }
  Event e;
  std::string why;
  for (auto& o : owners) {
    INFO(o->describe() << " " << why);
    REQUIRE(o->expect_event('A', e, 30'000, why));
  }
  for (auto& o : owners) o->send('G');
  for (auto& o : owners) REQUIRE(o->expect_event('R', e, 60'000, why));

  const std::vector<CounterValue> values = region.snapshot();
  REQUIRE(values.size() == 4 * per_owner);
  std::set<uint32_t> slots;
  for (const CounterValue& v : values) {
    slots.insert(v.slot);
    const uint32_t i = v.type_id;
    CAPTURE(v.label, v.value);
    REQUIRE(v.label.substr(v.label.find('.') + 1) == std::to_string(i));
    REQUIRE(v.value == rounds * (i + 1));
    REQUIRE(v.owner_alive);
  }
  REQUIRE(slots.size() == values.size());  // never one slot for two counters

  // Killed owners leave their counters live, with a dead owner: `shmring ls` shows that.
  owners[0]->kill_and_reap();
  const std::vector<CounterValue> after = region.snapshot();
  uint32_t dead = 0;
  for (const CounterValue& v : after) dead += v.owner_alive ? 0 : 1;
  REQUIRE(dead == per_owner);
}

}  // namespace shmring::inspecttest

// The read-only walker behind `shmring dump` (core/include/shmring/inspect.hpp), used directly
// on a read-only mapping of real rings.
#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "inspect_util.hpp"
#include "shmring/inspect.hpp"
#include "shmring/platform.hpp"

namespace shmring::inspecttest {
namespace {

struct Image {
  platform::Region region;
  const std::byte* base() const { return region.data(); }
  std::size_t size() const { return region.size(); }
};

Image read_only(const std::string& name) {
  auto r = platform::open_region(name, /*writable=*/false, platform::RegionOptions{});
  REQUIRE(r.ok());
  return Image{std::move(r.value())};
}

struct Walked {
  std::vector<inspect::WalkedRecord> records;
  std::vector<std::string> payloads;
  inspect::WalkResult result;
};

Walked walk_from(const std::string& name, const Image& image, uint32_t start,
                 std::size_t max = 1u << 20) {
  Walked w;
  w.result = inspect::walk(
      name, image.base(), image.size(), start, max, [&](const inspect::WalkedRecord& r) {
        w.records.push_back(r);
        w.payloads.emplace_back(reinterpret_cast<const char*>(r.payload), r.payload_size);
        return true;
      });
  return w;
}

uint32_t start_of(const std::string& name, const Image& image, inspect::From from) {
  uint32_t start = 0;
  std::string reason;
  REQUIRE(inspect::start_position(name, image.base(), image.size(), from, start, reason));
  return start;
}

}  // namespace

TEST_CASE("walker: committed records, --max, and a claim in flight", "[inspect]") {
  ObjectName name("walk-mpsc");
  CreateOptions o;
  o.kind = Kind::mpsc;
  o.capacity = 4096;
  o.initial_position = 0xFFFFFFC0u;
  auto ring = Ring::create(name.str(), o);
  REQUIRE(ring.ok());
  Producer p = ring->attach_producer().value();
  for (uint64_t i = 0; i < 6; ++i) {
    const std::string t = text_record(i);
    REQUIRE(p.try_write(2, t.data(), static_cast<uint32_t>(t.size())) == Status::ok);
  }
  const Image image = read_only(name.str());
  const uint32_t start = start_of(name.str(), image, inspect::From::consumer);
  REQUIRE(start == 0xFFFFFFC0u);

  Walked all = walk_from(name.str(), image, start);
  REQUIRE(all.result.stop == inspect::WalkStop::end);
  REQUIRE(all.result.records == 6);
  for (std::size_t i = 0; i < 6; ++i) {
    REQUIRE(all.payloads[i] == text_record(i));
    REQUIRE(all.records[i].type == 2);
    REQUIRE(all.records[i].state == inspect::RecordState::committed);
  }
  REQUIRE(all.result.position == ring->stats().producer_position);

  Walked two = walk_from(name.str(), image, start, 2);
  REQUIRE(two.result.stop == inspect::WalkStop::max_records);
  REQUIRE(two.result.position == all.records[2].position);

  Claim claim;
  REQUIRE(p.try_claim(9, 24, claim) == Status::ok);
  REQUIRE(p.try_write(3, "after", 5) == Status::claim_pending);
  Walked in_flight = walk_from(name.str(), image, start);
  REQUIRE(in_flight.result.stop == inspect::WalkStop::in_flight);
  REQUIRE(in_flight.result.records == 7);
  REQUIRE(in_flight.records.back().state == inspect::RecordState::claimed);
  REQUIRE(in_flight.records.back().length == -32);
  REQUIRE(in_flight.result.position == claim.position);
  p.commit(claim);
  REQUIRE(walk_from(name.str(), image, start).result.stop == inspect::WalkStop::end);
}

namespace {

// A broadcast ring in the middle of an overwrite: the producer holds a claim (announced in
// tail_intent, not committed) whose payload, filled with 0xFF, covers the header of an old
// record that is still inside [producer - capacity, producer). Returns that old record's
// position; the claim stays open while `p` lives.
uint32_t ring_mid_overwrite(const std::string& name, Ring& ring, Producer& p, Claim& claim) {
  std::vector<std::byte> buf(40);
  for (uint64_t i = 0; i < 200; ++i) {  // 56-byte records: wrapped several times
    fill_binary_record(buf.data(), 40, i);
    REQUIRE(p.try_write(1, buf.data(), 40) == Status::ok);
  }
  const Image image = read_only(name);
  const Walked held = walk_from(name, image, start_of(name, image, inspect::From::oldest));
  REQUIRE(held.result.stop == inspect::WalkStop::end);
  const uint32_t capacity = ring.capacity();
  REQUIRE(p.try_claim(1, 400, claim) == Status::ok);
  const uint32_t tail = ring.stats().producer_position;
  for (const inspect::WalkedRecord& r : held.records) {
    // Where the old record's header lies within the claimed record, one lap later.
    const uint32_t offset = r.position + capacity - claim.position;
    if (r.position - (tail - capacity) < capacity && offset >= 24 && offset < 400) {
      std::memset(claim.data, 0xFF, claim.size);  // length -1 where the old header was
      return r.position;
    }
  }
  FAIL("no old record under the claim");
  return 0;
}

Ring make_bc(const std::string& name) {
  CreateOptions o;
  o.kind = Kind::broadcast;
  o.capacity = 4096;
  auto ring = Ring::create(name, o);
  REQUIRE(ring.ok());
  return std::move(ring.value());
}

}  // namespace

// Core issue (reported): walk_step judges a record's length before it checks that the record
// was still held. On a live broadcast ring, a record the producer has announced (tail_intent)
// and started to overwrite reads the new record's payload bytes as its length, and the walk
// stops with `corrupt` instead of `overwritten`. (Reader::next does it in the right order: it
// checks the intent before it calls anything corrupt.) The same order affects spsc/mpsc records
// consumed while being read. `shmring dump` works around it (tools/cli_inspect.hpp,
// settle_stop); this test shows the walker itself.
TEST_CASE("walker: a broadcast record being overwritten is overwritten, not corrupt", "[inspect]") {
  ObjectName name("walk-bc");
  Ring ring = make_bc(name.str());
  Producer p = ring.attach_producer().value();
  Claim claim;
  const uint32_t victim = ring_mid_overwrite(name.str(), ring, p, claim);
  const Image image = read_only(name.str());
  const Walked w = walk_from(name.str(), image, victim);
  CAPTURE(w.result.reason, victim, claim.position, claim.end);
  CHECK(w.result.stop == inspect::WalkStop::overwritten);
}

#if !defined(_WIN32)  // runs the CLI (see run_cli)
TEST_CASE("dump: a broadcast record being overwritten is reported as overwritten", "[inspect]") {
  ObjectName name("dump-bc");
  Ring ring = make_bc(name.str());
  Producer p = ring.attach_producer().value();
  Claim claim;
  const uint32_t victim = ring_mid_overwrite(name.str(), ring, p, claim);
  const CliResult r = run_cli({"dump", name.str(), "--from", std::to_string(victim)});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  REQUIRE_THAT(r.out, Catch::Contains("-- overwritten at position " + std::to_string(victim) +
                                      " after 0 records: record at position " +
                                      std::to_string(victim) + ": overwritten by the producer"));
  // And dump from the oldest record walks what is intact and stops there, not at garbage.
  const CliResult oldest = run_cli({"dump", name.str()});
  INFO(oldest.describe());
  REQUIRE(oldest.exit_code == 0);
}
#endif

}  // namespace shmring::inspecttest

// Record format, wrap and padding, claim/commit/abort, full and empty, reserved types, batch
// poll, the 32-bit position wrap and mpsc zeroing. The shared bytes are checked through a
// separate read-only mapping of the ring's OS object (RawMap).
#include <algorithm>
#include <cstring>
#include <optional>
#include <random>

#include "support.hpp"

using namespace shmring;
using ut::Got;
using ut::NameGuard;
using ut::RawMap;

namespace {

constexpr uint32_t kPad = layout::kPaddingType;

std::vector<std::byte> bytes_at(const std::byte* p, uint32_t n) {
  return std::vector<std::byte>(p, p + n);
}

}  // namespace

TEST_CASE("record format: length = 8 + N, type, next record at align8", "[unit][record]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  CAPTURE(kind);
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(kind, 4096, 1024));
  Producer producer = ut::attach_producer(ring);
  RawMap map(name.str(), false);
  REQUIRE(map.header()->header_size == layout::header_size_for(kind == Kind::spsc ? 1 : 16));

  const uint32_t sizes[] = {0, 1, 7, 8, 9, 13, 16, 100, 1016};
  const uint32_t types[] = {0, 1, 7, 0x1234, 0xFFFEFFFF, 42, 3, 9, 11};
  uint32_t position = map.producer_position();
  for (std::size_t i = 0; i < std::size(sizes); ++i) {
    const uint32_t n = sizes[i];
    CAPTURE(n);
    const auto data = ut::payload(static_cast<uint32_t>(i), n);
    REQUIRE(producer.try_write(types[i], data.data(), n) == Status::ok);
    CHECK(map.length_at(position) == static_cast<int32_t>(8 + n));
    CHECK(map.type_at(position) == types[i]);
    CHECK(bytes_at(reinterpret_cast<std::byte*>(map.record(position) + 1), n) == data);
    position += (8 + n + 7) / 8 * 8;
    CHECK(map.producer_position() == position);
  }
  // 0-byte payload: length 8, the next record follows 8 bytes later.
  const uint32_t before = map.producer_position();
  REQUIRE(producer.try_write(5, nullptr, 0) == Status::ok);
  CHECK(map.length_at(before) == 8);
  CHECK(map.type_at(before) == 5u);
  CHECK(map.producer_position() == before + 8);
  const uint8_t one = 0xEE;
  REQUIRE(producer.try_write(6, &one, 1) == Status::ok);
  CHECK(map.length_at(before + 8) == 9);
  CHECK(map.producer_position() == before + 8 + 16);

  // The consumer sees every record with its type, size, bytes and position.
  Consumer consumer = ut::attach_consumer(ring);
  const std::vector<Got> got = ut::poll_all(consumer, 100);
  REQUIRE(got.size() == std::size(sizes) + 2);
  uint32_t expect_position = map.header()->initial_position;
  for (std::size_t i = 0; i < std::size(sizes); ++i) {
    CHECK(got[i].type == types[i]);
    CHECK(got[i].bytes == ut::payload(static_cast<uint32_t>(i), sizes[i]));
    CHECK(got[i].position == expect_position);
    expect_position += layout::align_record(8 + sizes[i]);
  }
  CHECK(got[std::size(sizes)].bytes.empty());
  CHECK(got[std::size(sizes) + 1].bytes == std::vector<std::byte>{std::byte{0xEE}});
}

TEST_CASE("record format: a claim shows its header before commit", "[unit][record][claim]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  CAPTURE(kind);
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(kind, 1024, 256));
  Producer producer = ut::attach_producer(ring);
  RawMap map(name.str(), false);
  const uint32_t start = map.producer_position();

  Claim claim;
  REQUIRE(producer.try_claim(77, 20, claim) == Status::ok);
  CHECK(claim.size == 20u);
  CHECK(claim.type == 77u);
  CHECK(claim.position == start);
  CHECK(claim.end == start + 32);
  CHECK(map.type_at(start) == 77u);
  if (kind == Kind::spsc) {
    // spsc publishes by position: nothing visible yet, whatever the header says.
    CHECK(map.producer_position() == start);
  } else {
    // mpsc: the space is reserved and the length is -length until commit.
    CHECK(map.producer_position() == start + 32);
    CHECK(map.length_at(start) == -28);
  }
  // The claim's bytes are the mapping's bytes: record area + index + 8.
  std::memset(claim.data, 0x3C, 20);
  CHECK(bytes_at(map.area() + map.index(start) + 8, 20) ==
        std::vector<std::byte>(20, std::byte{0x3C}));
  producer.commit(claim);
  CHECK_FALSE(claim);
  CHECK(map.length_at(start) == 28);
  CHECK(map.producer_position() == start + 32);
}

namespace {

struct WrapCase {
  const char* what;
  uint32_t index;    // where the producer starts in a 256-byte area
  uint32_t payload;  // bytes
  uint32_t padding;  // expected padding at the tail (0 = none)
  uint32_t at;       // expected index of the record
};

// capacity 256, max_record_size 128 (payload <= 120)
const WrapCase kWrapCases[] = {
    {"exact fit to the end", 200, 48, 0, 200},
    {"one 8-byte slot short", 200, 56, 56, 0},
    {"padding of exactly 8 bytes", 248, 8, 8, 0},
    {"padding of 8 before the largest record", 248, 120, 8, 0},
    {"8-byte record in the last slot", 248, 0, 0, 248},
    {"record at index 0", 0, 120, 0, 0},
    {"largest record exactly fills the tail", 128, 120, 0, 128},
    {"largest record one slot short of the tail", 136, 120, 120, 0},
};

enum class ReadVia { poll, try_read };

}  // namespace

TEST_CASE("wrap: padding at the tail, record at index 0, consumer skips padding",
          "[unit][record][wrap]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  const ReadVia via = GENERATE(ReadVia::poll, ReadVia::try_read);
  // A low lap and the lap that crosses 2^32.
  const uint32_t lap = GENERATE(0x300u, 0xFFFFFF00u);
  CAPTURE(kind, via == ReadVia::poll ? "poll" : "try_read", lap);
  for (const WrapCase& wc : kWrapCases) {
    INFO("case: " << wc.what);
    NameGuard name;
    const uint32_t initial = lap + wc.index;
    Ring ring = ut::create_ring(name.str(), ut::options(kind, 256, 128, initial));
    Producer producer = ut::attach_producer(ring);
    Consumer consumer = ut::attach_consumer(ring);
    RawMap map(name.str(), false);
    REQUIRE(map.index(initial) == wc.index);
    const uint32_t occupied = layout::align_record(8 + wc.payload);

    Claim claim;
    REQUIRE(producer.try_claim(0x51, wc.payload, claim) == Status::ok);
    CHECK(claim.position == initial + wc.padding);
    CHECK(claim.end == initial + wc.padding + occupied);
    CHECK(map.index(claim.position) == wc.at);
    REQUIRE(claim);
    const auto data = ut::payload(wc.index, wc.payload);
    if (wc.payload != 0) std::memcpy(claim.data, data.data(), wc.payload);
    CHECK(bytes_at(map.area() + wc.at + 8, wc.payload) == data);  // the claim points there
    const Claim published = claim;
    producer.commit(claim);

    if (wc.padding != 0) {
      CHECK(map.length_at(initial) == static_cast<int32_t>(wc.padding));
      CHECK(map.type_at(initial) == kPad);
    } else if (wc.at != wc.index) {
      FAIL("bad case table");
    }
    CHECK(map.length_at(published.position) == static_cast<int32_t>(8 + wc.payload));
    CHECK(map.type_at(published.position) == 0x51u);
    CHECK(map.producer_position() == published.end);

    // A second, 0-byte record starts exactly at the end of the first (index 0 after an exact
    // fit), with no padding of its own.
    Claim next;
    REQUIRE(producer.try_claim(0x52, 0, next) == Status::ok);
    CHECK(next.position == published.end);
    producer.commit(next);
    CHECK(map.length_at(published.end) == 8);

    if (via == ReadVia::poll) {
      PollResult result;
      const std::vector<Got> got = ut::poll_all(consumer, 10, &result);
      CHECK(result.status == Status::ok);
      CHECK(result.count == 2u);
      REQUIRE(got.size() == 2u);
      CHECK(got[0].type == 0x51u);
      CHECK(got[0].bytes == data);
      CHECK(got[0].position == published.position);
      CHECK(got[1].type == 0x52u);
      CHECK(got[1].position == published.end);
    } else {
      std::vector<std::byte> buf(128);
      uint32_t size = 0, type = 0;
      REQUIRE(consumer.try_read(buf.data(), 128, size, type) == Status::ok);
      CHECK(type == 0x51u);
      CHECK(size == wc.payload);
      buf.resize(size);
      CHECK(buf == data);
      buf.resize(128);
      REQUIRE(consumer.try_read(buf.data(), 128, size, type) == Status::ok);
      CHECK(type == 0x52u);
      CHECK(size == 0u);
      CHECK(consumer.try_read(buf.data(), 128, size, type) == Status::empty);
    }
    CHECK(map.consumer_position() == published.end + 8);
    const Stats stats = ring.stats();
    CHECK(stats.messages_read == 2u);  // padding is neither delivered nor counted
    CHECK(stats.bytes_read == wc.payload);
    if (kind == Kind::mpsc) CHECK(map.area_zero(initial, published.end + 8));
  }
}

TEST_CASE("wrap: reached by streaming from position 0", "[unit][record][wrap]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  CAPTURE(kind);
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(kind, 256, 128));
  Producer producer = ut::attach_producer(ring);
  Consumer consumer = ut::attach_consumer(ring);
  RawMap map(name.str(), false);
  // Three 64-byte records take the producer to index 192; consume them.
  for (uint32_t i = 0; i < 3; ++i) {
    const auto d = ut::payload(i, 56);
    REQUIRE(producer.try_write(i, d.data(), 56) == Status::ok);
  }
  REQUIRE(ut::poll_all(consumer, 10).size() == 3u);
  REQUIRE(map.producer_position() == 192u);
  // 72 bytes do not fit in the 64-byte tail: 64 bytes of padding, then the record at 0.
  const auto d = ut::payload(9, 64);
  REQUIRE(producer.try_write(9, d.data(), 64) == Status::ok);
  CHECK(map.length_at(192) == 64);
  CHECK(map.type_at(192) == kPad);
  CHECK(map.length_at(256) == 72);
  CHECK(map.type_at(256) == 9u);
  CHECK(map.producer_position() == 256u + 72u);
  PollResult result;
  const std::vector<Got> got = ut::poll_all(consumer, 10, &result);
  REQUIRE(got.size() == 1u);
  CHECK(result.count == 1u);
  CHECK(got[0].position == 256u);
  CHECK(got[0].bytes == d);
  CHECK(map.consumer_position() == 256u + 72u);
  CHECK(ring.stats().messages_read == 4u);
}

TEST_CASE("claim: aborted spsc claim is never delivered and its space is reused", "[unit][claim]") {
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(Kind::spsc, 256, 128));
  Producer producer = ut::attach_producer(ring);
  Consumer consumer = ut::attach_consumer(ring);
  RawMap map(name.str(), false);

  Claim a;
  REQUIRE(producer.try_claim(1, 40, a) == Status::ok);
  std::memset(a.data, 0xAB, 40);
  const Claim copy = a;
  producer.abort(a);
  CHECK_FALSE(a);
  CHECK(map.producer_position() == 0u);
  // Commit after abort is a no-op, through the cleared claim and through a stale copy.
  producer.commit(a);
  Claim stale = copy;
  producer.commit(stale);
  CHECK(map.producer_position() == 0u);

  Claim b;
  REQUIRE(producer.try_claim(2, 16, b) == Status::ok);
  CHECK(b.position == copy.position);
  CHECK(b.data == copy.data);
  std::memset(b.data, 0x11, 16);
  producer.commit(b);
  const std::vector<Got> got = ut::poll_all(consumer, 10);
  REQUIRE(got.size() == 1u);
  CHECK(got[0].type == 2u);
  CHECK(got[0].bytes == std::vector<std::byte>(16, std::byte{0x11}));
  const Stats stats = ring.stats();
  CHECK(stats.aborts == 1u);
  CHECK(stats.messages_written == 1u);
  CHECK(stats.bytes_written == 16u);
}

TEST_CASE("claim: aborted spsc claim at the wrap leaves no padding behind", "[unit][claim][wrap]") {
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(Kind::spsc, 256, 128, 200));
  Producer producer = ut::attach_producer(ring);
  Consumer consumer = ut::attach_consumer(ring);
  RawMap map(name.str(), false);
  Claim a;
  REQUIRE(producer.try_claim(1, 56, a) == Status::ok);  // 64 bytes: padding at 200, record at 0
  CHECK(a.position == 256u);
  producer.abort(a);
  CHECK(map.producer_position() == 200u);
  Claim b;
  REQUIRE(producer.try_claim(2, 40, b) == Status::ok);  // 48 bytes fit in the 56-byte tail
  CHECK(b.position == 200u);
  CHECK(b.end == 248u);
  producer.commit(b);
  CHECK(map.length_at(200) == 48);
  CHECK(map.type_at(200) == 2u);
  PollResult result;
  const std::vector<Got> got = ut::poll_all(consumer, 10, &result);
  REQUIRE(got.size() == 1u);
  CHECK(got[0].position == 200u);
  CHECK(map.consumer_position() == 248u);
}

TEST_CASE("claim: aborted mpsc claim becomes padding", "[unit][claim]") {
  const uint32_t initial = GENERATE(0u, 200u);  // 200: the claim also needs wrap padding
  CAPTURE(initial);
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(Kind::mpsc, 256, 128, initial));
  Producer producer = ut::attach_producer(ring);
  Consumer consumer = ut::attach_consumer(ring);
  RawMap map(name.str(), false);

  Claim a;
  REQUIRE(producer.try_claim(1, 56, a) == Status::ok);  // 64 bytes
  CHECK(a.position == (initial == 0 ? 0u : 256u));
  CHECK(map.length_at(a.position) == -64);
  const Claim copy = a;
  producer.abort(a);
  CHECK_FALSE(a);
  CHECK(map.length_at(copy.position) == 64);
  CHECK(map.type_at(copy.position) == kPad);
  CHECK(map.producer_position() == copy.end);
  Claim stale = copy;
  producer.commit(stale);  // no-op after abort
  CHECK(map.length_at(copy.position) == 64);
  CHECK(map.type_at(copy.position) == kPad);

  // Nothing is delivered, but the consumer moves past the padding.
  PollResult result;
  CHECK(ut::poll_all(consumer, 10, &result).empty());
  CHECK(result.count == 0u);
  CHECK(result.status == Status::empty);
  CHECK(map.consumer_position() == copy.end);
  CHECK(map.area_zero(initial, copy.end));

  const auto d = ut::payload(3, 24);
  REQUIRE(producer.try_write(3, d.data(), 24) == Status::ok);
  const std::vector<Got> got = ut::poll_all(consumer, 10);
  REQUIRE(got.size() == 1u);
  CHECK(got[0].position == copy.end);
  CHECK(got[0].bytes == d);
  const Stats stats = ring.stats();
  CHECK(stats.aborts == 1u);
  CHECK(stats.messages_read == 1u);
  CHECK(stats.bytes_read == 24u);
}

TEST_CASE("claim: a producer destroyed with a claim outstanding withdraws it", "[unit][claim]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  CAPTURE(kind);
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(kind, 256, 128));
  Consumer consumer = ut::attach_consumer(ring);
  RawMap map(name.str(), false);
  {
    Producer producer = ut::attach_producer(ring);
    Claim claim;
    REQUIRE(producer.try_claim(1, 32, claim) == Status::ok);
  }
  CHECK(ut::poll_all(consumer, 10).empty());
  Producer producer = ut::attach_producer(ring);
  const auto d = ut::payload(1, 8);
  REQUIRE(producer.try_write(4, d.data(), 8) == Status::ok);
  const std::vector<Got> got = ut::poll_all(consumer, 10);
  REQUIRE(got.size() == 1u);
  CHECK(got[0].type == 4u);
  CHECK(got[0].position == (kind == Kind::spsc ? 0u : 40u));
  CHECK(ring.stats().aborts == 1u);
}

TEST_CASE("claim: a second claim while one is outstanding is claim_pending", "[unit][claim]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  CAPTURE(kind);
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(kind, 256, 128));
  Producer producer = ut::attach_producer(ring);
  RawMap map(name.str(), false);
  Claim a, b;
  REQUIRE(producer.try_claim(1, 8, a) == Status::ok);
  const uint32_t p = map.producer_position();
  CHECK(producer.try_claim(1, 8, b) == Status::claim_pending);
  CHECK_FALSE(b);
  CHECK(producer.try_write(1, "x", 1) == Status::claim_pending);
  CHECK(producer.claim(1, 8, b, 0) == Status::claim_pending);
  CHECK(producer.write(1, "x", 1, 0) == Status::claim_pending);
  CHECK(map.producer_position() == p);
  producer.commit(a);
  CHECK(producer.try_claim(1, 8, b) == Status::ok);
  producer.abort(b);
  CHECK(producer.try_write(1, "x", 1) == Status::ok);
}

TEST_CASE("claim: commit and abort ignore a claim that is not the outstanding one",
          "[unit][claim]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  CAPTURE(kind);
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(kind, 256, 128, 64));
  Producer producer = ut::attach_producer(ring);
  Consumer consumer = ut::attach_consumer(ring);
  RawMap map(name.str(), false);
  Claim claim;
  REQUIRE(producer.try_claim(1, 16, claim) == Status::ok);
  REQUIRE(claim.position == 64u);
  std::memset(claim.data, 0x77, 16);
  Claim other = claim;
  other.position += 8;
  producer.commit(other);
  producer.abort(other);
  Claim empty;  // position 0
  producer.commit(empty);
  producer.abort(empty);
  CHECK(map.producer_position() == (kind == Kind::spsc ? 64u : 88u));
  if (kind == Kind::mpsc) CHECK(map.length_at(64) == -24);
  CHECK(ut::poll_all(consumer, 10).empty());
  Claim second;
  CHECK(producer.try_claim(1, 8, second) == Status::claim_pending);
  producer.commit(claim);
  CHECK_FALSE(claim);
  CHECK(map.length_at(64) == 24);
  CHECK(map.producer_position() == 88u);
  const std::vector<Got> got = ut::poll_all(consumer, 10);
  REQUIRE(got.size() == 1u);
  CHECK(got[0].bytes == std::vector<std::byte>(16, std::byte{0x77}));
  const Stats stats = ring.stats();
  CHECK(stats.messages_written == 1u);
  CHECK(stats.aborts == 0u);
}

TEST_CASE("full: try_write returns full, space returns after consuming", "[unit][full]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  CAPTURE(kind);
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(kind, 256, 128));
  Producer producer = ut::attach_producer(ring);
  Consumer consumer = ut::attach_consumer(ring);
  RawMap map(name.str(), false);
  const auto d = ut::payload(0, 16);  // 24 bytes a record: ten fit in 240, the 11th needs 16+24
  int written = 0;
  while (producer.try_write(1, d.data(), 16) == Status::ok) {
    ++written;
    REQUIRE(written <= 20);
  }
  CHECK(written == 10);
  CHECK(producer.try_write(1, d.data(), 16) == Status::full);
  Claim claim;
  CHECK(producer.try_claim(1, 16, claim) == Status::full);
  CHECK_FALSE(claim);
  // The 16-byte tail still takes two 0-byte records (8 bytes each), then nothing fits.
  CHECK(producer.try_write(1, nullptr, 0) == Status::ok);  // 8 bytes at index 240
  CHECK(producer.try_write(1, nullptr, 0) == Status::ok);  // 8 bytes at index 248
  CHECK(producer.try_write(1, nullptr, 0) == Status::full);
  CHECK(map.producer_position() - map.consumer_position() == 256u);
  CHECK(producer.write(1, d.data(), 16, 1'000'000) == Status::timeout);
  const Stats stats = ring.stats();
  CHECK(stats.full_count == 5u);  // once per refused call, the blocking one included
  CHECK(stats.used_bytes == 256u);

  // One record consumed frees 24 bytes at index 0: exactly one record fits again.
  uint32_t size = 0, type = 0;
  std::vector<std::byte> buf(128);
  REQUIRE(consumer.try_read(buf.data(), 128, size, type) == Status::ok);
  CHECK(producer.try_write(2, d.data(), 16) == Status::ok);
  CHECK(producer.try_write(2, d.data(), 16) == Status::full);
  CHECK(map.length_at(256) == 24);
  CHECK(map.type_at(256) == 2u);
  // Drain: 9 + 2 + 1 records.
  CHECK(ut::poll_all(consumer, 100).size() == 12u);
  CHECK(producer.try_write(3, d.data(), 16) == Status::ok);
}

TEST_CASE("full: full_count counts each refusal", "[unit][full][stats]") {
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(Kind::spsc, 256, 128));
  Producer producer = ut::attach_producer(ring);
  const auto d = ut::payload(0, 120);
  REQUIRE(producer.try_write(1, d.data(), 120) == Status::ok);
  REQUIRE(producer.try_write(1, d.data(), 120) == Status::ok);
  for (int i = 0; i < 5; ++i) REQUIRE(producer.try_write(1, d.data(), 1) == Status::full);
  CHECK(ring.stats().full_count == 5u);
}

TEST_CASE("empty: try_read, poll, read and wait_readable on an empty ring", "[unit][empty]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  CAPTURE(kind);
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(kind, 256, 128));
  Consumer consumer = ut::attach_consumer(ring);
  std::vector<std::byte> buf(128);
  uint32_t size = 99, type = 99;
  CHECK(consumer.try_read(buf.data(), 128, size, type) == Status::empty);
  PollResult r;
  CHECK(ut::poll_all(consumer, 10, &r).empty());
  CHECK(r.status == Status::empty);
  CHECK(r.count == 0u);
  CHECK(consumer.read(buf.data(), 128, size, type, 1'000'000) == Status::timeout);
  CHECK(consumer.read(buf.data(), 128, size, type, 0) == Status::timeout);
  int calls = 0;
  const PollResult pr = consumer.read([&](const RecordView&) { ++calls; }, 10, 1'000'000);
  CHECK(pr.status == Status::timeout);
  CHECK(pr.count == 0u);
  CHECK(calls == 0);
  CHECK(consumer.wait_readable(1'000'000) == Status::timeout);
  CHECK(consumer.read([&](const RecordView&) { ++calls; }, 0, 1'000'000).status ==
        Status::invalid_argument);

  // A record makes it readable; wait_readable does not consume it.
  Producer producer = ut::attach_producer(ring);
  REQUIRE(producer.try_write(8, "abc", 3) == Status::ok);
  CHECK(consumer.wait_readable(0) == Status::ok);
  CHECK(consumer.wait_readable(ut::kLongNs) == Status::ok);
  REQUIRE(consumer.read(buf.data(), 128, size, type, ut::kLongNs) == Status::ok);
  CHECK(size == 3u);
  CHECK(type == 8u);
  CHECK(std::memcmp(buf.data(), "abc", 3) == 0);
  CHECK(consumer.try_read(buf.data(), 128, size, type) == Status::empty);
}

TEST_CASE("too_large: payload above max_payload, copy-out buffer too small", "[unit][too_large]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  CAPTURE(kind);
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(kind, 1024, 256));
  Producer producer = ut::attach_producer(ring);
  Consumer consumer = ut::attach_consumer(ring);
  RawMap map(name.str(), false);
  CHECK(ring.max_payload() == 248u);
  CHECK(producer.max_payload() == 248u);
  std::vector<std::byte> big(300, std::byte{1});
  Claim claim;
  CHECK(producer.try_write(1, big.data(), 249) == Status::too_large);
  CHECK(producer.try_claim(1, 249, claim) == Status::too_large);
  CHECK(producer.try_claim(1, 0xFFFFFFFFu, claim) == Status::too_large);
  CHECK(producer.try_claim(1, 0xFFFFFFF8u, claim) == Status::too_large);
  CHECK(producer.write(1, big.data(), 249, ut::kLongNs) == Status::too_large);
  CHECK(map.producer_position() == 0u);
  REQUIRE(producer.try_write(1, big.data(), 248) == Status::ok);

  // Copy-out: too small a buffer reports the size and leaves the record in place.
  const auto d = ut::payload(5, 32);
  REQUIRE(producer.try_write(2, d.data(), 32) == Status::ok);
  std::vector<std::byte> buf(256);
  uint32_t size = 0, type = 0;
  REQUIRE(consumer.try_read(buf.data(), 256, size, type) == Status::ok);
  CHECK(size == 248u);
  const uint32_t c = map.consumer_position();
  CHECK(consumer.try_read(buf.data(), 31, size, type) == Status::too_large);
  CHECK(size == 32u);
  CHECK(type == 2u);
  CHECK(consumer.read(buf.data(), 0, size, type, ut::kLongNs) == Status::too_large);
  CHECK(map.consumer_position() == c);
  CHECK(ring.stats().messages_read == 1u);
  REQUIRE(consumer.try_read(buf.data(), 32, size, type) == Status::ok);
  CHECK(size == 32u);
  buf.resize(32);
  CHECK(buf == d);
}

TEST_CASE("reserved type ids are invalid_argument", "[unit][record]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  CAPTURE(kind);
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(kind, 256, 128));
  Producer producer = ut::attach_producer(ring);
  RawMap map(name.str(), false);
  for (uint32_t type : {layout::kReservedTypeBase, layout::kReservedTypeBase + 1, kPad}) {
    CAPTURE(type);
    Claim claim;
    CHECK(producer.try_write(type, "x", 1) == Status::invalid_argument);
    CHECK(producer.try_claim(type, 1, claim) == Status::invalid_argument);
    CHECK_FALSE(claim);
    CHECK(producer.write(type, "x", 1, ut::kLongNs) == Status::invalid_argument);
    CHECK(producer.claim(type, 1, claim, ut::kLongNs) == Status::invalid_argument);
  }
  CHECK(map.producer_position() == 0u);
  CHECK(ring.stats().messages_written == 0u);
  CHECK(producer.try_write(layout::kReservedTypeBase - 1, "x", 1) == Status::ok);
  CHECK(map.type_at(0) == layout::kReservedTypeBase - 1);
}

TEST_CASE("poll: delivers up to max and releases once, after the batch", "[unit][poll]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  CAPTURE(kind);
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(kind, 4096, 256, 0xFFFFFF80u));
  Producer producer = ut::attach_producer(ring);
  Consumer consumer = ut::attach_consumer(ring);
  RawMap map(name.str(), false);
  for (uint32_t i = 0; i < 10; ++i) {
    const auto d = ut::payload(i, 8 * i);
    REQUIRE(producer.try_write(100 + i, d.data(), 8 * i) == Status::ok);
  }
  const uint32_t start = map.consumer_position();
  REQUIRE(start == 0xFFFFFF80u);
  uint32_t seen = 0;
  std::vector<uint32_t> consumer_positions_inside;
  PollResult r = consumer.poll(
      [&](const RecordView& v) {
        consumer_positions_inside.push_back(map.consumer_position());
        CHECK(v.type == 100 + seen);
        CHECK(v.size == 8 * seen);
        CHECK(std::vector<std::byte>(v.data, v.data + v.size) == ut::payload(seen, 8 * seen));
        CHECK(ring.stats().messages_read == 0u);
        ++seen;
      },
      4);
  CHECK(r.count == 4u);
  CHECK(r.status == Status::ok);
  CHECK(seen == 4u);
  CHECK(consumer_positions_inside == std::vector<uint32_t>(4, start));
  uint32_t after_four = start;
  for (uint32_t i = 0; i < 4; ++i) after_four += layout::align_record(8 + 8 * i);
  CHECK(map.consumer_position() == after_four);
  CHECK(ring.stats().messages_read == 4u);

  consumer_positions_inside.clear();
  r = consumer.poll(
      [&](const RecordView& v) {
        consumer_positions_inside.push_back(map.consumer_position());
        CHECK(v.type == 100 + seen);
        ++seen;
      },
      1000);
  CHECK(r.count == 6u);
  CHECK(seen == 10u);
  CHECK(consumer_positions_inside == std::vector<uint32_t>(6, after_four));
  CHECK(map.consumer_position() == map.producer_position());
  const Stats stats = ring.stats();
  CHECK(stats.messages_read == 10u);
  CHECK(stats.bytes_read == 8u * 45u);
  r = consumer.poll([&](const RecordView&) { ++seen; }, 1000);
  CHECK(r.count == 0u);
  CHECK(r.status == Status::empty);
  CHECK(seen == 10u);
}

TEST_CASE("32-bit position wrap: thousands of records across 2^32", "[unit][wrap32]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  const uint32_t capacity = GENERATE(256u, 4096u);
  const uint32_t seed = 12345;
  CAPTURE(kind, capacity, seed);
  NameGuard name;
  const uint32_t initial = 0xFFFFFF00u;
  Ring ring = ut::create_ring(name.str(), ut::options(kind, capacity, capacity / 2, initial));
  Producer producer = ut::attach_producer(ring);
  Consumer consumer = ut::attach_consumer(ring);
  RawMap map(name.str(), false);
  const uint32_t max_payload = ring.max_payload();
  std::mt19937 rng(seed);
  auto size_of = [&](uint32_t seq) { return (seq * 2654435761u >> 8) % (max_payload + 1); };
  auto type_of = [](uint32_t seq) { return seq % 0xFFFF0000u; };

  constexpr uint32_t kTotal = 20000;
  uint32_t next_write = 0, next_read = 0, progress = 0;
  bool wrapped = false;
  std::vector<std::byte> buf(max_payload);
  while (next_read < kTotal) {
    // Write a random number of records, stopping early at full.
    const uint32_t burst = rng() % 12 + 1;
    for (uint32_t i = 0; i < burst && next_write < kTotal; ++i) {
      const auto d = ut::payload(next_write, size_of(next_write));
      const Status s = producer.try_write(type_of(next_write), d.data(), size_of(next_write));
      if (s == Status::full) break;
      REQUIRE(s == Status::ok);
      ++next_write;
    }
    // Read a random number back, alternating poll and try_read.
    const uint32_t want = rng() % 12 + 1;
    if (rng() % 2 == 0) {
      // The handler must not throw (poll is noexcept): CHECK there, REQUIRE after.
      std::size_t delivered = 0, bad = 0;
      const PollResult r = consumer.poll(
          [&](const RecordView& v) {
            INFO("record " << next_read);
            const bool good =
                v.type == type_of(next_read) && v.size == size_of(next_read) &&
                std::vector<std::byte>(v.data, v.data + v.size) == ut::payload(next_read, v.size);
            CHECK(good);
            if (!good) ++bad;
            if (v.position < initial) wrapped = true;
            ++next_read;
            ++delivered;
          },
          want);
      REQUIRE(bad == 0u);
      REQUIRE(r.count == delivered);
      REQUIRE(r.status == (delivered > 0 ? Status::ok : Status::empty));
    } else {
      for (uint32_t i = 0; i < want; ++i) {
        uint32_t size = 0, type = 0;
        const Status s = consumer.try_read(buf.data(), max_payload, size, type);
        if (s == Status::empty) break;
        INFO("record " << next_read);
        REQUIRE(s == Status::ok);
        REQUIRE(type == type_of(next_read));
        REQUIRE(size == size_of(next_read));
        REQUIRE(std::vector<std::byte>(buf.begin(), buf.begin() + size) ==
                ut::payload(next_read, size));
        ++next_read;
      }
    }
    INFO("written " << next_write << ", read " << next_read);
    REQUIRE(next_write + next_read > progress);  // every round writes or reads something
    progress = next_write + next_read;
    REQUIRE(next_read <= next_write);
    REQUIRE(map.producer_position() - map.consumer_position() <= capacity);
  }
  CHECK(wrapped);
  CHECK(map.consumer_position() == map.producer_position());
  CHECK(map.consumer_position() < initial);  // crossed 2^32
  const Stats stats = ring.stats();
  CHECK(stats.messages_written == kTotal);
  CHECK(stats.messages_read == kTotal);
  CHECK(stats.bytes_read == stats.bytes_written);
  if (kind == Kind::mpsc) CHECK(map.area_zero(0, capacity));
}

TEST_CASE("mpsc: consumed bytes are zeroed, unconsumed bytes are not", "[unit][mpsc]") {
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(Kind::mpsc, 256, 128, 160));
  Producer producer = ut::attach_producer(ring);
  Consumer consumer = ut::attach_consumer(ring);
  RawMap map(name.str(), false);
  const auto d = ut::payload(1, 56);
  for (int i = 0; i < 3; ++i) REQUIRE(producer.try_write(1, d.data(), 56) == Status::ok);
  // 160..224, 224..256 padding, 256..320, 320..384
  REQUIRE(map.type_at(224) == kPad);
  REQUIRE(map.producer_position() == 384u);
  CHECK_FALSE(map.area_zero(160, 224));
  REQUIRE(ut::poll_all(consumer, 1).size() == 1u);
  CHECK(map.consumer_position() == 224u);
  CHECK(map.area_zero(160, 224));
  CHECK_FALSE(map.area_zero(224, 384));
  uint32_t size = 0, type = 0;
  std::vector<std::byte> buf(128);
  REQUIRE(consumer.try_read(buf.data(), 128, size, type) == Status::ok);  // skips the padding
  CHECK(map.consumer_position() == 320u);
  CHECK(map.area_zero(224, 320));
  CHECK_FALSE(map.area_zero(320, 384));
  REQUIRE(ut::poll_all(consumer, 10).size() == 1u);
  CHECK(map.area_zero(0, 256));
}

TEST_CASE("spsc: the consumer never writes the record area", "[unit][record]") {
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(Kind::spsc, 256, 128));
  Producer producer = ut::attach_producer(ring);
  Consumer consumer = ut::attach_consumer(ring);
  RawMap map(name.str(), false);
  const auto d = ut::payload(2, 40);
  REQUIRE(producer.try_write(3, d.data(), 40) == Status::ok);
  REQUIRE(ut::poll_all(consumer, 10).size() == 1u);
  CHECK(map.length_at(0) == 48);
  CHECK(bytes_at(reinterpret_cast<std::byte*>(map.record(0) + 1), 40) == d);
}

TEST_CASE("full: a blocking write reports a dead consumer, or waits for a new one",
          "[unit][full]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  CAPTURE(kind);
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(kind, 256, 128));
  RawMap map(name.str(), true);
  const auto d = ut::payload(0, 120);
  {
    Producer producer = ut::attach_producer(ring);
    REQUIRE(producer.try_write(1, d.data(), 120) == Status::ok);
    REQUIRE(producer.try_write(1, d.data(), 120) == Status::ok);
    REQUIRE(producer.try_write(1, d.data(), 8) == Status::full);
    // No consumer attached: nobody to declare dead, the write times out.
    CHECK(producer.write(1, d.data(), 8, 1'000'000) == Status::timeout);
  }
  map.header()->consumer.pid.store(ut::dead_pid());
  CHECK_FALSE(ring.stats().consumer.alive);
  ProducerOptions fail;
  fail.wait.strategy = WaitStrategy::park;
  {
    auto r = ring.attach_producer(fail);
    REQUIRE(r.ok());
    Producer producer = std::move(r).value();
    // A long deadline: only the dead consumer can end these calls early.
    CHECK(producer.write(1, d.data(), 8, ut::kLongNs) == Status::consumer_dead);
    Claim claim;
    CHECK(producer.claim(1, 8, claim, ut::kLongNs) == Status::consumer_dead);
    CHECK_FALSE(claim);
  }
  ProducerOptions wait = fail;
  wait.fail_if_consumer_dead = false;
  auto r = ring.attach_producer(wait);
  REQUIRE(r.ok());
  CHECK(r->write(1, d.data(), 8, 1'000'000) == Status::timeout);
}

// The payload copies (try_write in, try_read out, the broadcast reader's copies) use an inlined
// small-size path of overlapping fixed-size moves: every size up to past the 64-byte switch must
// arrive byte for byte, and nothing outside [buf, buf + n) may be written.
TEST_CASE("payload copies: every size 0..160 exact, no byte written outside", "[unit][record]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc, Kind::broadcast);
  CAPTURE(kind);
  NameGuard name;
  CreateOptions o = ut::options(kind, 4096, 512);
  Ring ring = ut::create_ring(name.str(), o);
  Producer producer = ut::attach_producer(ring);
  std::optional<Consumer> consumer;
  std::optional<Reader> reader;
  if (kind == Kind::broadcast) {
    auto r = ring.attach_reader();
    REQUIRE(r.ok());
    reader.emplace(std::move(r.value()));
  } else {
    consumer.emplace(ut::attach_consumer(ring));
  }
  constexpr std::byte kCanary{0xC5};
  for (uint32_t n = 0; n <= 160; ++n) {
    CAPTURE(n);
    const auto data = ut::payload(n, n);
    REQUIRE(producer.try_write(n, data.data(), n) == Status::ok);
    std::vector<std::byte> buf(n + 64, kCanary);  // 32 guard bytes each side
    uint32_t size = 0, type = 0;
    const Status s = reader ? reader->try_read(buf.data() + 32, n, size, type)
                            : consumer->try_read(buf.data() + 32, n, size, type);
    REQUIRE(s == Status::ok);
    CHECK(size == n);
    CHECK(type == n);
    CHECK(std::equal(data.begin(), data.end(), buf.begin() + 32));
    for (uint32_t i = 0; i < 32; ++i) {
      CHECK(buf[i] == kCanary);
      CHECK(buf[32 + n + i] == kCanary);
    }
  }
}

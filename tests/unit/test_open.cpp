// Every error path of Ring::open and attach_consumer, by crafting or corrupting the OS object,
// and a consumer that meets a corrupt record mid-stream.
#include <climits>
#include <cstring>
#include <functional>

#include "support.hpp"

using namespace shmring;
using ut::NameGuard;
using ut::RawMap;

namespace {

// Creates a ring, lets `mutate` change its bytes through a writable mapping, closes every
// in-process view and opens it again.
Result<Ring> corrupt_and_open(const std::string& name, Kind kind,
                              const std::function<void(layout::RingHeader&)>& mutate) {
  {
    Ring ring = ut::create_ring(name, ut::options(kind, 256, 64));
    RawMap map(name, true);
    mutate(*map.header());
  }
  return Ring::open(name, ut::quick_open());
}

}  // namespace

TEST_CASE("open: not_found", "[unit][open]") {
  NameGuard name;
  ut::check_error(Ring::open(name.str(), ut::quick_open()), ErrorCode::not_found, name.str());
  OpenOptions ro = ut::quick_open();
  ro.read_only = true;
  ut::check_error(Ring::open(name.str(), ro), ErrorCode::not_found, name.str());
}

TEST_CASE("open: not_ready while the magic is 0 or the object is unsized", "[unit][open]") {
  SECTION("sized, magic 0") {
    NameGuard name;
    ut::craft_object(name.str(), 4096 + 256);
    ut::check_error(Ring::open(name.str(), ut::quick_open()), ErrorCode::not_ready, name.str());
    OpenOptions zero;
    zero.ready_timeout_ns = 0;
    ut::check_error(Ring::open(name.str(), zero), ErrorCode::not_ready, name.str());
  }
  SECTION("sized, a whole valid header except the magic") {
    NameGuard name;
    ut::craft_object(name.str(), 4096 + 256);
    {
      RawMap map(name.str(), true);
      ut::write_header(map.base(), Kind::spsc, 256, 64, 1, 0, name.str());
      map.header()->magic.store(0);
    }
    ut::check_error(Ring::open(name.str(), ut::quick_open()), ErrorCode::not_ready, name.str());
  }
#if !defined(_WIN32)  // a Windows section is never empty: it is created at its size
  SECTION("0 bytes") {
    NameGuard name;
    ut::craft_object(name.str(), 0);
    ut::check_error(Ring::open(name.str(), ut::quick_open()), ErrorCode::not_ready, name.str());
  }
#endif
  SECTION("4 bytes") {
    NameGuard name;
    ut::craft_object(name.str(), 4);
    ut::check_error(Ring::open(name.str(), ut::quick_open()), ErrorCode::not_ready, name.str());
  }
}

TEST_CASE("open: not_a_ring for a wrong magic or garbage", "[unit][open]") {
  SECTION("wrong magic on a real ring") {
    NameGuard name;
    auto r = corrupt_and_open(name.str(), Kind::spsc,
                              [](layout::RingHeader& h) { h.magic.store(layout::kMagic ^ 1); });
    ut::check_error(r, ErrorCode::not_a_ring, name.str());
  }
  SECTION("garbage bytes") {
    NameGuard name;
    ut::craft_object(name.str(), 8192);
    {
      RawMap map(name.str(), true);
      for (std::size_t i = 0; i < map.size(); ++i) map.base()[i] = std::byte(0xA5 ^ (i * 13));
    }
    ut::check_error(Ring::open(name.str(), ut::quick_open()), ErrorCode::not_a_ring, name.str());
  }
  SECTION("8 bytes of text") {
    NameGuard name;
    ut::craft_object(name.str(), 8);
    {
      RawMap map(name.str(), true);
      std::memcpy(map.base(), "SHMRING2", 8);
    }
    ut::check_error(Ring::open(name.str(), ut::quick_open()), ErrorCode::not_a_ring, name.str());
  }
}

TEST_CASE("open: version_mismatch", "[unit][open]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  CAPTURE(kind);
  for (uint32_t version : {0u, 2u, 0xFFFFFFFFu}) {
    CAPTURE(version);
    NameGuard name;
    auto r = corrupt_and_open(name.str(), kind,
                              [&](layout::RingHeader& h) { h.layout_version = version; });
    ut::check_error(r, ErrorCode::version_mismatch, name.str());
  }
  NameGuard name;
  auto r = corrupt_and_open(name.str(), kind, [](layout::RingHeader& h) { h.position_width = 64; });
  ut::check_error(r, ErrorCode::version_mismatch, name.str());
}

TEST_CASE("open: truncated when the object is smaller than the header says", "[unit][open]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  CAPTURE(kind);
  // The ring's views are all closed before the object shrinks.
  for (std::size_t size : {std::size_t{4096 + 256 - 1}, std::size_t{4096}, std::size_t{1000},
                           sizeof(layout::RingHeader) - 1, std::size_t{8}}) {
    CAPTURE(size);
#if defined(_WIN32)
    // Sections are sized in whole pages (under Wine at least): one byte short of 4352 is 8192.
    if (size % 4096 != 0 && size > 4096) continue;
#endif
    NameGuard name;
    { Ring ring = ut::create_ring(name.str(), ut::options(kind, 256)); }
    ut::resize_object(name.str(), size);
    ut::check_error(Ring::open(name.str(), ut::quick_open()), ErrorCode::truncated, name.str());
  }
  // A crafted object: a valid header for 4096 bytes of records in a one-page object.
  NameGuard name;
  ut::craft_object(name.str(), 4096);
  {
    RawMap map(name.str(), true);
    ut::write_header(map.base(), kind, 4096, 512, kind == Kind::spsc ? 1 : 16, 0, name.str());
  }
  ut::check_error(Ring::open(name.str(), ut::quick_open()), ErrorCode::truncated, name.str());
  // A larger object than needed is fine.
  NameGuard big;
  ut::craft_object(big.str(), 3 * 4096 + 256);
  {
    RawMap map(big.str(), true);
    ut::write_header(map.base(), kind, 256, 64, kind == Kind::spsc ? 1 : 16, 0, big.str());
  }
  CHECK(Ring::open(big.str(), ut::quick_open()).ok());
}

TEST_CASE("open: corrupt header fields", "[unit][open]") {
  using H = layout::RingHeader;
  struct Case {
    const char* what;
    Kind kind;
    std::function<void(H&)> mutate;
  };
  const Case cases[] = {
      {"capacity not a power of two", Kind::spsc, [](H& h) { h.capacity = 300; }},
      {"capacity 128", Kind::spsc, [](H& h) { h.capacity = 128; }},
      {"capacity 0", Kind::mpsc, [](H& h) { h.capacity = 0; }},
      {"capacity 512 (total_size disagrees)", Kind::spsc, [](H& h) { h.capacity = 512; }},
      {"capacity 2^31", Kind::mpsc, [](H& h) { h.capacity = 1u << 31; }},
      {"header_size wrong", Kind::spsc, [](H& h) { h.header_size = 8192; }},
      {"header_size 0", Kind::mpsc, [](H& h) { h.header_size = 0; }},
      {"total_size wrong", Kind::spsc, [](H& h) { h.total_size += 8; }},
      {"kind 0", Kind::spsc, [](H& h) { h.kind = 0; }},
      {"kind 4", Kind::mpsc, [](H& h) { h.kind = 4; }},
      {"spsc with 2 producer slots", Kind::spsc, [](H& h) { h.max_producers = 2; }},
      {"mpsc with 0 producer slots", Kind::mpsc, [](H& h) { h.max_producers = 0; }},
      {"mpsc with 65 producer slots", Kind::mpsc, [](H& h) { h.max_producers = 65; }},
      {"max_record_size above capacity/2", Kind::spsc, [](H& h) { h.max_record_size = 136; }},
      {"max_record_size above capacity", Kind::mpsc, [](H& h) { h.max_record_size = 4096; }},
      {"max_record_size not a multiple of 8", Kind::spsc, [](H& h) { h.max_record_size = 60; }},
      {"max_record_size below 16", Kind::mpsc, [](H& h) { h.max_record_size = 8; }},
      {"max_record_size 0", Kind::spsc, [](H& h) { h.max_record_size = 0; }},
      {"producer position unaligned", Kind::spsc, [](H& h) { h.producer_position.store(4); }},
      {"consumer position unaligned", Kind::mpsc,
       [](H& h) {
         h.consumer_position.store(4);
         h.producer_position.store(8);
       }},
      {"producer ahead by capacity + 8", Kind::spsc, [](H& h) { h.producer_position.store(264); }},
      {"producer ahead by capacity + 8 across 2^32", Kind::mpsc,
       [](H& h) {
         h.consumer_position.store(0xFFFFFFF0u);
         h.producer_position.store(0xFFFFFFF0u + 264);
       }},
      {"producer behind consumer", Kind::spsc,
       [](H& h) {
         h.consumer_position.store(64);
         h.producer_position.store(56);
       }},
  };
  for (const Case& c : cases) {
    INFO("case: " << c.what);
    NameGuard name;
    ut::check_error(corrupt_and_open(name.str(), c.kind, c.mutate), ErrorCode::corrupt, name.str());
  }
  // Boundary: the producer exactly one capacity ahead is a full ring, not corruption.
  NameGuard name;
  auto r = corrupt_and_open(name.str(), Kind::spsc, [](H& h) {
    h.consumer_position.store(0xFFFFFFC0u);
    h.producer_position.store(0xFFFFFFC0u + 256);
  });
  INFO(r.error().message);
  CHECK(r.ok());
}

namespace {

struct RecordCase {
  const char* what;
  Kind kind;
  int32_t length;  // written over the second record's length word
  uint32_t type;   // and its type
  bool corrupt;    // expected verdict of attach_consumer
};

}  // namespace

TEST_CASE("attach_consumer: impossible record lengths are corrupt", "[unit][open][attach]") {
  // capacity 256, max_record_size 64; records at 0 (24 bytes) and 24 (24 bytes), then one at 48
  // (24 bytes): producer at 72.
  const RecordCase cases[] = {
      {"spsc length > capacity", Kind::spsc, 264, 1, true},
      {"spsc length < 8", Kind::spsc, 4, 1, true},
      {"spsc length 0", Kind::spsc, 0, 1, true},
      {"spsc negative length", Kind::spsc, -24, 1, true},
      {"spsc INT32_MIN", Kind::spsc, INT32_MIN, 1, true},
      {"spsc record past the producer position", Kind::spsc, 56, 1, true},
      {"spsc record that swallows the next one exactly", Kind::spsc, 48, 1, false},
      {"mpsc length > capacity", Kind::mpsc, 1 << 20, 1, true},
      {"mpsc length < 8", Kind::mpsc, 7, 1, true},
      {"mpsc INT32_MIN", Kind::mpsc, INT32_MIN, 1, true},
      {"mpsc claim of impossible size", Kind::mpsc, -4, 1, true},
      {"mpsc claim in progress (negative length)", Kind::mpsc, -24, 1, false},
      {"mpsc claimed, not written (length 0)", Kind::mpsc, 0, 0, false},
      {"mpsc record past the producer position", Kind::mpsc, 64, 1, true},
      {"mpsc padding over two records", Kind::mpsc, 48, layout::kPaddingType, false},
  };
  for (const RecordCase& c : cases) {
    INFO("case: " << c.what);
    NameGuard name;
    Ring ring = ut::create_ring(name.str(), ut::options(c.kind, 256, 64));
    {
      Producer producer = ut::attach_producer(ring);
      for (uint32_t i = 0; i < 3; ++i) {
        const auto d = ut::payload(i, 16);
        REQUIRE(producer.try_write(1, d.data(), 16) == Status::ok);
      }
    }
    RawMap map(name.str(), true);
    REQUIRE(map.producer_position() == 72u);
    map.record(24)->length.store(c.length);
    map.record(24)->type.store(c.type);
    auto consumer = ring.attach_consumer();
    if (c.corrupt) {
      ut::check_error(consumer, ErrorCode::corrupt, name.str());
      CHECK(map.header()->consumer.pid.load() == 0u);  // the slot is not left taken
      // Repaired, the ring accepts a consumer again.
      map.record(24)->length.store(24);
      map.record(24)->type.store(1);
      CHECK(ring.attach_consumer().ok());
    } else {
      INFO(consumer.error().message);
      CHECK(consumer.ok());
    }
  }
}

TEST_CASE("attach_consumer: length above max_record_size is corrupt", "[unit][open][attach]") {
  // 24 + 48 = 72 walks consistently to the producer position, yet 48 > max_record_size 40.
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  CAPTURE(kind);
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(kind, 256, 40));
  {
    Producer producer = ut::attach_producer(ring);
    for (uint32_t i = 0; i < 3; ++i)
      REQUIRE(producer.try_write(1, "0123456789abcdef", 16) == Status::ok);
  }
  RawMap map(name.str(), true);
  map.record(24)->length.store(48);
  ut::check_error(ring.attach_consumer(), ErrorCode::corrupt, name.str());
  map.record(24)->type.store(layout::kPaddingType);  // as padding it is legal
  CHECK(ring.attach_consumer().ok());
}

TEST_CASE("attach_consumer: mpsc release target", "[unit][open][attach]") {
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(Kind::mpsc, 256, 64));
  {
    Producer producer = ut::attach_producer(ring);
    for (uint32_t i = 0; i < 3; ++i) {
      const auto d = ut::payload(i, 16);
      REQUIRE(producer.try_write(10 + i, d.data(), 16) == Status::ok);
    }
  }
  RawMap map(name.str(), true);
  SECTION("unaligned target is corrupt") {
    map.header()->consumer.release_target.store(12);
    ut::check_error(ring.attach_consumer(), ErrorCode::corrupt, name.str());
    CHECK(map.header()->consumer.pid.load() == 0u);
  }
  SECTION("target past the producer is corrupt") {
    map.header()->consumer.release_target.store(80);
    ut::check_error(ring.attach_consumer(), ErrorCode::corrupt, name.str());
  }
  SECTION("a dead consumer's unfinished release is finished, not redelivered") {
    map.header()->consumer.release_target.store(24);
    Consumer consumer = ut::attach_consumer(ring);
    CHECK(map.consumer_position() == 24u);
    CHECK(map.area_zero(0, 24));
    const std::vector<ut::Got> got = ut::poll_all(consumer, 10);
    REQUIRE(got.size() == 2u);
    CHECK(got[0].type == 11u);
    CHECK(got[1].type == 12u);
  }
}

TEST_CASE("consumer: a corrupt record mid-stream stops the handle, naming ring and position",
          "[unit][open][corrupt]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  const int32_t bad_length = GENERATE(4, 264, 1 << 30, 72);
  CAPTURE(kind, bad_length);
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(kind, 256, 64, 0xFFFFFFE8u));
  Producer producer = ut::attach_producer(ring);
  Consumer consumer = ut::attach_consumer(ring);
  RawMap map(name.str(), true);
  for (uint32_t i = 0; i < 3; ++i) {
    const auto d = ut::payload(i, 16);
    REQUIRE(producer.try_write(20 + i, d.data(), 16) == Status::ok);
  }
  const uint32_t second = 0xFFFFFFE8u + 24;  // = 0: the second record sits across 2^32
  REQUIRE(second == 0u);
  map.record(second)->length.store(bad_length);

  PollResult r;
  const std::vector<ut::Got> got = ut::poll_all(consumer, 10, &r);
  REQUIRE(got.size() == 1u);
  CHECK(got[0].type == 20u);
  CHECK(r.count == 1u);
  CHECK(r.status == Status::corrupt);
  CHECK(map.consumer_position() == second);
  INFO("last_error: " << consumer.last_error());
  CHECK(consumer.last_error().find("ring '" + name.str() + "'") != std::string::npos);
  CHECK(consumer.last_error().find("position " + std::to_string(second)) != std::string::npos);
  CHECK(consumer.last_error().find(std::to_string(bad_length)) != std::string::npos);

  // The handle stays stopped, even once the bytes look fine again.
  map.record(second)->length.store(24);
  CHECK(ut::poll_all(consumer, 10, &r).empty());
  CHECK(r.status == Status::corrupt);
  uint32_t size = 0, type = 0;
  std::vector<std::byte> buf(64);
  CHECK(consumer.try_read(buf.data(), 64, size, type) == Status::corrupt);
  CHECK(consumer.read(buf.data(), 64, size, type, ut::kLongNs) == Status::corrupt);
  CHECK(consumer.wait_readable(ut::kLongNs) == Status::corrupt);
  CHECK(consumer.read([](const RecordView&) {}, 10, ut::kLongNs).status == Status::corrupt);
  CHECK(map.consumer_position() == second);
}

TEST_CASE("consumer: spsc negative length below the producer position is corrupt",
          "[unit][open][corrupt]") {
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(Kind::spsc, 256, 64));
  Producer producer = ut::attach_producer(ring);
  Consumer consumer = ut::attach_consumer(ring);
  RawMap map(name.str(), true);
  REQUIRE(producer.try_write(1, "abcdefgh", 8) == Status::ok);
  map.record(0)->length.store(-16);
  uint32_t size = 0, type = 0;
  char buf[64];
  CHECK(consumer.try_read(buf, sizeof buf, size, type) == Status::corrupt);
  CHECK(consumer.last_error().find(name.str()) != std::string::npos);
  CHECK(consumer.last_error().find("position 0") != std::string::npos);
}

TEST_CASE("consumer: mpsc negative length is a claim in progress, not corruption", "[unit][open]") {
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(Kind::mpsc, 256, 64));
  Producer producer = ut::attach_producer(ring);
  Consumer consumer = ut::attach_consumer(ring);
  RawMap map(name.str(), true);
  Claim claim;
  REQUIRE(producer.try_claim(1, 8, claim) == Status::ok);
  PollResult r;
  CHECK(ut::poll_all(consumer, 10, &r).empty());
  CHECK(r.status == Status::empty);
  CHECK(consumer.wait_readable(0) == Status::timeout);
  producer.commit(claim);
  CHECK(ut::poll_all(consumer, 10, &r).size() == 1u);
}

// validate_header / validate_records called directly on mapping images in plain memory.
#include <climits>
#include <cstring>
#include <functional>

#include "support.hpp"

using namespace shmring;
using H = layout::RingHeader;

namespace {

const std::string kName = "img-ring";

// A valid image: `kind`, capacity 256, max_record_size 64, both positions at `initial`.
struct Valid {
  explicit Valid(Kind kind, uint32_t initial = 0)
      : image(layout::header_size_for(kind == Kind::spsc ? 1 : 16) + 256) {
    ut::write_header(image.base(), kind, 256, 64, kind == Kind::spsc ? 1 : 16, initial, kName);
  }
  H& h() { return *image.header(); }
  Result<void> header() { return validate_header(kName, image.base(), image.size()); }
  Result<void> records() { return validate_records(kName, image.base()); }
  void positions(uint32_t consumer, uint32_t producer) {
    h().consumer_position.store(consumer);
    h().producer_position.store(producer);
  }
  ut::Image image;
};

}  // namespace

TEST_CASE("validate_header: null, empty and short images are not_ready", "[unit][validate]") {
  Valid v(Kind::spsc);
  ut::check_error(validate_header(kName, nullptr, 0), ErrorCode::not_ready, kName);
  ut::check_error(validate_header(kName, nullptr, 4352), ErrorCode::not_ready, kName);
  ut::check_error(validate_header(kName, v.image.base(), 0), ErrorCode::not_ready, kName);
  ut::check_error(validate_header(kName, v.image.base(), 7), ErrorCode::not_ready, kName);
  v.h().magic.store(0);
  ut::check_error(v.header(), ErrorCode::not_ready, kName);
}

TEST_CASE("validate_header: valid images pass", "[unit][validate]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  const uint32_t initial = GENERATE(0u, 0x100u, 0xFFFFFFF8u);
  CAPTURE(kind, initial);
  Valid v(kind, initial);
  auto r = v.header();
  INFO(r.error().message);
  CHECK(r.ok());
  // A larger image than needed is fine too.
  CHECK(validate_header(kName, v.image.base(), v.image.size() + 4096).ok());
  // Full ring across 2^32.
  v.positions(0xFFFFFF80u, 0xFFFFFF80u + 256);
  CHECK(v.header().ok());
}

TEST_CASE("validate_header: identity errors", "[unit][validate]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  CAPTURE(kind);
  {
    Valid v(kind);
    v.h().magic.store(0x0123456789ABCDEFull);
    ut::check_error(v.header(), ErrorCode::not_a_ring, kName);
    CHECK(v.header().error().message.find("0123456789abcdef") != std::string::npos);
  }
  {
    Valid v(kind);  // magic right, image shorter than the header
    ut::check_error(validate_header(kName, v.image.base(), 8), ErrorCode::truncated, kName);
    ut::check_error(validate_header(kName, v.image.base(), sizeof(H) - 1), ErrorCode::truncated,
                    kName);
    ut::check_error(validate_header(kName, v.image.base(), v.image.size() - 1),
                    ErrorCode::truncated, kName);
    ut::check_error(validate_header(kName, v.image.base(), v.h().header_size), ErrorCode::truncated,
                    kName);
  }
  {
    Valid v(kind);
    v.h().layout_version = 2;
    ut::check_error(v.header(), ErrorCode::version_mismatch, kName);
  }
  {
    Valid v(kind);
    v.h().position_width = 64;
    ut::check_error(v.header(), ErrorCode::version_mismatch, kName);
  }
}

TEST_CASE("validate_header: corrupt geometry and positions", "[unit][validate]") {
  struct Case {
    const char* what;
    Kind kind;
    std::function<void(Valid&)> mutate;
  };
  const Case cases[] = {
      {"kind 0", Kind::spsc, [](Valid& v) { v.h().kind = 0; }},
      {"kind 4", Kind::mpsc, [](Valid& v) { v.h().kind = 4; }},
      {"capacity 300", Kind::spsc, [](Valid& v) { v.h().capacity = 300; }},
      {"capacity 128", Kind::spsc, [](Valid& v) { v.h().capacity = 128; }},
      {"capacity 0", Kind::mpsc, [](Valid& v) { v.h().capacity = 0; }},
      {"capacity 2^31", Kind::mpsc, [](Valid& v) { v.h().capacity = 1u << 31; }},
      {"capacity 0xFFFFFFFF", Kind::mpsc, [](Valid& v) { v.h().capacity = 0xFFFFFFFFu; }},
      {"spsc, 2 producers", Kind::spsc, [](Valid& v) { v.h().max_producers = 2; }},
      {"spsc, 0 producers", Kind::spsc, [](Valid& v) { v.h().max_producers = 0; }},
      {"mpsc, 0 producers", Kind::mpsc, [](Valid& v) { v.h().max_producers = 0; }},
      {"mpsc, 65 producers", Kind::mpsc, [](Valid& v) { v.h().max_producers = 65; }},
      {"header_size 4096 + 8", Kind::spsc, [](Valid& v) { v.h().header_size = 4104; }},
      {"header_size 768", Kind::mpsc, [](Valid& v) { v.h().header_size = 768; }},
      {"mpsc producers changed to 64, header_size not", Kind::mpsc,
       [](Valid& v) { v.h().max_producers = 64; }},
      {"total_size - 8", Kind::spsc, [](Valid& v) { v.h().total_size -= 8; }},
      {"total_size + 2^32", Kind::mpsc, [](Valid& v) { v.h().total_size += 1ull << 32; }},
      {"max_record_size 136", Kind::spsc, [](Valid& v) { v.h().max_record_size = 136; }},
      {"max_record_size 8", Kind::mpsc, [](Valid& v) { v.h().max_record_size = 8; }},
      {"max_record_size 20", Kind::spsc, [](Valid& v) { v.h().max_record_size = 20; }},
      {"max_record_size 0xFFFFFFF8", Kind::mpsc,
       [](Valid& v) { v.h().max_record_size = 0xFFFFFFF8u; }},
      {"producer position odd", Kind::spsc, [](Valid& v) { v.positions(0, 1); }},
      {"consumer position 4", Kind::mpsc, [](Valid& v) { v.positions(4, 4); }},
      {"producer ahead by 264", Kind::spsc, [](Valid& v) { v.positions(0, 264); }},
      {"producer ahead by 264 across 2^32", Kind::mpsc,
       [](Valid& v) { v.positions(0xFFFFFF00u, 0xFFFFFF00u + 264); }},
      {"producer 8 behind the consumer", Kind::spsc, [](Valid& v) { v.positions(64, 56); }},
  };
  for (const Case& c : cases) {
    INFO("case: " << c.what);
    Valid v(c.kind);
    c.mutate(v);
    ut::check_error(v.header(), ErrorCode::corrupt, kName);
  }
}

TEST_CASE("validate_header: the minimum and maximum max_record_size are valid",
          "[unit][validate]") {
  for (uint32_t mrs : {16u, 128u}) {
    Valid v(Kind::spsc);
    v.h().max_record_size = mrs;
    CHECK(v.header().ok());
  }
}

TEST_CASE("validate_records: valid record chains", "[unit][validate]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  const uint32_t lap = GENERATE(0u, 0xFFFFFF00u);
  CAPTURE(kind, lap);
  SECTION("empty") {
    Valid v(kind, lap + 200);
    CHECK(v.records().ok());
  }
  SECTION("records, padding at the wrap, record at 0") {
    Valid v(kind, lap + 160);
    const uint32_t c = lap + 160;
    v.image.put_record(c, 24, 1);                          // 160..184
    v.image.put_record(c + 24, 9, 2);                      // 184..200 (length 9 -> 16 bytes)
    v.image.put_record(c + 40, 56, layout::kPaddingType);  // 200..256
    v.image.put_record(c + 96, 64, 3);                     // 0..64
    v.image.put_record(c + 160, 8, 4);                     // 64..72
    v.positions(c, c + 168);
    REQUIRE(v.header().ok());
    auto r = v.records();
    INFO(r.error().message);
    CHECK(r.ok());
  }
  SECTION("full ring of 8-byte records") {
    Valid v(kind, lap);
    for (uint32_t i = 0; i < 32; ++i) v.image.put_record(lap + 8 * i, 8, i);
    v.positions(lap, lap + 256);
    CHECK(v.records().ok());
  }
}

TEST_CASE("validate_records: impossible lengths are corrupt, naming the position",
          "[unit][validate]") {
  struct Case {
    const char* what;
    Kind kind;
    int32_t length;
    uint32_t type;
    bool corrupt;
  };
  // Records at c (24 bytes) and c + 24 (the one under test), producer at c + 72.
  const Case cases[] = {
      {"length 0, spsc", Kind::spsc, 0, 1, true},
      {"length 0, mpsc: claimed, walk stops", Kind::mpsc, 0, 0, false},
      {"negative, spsc", Kind::spsc, -24, 1, true},
      {"negative, mpsc: claim in progress", Kind::mpsc, -24, 1, false},
      {"negative and too long, mpsc", Kind::mpsc, -80, 1, true},
      {"INT32_MIN, mpsc", Kind::mpsc, INT32_MIN, 1, true},
      {"INT32_MIN, spsc", Kind::spsc, INT32_MIN, 1, true},
      {"INT32_MAX", Kind::spsc, INT32_MAX, 1, true},
      {"length 4", Kind::spsc, 4, 1, true},
      {"length 1, mpsc", Kind::mpsc, 1, 1, true},
      {"length > capacity", Kind::mpsc, 264, 1, true},
      {"length 256", Kind::spsc, 256, 1, true},
      {"past the producer position", Kind::spsc, 56, 1, true},
      {"short of the producer position: next header is garbage", Kind::spsc, 16, 1, true},
      {"above max_record_size 40", Kind::mpsc, 48, 1, true},
      {"padding above max_record_size 40", Kind::mpsc, 48, layout::kPaddingType, false},
  };
  const uint32_t lap = GENERATE(0u, 0xFFFFFF80u);
  CAPTURE(lap);
  for (const Case& c : cases) {
    INFO("case: " << c.what);
    Valid v(c.kind, lap);
    v.h().max_record_size = 40;
    v.image.put_record(lap, 24, 7);
    v.image.put_record(lap + 24, c.length, c.type);
    v.image.put_record(lap + 48, 24, 7);
    v.positions(lap, lap + 72);
    if (c.length == 16) v.image.put_record(lap + 40, 0x7FFF0000, 7);
    REQUIRE(v.header().ok());
    auto r = v.records();
    if (c.corrupt) {
      ut::check_error(r, ErrorCode::corrupt, kName);
      const uint32_t at = c.length == 16 ? lap + 40 : lap + 24;
      CHECK(r.error().message.find("position " + std::to_string(at)) != std::string::npos);
    } else {
      INFO(r.error().message);
      CHECK(r.ok());
    }
  }
}

TEST_CASE("validate_records: a record may not cross the end of the area", "[unit][validate]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  CAPTURE(kind);
  Valid v(kind, 240);
  v.image.put_record(240, 24, 1);  // 240..264 would cross 256
  v.positions(240, 264);
  REQUIRE(v.header().ok());
  ut::check_error(v.records(), ErrorCode::corrupt, kName);
  v.image.put_record(240, 16, layout::kPaddingType);  // pad the tail, record at 0
  v.image.put_record(256, 8, 1);
  CHECK(v.records().ok());
}

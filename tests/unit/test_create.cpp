// Ring names, create options, the created header and the OS object's permissions.
#if !defined(_WIN32)
#include <sys/stat.h>
#endif

#include <cstring>

#include "support.hpp"

using namespace shmring;
using ut::NameGuard;
using ut::RawMap;

TEST_CASE("names: invalid names are rejected everywhere, naming the name", "[unit][names]") {
  const std::string bad_names[] = {"",         std::string(64, 'a'),
                                   "a/b",      "..",
                                   "a..b",     ".hidden",
                                   "bad name", "x\\y",
                                   "/abs",     "trail/",
                                   "tab\t",    "é",
                                   "a:b",      "a*b",
                                   ".",        std::string(200, 'z')};
  for (const std::string& bad : bad_names) {
    CAPTURE(bad);
    const std::string quoted = "'" + bad + "'";
    ut::check_error(Ring::validate_name(bad), ErrorCode::invalid_name, quoted);
    ut::check_error(Ring::create(bad, CreateOptions{}), ErrorCode::invalid_name, quoted);
    ut::check_error(Ring::open(bad, ut::quick_open()), ErrorCode::invalid_name, quoted);
    ut::check_error(Ring::unlink(bad), ErrorCode::invalid_name, quoted);
  }
}

TEST_CASE("names: 63 characters and the whole alphabet are accepted", "[unit][names]") {
  std::string longest = ut::unique_name() + "-";
  longest.resize(layout::kNameMax, 'n');
  REQUIRE(longest.size() == 63u);
  for (const std::string& good :
       {longest, ut::unique_name() + "_A.z-09", ut::unique_name() + "."}) {
    CAPTURE(good);
    NameGuard name(good);
    CHECK(Ring::validate_name(good).ok());
    Ring ring = ut::create_ring(good, ut::options(Kind::spsc, 256));
    CHECK(ring.name() == good);
    CHECK(ut::object_exists(good));
    {
      RawMap map(good, false);
      CHECK(std::string(map.header()->name) == good);
    }
    Ring again = ut::open_ring(good);
    CHECK(again.stats().name == good);
    CHECK(Ring::unlink(good).ok());
    if (ut::kUnlinkRemovesName) CHECK_FALSE(ut::object_exists(good));
  }
}

TEST_CASE("create: a fresh ring's header", "[unit][create]") {
  const Kind kind = GENERATE(Kind::spsc, Kind::mpsc);
  CAPTURE(kind);
  NameGuard name;
  CreateOptions o = ut::options(kind, 8192, 0, 0x12345678u);
  o.max_producers = 5;
  Ring ring = ut::create_ring(name.str(), o);
  RawMap map(name.str(), false);
  const layout::RingHeader& h = *map.header();
  const uint32_t producers = kind == Kind::spsc ? 1 : 5;
  CHECK(h.magic.load() == layout::kMagic);
  CHECK(h.layout_version == layout::kLayoutVersion);
  CHECK(h.kind == static_cast<uint32_t>(kind));
  CHECK(h.capacity == 8192u);
  CHECK(h.max_record_size == 1024u);  // default capacity / 8
  CHECK(h.max_producers == producers);
  CHECK(h.header_size == layout::header_size_for(producers));
  CHECK(h.header_size == 4096u);
  CHECK(h.total_size == 4096u + 8192u);
  CHECK(ut::object_size_is(map.size(), h.total_size));
  CHECK(h.creator_pid == platform::current_pid());
  CHECK(h.creation_time_ns > 0u);
  CHECK(h.max_readers == 0u);
  CHECK(h.position_width == 32u);
  CHECK(h.initial_position == 0x12345678u);
  CHECK(h.producer_position.load() == 0x12345678u);
  CHECK(h.consumer_position.load() == 0x12345678u);
  CHECK(std::string(h.name) == name.str());
  CHECK(map.area_zero(0, 8192));
  CHECK(ring.kind() == kind);
  CHECK(ring.capacity() == 8192u);
  CHECK(ring.max_payload() == 1016u);

  // The default max_record_size never drops below the 16-byte minimum; 64 producers fit.
  NameGuard small;
  CreateOptions so = ut::options(Kind::mpsc, 256);
  so.max_producers = layout::kMaxProducers;
  Ring s = ut::create_ring(small.str(), so);
  RawMap smap(small.str(), false);
  CHECK(smap.header()->max_record_size == 32u);
  CHECK(smap.header()->header_size == 12288u);
  CHECK(ut::object_size_is(smap.size(), 12288u + 256u));
}

TEST_CASE("create: invalid options are invalid_argument and create nothing", "[unit][create]") {
  struct Case {
    const char* what;
    CreateOptions options;
  };
  auto with = [](auto mutate) {
    CreateOptions o = ut::options(Kind::mpsc, 1024);
    mutate(o);
    return o;
  };
  const Case cases[] = {
      {"capacity not a power of two", with([](CreateOptions& o) { o.capacity = 1000; })},
      {"capacity 384", with([](CreateOptions& o) { o.capacity = 384; })},
      {"capacity 128", with([](CreateOptions& o) { o.capacity = 128; })},
      {"capacity 0", with([](CreateOptions& o) { o.capacity = 0; })},
      {"capacity 2^31", with([](CreateOptions& o) { o.capacity = 1u << 31; })},
      {"max_record_size > capacity/2", with([](CreateOptions& o) { o.max_record_size = 520; })},
      {"max_record_size = capacity", with([](CreateOptions& o) { o.max_record_size = 1024; })},
      {"max_record_size not a multiple of 8",
       with([](CreateOptions& o) { o.max_record_size = 100; })},
      {"max_record_size below 16", with([](CreateOptions& o) { o.max_record_size = 8; })},
      {"kind 0", with([](CreateOptions& o) { o.kind = static_cast<Kind>(0); })},
      {"kind 4", with([](CreateOptions& o) { o.kind = static_cast<Kind>(4); })},
      {"max_producers 0", with([](CreateOptions& o) { o.max_producers = 0; })},
      {"max_producers 65", with([](CreateOptions& o) { o.max_producers = 65; })},
      {"initial_position unaligned", with([](CreateOptions& o) { o.initial_position = 4; })},
      {"mode beyond 0777", with([](CreateOptions& o) { o.mode = 01777; })},
  };
  for (const Case& c : cases) {
    INFO("case: " << c.what);
    NameGuard name;
    ut::check_error(Ring::create(name.str(), c.options), ErrorCode::invalid_argument, name.str());
    CHECK_FALSE(ut::object_exists(name.str()));
  }
  // The boundaries themselves are fine.
  for (uint32_t mrs : {16u, 512u}) {
    NameGuard name;
    CHECK(Ring::create(name.str(), ut::options(Kind::spsc, 1024, mrs)).ok());
  }
}

TEST_CASE("create: an existing name is already_exists and left alone", "[unit][create]") {
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(Kind::spsc, 256));
  Producer producer = ut::attach_producer(ring);
  REQUIRE(producer.try_write(1, "keep", 4) == Status::ok);
  ut::check_error(Ring::create(name.str(), ut::options(Kind::mpsc, 1024)),
                  ErrorCode::already_exists, name.str());
  Ring again = ut::open_ring(name.str());
  CHECK(again.kind() == Kind::spsc);
  CHECK(again.capacity() == 256u);
  CHECK(again.stats().producer_position == 16u);

  // Also when the object is not a ring at all.
  NameGuard other;
  ut::craft_object(other.str(), 100);
  ut::check_error(Ring::create(other.str(), ut::options(Kind::spsc, 256)),
                  ErrorCode::already_exists, other.str());
}

// Windows has no permission bits: its DACL tests are in test_win32.cpp.
#if !defined(_WIN32)
TEST_CASE("create: permission bits, default 0600, umask does not change them", "[unit][create]") {
  const mode_t old_umask = ::umask(077);
  NameGuard a, b, c;
  const bool created_a = Ring::create(a.str(), ut::options(Kind::spsc, 256)).ok();
  CreateOptions ob = ut::options(Kind::spsc, 256);
  ob.mode = 0640;
  const bool created_b = Ring::create(b.str(), ob).ok();
  ::umask(0);
  const bool created_c = Ring::create(c.str(), ob).ok();
  ::umask(old_umask);
  REQUIRE(created_a);
  REQUIRE(created_b);
  REQUIRE(created_c);
  CHECK(ut::object_mode(a.str()) == 0600);
  CHECK(ut::object_mode(b.str()) == 0640);
  CHECK(ut::object_mode(c.str()) == 0640);
}
#endif

// Windows: a section has no name apart from its handles (test_win32.cpp).
#if !defined(_WIN32)
TEST_CASE("unlink: removes the name, existing mappings stay valid", "[unit][create]") {
  NameGuard name;
  Ring ring = ut::create_ring(name.str(), ut::options(Kind::spsc, 256));
  Producer producer = ut::attach_producer(ring);
  Consumer consumer = ut::attach_consumer(ring);
  REQUIRE(Ring::unlink(name.str()).ok());
  CHECK_FALSE(ut::object_exists(name.str()));
  ut::check_error(Ring::open(name.str(), ut::quick_open()), ErrorCode::not_found, name.str());
  ut::check_error(Ring::unlink(name.str()), ErrorCode::not_found, name.str());
  REQUIRE(producer.try_write(1, "abc", 3) == Status::ok);
  CHECK(ut::poll_all(consumer, 10).size() == 1u);
  // The name can be reused at once.
  CHECK(Ring::create(name.str(), ut::options(Kind::mpsc, 256)).ok());
}
#endif

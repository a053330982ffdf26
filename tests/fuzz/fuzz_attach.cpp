// Fuzz target "attach": an arbitrary image behind a real ring name, opened and read through the
// public API, exactly as a process that finds garbage (or a hostile creator's ring) under a name.
//
//   Ring::open (read-write and read-only) -> stats()
//   spsc/mpsc: attach_consumer -> poll / try_read / read(timeout 0) / wait_readable(0), then
//              attach_producer -> try_write / try_claim + commit / abort, then read again
//   broadcast: attach_reader -> poll / try_read / wait_readable(0), attach_producer -> writes
//   CountersRegion::open -> snapshot() / read()
// The image follows the input's first 32 bytes; those choose batch sizes, buffer sizes and the
// writes. The mpsc consumer uses stuck_claim_timeout_ns = 0, so the recovery path runs on
// whatever producer slots the image holds.
// Properties: no crash, no access outside the mapping, every call returns (no wait beyond a zero
// timeout), every error names the ring, every delivered record lies inside the record area
// (spsc/mpsc) or the reader's buffer (broadcast), and a read never delivers more records than a
// lap of the area can hold.
#include <cinttypes>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "shmring/counters.hpp"
#include "shmring/layout.hpp"
#include "shmring/platform.hpp"
#include "shmring/ring.hpp"

using namespace shmring;
using shmring::fuzz::Input;

namespace {

constexpr std::size_t kControl = 32;  // control bytes before the image

template <class T>
void check_message(const Result<T>& r, const std::string& name, const char* what) {
  if (r.ok()) return;
  FUZZ_CHECK(r.error().message.find("'" + name + "'") != std::string::npos,
             "%s: error message does not name the ring: %s", what, r.error().message.c_str());
}

// Bounds of what a consumer may deliver, from the geometry validated at open.
struct Geometry {
  uint32_t capacity = 0;
  uint32_t max_payload = 0;
  bool broadcast = false;
};

void check_view(const Geometry& g, const RecordView& v) {
  FUZZ_CHECK(v.size <= g.max_payload, "delivered %u bytes, max payload %u", v.size, g.max_payload);
  FUZZ_CHECK(v.type != layout::kPaddingType, "delivered a padding record");
  if (!g.broadcast) {
    const uint32_t index = v.position & (g.capacity - 1);
    FUZZ_CHECK(index + layout::kRecordHeaderSize + v.size <= g.capacity,
               "delivered record at index %u with %u bytes leaves the %u-byte area", index, v.size,
               g.capacity);
  }
}

// Reads through the public read calls, never waiting: every timeout is 0.
template <class Handle>
void read_some(Handle& handle, const Geometry& g, Input& in, std::vector<std::byte>& buffer) {
  std::size_t delivered = 0;
  for (int round = 0; round < 4; ++round) {
    const uint8_t op = in.u8();
    auto handler = [&](const RecordView& v) {
      check_view(g, v);
      ++delivered;
    };
    switch (op % 4) {
      case 0: {
        const PollResult r = handle.poll(handler, 1 + op / 4);
        FUZZ_CHECK(r.count <= std::size_t{1} + op / 4, "poll delivered %zu > max", r.count);
        break;
      }
      case 1: {
        uint32_t size = 0, type = 0;
        const uint32_t cap = std::min<uint32_t>(in.u16(), static_cast<uint32_t>(buffer.size()));
        const Status s = handle.try_read(buffer.data(), cap, size, type);
        if (s == Status::ok) {
          FUZZ_CHECK(size <= cap, "try_read returned %u bytes into %u", size, cap);
          ++delivered;
        }
        break;
      }
      case 2:
        (void)handle.wait_readable(0);
        break;
      case 3:
        (void)handle.read(handler, 64, 0);
        break;
    }
  }
  FUZZ_CHECK(delivered <= 4 * (g.capacity / 8 + 1), "delivered %zu records", delivered);
}

void write_some(Ring& ring, Input& in, std::vector<std::byte>& buffer, const std::string& name) {
  auto producer = ring.attach_producer();
  check_message(producer, name, "attach_producer");
  if (!producer) return;
  const uint32_t max = producer->max_payload();
  for (int i = 0; i < 3; ++i) {
    const uint8_t op = in.u8();
    const uint32_t size = in.u16() % (max + 1);
    if (op % 3 == 0) {
      (void)producer->try_write(op, buffer.data(), size);
    } else {
      Claim c;
      if (producer->try_claim(op, size, c) == Status::ok) {
        if (size != 0) std::memset(c.data, op, size);
        if (op % 3 == 1)
          producer->commit(c);
        else
          producer->abort(c);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < kControl) return 0;
  static const std::string name = shmring::fuzz::image_name("attach");
  Input in(data, kControl);
  if (!shmring::fuzz::put_object(name, data + kControl, size - kControl)) return 0;
  std::vector<std::byte> buffer(1 << 16, std::byte{0x5A});

  OpenOptions ro;
  ro.ready_timeout_ns = 0;
  ro.read_only = true;
  {
    auto inspect = Ring::open(name, ro);
    check_message(inspect, name, "open read-only");
    if (inspect) {
      (void)inspect->stats();
      auto c = inspect->attach_consumer();
      FUZZ_CHECK(!c.ok(), "attach_consumer on a read-only open succeeded");
    }
  }

  OpenOptions rw;
  rw.ready_timeout_ns = 0;
  auto ring = Ring::open(name, rw);
  check_message(ring, name, "open");
  if (ring) {
    const Stats st = ring->stats();
    Geometry g;
    g.capacity = ring->capacity();
    g.max_payload = ring->max_payload();
    g.broadcast = ring->kind() == Kind::broadcast;
    FUZZ_CHECK(st.capacity == g.capacity, "stats capacity %u, ring %u", st.capacity, g.capacity);
    if (g.broadcast) {
      ReaderOptions options;
      options.join = in.u8() % 2 == 0 ? JoinAt::oldest : JoinAt::newest;
      auto reader = ring->attach_reader(options);
      check_message(reader, name, "attach_reader");
      if (reader) read_some(*reader, g, in, buffer);
      write_some(*ring, in, buffer, name);
      if (reader) read_some(*reader, g, in, buffer);
    } else {
      ConsumerOptions options;
      options.stuck_claim_timeout_ns = 0;
      options.wait.strategy = WaitStrategy::busy_spin;
      auto consumer = ring->attach_consumer(options);
      check_message(consumer, name, "attach_consumer");
      if (consumer) read_some(*consumer, g, in, buffer);
      write_some(*ring, in, buffer, name);
      if (consumer) read_some(*consumer, g, in, buffer);
    }
    (void)ring->stats();
  }

  // Counters regions share the namespace. Only images that claim to be one: open() waits a
  // fixed second for a creator that has not published yet.
  uint64_t magic = 0;
  if (size - kControl >= sizeof magic) std::memcpy(&magic, data + kControl, sizeof magic);
  if (magic == layout::kCountersMagic) {
    const bool read_only = in.u8() % 2 == 0;
    auto counters = CountersRegion::open(name, read_only);
    check_message(counters, name, "CountersRegion::open");
    if (counters) {
      for (const CounterValue& v : counters->snapshot()) {
        uint64_t value = 0;
        (void)counters->read(v.slot, v.generation, value);
      }
      if (!read_only) {
        auto counter = counters->allocate("fuzz.counter", 7);
        check_message(counter, name, "allocate");
        if (counter) counter->add(1);
      }
    }
  }
  // Nothing shrinks the object under a view here: a revoked view is an access past its end
  // (SIGBUS), absorbed by the platform's truncation handler; it is a bug all the same.
  FUZZ_CHECK(platform::revoked_views() == 0, "an access past the end of the object (SIGBUS)");
  return 0;
}

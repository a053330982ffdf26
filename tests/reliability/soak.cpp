// [soak] Checksummed messages across processes, on every ring kind, for as long as asked.
//
//   SHMRING_SOAK_MESSAGES   messages per ring kind (default 10^7; `make soak` uses 10^8)
//   SHMRING_SOAK_KINDS      comma-separated subset of spsc,mpsc,broadcast (default: all)
//   SHMRING_SOAK_REPORT_S   seconds between throughput lines (default 2)
//   SHMRING_SOAK_BROADCAST_RATE  broadcast producer pace, messages/s (default 500000; 0: as fast
//                           as it can, and the reader, which checksums every record, is lapped
//                           most of the time)
//   SHMRING_TEST_SEED       replays a seed
// spsc: one producer process; mpsc: three; broadcast: one producer process and the reading
// parent. Sizes are random (0..4096 bytes, mostly around 100, the maximum now and then). The
// parent verifies every record (checksum, per-producer sequence): spsc and mpsc must deliver
// every message exactly once and in order; a broadcast reader may be overtaken, and must then
// count exactly the records it lost (received + lost = sent). Throughput is printed as it goes,
// and the final counts at the end.
#include <catch2/catch.hpp>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "rel_util.hpp"

using namespace shmring;
using namespace shmring::proctest;
using namespace shmring::reltest;

namespace {

uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 0) : fallback;
}

bool kind_wanted(Kind kind) {
  const char* v = std::getenv("SHMRING_SOAK_KINDS");
  if (v == nullptr || *v == '\0') return true;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ','))
    if (item == kind_name(kind)) return true;
  return false;
}

// Prints a throughput line every `every_ns`.
class Reporter {
 public:
  Reporter(Kind kind, uint64_t total) : kind_(kind), total_(total), every_ns_(0) {
    every_ns_ = env_u64("SHMRING_SOAK_REPORT_S", 2) * 1'000'000'000ull;
    start_ = last_ = now_ns();
  }
  void tick(uint64_t messages, uint64_t bytes, uint32_t fill_percent, uint64_t lost = 0) {
    const uint64_t now = now_ns();
    if (now - last_ < every_ns_) return;
    const double dt = static_cast<double>(now - last_) / 1e9;
    std::printf("  [soak %-9s] t=%7.1fs %12" PRIu64
                " msgs (%5.1f%%) %6.2f M msgs/s %8.1f MB/s"
                "  fill %3u%%%s\n",
                kind_name(kind_), static_cast<double>(now - start_) / 1e9, messages,
                100.0 * static_cast<double>(messages) / static_cast<double>(total_),
                static_cast<double>(messages - last_messages_) / dt / 1e6,
                static_cast<double>(bytes - last_bytes_) / dt / 1e6, fill_percent,
                lost != 0 ? (" lost " + std::to_string(lost)).c_str() : "");
    std::fflush(stdout);
    last_ = now;
    last_messages_ = messages;
    last_bytes_ = bytes;
  }
  double seconds() const { return static_cast<double>(now_ns() - start_) / 1e9; }

 private:
  Kind kind_;
  uint64_t total_;
  uint64_t every_ns_;
  uint64_t start_ = 0, last_ = 0, last_messages_ = 0, last_bytes_ = 0;
};

uint32_t fill_of(Ring& ring) {
  const Stats s = ring.stats();
  return s.capacity == 0 ? 0 : static_cast<uint32_t>(100.0 * s.used_bytes / s.capacity);
}

void soak_queue(Kind kind, uint64_t total, uint64_t seed) {
  INFO(kind_name(kind) << ", seed " << seed);
  const uint32_t producers = kind == Kind::mpsc ? 3 : 1;
  const uint64_t per = total / producers + (total % producers != 0 ? 1 : 0);
  RingName name;
  CreateOptions co;
  co.kind = kind;
  co.capacity = 1u << 20;
  co.max_producers = kind == Kind::mpsc ? 4 : 1;
  co.initial_position = 0u - (1u << 22);  // crosses 2^32 after 4 MiB
  auto ring = Ring::create(name.str(), co);
  if (!ring) FAIL("create: " << ring.error().message);
  auto consumer = ring->attach_consumer();
  if (!consumer) FAIL("attach_consumer: " << consumer.error().message);
  Verifier verifier(producers);
  verifier.set_capacity(co.capacity);
  std::vector<std::unique_ptr<Child>> children;
  std::vector<Child*> ptrs;
  std::vector<uint32_t> ids;
  for (uint32_t p = 0; p < producers; ++p) {
    ProducerPlan pp;
    pp.ring = name.str();
    pp.id = p;
    pp.count = per;
    pp.seed = derive_seed(seed, p + 1);
    pp.size_max = 4096;
    pp.size_typical = 200;
    verifier.expect(p, per);
    children.push_back(spawn_producer(pp, seed));
    ptrs.push_back(children.back().get());
    ids.push_back(p);
  }
  Reporter report(kind, per * producers);
  for (Child* c : ptrs) c->send('G');
  DrainOptions d;
  d.seed = derive_seed(seed, 0);
  d.copy_out_percent = 10;
  Drain drain(consumer.value(), verifier, ring->max_payload(), d);
  uint64_t steps = 0;
  drain_until_complete(drain, verifier, ptrs, seed, 60'000'000'000, [&] {
    if ((++steps & 63) == 0)
      report.tick(verifier.received(), verifier.received_bytes(), fill_of(*ring));
    return false;
  });
  finish_producers(ptrs, ids, verifier, seed);
  const Stats st = ring->stats();
  CHECK(st.messages_read == per * producers);
  CHECK(st.messages_written == per * producers);
  CHECK(st.consumer_position == st.producer_position);
  const double secs = report.seconds();
  std::printf("  [soak %-9s] done: %" PRIu64 " messages (%" PRIu64
              " producers), %.2f GB, 0 lost, %" PRIu64 " duplicated, %" PRIu64
              " wraps of 2^32; %.1f s, %.2f M msgs/s, %.0f MB/s; seed %" PRIu64 "\n",
              kind_name(kind), verifier.received(), static_cast<uint64_t>(producers),
              static_cast<double>(verifier.received_bytes()) / 1e9, verifier.duplicates(),
              verifier.wraps_crossed(), secs, static_cast<double>(verifier.received()) / secs / 1e6,
              static_cast<double>(verifier.received_bytes()) / secs / 1e6, seed);
  std::fflush(stdout);
}

// The broadcast producer: `total` messages of 24..4096 bytes, never waiting for anyone.
int run_broadcaster(ChildIo& io, const std::string& ring_name, uint64_t total, uint64_t seed,
                    uint64_t rate) {
  auto ring = Ring::open(ring_name);
  if (!ring) return io.fail("open: %s", ring.error().message.c_str());
  auto producer = ring->attach_producer();
  if (!producer) return io.fail("attach: %s", producer.error().message.c_str());
  io.send('A');
  if (io.wait_control(60'000) != 'G') return io.fail("no 'G'");
  Rng rng(seed);
  std::vector<std::byte> buffer(4096 + kMessageHeader);
  const uint64_t start = now_ns();
  for (uint64_t seq = 0; seq < total; ++seq) {
    if (rate != 0 && (seq & 63) == 0) {  // paced: at most `rate` messages per second
      const uint64_t due = start + seq * 1'000'000'000ull / rate;
      while (now_ns() < due) {
      }
    }
    const uint32_t size = kMessageHeader + pick_size(rng, 4096 - kMessageHeader, 176);
    if (rng.percent(50)) {
      Claim c;
      const Status s = producer->try_claim(fill_message(buffer.data(), size, 0, seq), size, c);
      if (s != Status::ok) return io.fail("claim returned %s", to_string(s));
      std::memcpy(c.data, buffer.data(), size);
      producer->commit(c);
    } else {
      const Status s =
          producer->try_write(fill_message(buffer.data(), size, 0, seq), buffer.data(), size);
      if (s != Status::ok) return io.fail("try_write returned %s", to_string(s));
    }
  }
  io.send('R', total);
  return 0;
}

int broadcaster_role(ChildIo& io, const Params& p) {
  return run_broadcaster(io, p.str("ring"), p.u64("total"), p.u64("seed"), p.u64("rate"));
}
const ChildRole kBroadcasterRole("rel-broadcaster", broadcaster_role);

void soak_broadcast(uint64_t total, uint64_t seed) {
  const uint64_t rate = env_u64("SHMRING_SOAK_BROADCAST_RATE", 500'000);
  INFO("broadcast, seed " << seed);
  RingName name;
  CreateOptions co;
  co.kind = Kind::broadcast;
  co.capacity = 1u << 22;
  co.max_record_size = 8192;
  co.initial_position = 0u - (1u << 23);
  auto ring = Ring::create(name.str(), co);
  if (!ring) FAIL("create: " << ring.error().message);
  ReaderOptions ro;
  ro.join = JoinAt::oldest;
  auto reader = ring->attach_reader(ro);
  if (!reader) FAIL("attach_reader: " << reader.error().message);
  Child producer("rel-broadcaster", Params()
                                        .set("ring", name.str())
                                        .set("total", total)
                                        .set("seed", derive_seed(seed, 1))
                                        .set("rate", rate));
  Event e;
  std::string why;
  if (!producer.expect_event('A', e, 30'000, why)) FAIL(why);
  Reporter report(Kind::broadcast, total);
  producer.send('G');
  uint64_t received = 0, bytes = 0, gaps = 0, next = 0, steps = 0;
  std::string error;
  uint64_t last_progress = now_ns();
  while (error.empty() && next < total) {
    const Status w = reader->wait_readable(20'000'000);
    if (w == Status::corrupt) error = "corrupt: " + reader->last_error();
    const PollResult r = reader->poll(
        [&](const RecordView& v) {
          if (!error.empty()) return;
          uint64_t sequence = 0;
          uint32_t sum = 0, id = 0;
          if (v.type != kMessageType || v.size < kMessageHeader) {
            error = "record type " + std::to_string(v.type) + ", " + std::to_string(v.size) + " B";
            return;
          }
          std::memcpy(&id, v.data, 4);
          std::memcpy(&sequence, v.data + 8, 8);
          std::memcpy(&sum, v.data + 16, 4);
          if (sum != checksum(id, sequence, v.data + kMessageHeader, v.size - kMessageHeader)) {
            error = "bad checksum at sequence " + std::to_string(sequence);
          } else if (sequence < next) {
            error = "sequence " + std::to_string(sequence) + " after " + std::to_string(next - 1);
          }
          gaps += sequence - next;
          next = sequence + 1;
          ++received;
          bytes += v.size;
        },
        1024);
    if (r.status == Status::corrupt) error = "corrupt: " + reader->last_error();
    if (r.count > 0) last_progress = now_ns();
    if (now_ns() - last_progress > 60'000'000'000ull) error = "no record for 60 s";
    if ((++steps & 63) == 0) report.tick(received, bytes, 100, gaps);
  }
  if (!error.empty()) FAIL(error);
  REQUIRE(producer.expect_event('R', e, 60'000, why));
  REQUIRE(producer.wait_exit(30'000));
  CHECK(producer.succeeded());
  CHECK(reader->lost() == gaps);
  CHECK(received + gaps == total);
  const double secs = report.seconds();
  std::printf("  [soak %-9s] done: %" PRIu64 " messages sent, %" PRIu64 " read, %" PRIu64
              " overwritten before the reader got to them (counted exactly: lost() = %" PRIu64
              "), %.2f GB read; %.1f s, %.2f M msgs/s written (pace %" PRIu64 "/s); seed %" PRIu64
              "\n",
              "broadcast", total, received, gaps, reader->lost(), static_cast<double>(bytes) / 1e9,
              secs, static_cast<double>(total) / secs / 1e6, rate, seed);
  std::fflush(stdout);
}

}  // namespace

TEST_CASE("soak: checksummed messages across processes on every ring kind", "[soak]") {
  const uint64_t total = env_u64("SHMRING_SOAK_MESSAGES", 10'000'000);
  const uint64_t seed = test_seed();
  std::printf("soak: %" PRIu64 " messages per ring kind, seed %" PRIu64 "\n", total, seed);
  std::fflush(stdout);
  if (kind_wanted(Kind::spsc)) soak_queue(Kind::spsc, total, derive_seed(seed, 1));
  if (kind_wanted(Kind::mpsc)) soak_queue(Kind::mpsc, total, derive_seed(seed, 2));
  if (kind_wanted(Kind::broadcast)) soak_broadcast(total, derive_seed(seed, 3));
}

// Writes the seed corpus of the fuzz targets: images of real rings (made by the library itself,
// in the states that matter: empty, wrapped, full, claims in flight, a dead producer's claim, a
// consumer that died while releasing, broadcast laps, a counters region) and operation scripts
// for the peer target.
//   fuzz_gen_seeds tests/fuzz/corpus      (writes corpus/image, corpus/attach, corpus/peer)
// Deterministic: the same build writes the same files, except for creation times and pids in
// the images.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "shmring/counters.hpp"
#include "shmring/layout.hpp"
#include "shmring/ring.hpp"

using namespace shmring;
namespace fs = std::filesystem;

namespace {

std::string g_out;
int g_failures = 0;

void save(const std::string& target, const std::string& file, const std::vector<uint8_t>& bytes) {
  const fs::path dir = fs::path(g_out) / target;
  fs::create_directories(dir);
  std::ofstream out(dir / file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint8_t> object_bytes(const std::string& name) {
  std::ifstream in("/dev/shm/shmring." + name, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
}

uint32_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  (void)::waitpid(child, &status, 0);
  return static_cast<uint32_t>(child);
}

struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
};

// Saves one image under both image targets (attach: 32 control bytes first).
void save_image(const std::string& file, std::vector<uint8_t> image) {
  save("image", file, image);
  std::vector<uint8_t> with_control(32);
  Rng r{std::hash<std::string>{}(file)};
  for (auto& b : with_control) b = static_cast<uint8_t>(r.next());
  with_control.insert(with_control.end(), image.begin(), image.end());
  save("attach", file, with_control);
}

std::string fresh(const char* tag) {
  const std::string name = "seed-" + std::to_string(::getpid()) + "-" + tag;
  (void)Ring::unlink(name);
  return name;
}

CreateOptions opts(Kind kind, uint32_t capacity) {
  CreateOptions o;
  o.kind = kind;
  o.capacity = capacity;
  return o;
}

template <class T>
T must(Result<T> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "%s: %s\n", what, r.error().message.c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

void write_n(Producer& p, int n, uint32_t seed) {
  std::vector<std::byte> buf(p.max_payload(), std::byte{0x42});
  for (int i = 0; i < n; ++i) {
    const uint32_t size = (seed * 37u + static_cast<uint32_t>(i) * 29u) % (p.max_payload() + 1);
    (void)p.try_write(1 + static_cast<uint32_t>(i), buf.data(), size);
  }
}

void drain(Consumer& c, std::size_t max) {
  (void)c.poll([](const RecordView&) {}, max);
}

void ring_images() {
  {  // spsc, empty
    const std::string n = fresh("a");
    auto ring = must(Ring::create(n, opts(Kind::spsc, 256)), "create");
    save_image("spsc-empty", object_bytes(n));
    (void)Ring::unlink(n);
  }
  {  // spsc across 2^32, some consumed, wrap padding in the unread part
    const std::string n = fresh("b");
    CreateOptions o = opts(Kind::spsc, 256);
    o.max_record_size = 128;
    o.initial_position = 0xFFFFFF00u;
    auto ring = must(Ring::create(n, o), "create");
    auto p = must(ring.attach_producer(), "producer");
    auto c = must(ring.attach_consumer(), "consumer");
    for (int round = 0; round < 6; ++round) {
      write_n(p, 3, static_cast<uint32_t>(round));
      drain(c, 2);
    }
    save_image("spsc-wrapped", object_bytes(n));
    write_n(p, 40, 7);  // until full
    save_image("spsc-full", object_bytes(n));
    (void)Ring::unlink(n);
  }
  {  // mpsc: committed records, an open claim, a dead producer's claim
    const std::string n = fresh("c");
    CreateOptions o = opts(Kind::mpsc, 512);
    o.max_producers = 4;
    o.initial_position = 0xFFFFFE00u;
    auto ring = must(Ring::create(n, o), "create");
    auto p0 = must(ring.attach_producer(), "producer");
    auto p1 = must(ring.attach_producer(), "producer");
    auto c = must(ring.attach_consumer(), "consumer");
    write_n(p0, 5, 1);
    drain(c, 3);
    write_n(p1, 2, 2);
    Claim open;
    (void)p0.try_claim(9, 20, open);
    std::memset(open.data, 0x33, 10);
    write_n(p1, 2, 3);
    save_image("mpsc-open-claim", object_bytes(n));
    // The same image with the claimer's pid replaced by a dead one: the recovery path.
    auto bytes = object_bytes(n);
    auto* slot = reinterpret_cast<layout::ProducerSlot*>(bytes.data() + sizeof(layout::RingHeader));
    const uint32_t dead = dead_pid();
    for (uint32_t i = 0; i < 4; ++i)
      if (slot[i].claim_active.load() != 0) slot[i].pid.store(dead);
    save_image("mpsc-dead-claim", bytes);
    // A claim reserved but whose header is not written yet (length 0).
    auto* h = reinterpret_cast<layout::RingHeader*>(bytes.data());
    const uint32_t index = open.position & (h->capacity - 1);
    std::memset(bytes.data() + h->header_size + index, 0, 8);
    save_image("mpsc-reserved-claim", bytes);
    p0.commit(open);
    drain(c, 2);
    // A consumer that died in release(): release_target ahead of consumer_position.
    bytes = object_bytes(n);
    h = reinterpret_cast<layout::RingHeader*>(bytes.data());
    const uint32_t cpos = h->consumer_position.load();
    const auto* rec = reinterpret_cast<const layout::RecordHeader*>(bytes.data() + h->header_size +
                                                                    (cpos & (h->capacity - 1)));
    h->consumer.release_target.store(
        cpos + layout::align_record(static_cast<uint32_t>(rec->length.load())));
    h->consumer.pid.store(dead);
    save_image("mpsc-died-releasing", bytes);
    (void)Ring::unlink(n);
  }
  {  // mpsc with 64 producer slots (the largest header)
    const std::string n = fresh("d");
    CreateOptions o = opts(Kind::mpsc, 1024);
    o.max_producers = 64;
    auto ring = must(Ring::create(n, o), "create");
    auto p = must(ring.attach_producer(), "producer");
    write_n(p, 6, 4);
    save_image("mpsc-64-slots", object_bytes(n));
    (void)Ring::unlink(n);
  }
  {  // broadcast: fresh, and after several laps with a reader attached
    const std::string n = fresh("e");
    CreateOptions o = opts(Kind::broadcast, 512);
    o.max_readers = 2;
    o.max_record_size = 128;
    o.initial_position = 0xFFFFFF80u;
    auto ring = must(Ring::create(n, o), "create");
    save_image("broadcast-empty", object_bytes(n));
    auto p = must(ring.attach_producer(), "producer");
    auto r = must(ring.attach_reader(), "reader");
    write_n(p, 60, 5);
    (void)r.poll([](const RecordView&) {}, 3);
    save_image("broadcast-lapped", object_bytes(n));
    (void)Ring::unlink(n);
  }
  {  // spsc, a page-sized area
    const std::string n = fresh("f");
    auto ring = must(Ring::create(n, opts(Kind::spsc, 4096)), "create");
    auto p = must(ring.attach_producer(), "producer");
    write_n(p, 10, 6);
    save_image("spsc-4096", object_bytes(n));
    (void)Ring::unlink(n);
  }
  {  // a counters region
    const std::string n = fresh("g");
    CountersOptions o;
    o.slots = 8;
    auto region = must(CountersRegion::create(n, o), "counters");
    auto a = must(region.allocate("requests", 1), "allocate");
    auto b = must(region.allocate("errors", 2), "allocate");
    a.add(5);
    b.add(1);
    save_image("counters", object_bytes(n));
    (void)CountersRegion::unlink(n);
  }
  // Degenerate: magic only, and a truncated ring.
  std::vector<uint8_t> magic(8);
  std::memcpy(magic.data(), &layout::kMagic, 8);
  save_image("magic-only", magic);
  {
    const std::string n = fresh("h");
    auto ring = must(Ring::create(n, opts(Kind::mpsc, 256)), "create");
    auto bytes = object_bytes(n);
    bytes.resize(bytes.size() - 100);
    save_image("mpsc-truncated", bytes);
    (void)Ring::unlink(n);
  }
}

// Peer scripts: configuration bytes, then operations (see fuzz_peer.cpp).
void peer_scripts() {
  for (uint32_t kind = 0; kind < 3; ++kind) {
    for (uint32_t variant = 0; variant < 4; ++variant) {
      Rng r{kind * 131 + variant};
      std::vector<uint8_t> s;
      s.push_back(static_cast<uint8_t>(kind + 3 * variant));  // kind, capacity
      s.push_back(static_cast<uint8_t>(variant * 4 + kind));  // max record, start position
      s.push_back(static_cast<uint8_t>(r.next()));            // producers
      const bool honest = variant < 2;
      for (int i = 0; i < 300; ++i) {
        uint8_t b = static_cast<uint8_t>(r.next());
        if (honest && (b % 16 == 10 || b % 16 == 11)) b = static_cast<uint8_t>(b & 0xF0);
        s.push_back(b);
      }
      save("peer",
           std::string(kind == 0   ? "spsc"
                       : kind == 1 ? "mpsc"
                                   : "broadcast") +
               (honest ? "-honest-" : "-hostile-") + std::to_string(variant),
           s);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  g_out = argv[1];
  ring_images();
  peer_scripts();
  std::printf("seeds written to %s\n", g_out.c_str());
  return g_failures == 0 ? 0 : 1;
}

// shmring-bench — one cell of the side-by-side benchmark per invocation; prints one JSON line.
// bench/run.py runs the cells interleaved, repeats them, and writes the report.
//
//   shmring-bench list
//   shmring-bench throughput --mech shm-spsc --size 64 [--seconds 0.3 | --count N] [--pin]
//   shmring-bench latency    --mech pipe --size 64 --mode busy|block|park [--round-trips N]
//   shmring-bench probe      [--round-trips N] [--pin]     (bare cache-line ping-pong)
//   shmring-bench idle       --mode block|park [--seconds 5]
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common.hpp"
#include "drivers.hpp"
#include "mech_peers.hpp"
#include "mech_posix.hpp"
#include "mech_shmring.hpp"
#include "peers_iceoryx.hpp"

namespace bench {
namespace {

struct MechInfo {
  const char* id;
  const char* label;
  bool throughput;
  const char* modes;  // latency modes
  bool available;
};

const std::vector<MechInfo>& mechanisms() {
  static const std::vector<MechInfo> list = {
      {"shm-spsc", "shmring spsc", true, "busy,block,park", true},
      {"shm-spsc-claim", "shmring spsc claim/commit", true, "", true},
      {"shm-mpsc", "shmring mpsc", true, "busy,block,park", true},
      {"pipe", "pipe", true, "busy,block", true},
      {"uds", "UNIX stream socket", true, "busy,block", true},
      {"pmq", "POSIX mq", true, "busy,block", true},
      {"boost-mq", "Boost message_queue", true, "busy,block", true},
      {"iceoryx", "iceoryx", true, "busy,block", iceoryx_available()},
      {"rwq", "moodycamel ReaderWriterQueue (threads)", true, "busy", SHMRING_BENCH_RWQ + 0 != 0},
      {"cq", "moodycamel ConcurrentQueue (threads)", true, "busy", SHMRING_BENCH_CQ + 0 != 0},
      {"futex", "raw futex + shm", false, "block", true},
      {"eventfd", "eventfd + shm", false, "block", true},
      {"cacheline", "bare cache-line ping-pong", false, "busy", true},
  };
  return list;
}

template <class L, class... Args>
int run_cell(const Cell& c, bool latency_cell, Args&&... args) {
  if (!latency_cell) {
    L link(c, "data", args...);
    return throughput(c, link, c.mech);
  }
  L ping(c, "ping", args...);
  L pong(c, "pong", args...);
  return latency(c, ping, pong, c.mech);
}

template <template <uint32_t> class L>
int with_size(const Cell& c, bool latency_cell) {
  switch (c.size) {
    case 8:
      return run_cell<L<8>>(c, latency_cell);
    case 64:
      return run_cell<L<64>>(c, latency_cell);
    case 512:
      return run_cell<L<512>>(c, latency_cell);
    case 4096:
      return run_cell<L<4096>>(c, latency_cell);
    case 65536:
      return run_cell<L<65536>>(c, latency_cell);
    default:
      fatal("%s supports sizes 8, 64, 512, 4096 and 65536 only", c.mech.c_str());
  }
}

int dispatch(const Cell& c, bool latency_cell) {
  const std::string& m = c.mech;
  if (c.producers != 1 && m != "shm-mpsc") fatal("--producers applies to shm-mpsc only");
  if (m == "shm-spsc") return run_cell<ShmLink>(c, latency_cell, shmring::Kind::spsc, false);
  if (m == "shm-spsc-claim") return run_cell<ShmLink>(c, latency_cell, shmring::Kind::spsc, true);
  if (m == "shm-mpsc") return run_cell<ShmLink>(c, latency_cell, shmring::Kind::mpsc, false);
  if (m == "pipe") return run_cell<StreamLink>(c, latency_cell, false);
  if (m == "uds") return run_cell<StreamLink>(c, latency_cell, true);
  if (m == "pmq") return run_cell<PosixMqLink>(c, latency_cell);
  if (m == "boost-mq") return run_cell<BoostMqLink>(c, latency_cell);
  if (m == "iceoryx") {
    if (!iceoryx_available()) fatal("iceoryx was not found at build time");
    return run_cell<IoxLink>(c, latency_cell);
  }
#if SHMRING_BENCH_RWQ
  if (m == "rwq") return with_size<RwqLink>(c, latency_cell);
#endif
#if SHMRING_BENCH_CQ
  if (m == "cq") return with_size<CqLink>(c, latency_cell);
#endif
  if (m == "futex" || m == "eventfd" || m == "cacheline") {
    if (!latency_cell) fatal("%s is a round-trip reference only", m.c_str());
    if (m == "futex") return run_cell<FutexLink>(c, true);
    if (m == "eventfd") return run_cell<EventfdLink>(c, true);
    return cacheline_probe(c, m);
  }
  fatal("unknown or unavailable mechanism '%s' (see: shmring-bench list)", m.c_str());
}

// An idle consumer: blocked in read(..., seconds) on an empty ring; CPU time from getrusage.
int idle(const Cell& c) {
  ShmLink link(c, "idle", shmring::Kind::spsc, false);
  Control& ctl = *make_control();
  std::vector<Role> roles;
  roles.push_back(
      {-1, [&]() -> int {
         auto ring = shmring::Ring::open(c.tag + ".idle");
         if (!ring) fatal("%s", ring.error().message.c_str());
         shmring::ConsumerOptions o;
         o.wait.strategy = c.mode == Mode::park ? shmring::WaitStrategy::park
                                                : shmring::WaitStrategy::spin_then_park;
         auto consumer = ring->attach_consumer(o);
         if (!consumer) fatal("%s", consumer.error().message.c_str());
         ctl.ready.fetch_add(1);
         rusage before{}, after{};
         getrusage(RUSAGE_SELF, &before);
         const uint64_t t0 = now_ns();
         const shmring::PollResult r = consumer->read([](const shmring::RecordView&) {}, 64,
                                                      static_cast<int64_t>(c.seconds * 1e9));
         const uint64_t t1 = now_ns();
         getrusage(RUSAGE_SELF, &after);
         if (r.status != shmring::Status::timeout) {
           ctl.fail(std::string("read returned ") + shmring::to_string(r.status));
           return 1;
         }
         auto ns = [](const timeval& tv) {
           return static_cast<uint64_t>(tv.tv_sec) * 1'000'000'000u +
                  static_cast<uint64_t>(tv.tv_usec) * 1000u;
         };
         ctl.cpu_ns =
             ns(after.ru_utime) + ns(after.ru_stime) - ns(before.ru_utime) - ns(before.ru_stime);
         ctl.wall_ns = t1 - t0;
         ctl.voluntary_switches = static_cast<uint64_t>(after.ru_nvcsw - before.ru_nvcsw);
         ctl.involuntary_switches = static_cast<uint64_t>(after.ru_nivcsw - before.ru_nivcsw);
         return 0;
       }});
  const bool ok = run_roles(roles, false, c.seconds + 30, ctl);
  JsonLine out;
  out.add("kind", "idle")
      .add("mech", "shm-spsc")
      .add("mode", to_string(c.mode))
      .add("wall_s", static_cast<double>(ctl.wall_ns) / 1e9)
      .add("cpu_ms", static_cast<double>(ctl.cpu_ns) / 1e6)
      .add("cpu_percent",
           ctl.wall_ns ? 100.0 * static_cast<double>(ctl.cpu_ns) / static_cast<double>(ctl.wall_ns)
                       : 0.0)
      .add("voluntary_switches", ctl.voluntary_switches)
      .add("involuntary_switches", ctl.involuntary_switches)
      .add("valid", ok);
  if (!ok) out.add("error", ctl.error);
  out.print();
  return ok ? 0 : 1;
}

int list() {
  std::printf("{\"mechanisms\": [");
  bool first = true;
  for (const MechInfo& m : mechanisms()) {
    std::printf(
        "%s\n  {\"id\": \"%s\", \"label\": \"%s\", \"throughput\": %s, "
        "\"latency_modes\": \"%s\", \"available\": %s}",
        first ? "" : ",", m.id, m.label, m.throughput ? "true" : "false", m.modes,
        m.available ? "true" : "false");
    first = false;
  }
  std::printf("\n]}\n");
  return 0;
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "shmring-bench: %s\n"
               "usage: shmring-bench list | throughput | latency | probe | idle [options]\n"
               "  --mech ID          a mechanism from `list`\n"
               "  --size BYTES       message size (>= 8)\n"
               "  --mode M           busy | block | park\n"
               "  --producers N      shm-mpsc only\n"
               "  --seconds S        throughput: send for S seconds; idle: wait S seconds\n"
               "  --count N          throughput: send exactly N messages per producer\n"
               "  --gap-us U         throughput: busy pause after each message\n"
               "  --round-trips N    latency: measured round trips (after --warmup N)\n"
               "  --queue-bytes B    buffer given to every mechanism (>= 16 messages)\n"
               "  --pin              producer / pinger on the first CPU, the peer on the second\n"
               "  --timeout S        kill the cell after S seconds\n",
               why);
  std::exit(2);
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  using namespace bench;
  if (argc < 2) usage("no command");
  const std::string command = argv[1];
  Cell c;
  c.tag = "sb." + std::to_string(getpid());
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value after " + a).c_str());
      return argv[++i];
    };
    if (a == "--mech") {
      c.mech = value();
    } else if (a == "--size") {
      c.size = static_cast<uint32_t>(std::stoul(value()));
    } else if (a == "--mode") {
      if (!parse_mode(value(), c.mode)) usage("--mode is busy, block or park");
    } else if (a == "--producers") {
      c.producers = std::stoi(value());
    } else if (a == "--seconds") {
      c.seconds = std::stod(value());
    } else if (a == "--count") {
      c.count = std::stoull(value());
    } else if (a == "--gap-us") {
      c.gap_ns = std::stoull(value()) * 1000;
    } else if (a == "--round-trips") {
      c.round_trips = std::stoull(value());
    } else if (a == "--warmup") {
      c.warmup = std::stoull(value());
    } else if (a == "--queue-bytes") {
      c.queue_bytes = static_cast<uint32_t>(std::stoul(value()));
    } else if (a == "--pin") {
      c.pin = true;
    } else if (a == "--timeout") {
      c.timeout_s = std::stod(value());
    } else {
      usage(("unknown option " + a).c_str());
    }
  }
  if (c.size < 8) usage("--size must be at least 8 (the sequence word)");
  if (c.producers < 1 || c.producers > 16) usage("--producers is 1..16");
  if (command == "list") return list();
  if (command == "throughput") {
    if (c.mech.empty()) usage("--mech is required");
    return dispatch(c, false);
  }
  if (command == "latency") {
    if (c.mech.empty()) usage("--mech is required");
    return dispatch(c, true);
  }
  if (command == "probe") {
    c.mech = "cacheline";
    c.mode = Mode::busy;
    return dispatch(c, true);
  }
  if (command == "idle") return idle(c);
  usage(("unknown command " + command).c_str());
}

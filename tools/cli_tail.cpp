// shmring CLI — `tail`: the newest records of a ring, and with -f the records that follow.
// A broadcast ring is read as one more reader (it never slows the producer or other readers).
// An spsc or mpsc ring is only peeked at through a read-only mapping: its consumer still gets
// every record, and tail polls (it cannot sleep on the ring without writing to it).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "cli_commands.hpp"
#include "cli_common.hpp"
#include "cli_format.hpp"
#include "cli_inspect.hpp"
#include "cli_terminal.hpp"

namespace shmring::tools {

const char* const kTailHelp =
    "usage: shmring tail NAME [-n N] [-f [--count N] [--timeout-ms MS]] [--hex]\n"
    "\n"
    "Prints the last N records held in ring NAME, one payload per line (as text when\n"
    "it is printable UTF-8, otherwise as 0x and hex digits, like 'shmring recv').\n"
    "With -f it then keeps printing new records until Ctrl-C, --count or --timeout-ms.\n"
    "\n"
    "A broadcast ring is followed as one more reader: it never slows the producer,\n"
    "and when the producer overtakes it, tail says on stderr how many records it lost.\n"
    "An spsc or mpsc ring is only peeked at, read-only: nothing is consumed, and its\n"
    "consumer still receives every record. tail then polls every --interval-ms, and\n"
    "records the consumer takes between two polls are not shown (stderr says so).\n"
    "\n"
    "  -n, --lines N     records to print first (default 10; 0: only new ones)\n"
    "  -f, --follow      keep printing new records\n"
    "  --count N         with -f: exit after N new records\n"
    "  --timeout-ms MS   with -f: exit after MS milliseconds (exit 0)\n"
    "  --interval-ms MS  spsc/mpsc: time between two looks at the ring (default 100)\n"
    "  --hex             print every payload as hex\n"
    "  --global          Windows: the ring is in Global\\\n";

namespace {

struct TailOptions {
  uint64_t lines = 10;
  bool follow = false;
  std::optional<uint64_t> count;
  std::optional<int64_t> timeout_ns;
  int64_t interval_ns = 100'000'000;
  bool hex = false;
};

std::string format_payload(const std::byte* data, uint32_t size, bool hex) {
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  return hex ? hex_string(p, size) : payload_line(p, size);
}

void emit(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
}

void flush_stdout() {
  if (std::fflush(stdout) != 0 || std::ferror(stdout))
    fail(kExitError, std::string("writing standard output: ") + std::strerror(errno));
}

// Counts new records and the follow deadline.
class FollowLimits {
 public:
  explicit FollowLimits(const TailOptions& o)
      : o_(o),
        deadline_(o.timeout_ns ? platform::monotonic_ns() + static_cast<uint64_t>(*o.timeout_ns)
                               : UINT64_MAX) {}
  bool done() const { return (o_.count && printed_ >= *o_.count) || expired(); }
  bool expired() const { return platform::monotonic_ns() >= deadline_; }
  void printed() { ++printed_; }
  uint64_t remaining() const { return o_.count ? *o_.count - printed_ : UINT64_MAX; }
  // How long the next wait may be (ms), at most `slice_ms`.
  int wait_ms(int slice_ms) const {
    if (deadline_ == UINT64_MAX) return slice_ms;
    const uint64_t now = platform::monotonic_ns();
    if (now >= deadline_) return 0;
    const uint64_t left = (deadline_ - now + 999'999) / 1'000'000;
    return left < static_cast<uint64_t>(slice_ms) ? static_cast<int>(left) : slice_ms;
  }

 private:
  const TailOptions& o_;
  uint64_t deadline_;
  uint64_t printed_ = 0;
};

// ---- broadcast: one more reader --------------------------------------------------------------

int tail_broadcast(Ring& ring, const std::string& name, const TailOptions& o) {
  ReaderOptions ro;
  ro.join = JoinAt::oldest;
  Reader reader = must(ring.attach_reader(ro));
  const uint32_t end = ring.stats().producer_position;  // catch up to here, then follow
  std::deque<std::string> last;
  bool failed = false;
  auto keep = [&](const RecordView& r) {
    try {
      last.push_back(format_payload(r.data, r.size, o.hex));
      if (last.size() > o.lines) last.pop_front();
    } catch (...) {
      failed = true;
    }
  };
  for (;;) {
    if (static_cast<int32_t>(reader.position() - end) >= 0) break;
    const PollResult r = reader.poll(keep, 256);
    if (r.status == Status::corrupt) fail(kExitError, reader.last_error());
    if (r.count == 0) break;
  }
  if (failed) fail(kExitError, "out of memory");
  for (const std::string& line : last) emit(line);
  flush_stdout();
  if (!o.follow) return kExitOk;

  Terminal terminal(false);  // Ctrl-C ends the loop, so the reader slot is released
  FollowLimits limits(o);
  uint64_t lost_reported = reader.lost();
  while (!limits.done() && !terminal.quit_requested()) {
    const uint64_t max = std::min<uint64_t>(256, limits.remaining());
    const PollResult r = reader.read(
        [&](const RecordView& v) {
          try {
            emit(format_payload(v.data, v.size, o.hex));
            limits.printed();
          } catch (...) {
            failed = true;
          }
        },
        static_cast<std::size_t>(max), int64_t{limits.wait_ms(100)} * 1'000'000);
    if (failed) fail(kExitError, "out of memory");
    if (r.status == Status::corrupt) fail(kExitError, reader.last_error());
    if (reader.lost() != lost_reported) {
      flush_stdout();
      std::fprintf(stderr,
                   "shmring tail: ring '%s': lost %llu records (overtaken by the producer)\n",
                   name.c_str(), static_cast<unsigned long long>(reader.lost() - lost_reported));
      lost_reported = reader.lost();
    }
    if (r.count > 0) flush_stdout();
    (void)terminal.wait_quit(0);
  }
  return kExitOk;
}

// ---- spsc / mpsc: peek through a read-only mapping -------------------------------------------

struct Peeked {
  std::vector<std::string> lines;
  inspect::WalkResult result;
};

Peeked peek_from(const std::string& name, const platform::Region& image, uint32_t from,
                 uint64_t max, bool hex) {
  Peeked p;
  p.result = inspect::walk(name, image.data(), image.size(), from, static_cast<std::size_t>(max),
                           [&](const inspect::WalkedRecord& r) {
                             if (r.state != inspect::RecordState::committed) return true;
                             p.lines.push_back(format_payload(r.payload, r.payload_size, hex));
                             return true;
                           });
  // An in-flight record is visited (and counted) but has no payload: it is not a line.
  settle_stop(image, p.result);
  return p;
}

int tail_peek(const std::string& name, const Probe& probe, const TailOptions& o) {
  const platform::Region& image = probe.image;
  const auto* h = reinterpret_cast<const layout::RingHeader*>(image.data());
  const uint64_t one_lap = h->capacity / layout::kRecordAlign;
  uint32_t position = 0;
  std::string reason;
  if (!inspect::start_position(name, image.data(), image.size(), inspect::From::consumer, position,
                               reason))
    fail(kExitError, reason);

  Peeked first = peek_from(name, image, position, one_lap, o.hex);
  if (first.result.stop == inspect::WalkStop::corrupt) fail(kExitError, first.result.reason);
  const std::size_t skip = first.lines.size() > o.lines ? first.lines.size() - o.lines : 0;
  for (std::size_t i = skip; i < first.lines.size(); ++i) emit(first.lines[i]);
  flush_stdout();
  if (!o.follow) return kExitOk;
  position = first.result.position;
  bool resync = first.result.stop == inspect::WalkStop::overwritten;

  Terminal terminal(false);
  FollowLimits limits(o);
  const int interval_ms = static_cast<int>(o.interval_ns / 1'000'000);
  while (!limits.done() && !terminal.wait_quit(limits.wait_ms(interval_ms))) {
    uint32_t consumer = 0;
    if (!inspect::start_position(name, image.data(), image.size(), inspect::From::consumer,
                                 consumer, reason))
      fail(kExitError, reason);
    const uint32_t producer = h->producer_position.load(std::memory_order_acquire);
    if (resync || position - consumer > producer - consumer) {  // the consumer passed us
      resync = false;
      std::fprintf(stderr,
                   "shmring tail: ring '%s': the consumer took records before tail saw them; "
                   "resuming at the consumer position %u\n",
                   name.c_str(), consumer);
      position = consumer;
    }
    Peeked next = peek_from(name, image, position, std::min(one_lap, limits.remaining()), o.hex);
    if (next.result.stop == inspect::WalkStop::corrupt) fail(kExitError, next.result.reason);
    for (const std::string& line : next.lines) {
      emit(line);
      limits.printed();
    }
    if (!next.lines.empty()) flush_stdout();
    position = next.result.position;
    resync = next.result.stop == inspect::WalkStop::overwritten;  // consumed under us
  }
  return kExitOk;
}

}  // namespace

int cmd_tail(const std::vector<std::string>& argv) {
  const Args args(argv, {{"-n", true},
                         {"--lines", true},
                         {"-f", false},
                         {"--follow", false},
                         {"--count", true},
                         {"--timeout-ms", true},
                         {"--interval-ms", true},
                         {"--hex", false},
                         {"--global", false}});
  if (args.help()) return print_help(kTailHelp);
  const std::string name = ring_name_argument(args.positionals(), false);
  TailOptions o;
  if (auto n = args.value("-n")) o.lines = parse_uint(*n, "-n", UINT64_MAX);
  if (auto n = args.value("--lines")) o.lines = parse_uint(*n, "--lines", UINT64_MAX);
  o.follow = args.has("-f") || args.has("--follow");
  if (auto c = args.value("--count")) o.count = parse_uint(*c, "--count", UINT64_MAX);
  if (auto t = args.value("--timeout-ms")) o.timeout_ns = parse_timeout_ms(*t, "--timeout-ms");
  if ((o.count || o.timeout_ns) && !o.follow) usage_error("--count and --timeout-ms need -f");
  if (auto t = args.value("--interval-ms")) {
    o.interval_ns = parse_timeout_ms(*t, "--interval-ms");
    if (o.interval_ns == 0) usage_error("--interval-ms must be at least 1");
  }
  o.hex = args.has("--hex");
  const bool global = args.has("--global");

  const Probe probe = probe_object(name, global);
  if (probe.type == ObjectType::counters)
    fail(kExitError,
         "'" + name + "' is a counters region, not a ring: see 'shmring counters " + name + "'");
  if (probe.type != ObjectType::ring) fail(kExitError, probe.reason);
  const auto* h = reinterpret_cast<const layout::RingHeader*>(probe.image.data());
  if (h->kind == static_cast<uint32_t>(Kind::broadcast)) {
    OpenOptions options;
    options.global_namespace = global;
    Ring ring = must(Ring::open(name, options));
    return tail_broadcast(ring, name, o);
  }
  return tail_peek(name, probe, o);
}

}  // namespace shmring::tools

// shmring CLI — `dump`: walks the records of a ring without consuming them and without writing a
// byte of the mapping (it is mapped read-only; the walker is core/include/shmring/inspect.hpp).
#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "cli_commands.hpp"
#include "cli_common.hpp"
#include "cli_format.hpp"
#include "cli_inspect.hpp"

namespace shmring::tools {

const char* const kDumpHelp =
    "usage: shmring dump NAME [--from consumer|oldest|POSITION] [--max N]\n"
    "                         [--format text|hex|json]\n"
    "\n"
    "Prints the records held in ring NAME without consuming them: position, type,\n"
    "size, and the payload (as text when it is printable UTF-8, else as hex). The\n"
    "ring is mapped read-only and never written, so dump is safe on a live ring (a\n"
    "record that changes underneath is reported, not misread), on a ring whose\n"
    "producer died mid-record, and on a corrupted one. The last line says where the\n"
    "walk stopped and why:\n"
    "  end          reached the producer position\n"
    "  max          printed N records (--max)\n"
    "  in_flight    mpsc: a record is claimed but not committed yet (shown, with the\n"
    "               process that claimed it); later records wait behind it\n"
    "  overwritten  the consumer (or, broadcast, the producer) moved past the walk;\n"
    "               run dump again\n"
    "  corrupt      an impossible header or record: the reason names the position\n"
    "\n"
    "  --from WHERE   consumer: the oldest unread record (spsc, mpsc) or the newest\n"
    "                 record (broadcast); oldest: the oldest record still held (the\n"
    "                 default; for spsc and mpsc the same as consumer); or a ring\n"
    "                 POSITION, decimal or 0x hex, that starts a record\n"
    "  --max N        print at most N records (default: capacity / 8)\n"
    "  --format F     text (default), hex (every payload as a hex dump) or json\n"
    "  --global       Windows: the ring is in Global\\\n"
    "\n"
    "exit status: 0 when the walk ended normally (end, max, in_flight, overwritten),\n"
    "1 when the ring is corrupt or cannot be opened, 2 usage error\n";

namespace {

enum class Format { text, hex, json };

struct DumpContext {
  std::string name;
  Format format = Format::text;
  JsonWriter json;
};

std::string record_prefix(const inspect::WalkedRecord& r, bool broadcast) {
  std::string s = "[" + std::to_string(r.position) + " @" + std::to_string(r.index) + "]";
  if (r.state == inspect::RecordState::claimed) {
    const uint32_t claimed = static_cast<uint32_t>(-static_cast<int64_t>(r.length));
    return s + " CLAIMED, not committed: " + std::to_string(claimed) + " bytes (" +
           std::to_string(claimed - layout::kRecordHeaderSize) + " payload)";
  }
  if (r.state == inspect::RecordState::reserved)
    return s + " RESERVED, not committed: header not written yet";
  s += " type " + std::to_string(r.type);
  if (broadcast) s += " seq " + std::to_string(r.sequence);
  s += ", " + std::to_string(r.payload_size) + (r.payload_size == 1 ? " byte" : " bytes");
  return s;
}

void print_record(DumpContext& c, const inspect::WalkedRecord& r, bool broadcast) {
  const auto* p = reinterpret_cast<const unsigned char*>(r.payload);
  const bool committed = r.state == inspect::RecordState::committed;
  if (c.format == Format::json) {
    c.json.begin_object();
    c.json.field("position", r.position);
    c.json.field("index", r.index);
    c.json.field("length", r.length);
    c.json.field("state", record_state_name(r.state));
    if (committed) {
      c.json.field("type", r.type);
      if (broadcast) c.json.field("sequence", r.sequence);
      c.json.field("size", r.payload_size);
      if (printable_text(p, r.payload_size))
        c.json.field("text", std::string(reinterpret_cast<const char*>(p), r.payload_size));
      c.json.field("hex", hex_string(p, r.payload_size));
    }
    c.json.end_object();
    return;
  }
  std::string line = record_prefix(r, broadcast);
  if (committed && c.format == Format::text) {
    line += ": " + payload_line(p, r.payload_size);
  }
  line += '\n';
  if (committed && c.format == Format::hex) line += hex_dump(p, r.payload_size, "    ");
  std::fwrite(line.data(), 1, line.size(), stdout);
}

std::string owner_text(const std::string& name, uint32_t position) {
  OpenOptions options;
  options.read_only = true;
  options.ready_timeout_ns = 0;
  auto ring = Ring::open(name, options);
  if (!ring) return "";
  const Stats s = ring->stats();
  const uint64_t now = platform::monotonic_ns();
  for (const ProducerStats& p : s.producers) {
    if (p.claim_active && position - p.claim_position < std::max(p.claim_length, 1u))
      return "claimed by pid " + std::to_string(p.pid) + " (" + (p.alive ? "alive" : "DEAD") +
             "), producer last active " + age_text(p.last_activity_ns, now);
  }
  return "no producer slot claims it";
}

}  // namespace

int cmd_dump(const std::vector<std::string>& argv) {
  const Args args(argv,
                  {{"--from", true}, {"--max", true}, {"--format", true}, {"--global", false}});
  if (args.help()) return print_help(kDumpHelp);
  DumpContext c;
  c.name = ring_name_argument(args.positionals(), false);
  if (auto f = args.value("--format")) {
    if (*f == "text")
      c.format = Format::text;
    else if (*f == "hex")
      c.format = Format::hex;
    else if (*f == "json")
      c.format = Format::json;
    else
      usage_error("bad value '" + *f + "' for --format: expected text, hex or json");
  }
  std::string from = "oldest";
  std::optional<uint32_t> from_position;
  if (auto f = args.value("--from")) {
    from = *f;
    if (from != "consumer" && from != "oldest") {
      from_position = parse_position(from, "--from");
      if (*from_position % layout::kRecordAlign != 0)
        usage_error("--from " + from + ": a record position is a multiple of 8");
      from = "position";
    }
  }
  std::optional<uint64_t> max;
  if (auto m = args.value("--max")) max = parse_uint(*m, "--max", UINT64_MAX);

  const Probe probe = probe_object(c.name, args.has("--global"));
  if (probe.type == ObjectType::unreadable) fail(kExitError, probe.reason);
  if (probe.type == ObjectType::counters)
    fail(kExitError, "'" + c.name + "' is a counters region, not a ring: see 'shmring counters " +
                         c.name + "'");
  const std::byte* base = probe.image.data();
  const std::size_t size = probe.image.size();

  // Where to start. A header that does not validate stops the walk before the first record.
  uint32_t start = 0;
  std::string reason;
  bool header_ok = probe.type == ObjectType::ring;
  if (!header_ok) reason = probe.reason;
  if (header_ok && !from_position) {
    header_ok = inspect::start_position(
        c.name, base, size, from == "consumer" ? inspect::From::consumer : inspect::From::oldest,
        start, reason);
  }
  if (from_position) {
    start = *from_position;
    // A POSITION must lie among the records held: [consumer, producer) or, broadcast, the last
    // lap below the producer position. (Outside, the walker would call the ring corrupt.)
    if (header_ok) {
      const auto* hh = reinterpret_cast<const layout::RingHeader*>(base);
      const uint32_t tail = hh->producer_position.load(std::memory_order_acquire);
      const uint32_t low = hh->kind == static_cast<uint32_t>(Kind::broadcast)
                               ? tail - std::min(hh->capacity, tail - hh->initial_position)
                               : hh->consumer_position.load(std::memory_order_acquire);
      if (start - low > tail - low)
        fail(kExitError, "ring '" + c.name + "': position " + std::to_string(start) +
                             " is outside the records held, [" + std::to_string(low) + ", " +
                             std::to_string(tail) + ")");
    }
  }

  const auto* h = reinterpret_cast<const layout::RingHeader*>(base);
  const bool broadcast = header_ok && h->kind == static_cast<uint32_t>(Kind::broadcast);
  inspect::WalkResult result;
  if (header_ok) {
    const uint64_t limit = max ? *max : h->capacity / layout::kRecordAlign;
    const uint32_t producer = h->producer_position.load(std::memory_order_acquire);
    if (c.format == Format::json) {
      c.json.begin_object();
      c.json.field("ring", c.name);
      c.json.field("kind", kind_name(static_cast<Kind>(h->kind)));
      c.json.field("capacity", h->capacity);
      c.json.field("from", from);
      c.json.field("start_position", start);
      c.json.field("producer_position", producer);
      c.json.begin_array("records");
    } else {
      std::printf("ring '%s' (%s, capacity %u): from %s position %u, producer position %u\n",
                  c.name.c_str(), kind_name(static_cast<Kind>(h->kind)), h->capacity,
                  from == "position" ? "given" : from.c_str(), start, producer);
    }
    result = inspect::walk(c.name, base, size, start, static_cast<std::size_t>(limit),
                           [&](const inspect::WalkedRecord& r) {
                             print_record(c, r, broadcast);
                             return true;
                           });
    settle_stop(probe.image, result);  // a live ring: overwritten, not corrupt
    if (c.format == Format::json) c.json.end_array();
  } else {
    result.stop = inspect::WalkStop::corrupt;
    result.reason = reason;
    if (c.format == Format::json) {
      c.json.begin_object();
      c.json.field("ring", c.name);
      c.json.begin_array("records");
      c.json.end_array();
    } else {
      std::printf("ring '%s': cannot walk: the header does not check out\n", c.name.c_str());
    }
  }

  std::string detail;
  switch (result.stop) {
    case inspect::WalkStop::end:
      detail = "reached the producer position";
      break;
    case inspect::WalkStop::max_records:
      detail = "--max reached; more records may follow";
      break;
    case inspect::WalkStop::in_flight:
      detail = owner_text(c.name, result.position);
      break;
    case inspect::WalkStop::overwritten:
    case inspect::WalkStop::corrupt:
    case inspect::WalkStop::stopped:
      detail = result.reason;
      break;
  }
  if (c.format == Format::json) {
    c.json.begin_object("stop");
    c.json.field("reason", walk_stop_name(result.stop));
    c.json.field("position", result.position);
    c.json.field("records", static_cast<uint64_t>(result.records));
    c.json.field("detail", detail);
    c.json.end_object();
    c.json.end_object();
    std::printf("%s\n", c.json.str().c_str());
  } else {
    std::printf("-- %s at position %u after %zu record%s: %s\n", walk_stop_name(result.stop),
                result.position, result.records, result.records == 1 ? "" : "s", detail.c_str());
  }
  if (std::fflush(stdout) != 0) return kExitError;
  if (result.stop == inspect::WalkStop::corrupt) fail(kExitError, result.reason);
  return kExitOk;
}

}  // namespace shmring::tools

// shmring CLI — `counters`: the live counters of a counters region, or a ring's own counters in
// the same form. Read-only.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli_commands.hpp"
#include "cli_common.hpp"
#include "cli_format.hpp"
#include "cli_inspect.hpp"
#include "cli_terminal.hpp"

namespace shmring::tools {

const char* const kCountersHelp =
    "usage: shmring counters NAME [--json] [--watch [--interval-ms MS] [--iterations N]]\n"
    "\n"
    "Prints the live counters of counters region NAME: slot, generation, type id,\n"
    "owner process (and whether it is alive), label and value. When NAME is a ring,\n"
    "prints the ring's own counters (positions, messages, bytes, sleeps...) in the\n"
    "same form. Maps NAME read-only; owners keep updating while it reads.\n"
    "\n"
    "  --json            print one JSON object instead of text\n"
    "  --watch           refresh every MS milliseconds, with a rate per second for\n"
    "                    each counter, until q or Ctrl-C (plain blocks of lines when\n"
    "                    standard output is not a terminal)\n"
    "  --interval-ms MS  time between refreshes (default 1000)\n"
    "  --iterations N    with --watch: exit after N refreshes\n";

namespace {

struct Table {
  std::string title;
  bool region = false;  // a counters region (else a ring's own counters)
  std::vector<CounterValue> rows;
  uint64_t at_ns = 0;
};

class Source {
 public:
  Source(const std::string& name, ObjectType type) : name_(name) {
    if (type == ObjectType::counters) {
      region_.emplace(must(CountersRegion::open(name, /*read_only=*/true)));
    } else {
      ring_.emplace(open_ring_read_only(name));
    }
  }
  Table read() const {
    Table t;
    t.at_ns = platform::monotonic_ns();
    if (region_) {
      t.region = true;
      t.rows = region_->snapshot();
      t.title = "counters region '" + name_ + "': " + std::to_string(region_->slot_count()) +
                " slots, " + std::to_string(t.rows.size()) + " live";
    } else {
      const Stats s = ring_->stats();
      t.rows = ring_counters(s);
      t.title = "ring '" + name_ + "' (" + kind_name(s.kind) + "): the ring's own counters";
    }
    return t;
  }

 private:
  std::string name_;
  std::optional<CountersRegion> region_;
  std::optional<Ring> ring_;
};

std::string label_text(const std::string& label) {
  const auto* p = reinterpret_cast<const unsigned char*>(label.data());
  return printable_text(p, label.size()) ? label : hex_string(p, label.size());
}

// Rates per counter between two tables: matched by (slot, generation) in a region (a slot that
// was freed and reused is a new counter), by label for a ring.
std::map<std::string, double> rates(const Table& before, const Table& after) {
  std::map<std::string, double> out;
  if (after.at_ns <= before.at_ns) return out;
  const double seconds = static_cast<double>(after.at_ns - before.at_ns) / 1e9;
  auto key = [&](const CounterValue& c) {
    return after.region ? std::to_string(c.slot) + "/" + std::to_string(c.generation) : c.label;
  };
  std::map<std::string, uint64_t> old;
  for (const CounterValue& c : before.rows) old[key(c)] = c.value;
  for (const CounterValue& c : after.rows) {
    auto it = old.find(key(c));
    if (it != old.end())
      out[key(c)] = static_cast<double>(static_cast<int64_t>(c.value - it->second)) / seconds;
  }
  return out;
}

std::string pad_left(double rate) {
  std::string s = si_number(rate);
  if (s.size() < 12) s.insert(0, 12 - s.size(), ' ');
  return s;
}

std::string render(const Table& t, const std::map<std::string, double>* rate_of) {
  std::size_t label_width = 5;
  for (const CounterValue& c : t.rows)
    label_width = std::max(label_width, label_text(c.label).size());
  const int lw = static_cast<int>(label_width);
  std::string out = t.title + "\n";
  char buf[512];
  if (t.region)
    std::snprintf(buf, sizeof buf, "%-5s %-5s %-10s %-16s %-*s %20s", "SLOT", "GEN", "TYPE",
                  "OWNER", lw, "LABEL", "VALUE");
  else
    std::snprintf(buf, sizeof buf, "%-*s %20s", lw, "LABEL", "VALUE");
  out += buf;
  if (rate_of != nullptr) out += "        RATE/s";
  out += '\n';
  for (const CounterValue& c : t.rows) {
    const std::string label = label_text(c.label);
    if (t.region) {
      const std::string owner =
          std::to_string(c.owner_pid) + (c.owner_alive ? " (alive)" : " (DEAD)");
      std::snprintf(buf, sizeof buf, "%-5u %-5u %-10u %-16s %-*s %20llu", c.slot, c.generation,
                    c.type_id, owner.c_str(), lw, label.c_str(),
                    static_cast<unsigned long long>(c.value));
    } else {
      std::snprintf(buf, sizeof buf, "%-*s %20llu", lw, label.c_str(),
                    static_cast<unsigned long long>(c.value));
    }
    out += buf;
    if (rate_of != nullptr) {
      const std::string key =
          t.region ? std::to_string(c.slot) + "/" + std::to_string(c.generation) : c.label;
      auto it = rate_of->find(key);
      out += it == rate_of->end() ? std::string("             -") : "  " + pad_left(it->second);
    }
    out += '\n';
  }
  if (t.rows.empty()) out += "(no live counters)\n";
  return out;
}

void print_json(const std::string& name, const Table& t) {
  JsonWriter j;
  j.begin_object();
  j.field("name", name);
  j.field("type", t.region ? "counters" : "ring");
  j.begin_array("counters");
  for (const CounterValue& c : t.rows) {
    j.begin_object();
    j.field("label", label_text(c.label));
    j.field("value", c.value);
    if (t.region) {
      j.field("slot", c.slot);
      j.field("generation", c.generation);
      j.field("type_id", c.type_id);
      j.field("owner_pid", c.owner_pid);
      j.field("owner_alive", c.owner_alive);
    }
    j.end_object();
  }
  j.end_array();
  j.end_object();
  std::printf("%s\n", j.str().c_str());
}

std::string clock_line() {
  const std::time_t secs = static_cast<std::time_t>(platform::wall_clock_ns() / 1'000'000'000u);
  std::tm tm{};
  char buf[32];
  if (!utc_time_of(secs, tm) || std::strftime(buf, sizeof buf, "%H:%M:%SZ", &tm) == 0) return "?";
  return buf;
}

}  // namespace

int cmd_counters(const std::vector<std::string>& argv) {
  const Args args(
      argv,
      {{"--json", false}, {"--watch", false}, {"--interval-ms", true}, {"--iterations", true}});
  if (args.help()) return print_help(kCountersHelp);
  const std::string name = ring_name_argument(args.positionals(), false);
  const bool watch = args.has("--watch");
  if (watch && args.has("--json")) usage_error("--json and --watch exclude each other");
  if (!watch && (args.has("--interval-ms") || args.has("--iterations")))
    usage_error("--interval-ms and --iterations need --watch");
  int64_t interval_ns = 1'000'000'000;
  if (auto t = args.value("--interval-ms")) {
    interval_ns = parse_timeout_ms(*t, "--interval-ms");
    if (interval_ns == 0 || interval_ns > 3'600'000'000'000)
      usage_error("--interval-ms must be in [1, 3600000]");
  }
  std::optional<uint64_t> iterations;
  if (auto n = args.value("--iterations")) iterations = parse_uint(*n, "--iterations", UINT64_MAX);

  const Probe probe = probe_object(name);
  if (probe.type != ObjectType::ring && probe.type != ObjectType::counters)
    fail(kExitError, probe.reason);
  const Source source(name, probe.type);
  Table previous = source.read();
  if (!watch) {
    if (args.has("--json"))
      print_json(name, previous);
    else
      std::fputs(render(previous, nullptr).c_str(), stdout);
    return std::fflush(stdout) == 0 ? kExitOk : kExitError;
  }

  Terminal terminal(Terminal::stdout_is_terminal());
  const int interval_ms = static_cast<int>(interval_ns / 1'000'000);
  if (terminal.interactive()) terminal.draw(render(previous, nullptr) + "\nq: quit");
  for (uint64_t done = 0; !iterations || done < *iterations; ++done) {
    if (terminal.wait_quit(interval_ms)) break;
    const Table now = source.read();
    const auto r = rates(previous, now);
    if (terminal.interactive()) {
      terminal.draw(clock_line() + "  " + render(now, &r) + "\nq: quit");
    } else {
      std::printf("%s %s", clock_line().c_str(), render(now, &r).c_str());
      if (std::fflush(stdout) != 0) return kExitError;
    }
    previous = now;
  }
  return kExitOk;
}

}  // namespace shmring::tools

// shmring CLI — `ls`: every ring and counters region this user can see, read-only.
#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "cli_commands.hpp"
#include "cli_common.hpp"
#include "cli_format.hpp"
#include "cli_inspect.hpp"

namespace shmring::tools {

const char* const kLsHelp =
    "usage: shmring ls [--json] [--stale]\n"
    "\n"
    "Lists every shmring object this user can see (on Linux the entries\n"
    "/dev/shm/shmring.*): rings with their kind, capacity, fill level and attached\n"
    "processes, and counters regions with their slots. Each object is mapped\n"
    "read-only; nothing is written.\n"
    "\n"
    "STATE is 'live' when the creator or an attached process is alive, 'stale' when\n"
    "all of them are dead or nothing is attached (the object only takes memory: remove\n"
    "it with 'shmring rm'; a ring just made by 'shmring create' is stale until a\n"
    "process attaches), 'invalid: REASON' for an object that is neither a ring nor a\n"
    "counters region (garbage, truncated, or still being created), and\n"
    "'unreadable: REASON' when it cannot be opened (another user's, for instance).\n"
    "\n"
    "  --json    print a JSON array, one object per entry\n"
    "  --stale   list only stale objects\n";

namespace {

struct Entry {
  std::string name;
  std::string type;  // ring, counters, invalid, unreadable
  std::string kind;  // spsc / mpsc / broadcast / counters / -
  std::string capacity_text;
  uint64_t capacity = 0;  // bytes (ring) or slots (counters)
  uint64_t used = 0;      // bytes (ring) or live counters
  double fill = 0;
  uint32_t creator_pid = 0;
  bool creator_alive = false;
  std::vector<Peer> peers;
  bool stale = false;
  std::string error;
};

Entry describe_ring(const Probe& probe) {
  Entry e;
  e.name = probe.name;
  OpenOptions options;
  options.read_only = true;
  options.ready_timeout_ns = 0;
  auto ring = Ring::open(probe.name, options);
  if (!ring) {  // changed between the probe and the open
    e.type = "invalid";
    e.error = ring.error().message;
    return e;
  }
  const Stats s = ring->stats();
  e.type = "ring";
  e.kind = kind_name(s.kind);
  e.capacity = s.capacity;
  e.capacity_text = human_bytes(s.capacity);
  e.used = s.used_bytes;
  e.fill = fill_percent(s);
  e.creator_pid = s.creator_pid;
  e.creator_alive = platform::process_alive(s.creator_pid);
  e.peers = peers_of(s);
  e.stale = ring_is_stale(s);
  return e;
}

Entry describe_counters(const Probe& probe) {
  Entry e;
  e.name = probe.name;
  auto region = CountersRegion::open(probe.name, /*read_only=*/true);
  if (!region) {
    e.type = "invalid";
    e.error = region.error().message;
    return e;
  }
  const auto* h = reinterpret_cast<const layout::CountersHeader*>(probe.image.data());
  const std::vector<CounterValue> live = region->snapshot();
  e.type = "counters";
  e.kind = "counters";
  e.capacity = region->slot_count();
  e.capacity_text = std::to_string(e.capacity) + " slots";
  e.used = live.size();
  e.fill = e.capacity == 0 ? 0.0 : 100.0 * static_cast<double>(e.used) / e.capacity;
  e.creator_pid = h->creator_pid;
  e.creator_alive = platform::process_alive(h->creator_pid);
  std::set<uint32_t> owners;
  for (const CounterValue& c : live) {
    if (owners.insert(c.owner_pid).second) e.peers.push_back({"owner", c.owner_pid, c.owner_alive});
  }
  e.stale = !e.creator_alive &&
            std::none_of(e.peers.begin(), e.peers.end(), [](const Peer& p) { return p.alive; });
  return e;
}

Entry describe(const std::string& name) {
  const Probe probe = probe_object(name);
  switch (probe.type) {
    case ObjectType::ring:
      return describe_ring(probe);
    case ObjectType::counters:
      return describe_counters(probe);
    case ObjectType::invalid:
    case ObjectType::unreadable:
      break;
  }
  Entry e;
  e.name = name;
  e.type = probe.type == ObjectType::invalid ? "invalid" : "unreadable";
  e.error = probe.reason;
  return e;
}

std::string state_text(const Entry& e) {
  if (!e.error.empty()) return e.type + ": " + e.error;
  return e.stale ? "stale" : "live";
}

std::string peers_text(const Entry& e) {
  if (e.peers.empty()) return "none";
  std::string out;
  for (const Peer& p : e.peers) {
    if (!out.empty()) out += ", ";
    out += std::string(p.role) + " " + std::to_string(p.pid);
    if (!p.alive) out += " (dead)";
  }
  return out;
}

void print_text(const std::vector<Entry>& entries) {
  std::size_t name_width = 4;
  for (const Entry& e : entries) name_width = std::max(name_width, e.name.size());
  const int w = static_cast<int>(name_width);
  std::printf("%-*s  %-9s  %10s  %6s  %-6s  %-14s  %s\n", w, "NAME", "KIND", "CAPACITY", "FILL",
              "STATE", "CREATOR", "PEERS");
  for (const Entry& e : entries) {
    if (!e.error.empty()) {
      std::printf("%-*s  %-9s  %10s  %6s  %s\n", w, e.name.c_str(), "-", "-", "-",
                  state_text(e).c_str());
      continue;
    }
    char fill[16];
    std::snprintf(fill, sizeof fill, "%.1f%%", e.fill);
    const std::string creator = std::to_string(e.creator_pid) + (e.creator_alive ? "" : " (dead)");
    std::printf("%-*s  %-9s  %10s  %6s  %-6s  %-14s  %s\n", w, e.name.c_str(), e.kind.c_str(),
                e.capacity_text.c_str(), fill, state_text(e).c_str(), creator.c_str(),
                peers_text(e).c_str());
  }
}

void print_json(const std::vector<Entry>& entries) {
  JsonWriter j;
  j.begin_array();
  for (const Entry& e : entries) {
    j.begin_object();
    j.field("name", e.name);
    j.field("object", platform::object_name(e.name));
    j.field("type", e.type);
    if (!e.error.empty()) {
      j.field("state", e.type);
      j.field("error", e.error);
      j.end_object();
      continue;
    }
    j.field("kind", e.kind);
    if (e.type == "ring") {
      j.field("capacity", e.capacity);
      j.field("used_bytes", e.used);
    } else {
      j.field("slots", e.capacity);
      j.field("live_counters", e.used);
    }
    j.field("fill_percent", e.fill);
    j.field("state", e.stale ? "stale" : "live");
    j.field("stale", e.stale);
    j.field("creator_pid", e.creator_pid);
    j.field("creator_alive", e.creator_alive);
    j.begin_array("peers");
    for (const Peer& p : e.peers) {
      j.begin_object();
      j.field("role", p.role);
      j.field("pid", p.pid);
      j.field("alive", p.alive);
      j.end_object();
    }
    j.end_array();
    j.end_object();
  }
  j.end_array();
  std::printf("%s\n", j.str().c_str());
}

}  // namespace

int cmd_ls(const std::vector<std::string>& argv) {
  const Args args(argv, {{"--json", false}, {"--stale", false}});
  if (args.help()) return print_help(kLsHelp);
  if (!args.positionals().empty())
    usage_error("unexpected argument '" + args.positionals()[0] + "'");
  std::vector<Entry> entries;
  for (const std::string& name : list_object_names()) {
    Entry e = describe(name);
    if (args.has("--stale") && !e.stale) continue;
    entries.push_back(std::move(e));
  }
  if (args.has("--json"))
    print_json(entries);
  else
    print_text(entries);
  return std::fflush(stdout) == 0 ? kExitOk : kExitError;
}

}  // namespace shmring::tools

// shmring tools — read-only access for the inspection commands (ls, stat, dump, watch, tail,
// counters). Everything here maps objects read-only (PROT_READ on Linux): a stray write would
// fault rather than change a ring. Two OS-specific pieces are isolated: list_object_names()
// (enumeration) here, and the terminal handling in cli_terminal.hpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shmring/counters.hpp"
#include "shmring/inspect.hpp"
#include "shmring/platform.hpp"
#include "shmring/ring.hpp"

namespace shmring::tools {

// ---- finding and classifying objects --------------------------------------------------------

// Names of every shmring object this user can see, sorted ("orders" for
// /dev/shm/shmring.orders). Linux: the entries of /dev/shm. Windows: the Section objects named
// shmring.* in this session's \Sessions\<id>\BaseNamedObjects (Local\). The one function a
// port replaces.
std::vector<std::string> list_object_names();

enum class ObjectType {
  ring,       // a valid ring header
  counters,   // a valid counters region
  invalid,    // mapped, but neither (garbage, truncated, not yet published...)
  unreadable  // could not be opened (permission, vanished, bad name)
};

// A read-only look at one named object.
struct Probe {
  std::string name;
  ObjectType type = ObjectType::invalid;
  ErrorCode code = ErrorCode::ok;  // why invalid / unreadable
  std::string reason;              // the library's message, naming the object
  platform::Region image;          // read-only mapping (empty when unreadable)
};

Probe probe_object(const std::string& name, bool global_namespace = false);

// Opens NAME read-only as a ring, or fails (exit 1) saying what NAME is instead.
Ring open_ring_read_only(const std::string& name, bool global_namespace = false);

// ---- samples, rates, peers -------------------------------------------------------------------

struct Sample {
  Stats stats;
  uint64_t at_ns = 0;  // platform::monotonic_ns() when taken
};
Sample take_sample(const Ring& ring);

// Per-second rates between two samples of the same ring. Counters of peers that detached in
// between may make a difference negative; rates are clamped at 0.
struct Rates {
  double seconds = 0;
  double messages_in = 0, bytes_in = 0;    // written by producers
  double messages_out = 0, bytes_out = 0;  // read by the consumer / all readers
  double full = 0, producer_sleeps = 0, consumer_sleeps = 0;
};
Rates rates_between(const Sample& first, const Sample& second);

// One attached (or dead, unreleased) peer of a ring, for ls / stat / watch.
struct Peer {
  const char* role = "";  // "consumer", "producer", "reader"
  uint32_t pid = 0;
  bool alive = false;
  uint64_t last_activity_ns = 0;  // monotonic; attach and blocking waits only
};
std::vector<Peer> peers_of(const Stats& s);

// Nobody alive created or uses the object: the creator and every attached pid are dead (or
// nothing is attached). Such objects are candidates for `shmring rm`.
bool ring_is_stale(const Stats& s);

// Percentage of the capacity in use (spsc/mpsc: unread bytes; broadcast: retained bytes).
double fill_percent(const Stats& s);

// "3.2 s ago" from a monotonic timestamp, or "never" for 0.
std::string age_text(uint64_t last_activity_ns, uint64_t now_ns);

// ---- the record at the consumer position ----------------------------------------------------

// The first claimed-but-uncommitted record (mpsc) from the consumer position on: the consumer
// stops there until it is committed (or, once its producer is dead, recovered).
struct InFlight {
  inspect::WalkedRecord record;
  bool at_consumer = false;     // the consumer position is the claimed record: it waits now
  uint64_t records_before = 0;  // committed records between the consumer and the claim
  bool owner_known = false;     // a producer slot's claim covers the position
  uint32_t owner_pid = 0;
  bool owner_alive = false;
  uint64_t owner_last_activity_ns = 0;
};
// Walks `image` (a read-only ring mapping) from the consumer position, at most
// kInFlightSearch records, and returns the first claimed or reserved record. Never writes.
inline constexpr std::size_t kInFlightSearch = 4096;
std::optional<InFlight> find_in_flight(const std::string& name, const platform::Region& image,
                                       const Stats& stats);
// The walker judges a record before it checks that the record was still held, so on a live
// ring a record overwritten (broadcast) or consumed (spsc, mpsc) while it was being read can
// come back as `corrupt`, or (mpsc, zeroed by the consumer) as a reserved record, `in_flight`.
// This re-checks such a stop against the positions now: a position no longer held was
// overwritten. (Sound because positions only move forward: a position still held now was held
// while it was read, so a corrupt verdict there stands.)
void settle_stop(const platform::Region& image, inspect::WalkResult& result);
const char* record_state_name(inspect::RecordState state);
const char* walk_stop_name(inspect::WalkStop stop);

// ---- small parsing helpers -------------------------------------------------------------------

// A ring position: decimal or 0x hex, below 2^32.
uint32_t parse_position(const std::string& text, const char* what);

}  // namespace shmring::tools

// shmring — read-only inspection of a ring image: the walker behind `shmring dump` and `tail`
// on spsc/mpsc rings. Pure: no OS calls, never writes, and every access stays inside
// [base, base + size). Safe on live rings (records that change under it are reported, not
// misread) and on garbage (it stops and says where and why). Fuzzed (tests/fuzz).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shmring/layout.hpp"

namespace shmring::inspect {

enum class RecordState {
  committed,  // readable
  padding,    // wrap padding, aborted or recovered claim
  claimed,    // mpsc: reserved and being written (length < 0: size known)
  reserved    // mpsc: reserved, header not written yet (length 0)
};

struct WalkedRecord {
  uint32_t position = 0;
  uint32_t index = 0;
  int32_t length = 0;  // as stored
  uint32_t type = 0;
  RecordState state = RecordState::committed;
  uint64_t sequence = 0;               // broadcast only
  const std::byte* payload = nullptr;  // the walker's private copy, valid during the callback
  uint32_t payload_size = 0;
};

enum class WalkStop {
  end,          // reached the producer position
  max_records,  // delivered `max` records
  in_flight,    // mpsc: stopped at a claimed-but-uncommitted record (it is reported)
  overwritten,  // live ring: the record under the walker was consumed/overwritten meanwhile
  corrupt,      // impossible header, position or length; `reason` says which
  stopped       // the callback asked to stop
};

struct WalkResult {
  WalkStop stop = WalkStop::end;
  uint32_t position = 0;  // where the walk stopped
  std::size_t records = 0;
  std::string reason;
};

// Where a walk starts. consumer: the oldest unread record (spsc/mpsc) / newest (broadcast).
// oldest: the oldest retained record (broadcast: see JoinAt::oldest; spsc/mpsc: = consumer).
enum class From { consumer, oldest };

// Resolves `from` against the image; false (and reason) if the header is not a valid ring.
bool start_position(std::string_view name, const std::byte* base, std::size_t size, From from,
                    uint32_t& position, std::string& reason);

// Calls `visit(record)` for up to `max` records from `position` towards the producer position;
// return false from visit to stop. The image may be live and may be garbage.
template <class Visit>
WalkResult walk(std::string_view name, const std::byte* base, std::size_t size, uint32_t position,
                std::size_t max, Visit&& visit);

// ---- implementation -------------------------------------------------------------------------

// One step, out of line: reads the record at `position` into `copy` and validates it.
// Returns false with `result` filled when the walk must stop.
bool walk_step(std::string_view name, const std::byte* base, std::size_t size, uint32_t& position,
               std::vector<std::byte>& copy, WalkedRecord& out, WalkResult& result);

template <class Visit>
WalkResult walk(std::string_view name, const std::byte* base, std::size_t size, uint32_t position,
                std::size_t max, Visit&& visit) {
  WalkResult result;
  std::vector<std::byte> copy;
  for (;;) {
    if (result.records >= max) {
      result.stop = WalkStop::max_records;
      break;
    }
    WalkedRecord rec;
    if (!walk_step(name, base, size, position, copy, rec, result)) break;
    if (rec.state == RecordState::padding) continue;
    ++result.records;
    if (!visit(static_cast<const WalkedRecord&>(rec))) {
      result.stop = WalkStop::stopped;
      break;
    }
    if (rec.state == RecordState::claimed || rec.state == RecordState::reserved) {
      result.stop = WalkStop::in_flight;
      break;
    }
  }
  result.position = position;
  return result;
}

}  // namespace shmring::inspect

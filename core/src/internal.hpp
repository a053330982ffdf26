// shmring — internals shared by ring.cpp (spsc, mpsc) and broadcast.cpp. Not
// installed.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>

#include "shmring/layout.hpp"
#include "shmring/platform.hpp"
#include "shmring/ring.hpp"

namespace shmring::detail {

// The identity line as validated at open. Never re-read: a peer that rewrites line 0 later
// must not steer our indexing (capacity, slot counts) outside the mapping.
struct Geometry {
  uint32_t kind = 0, capacity = 0, max_record_size = 0, max_producers = 0, max_readers = 0;
  uint32_t header_size = 0, initial_position = 0;
};

struct Mapping {
  std::string name;
  Geometry geo;
  platform::Region region;
  layout::RingHeader* header = nullptr;
  layout::ProducerSlot* slots = nullptr;  // then ReaderSlot[max_readers] in broadcast rings
  std::byte* area = nullptr;
  platform::Notifier data_notifier;   // consumer / readers wait on data_signal
  platform::Notifier space_notifier;  // producers wait on space_signal
};

inline constexpr uint64_t kNoDeadline = std::numeric_limits<uint64_t>::max();
inline constexpr int64_t kUnfencedSliceNs = 1'000'000;    // park slice when heavy_fence failed
inline constexpr int64_t kLivenessSliceNs = 100'000'000;  // re-check peer liveness this often
// Yields between spinning and parking. Few: on a 2-vCPU guest a yield rarely hands the CPU to
// anyone, and each one is a system call (bench: 16 rounds cost ~13 calls per sparse message).
inline constexpr int kYieldRounds = 2;
inline constexpr int64_t kNoSliceNs = std::numeric_limits<int64_t>::max();

inline std::string ring_msg(std::string_view name, const std::string& what) {
  return "ring '" + std::string(name) + "': " + what;
}

// Status::corrupt's message when the platform revoked the mapping (platform::Region::revoked).
inline std::string truncated_message(std::string_view name) {
  return ring_msg(name,
                  "the shared memory object was truncated under this process (or can no longer "
                  "be accessed); its mapping now reads as zeros and unread records are lost");
}

// Registers this process for the sleeper's heavy fence once per pid (see
// ring.cpp, "Waking").
bool light_fences_enabled();

inline uint64_t remaining_ns(uint64_t deadline, uint64_t now) {
  return deadline == kNoDeadline ? kNoDeadline : (deadline > now ? deadline - now : 0);
}

inline int64_t slice(uint64_t remaining, int64_t cap) {
  return remaining > static_cast<uint64_t>(cap) ? cap : static_cast<int64_t>(remaining);
}

inline void write_padding(std::byte* area, uint32_t index, uint32_t bytes) {
  auto* rec = reinterpret_cast<layout::RecordHeader*>(area + index);
  rec->type.store(layout::kPaddingType, std::memory_order_relaxed);
  // release: in mpsc the length is the commit flag (pairs with the consumer's
  // acquire load); in spsc and broadcast the later position store publishes it
  // anyway.
  rec->length.store(static_cast<int32_t>(bytes), std::memory_order_release);
}

// Slot ownership: "name@instance/consumer", "/<producer index>",
// "/reader<index>".
std::string slot_key(const Mapping& m, const std::string& slot);
bool take_slot(std::atomic<uint32_t>& pid_word, uint32_t me, uint32_t& previous,
               const std::string& key);
void release_slot(std::atomic<uint32_t>& pid_word, const std::string& key);

}  // namespace shmring::detail

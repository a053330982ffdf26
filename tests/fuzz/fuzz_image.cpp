// Fuzz target "image": an arbitrary mapping image, in memory of exactly its size.
//
// Runs every pure check an opener runs before trusting a mapping, and the read-only walker
// behind `shmring dump` / `tail`, over bytes that may be anything:
//   * validate_header, then (if it passes) validate_records: what Ring::open and
//     attach_consumer check;
//   * inspect::start_position + inspect::walk from both start points (the dump tool's walker);
//   * CountersRegion::validate (the same namespace holds counters regions).
// Properties, beyond "no crash, no read outside the image, terminates":
//   * an accepted header describes a mapping that fits in the image and is self-consistent;
//   * every error message names the ring;
//   * every record the walker reports lies inside the record area, advances the position, and
//     has a payload no larger than max_record_size.
#include <cinttypes>
#include <string>

#include "fuzz_support.hpp"
#include "shmring/counters.hpp"
#include "shmring/inspect.hpp"
#include "shmring/layout.hpp"
#include "shmring/validate.hpp"

using namespace shmring;
using shmring::fuzz::ExactImage;

namespace {

const std::string kName = "img";

template <class T>
void check_message(const Result<T>& r, const char* what) {
  if (r.ok()) return;
  FUZZ_CHECK(r.error().message.find("'" + kName + "'") != std::string::npos,
             "%s: error message does not name the ring: %s", what, r.error().message.c_str());
}

void check_header(const std::byte* base, std::size_t size) {
  const auto* h = reinterpret_cast<const layout::RingHeader*>(base);
  const uint32_t cap = h->capacity;
  FUZZ_CHECK(cap >= layout::kMinCapacity && cap <= layout::kMaxCapacity && (cap & (cap - 1)) == 0,
             "accepted capacity %u", cap);
  FUZZ_CHECK(h->header_size == layout::header_size_for(h->max_producers, h->max_readers),
             "accepted header_size %u", h->header_size);
  FUZZ_CHECK(h->max_producers >= 1 && h->max_producers <= layout::kMaxProducers,
             "accepted max_producers %u", h->max_producers);
  FUZZ_CHECK(h->max_readers <= layout::kMaxReaders, "accepted max_readers %u", h->max_readers);
  FUZZ_CHECK(uint64_t{h->header_size} + cap <= size, "accepted a %zu-byte image for %u + %u", size,
             h->header_size, cap);
  FUZZ_CHECK(h->max_record_size >= layout::kMinRecordSize && h->max_record_size <= cap / 2 &&
                 h->max_record_size % 8 == 0,
             "accepted max_record_size %u", h->max_record_size);
  const uint32_t p = h->producer_position.load();
  const uint32_t c = h->consumer_position.load();
  FUZZ_CHECK(p % 8 == 0, "accepted producer position %u", p);
  if (h->kind != static_cast<uint32_t>(Kind::broadcast))
    FUZZ_CHECK(p - c <= cap && c % 8 == 0, "accepted positions p %u c %u", p, c);
}

void walk(const std::byte* base, std::size_t size, inspect::From from) {
  uint32_t position = 0;
  std::string reason;
  if (!inspect::start_position(kName, base, size, from, position, reason)) {
    FUZZ_CHECK(reason.find("'" + kName + "'") != std::string::npos,
               "start_position reason does not name the ring: %s", reason.c_str());
    return;
  }
  const auto* h = reinterpret_cast<const layout::RingHeader*>(base);
  const uint32_t cap = h->capacity;
  const uint32_t max_record = h->max_record_size;
  uint32_t last = position;
  std::size_t seen = 0;
  const inspect::WalkResult r =
      inspect::walk(kName, base, size, position, 1u << 20, [&](const inspect::WalkedRecord& rec) {
        FUZZ_CHECK(rec.index == (rec.position & (cap - 1)), "walker index %u for position %u",
                   rec.index, rec.position);
        FUZZ_CHECK(rec.payload_size <= max_record, "walker payload %u > max_record_size %u",
                   rec.payload_size, max_record);
        if (rec.state == inspect::RecordState::committed)
          FUZZ_CHECK(rec.index + layout::align_record(static_cast<uint32_t>(rec.length)) <= cap,
                     "walker record at index %u, length %d, leaves the area of %u", rec.index,
                     rec.length, cap);
        FUZZ_CHECK(seen == 0 || rec.position - last - 1 < 0x7FFFFFFFu,
                   "walker went backwards: %u after %u", rec.position, last);
        last = rec.position;
        ++seen;
        return true;
      });
  FUZZ_CHECK(seen == r.records, "walker counted %zu records, delivered %zu", r.records, seen);
  FUZZ_CHECK(seen <= cap / 8 + 1, "walker delivered %zu records from a %u-byte area", seen, cap);
  if (r.stop == inspect::WalkStop::corrupt)
    FUZZ_CHECK(!r.reason.empty(), "walker stopped as corrupt without a reason");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const ExactImage image(data, size);
  const std::byte* base = image.base();

  auto header = validate_header(kName, base, size);
  check_message(header, "validate_header");
  if (header) {
    check_header(base, size);
    auto records = validate_records(kName, base);
    check_message(records, "validate_records");
  }
  walk(base, size, inspect::From::consumer);
  walk(base, size, inspect::From::oldest);

  auto counters = CountersRegion::validate(kName, base, size);
  check_message(counters, "CountersRegion::validate");
  if (counters) {
    const auto* h = reinterpret_cast<const layout::CountersHeader*>(base);
    FUZZ_CHECK(h->total_size <= size && h->header_size + uint64_t{h->slot_count} * 128 <= size,
               "accepted counters geometry %u slots in %zu bytes", h->slot_count, size);
  }
  return 0;
}

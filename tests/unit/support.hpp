// Unit-test support: unique ring names that unlink themselves, a raw view of a ring's OS object
// (so tests can read and corrupt the shared bytes that the API hides), and image builders for
// calling the validators on plain memory.
#pragma once

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shmring/layout.hpp"
#include "shmring/platform.hpp"
#include "shmring/ring.hpp"
#include "shmring/validate.hpp"

namespace Catch {
template <>
struct StringMaker<shmring::Status> {
  static std::string convert(shmring::Status s) { return shmring::to_string(s); }
};
template <>
struct StringMaker<shmring::ErrorCode> {
  static std::string convert(shmring::ErrorCode c) { return shmring::to_string(c); }
};
template <>
struct StringMaker<shmring::Kind> {
  static std::string convert(shmring::Kind k) {
    return k == shmring::Kind::spsc ? "spsc" : k == shmring::Kind::mpsc ? "mpsc" : "kind?";
  }
};
}  // namespace Catch

namespace ut {

using shmring::Kind;
using shmring::layout::RecordHeader;
using shmring::layout::RingHeader;

// Deadline for blocking calls that must return at once: a bug shows as a failed check after
// 10 s instead of a hang.
inline constexpr int64_t kLongNs = 10'000'000'000;

// "ut-<pid>-<counter>", unique within this run and across concurrent runs.
std::string unique_name();

// The OS object of ring `name`, as shm_open spells it: "/shmring.NAME" (Windows: the section
// Local\shmring.NAME).
std::string shm_path(const std::string& name);

// Windows: keeps the object of ring `name` alive until its NameGuard goes (a section disappears
// with its last handle; a Linux name stays until it is unlinked). Elsewhere nothing to do.
void keep_alive(const std::string& name);

// Does Ring::unlink remove the name at once (Linux), or does the object live on until its last
// handle is closed (Windows)?
#if defined(_WIN32)
inline constexpr bool kUnlinkRemovesName = false;
#else
inline constexpr bool kUnlinkRemovesName = true;
#endif

// Owns a ring name for the duration of a test: removes the OS object on destruction (whether
// or not a ring was ever created under it; on Windows: closes the handles kept for it).
class NameGuard {
 public:
  NameGuard();
  explicit NameGuard(std::string name);
  ~NameGuard();
  NameGuard(const NameGuard&) = delete;
  NameGuard& operator=(const NameGuard&) = delete;
  const std::string& str() const { return name_; }

 private:
  std::string name_;
};

// A private mmap of the whole OS object of a ring (its current size), read-only or writable.
// (Windows: a view through the platform layer; the object is kept alive, see keep_alive.)
// Lets a test check the bytes at offset 0 (header) and at header_size (record area), and craft
// corruption. REQUIREs that the object exists.
class RawMap {
 public:
  RawMap(const std::string& name, bool writable);
  ~RawMap();
  RawMap(const RawMap&) = delete;
  RawMap& operator=(const RawMap&) = delete;

  std::byte* base() const { return base_; }
  std::size_t size() const { return size_; }
  RingHeader* header() const { return reinterpret_cast<RingHeader*>(base_); }
  std::byte* area() const { return base_ + header()->header_size; }
  uint32_t mask() const { return header()->capacity - 1; }
  uint32_t index(uint32_t position) const { return position & mask(); }
  RecordHeader* record(uint32_t position) const {
    return reinterpret_cast<RecordHeader*>(area() + index(position));
  }
  int32_t length_at(uint32_t position) const { return record(position)->length.load(); }
  uint32_t type_at(uint32_t position) const { return record(position)->type.load(); }
  uint32_t producer_position() const { return header()->producer_position.load(); }
  uint32_t consumer_position() const { return header()->consumer_position.load(); }
  shmring::layout::ProducerSlot* producer_slot(uint32_t i) const {
    return reinterpret_cast<shmring::layout::ProducerSlot*>(base_ + sizeof(RingHeader)) + i;
  }
  // True when every byte of the record area in [from, to) (positions, wrapping) is zero.
  bool area_zero(uint32_t from, uint32_t to) const;

 private:
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
#if defined(_WIN32)
  std::unique_ptr<shmring::platform::Region> region_;
#endif
};

// Creates the OS object for ring `name` directly (O_CREAT | O_EXCL, 0600), `size` zero bytes.
// (Windows: a section of at least one page, kept alive; size 0 is not possible there.)
void craft_object(const std::string& name, std::size_t size);
// ftruncate of an existing object (nobody in this process may have it mapped). Windows: see
// support.cpp (a new section of the new size, page-granular).
void resize_object(const std::string& name, std::size_t size);
// st_mode & 0777 of the object, or -1 when it does not exist.
int object_mode(const std::string& name);
bool object_exists(const std::string& name);

// Writes a complete, valid, published header for the given geometry at `base` (which must be
// zero-filled and hold header_size_for(producers) + capacity bytes).
void write_header(std::byte* base, Kind kind, uint32_t capacity, uint32_t max_record_size,
                  uint32_t max_producers, uint32_t initial_position, const std::string& name);

// Zeroed, suitably aligned memory for a mapping image (the validators need RingHeader's 128-byte
// alignment; a plain vector<std::byte> only guarantees 16).
class Image {
 public:
  explicit Image(std::size_t size);
  std::byte* base() const { return storage_->bytes + 0; }
  std::size_t size() const { return size_; }
  RingHeader* header() const { return reinterpret_cast<RingHeader*>(base()); }
  // A record header at `position` in the record area (header must be written).
  void put_record(uint32_t position, int32_t length, uint32_t type);

 private:
  static constexpr std::size_t kMax = 64 * 1024;
  struct alignas(shmring::layout::kHeaderAlign) Storage {
    std::byte bytes[kMax];
  };
  std::unique_ptr<Storage> storage_;
  std::size_t size_;
};

// Ring creation / open / attach that REQUIRE success and print the error otherwise.
shmring::Ring create_ring(const std::string& name, const shmring::CreateOptions& options);
shmring::Ring open_ring(const std::string& name, bool read_only = false);
shmring::Producer attach_producer(shmring::Ring& ring);
shmring::Consumer attach_consumer(shmring::Ring& ring);

// CreateOptions shorthand.
shmring::CreateOptions options(Kind kind, uint32_t capacity, uint32_t max_record_size = 0,
                               uint32_t initial_position = 0);

// OpenOptions that give up on a not-ready header after 1 ms.
shmring::OpenOptions quick_open();

// Checks that `r` failed with `code` and that the message names `must_contain` (the ring).
template <class T>
void check_error(const shmring::Result<T>& r, shmring::ErrorCode code,
                 const std::string& must_contain) {
  REQUIRE_FALSE(r.ok());
  INFO("message: " << r.error().message);
  CHECK(r.error().code == code);
  CHECK(r.error().message.find(must_contain) != std::string::npos);
}

// One delivered record, copied out of a poll.
struct Got {
  uint32_t type = 0;
  std::vector<std::byte> bytes;
  uint32_t position = 0;
};

// Polls once with `max` and returns what was delivered.
std::vector<Got> poll_all(shmring::Consumer& consumer, std::size_t max,
                          shmring::PollResult* result = nullptr);

// Deterministic payload of record number `seq`: byte j is a function of (seq, j).
std::vector<std::byte> payload(uint32_t seq, uint32_t size);

// Whether an object's mapped size is `expected` bytes. Windows (Wine at least) sizes sections
// in whole pages, so there it may also be `expected` rounded up to 4096.
inline bool object_size_is(std::size_t actual, std::size_t expected) {
#if defined(_WIN32)
  if (actual == (expected + 4095) / 4096 * 4096) return true;
#endif
  return actual == expected;
}

// A pid that certainly names no live process (a forked child that has exited and been reaped).
uint32_t dead_pid();
// A live process other than this one (the parent; on Windows a helper child).
uint32_t other_live_pid();

}  // namespace ut

#include "support.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <new>

namespace ut {

std::string unique_name() {
  static std::atomic<unsigned> counter{0};
  return "ut-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

std::string shm_path(const std::string& name) {
  return "/shmring." + name;
}

NameGuard::NameGuard() : name_(unique_name()) {}
NameGuard::NameGuard(std::string name) : name_(std::move(name)) {}
NameGuard::~NameGuard() {
  ::shm_unlink(shm_path(name_).c_str());
}

RawMap::RawMap(const std::string& name, bool writable) {
  const int fd = ::shm_open(shm_path(name).c_str(), writable ? O_RDWR : O_RDONLY, 0);
  INFO("shm_open " << shm_path(name) << ": " << std::strerror(errno));
  REQUIRE(fd >= 0);
  struct stat st {};
  const int rc = ::fstat(fd, &st);
  if (rc != 0) ::close(fd);
  REQUIRE(rc == 0);
  size_ = static_cast<std::size_t>(st.st_size);
  if (size_ != 0) {
    void* p =
        ::mmap(nullptr, size_, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    REQUIRE(p != MAP_FAILED);
    base_ = static_cast<std::byte*>(p);
  } else {
    ::close(fd);
  }
}

RawMap::~RawMap() {
  if (base_ != nullptr) ::munmap(base_, size_);
}

bool RawMap::area_zero(uint32_t from, uint32_t to) const {
  for (uint32_t p = from; p != to; ++p) {
    if (area()[index(p)] != std::byte{0}) return false;
  }
  return true;
}

void craft_object(const std::string& name, std::size_t size) {
  const int fd = ::shm_open(shm_path(name).c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  INFO("shm_open " << shm_path(name) << ": " << std::strerror(errno));
  REQUIRE(fd >= 0);
  const int rc = ::ftruncate(fd, static_cast<off_t>(size));
  ::close(fd);
  REQUIRE(rc == 0);
}

void resize_object(const std::string& name, std::size_t size) {
  const int fd = ::shm_open(shm_path(name).c_str(), O_RDWR, 0);
  REQUIRE(fd >= 0);
  const int rc = ::ftruncate(fd, static_cast<off_t>(size));
  ::close(fd);
  REQUIRE(rc == 0);
}

int object_mode(const std::string& name) {
  struct stat st {};
  if (::stat(("/dev/shm" + shm_path(name)).c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 0777);
}

bool object_exists(const std::string& name) {
  return object_mode(name) >= 0;
}

void write_header(std::byte* base, Kind kind, uint32_t capacity, uint32_t max_record_size,
                  uint32_t max_producers, uint32_t initial_position, const std::string& name) {
  namespace layout = shmring::layout;
  auto* h = reinterpret_cast<RingHeader*>(base);
  h->layout_version = layout::kLayoutVersion;
  h->kind = static_cast<uint32_t>(kind);
  h->capacity = capacity;
  h->max_record_size = max_record_size;
  h->max_producers = max_producers;
  h->header_size = layout::header_size_for(max_producers);
  h->total_size = uint64_t{h->header_size} + capacity;
  h->creation_time_ns = 1;
  h->creator_pid = static_cast<uint32_t>(::getpid());
  h->max_readers = 0;
  h->position_width = layout::kPositionWidthBits;
  h->initial_position = initial_position;
  std::memcpy(h->name, name.data(), std::min<std::size_t>(name.size(), layout::kNameMax));
  h->producer_position.store(initial_position);
  h->consumer_position.store(initial_position);
  h->consumer.release_target.store(initial_position);
  h->magic.store(layout::kMagic);
}

Image::Image(std::size_t size) : storage_(std::make_unique<Storage>()), size_(size) {
  REQUIRE(size <= kMax);
  std::memset(storage_->bytes, 0, kMax);
}

void Image::put_record(uint32_t position, int32_t length, uint32_t type) {
  const RingHeader* h = header();
  auto* rec =
      reinterpret_cast<RecordHeader*>(base() + h->header_size + (position & (h->capacity - 1)));
  rec->length.store(length);
  rec->type.store(type);
}

shmring::Ring create_ring(const std::string& name, const shmring::CreateOptions& o) {
  auto r = shmring::Ring::create(name, o);
  INFO("create " << name << ": " << r.error().message);
  REQUIRE(r.ok());
  return std::move(r).value();
}

shmring::Ring open_ring(const std::string& name, bool read_only) {
  shmring::OpenOptions o = quick_open();
  o.read_only = read_only;
  auto r = shmring::Ring::open(name, o);
  INFO("open " << name << ": " << r.error().message);
  REQUIRE(r.ok());
  return std::move(r).value();
}

shmring::Producer attach_producer(shmring::Ring& ring) {
  auto r = ring.attach_producer();
  INFO("attach_producer " << ring.name() << ": " << r.error().message);
  REQUIRE(r.ok());
  return std::move(r).value();
}

shmring::Consumer attach_consumer(shmring::Ring& ring) {
  auto r = ring.attach_consumer();
  INFO("attach_consumer " << ring.name() << ": " << r.error().message);
  REQUIRE(r.ok());
  return std::move(r).value();
}

shmring::CreateOptions options(Kind kind, uint32_t capacity, uint32_t max_record_size,
                               uint32_t initial_position) {
  shmring::CreateOptions o;
  o.kind = kind;
  o.capacity = capacity;
  o.max_record_size = max_record_size;
  o.initial_position = initial_position;
  return o;
}

shmring::OpenOptions quick_open() {
  shmring::OpenOptions o;
  o.ready_timeout_ns = 1'000'000;
  return o;
}

std::vector<Got> poll_all(shmring::Consumer& consumer, std::size_t max,
                          shmring::PollResult* result) {
  std::vector<Got> got;
  const shmring::PollResult r = consumer.poll(
      [&](const shmring::RecordView& v) {
        got.push_back(Got{v.type, std::vector<std::byte>(v.data, v.data + v.size), v.position});
      },
      max);
  if (result != nullptr) *result = r;
  return got;
}

std::vector<std::byte> payload(uint32_t seq, uint32_t size) {
  std::vector<std::byte> bytes(size);
  for (uint32_t j = 0; j < size; ++j)
    bytes[j] = static_cast<std::byte>((seq * 131u + j * 7u) ^ 0x5A);
  return bytes;
}

uint32_t dead_pid() {
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) ::_exit(0);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  return static_cast<uint32_t>(child);
}

}  // namespace ut

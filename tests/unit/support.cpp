#include "support.hpp"

#if defined(_WIN32)
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <new>

#include "child.hpp"
#include "shmring/platform.hpp"

namespace ut {

std::string unique_name() {
  static std::atomic<unsigned> counter{0};
  return "ut-" + std::to_string(shmring::platform::current_pid()) + "-" +
         std::to_string(counter.fetch_add(1));
}

#if defined(_WIN32)

// A Windows section lives while a handle to it is open. What Linux tests get from "the name
// stays until it is unlinked", the Windows support gets from handles kept here, per ring name,
// until the NameGuard of that name goes: create_ring, RawMap and craft_object each keep one.
namespace {
std::mutex& keep_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, std::vector<HANDLE>>& kept() {
  static std::map<std::string, std::vector<HANDLE>> k;
  return k;
}
std::wstring wide_object(const std::string& name) {
  const std::string s = shm_path(name);
  return std::wstring(s.begin(), s.end());
}
void keep_handle(const std::string& name, HANDLE h) {
  const std::lock_guard<std::mutex> lock(keep_mutex());
  kept()[name].push_back(h);
}
void release_kept(const std::string& name) {
  const std::lock_guard<std::mutex> lock(keep_mutex());
  auto it = kept().find(name);
  if (it == kept().end()) return;
  for (HANDLE h : it->second) ::CloseHandle(h);
  kept().erase(it);
}
HANDLE open_object(const std::string& name, bool writable) {
  return ::OpenFileMappingW(writable ? FILE_MAP_READ | FILE_MAP_WRITE : FILE_MAP_READ, FALSE,
                            wide_object(name).c_str());
}
}  // namespace

void keep_alive(const std::string& name) {
  HANDLE h = open_object(name, false);
  if (h != nullptr) keep_handle(name, h);
}

std::string shm_path(const std::string& name) {
  return "Local\\shmring." + name;
}

NameGuard::NameGuard() : name_(unique_name()) {}
NameGuard::NameGuard(std::string name) : name_(std::move(name)) {}
NameGuard::~NameGuard() {
  release_kept(name_);
}

#else

void keep_alive(const std::string&) {}

std::string shm_path(const std::string& name) {
  return "/shmring." + name;
}

NameGuard::NameGuard() : name_(unique_name()) {}
NameGuard::NameGuard(std::string name) : name_(std::move(name)) {}
NameGuard::~NameGuard() {
  ::shm_unlink(shm_path(name_).c_str());
}

#endif

#if defined(_WIN32)

RawMap::RawMap(const std::string& name, bool writable) {
  auto region = shmring::platform::open_region(name, writable, shmring::platform::RegionOptions{});
  INFO("open_region " << shm_path(name) << ": " << region.error().message);
  REQUIRE(region.ok());
  region_ = std::make_unique<shmring::platform::Region>(std::move(region.value()));
  base_ = region_->data();
  size_ = region_->size();
  keep_alive(name);  // the object outlives this view, as a Linux object outlives its mappings
}

RawMap::~RawMap() = default;

bool RawMap::area_zero(uint32_t from, uint32_t to) const {
  for (uint32_t p = from; p != to; ++p) {
    if (area()[index(p)] != std::byte{0}) return false;
  }
  return true;
}

void craft_object(const std::string& name, std::size_t size) {
  // A section cannot be empty; the Linux tests' 0-byte object has no Windows counterpart.
  REQUIRE(size > 0);
  HANDLE h = ::CreateFileMappingW(INVALID_HANDLE_VALUE, nullptr, PAGE_READWRITE, 0,
                                  static_cast<DWORD>(size), wide_object(name).c_str());
  const DWORD err = ::GetLastError();
  INFO("CreateFileMappingW " << shm_path(name) << ": error " << err);
  REQUIRE(h != nullptr);
  if (err == ERROR_ALREADY_EXISTS) ::CloseHandle(h);
  REQUIRE(err != ERROR_ALREADY_EXISTS);
  keep_handle(name, h);
}

// A section cannot change size. The emulation of ftruncate: a new object of the new size that
// keeps the bytes that fit in its pages (Windows sizes sections in whole pages), in place of
// the old one, which must have no other handle open (as the Linux version needs no mapping).
void resize_object(const std::string& name, std::size_t size) {
  std::vector<std::byte> old;
  {
    auto region = shmring::platform::open_region(name, false, shmring::platform::RegionOptions{});
    REQUIRE(region.ok());
    old.assign(region->data(), region->data() + region->size());
  }
  release_kept(name);
  REQUIRE_FALSE(object_exists(name));
  craft_object(name, size);
  auto region = shmring::platform::open_region(name, true, shmring::platform::RegionOptions{});
  REQUIRE(region.ok());
  std::memcpy(region->data(), old.data(), std::min(old.size(), region->size()));
}

int object_mode(const std::string&) {
  return -1;  // no permission bits on Windows: the DACL tests are in test_win32.cpp
}

bool object_exists(const std::string& name) {
  HANDLE h = open_object(name, false);
  if (h == nullptr) return ::GetLastError() == ERROR_ACCESS_DENIED;
  ::CloseHandle(h);
  return true;
}

#else

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

#endif

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
  h->creator_pid = shmring::platform::current_pid();
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
  keep_alive(name);
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

#if defined(_WIN32)

uint32_t dead_pid() {
  shmring::proctest::Child child("exit");
  REQUIRE(child.wait_exit(30'000));
  REQUIRE(child.succeeded());
  return child.pid();
}

uint32_t other_live_pid() {
  // Lives until the test program exits; then it is told to go (a process terminated while it
  // talks to the Wine server makes Wine print a client error).
  struct Idle {
    shmring::proctest::Child child{"idle"};
    ~Idle() {
      child.send('q');
      (void)child.wait_exit(10'000);
    }
  };
  static Idle idle;
  return idle.child.pid();
}

#else

uint32_t dead_pid() {
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) ::_exit(0);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  return static_cast<uint32_t>(child);
}

uint32_t other_live_pid() {
  return static_cast<uint32_t>(::getppid());
}

#endif

}  // namespace ut

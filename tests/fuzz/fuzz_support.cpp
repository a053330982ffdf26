#include "fuzz_support.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>

namespace shmring::fuzz {

void fail(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "\nshmring fuzz: property violated: ");
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, "\n");
  va_end(ap);
  std::abort();
}

ExactImage::ExactImage(const uint8_t* data, std::size_t size) : size_(size) {
  void* p = nullptr;
  if (::posix_memalign(&p, 128, size == 0 ? 1 : size) != 0) std::abort();
  base_ = static_cast<std::byte*>(p);
  if (size != 0) std::memcpy(base_, data, size);
}

ExactImage::~ExactImage() {
  std::free(base_);
}

namespace {

std::mutex& names_mutex() {
  static std::mutex m;
  return m;
}
std::set<std::string>& names() {
  static std::set<std::string> s;
  return s;
}
void unlink_all() {
  const std::lock_guard<std::mutex> lock(names_mutex());
  for (const std::string& n : names()) ::shm_unlink(("/shmring." + n).c_str());
}

}  // namespace

std::string image_name(const char* tag) {
  std::string name = "fz-" + std::to_string(::getpid()) + "-" + tag;
  const std::lock_guard<std::mutex> lock(names_mutex());
  if (names().empty()) std::atexit(unlink_all);
  names().insert(name);
  return name;
}

bool put_object(const std::string& name, const uint8_t* data, std::size_t size) {
  const std::string path = "/shmring." + name;
  const int fd = ::shm_open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = ::ftruncate(fd, 0) == 0 && ::ftruncate(fd, static_cast<off_t>(size)) == 0;
  std::size_t done = 0;
  while (ok && done < size) {
    const ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) ok = false;
    if (n > 0) done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return ok;
}

RawView::RawView(const std::string& name) {
  const int fd = ::shm_open(("/shmring." + name).c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) return;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) {
    void* p = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ | PROT_WRITE,
                     MAP_SHARED, fd, 0);
    if (p != MAP_FAILED) {
      base_ = static_cast<std::byte*>(p);
      size_ = static_cast<std::size_t>(st.st_size);
    }
  }
  ::close(fd);
}

RawView::~RawView() {
  if (base_ != nullptr) ::munmap(base_, size_);
}

}  // namespace shmring::fuzz

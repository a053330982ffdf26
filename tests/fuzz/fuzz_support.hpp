// shmring fuzz targets — shared helpers: reading structured values out of the fuzz input,
// exact-size images (so that AddressSanitizer flags any read past the end), images backed by a
// real named object (so that Ring::open maps them like any ring), and the property check that
// fails a run.
//
// Every target is a plain LLVMFuzzerTestOneInput. Built with -fsanitize=fuzzer (SHMRING_FUZZ=ON,
// clang) it is a libFuzzer binary; otherwise replay_main.cpp turns it into a program that runs
// the files or directories it is given once each (the seed corpus replay in `make test`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace shmring::fuzz {

// A violated property: prints the message and aborts (libFuzzer records the input as a crash).
[[noreturn]] void fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

#define FUZZ_CHECK(cond, ...)                        \
  do {                                               \
    if (!(cond)) ::shmring::fuzz::fail(__VA_ARGS__); \
  } while (0)

// Reads little-endian values from the input; past its end every read returns 0.
class Input {
 public:
  Input(const uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  uint8_t u8() { return at_ < size_ ? data_[at_++] : 0; }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
  uint32_t u32() { return u16() | (static_cast<uint32_t>(u16()) << 16); }
  uint64_t u64() { return u32() | (static_cast<uint64_t>(u32()) << 32); }
  bool empty() const { return at_ >= size_; }
  std::size_t left() const { return at_ < size_ ? size_ - at_ : 0; }

 private:
  const uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

// The fuzz input copied into a heap block of exactly `size` bytes, aligned for RingHeader
// (128). Reads past the end land in AddressSanitizer's redzone.
class ExactImage {
 public:
  ExactImage(const uint8_t* data, std::size_t size);
  ~ExactImage();
  ExactImage(const ExactImage&) = delete;
  ExactImage& operator=(const ExactImage&) = delete;
  const std::byte* base() const { return base_; }
  std::size_t size() const { return size_; }

 private:
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
};

// The ring name this process uses for its images: "fz-<pid>-<tag>". Removed at exit.
std::string image_name(const char* tag);

// Makes the named object `name` hold exactly `data` (size bytes), creating it if needed. No
// mapping of it may be alive. Returns false if the OS refused.
bool put_object(const std::string& name, const uint8_t* data, std::size_t size);

// Maps the whole named object writable (a hostile peer's view). Unmaps on destruction.
class RawView {
 public:
  explicit RawView(const std::string& name);
  ~RawView();
  RawView(const RawView&) = delete;
  RawView& operator=(const RawView&) = delete;
  std::byte* base() const { return base_; }
  std::size_t size() const { return size_; }
  bool ok() const { return base_ != nullptr; }

 private:
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace shmring::fuzz

// shmring — error and status types.
//
// Two families, on purpose:
//  * `Status` is the hot-path answer of try_write / try_claim / poll / read. It is a tiny enum,
//    [[nodiscard]], and never allocates.
//  * `Error` / `Result<T>` is the cold-path answer of create / open / attach / unlink. It carries
//    a code, the OS error number (errno or GetLastError) and a message that names the ring and
//    says what was wrong, e.g. "ring 'orders': mapping is 4096 bytes, header says 69632".
#pragma once

#include <cstdint>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

namespace shmring {

// Hot-path outcome. Values are part of the C ABI (bindings/c/shmring.h mirrors them).
enum class [[nodiscard]] Status : int{
    ok = 0,
    full = 1,       // not enough free space right now (try_* only)
    empty = 2,      // nothing committed to read right now (try_* only)
    timeout = 3,    // a blocking call reached its deadline
    too_large = 4,  // record larger than the ring's max_record_size, or copy-out buffer too small
    corrupt = 5,    // the ring holds an impossible record or position; the handle stops
    consumer_dead = 6,    // a blocking producer found the ring full and the consumer process gone
    claim_pending = 7,    // this producer already holds an uncommitted claim
    invalid_argument = 8  // e.g. a reserved type id
};

const char* to_string(Status s) noexcept;

// Cold-path error codes. Values are part of the C ABI.
enum class ErrorCode : int {
  ok = 0,
  invalid_argument = 1,   // capacity not a power of two, bad option...
  invalid_name = 2,       // empty, too long, path separator, "..", bad character
  already_exists = 3,     // create of a name that exists
  not_found = 4,          // open of a name that does not exist
  permission_denied = 5,  // the OS refused access (mode / DACL)
  not_ready = 6,          // the creator has not published the header within the wait
  not_a_ring = 7,         // wrong magic
  version_mismatch = 8,   // layout version this build does not understand
  truncated = 9,          // mapping smaller than the header says
  corrupt = 10,           // impossible header fields, positions or record lengths
  busy = 11,              // a live consumer is already attached / all producer slots are taken
  kind_mismatch = 12,     // e.g. a second producer on an spsc ring
  os_error = 13           // anything else the OS reported
};

const char* to_string(ErrorCode c) noexcept;

struct Error {
  ErrorCode code = ErrorCode::ok;
  int os_error = 0;     // errno (Linux) or GetLastError() (Windows); 0 when not from the OS
  std::string message;  // names the ring and what was wrong
};

// Minimal expected<T, Error>. Cold path only: constructing an Error allocates its message.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : has_value_(true) { new (&storage_) T(std::move(value)); }  // NOLINT
  Result(Error error) : has_value_(false), error_(std::move(error)) {}         // NOLINT
  Result(Result&& other) noexcept : has_value_(other.has_value_), error_(std::move(other.error_)) {
    if (has_value_) new (&storage_) T(std::move(*other.ptr()));
  }
  Result& operator=(Result&& other) noexcept {
    if (this != &other) {
      reset();
      has_value_ = other.has_value_;
      error_ = std::move(other.error_);
      if (has_value_) new (&storage_) T(std::move(*other.ptr()));
    }
    return *this;
  }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  ~Result() { reset(); }

  bool ok() const noexcept { return has_value_; }
  explicit operator bool() const noexcept { return has_value_; }
  T& value() & { return *ptr(); }
  T&& value() && { return std::move(*ptr()); }
  T* operator->() { return ptr(); }
  T& operator*() { return *ptr(); }
  const Error& error() const noexcept { return error_; }

 private:
  T* ptr() { return std::launder(reinterpret_cast<T*>(&storage_)); }
  void reset() {
    if (has_value_) ptr()->~T();
    has_value_ = false;
  }
  bool has_value_;
  Error error_;
  std::aligned_storage_t<sizeof(T), alignof(T)> storage_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT
  bool ok() const noexcept { return error_.code == ErrorCode::ok; }
  explicit operator bool() const noexcept { return ok(); }
  const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

inline Error make_error(ErrorCode code, std::string message, int os_error = 0) {
  return Error{code, os_error, std::move(message)};
}

}  // namespace shmring

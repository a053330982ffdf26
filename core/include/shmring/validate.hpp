// shmring — pure checks over a mapping image (no OS calls; used by open/attach, the CLI, the
// unit tests and the fuzzers). They only read, and only inside [base, base + size).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "shmring/layout.hpp"
#include "shmring/result.hpp"

namespace shmring {

// Checks the identity line, the geometry and the positions of a mapping image.
// ErrorCode::not_ready when the magic is still 0 (creator not done) or the image is too short
// to hold a header yet; not_a_ring, version_mismatch, truncated or corrupt otherwise.
Result<void> validate_header(std::string_view ring_name, const std::byte* base, std::size_t size);

// Walks the records between the consumer and the producer position and checks every length.
// Requires a header that passed validate_header. In an mpsc ring the walk stops, without error,
// at a claimed record whose length is still 0. Bounded: at most capacity / 8 steps.
Result<void> validate_records(std::string_view ring_name, const std::byte* base);

}  // namespace shmring

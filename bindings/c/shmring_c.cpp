// shmring — the C ABI (shmring.h) over the C++ API. Cold paths catch every exception at the
// boundary and turn it into an error code; hot paths call noexcept C++ and never allocate.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <utility>
#include <vector>

#include "shmring.h"
#include "shmring/counters.hpp"
#include "shmring/ring.hpp"

// ---- the C values are the C++ values --------------------------------------------------------

#define SHMRING_SAME(c_value, cpp_value) \
  static_assert(static_cast<int>(c_value) == static_cast<int>(cpp_value), #c_value)

SHMRING_SAME(SHMRING_OK, shmring::Status::ok);
SHMRING_SAME(SHMRING_FULL, shmring::Status::full);
SHMRING_SAME(SHMRING_EMPTY, shmring::Status::empty);
SHMRING_SAME(SHMRING_TIMEOUT, shmring::Status::timeout);
SHMRING_SAME(SHMRING_TOO_LARGE, shmring::Status::too_large);
SHMRING_SAME(SHMRING_CORRUPT, shmring::Status::corrupt);
SHMRING_SAME(SHMRING_CONSUMER_DEAD, shmring::Status::consumer_dead);
SHMRING_SAME(SHMRING_CLAIM_PENDING, shmring::Status::claim_pending);
SHMRING_SAME(SHMRING_INVALID_ARGUMENT, shmring::Status::invalid_argument);

SHMRING_SAME(SHMRING_E_OK, shmring::ErrorCode::ok);
SHMRING_SAME(SHMRING_E_INVALID_ARGUMENT, shmring::ErrorCode::invalid_argument);
SHMRING_SAME(SHMRING_E_INVALID_NAME, shmring::ErrorCode::invalid_name);
SHMRING_SAME(SHMRING_E_ALREADY_EXISTS, shmring::ErrorCode::already_exists);
SHMRING_SAME(SHMRING_E_NOT_FOUND, shmring::ErrorCode::not_found);
SHMRING_SAME(SHMRING_E_PERMISSION_DENIED, shmring::ErrorCode::permission_denied);
SHMRING_SAME(SHMRING_E_NOT_READY, shmring::ErrorCode::not_ready);
SHMRING_SAME(SHMRING_E_NOT_A_RING, shmring::ErrorCode::not_a_ring);
SHMRING_SAME(SHMRING_E_VERSION_MISMATCH, shmring::ErrorCode::version_mismatch);
SHMRING_SAME(SHMRING_E_TRUNCATED, shmring::ErrorCode::truncated);
SHMRING_SAME(SHMRING_E_CORRUPT, shmring::ErrorCode::corrupt);
SHMRING_SAME(SHMRING_E_BUSY, shmring::ErrorCode::busy);
SHMRING_SAME(SHMRING_E_KIND_MISMATCH, shmring::ErrorCode::kind_mismatch);
SHMRING_SAME(SHMRING_E_OS_ERROR, shmring::ErrorCode::os_error);

SHMRING_SAME(SHMRING_KIND_SPSC, shmring::Kind::spsc);
SHMRING_SAME(SHMRING_KIND_MPSC, shmring::Kind::mpsc);
SHMRING_SAME(SHMRING_KIND_BROADCAST, shmring::Kind::broadcast);
SHMRING_SAME(SHMRING_JOIN_OLDEST, shmring::JoinAt::oldest);
SHMRING_SAME(SHMRING_JOIN_NEWEST, shmring::JoinAt::newest);

SHMRING_SAME(SHMRING_WAIT_BUSY_SPIN, shmring::WaitStrategy::busy_spin);
SHMRING_SAME(SHMRING_WAIT_SPIN_THEN_PARK, shmring::WaitStrategy::spin_then_park);
SHMRING_SAME(SHMRING_WAIT_PARK, shmring::WaitStrategy::park);

#undef SHMRING_SAME

static_assert(SHMRING_FOREVER == shmring::kForever);
static_assert(SHMRING_NAME_MAX == shmring::layout::kNameMax);
static_assert(SHMRING_MAX_PRODUCERS == shmring::layout::kMaxProducers);
static_assert(SHMRING_MAX_READERS == shmring::layout::kMaxReaders);
static_assert(SHMRING_COUNTER_LABEL_MAX + 1 == shmring::layout::kCounterLabelSize);
static_assert(SHMRING_RESERVED_TYPE_BASE == shmring::layout::kReservedTypeBase);
static_assert(sizeof(shmring_status_t) == sizeof(int) &&
              sizeof(shmring_error_code_t) == sizeof(int));

// ---- handles --------------------------------------------------------------------------------

struct shmring_ring {
  shmring::Ring ring;
};

struct shmring_producer {
  shmring::Producer producer;
  shmring::Claim claim;  // the outstanding claim (claim.data != nullptr), our trusted copy
  uint32_t ticket = 0;   // ticket of the outstanding claim; bumped per claim
};

struct shmring_consumer {
  shmring::Consumer consumer;
};

struct shmring_reader {
  shmring::Reader reader;
};

struct shmring_counters {
  shmring::CountersRegion region;
};

struct shmring_counter {
  shmring::Counter counter;
};

namespace {

using shmring::ErrorCode;
using shmring::Status;

shmring_status_t to_c(Status s) noexcept {
  return static_cast<shmring_status_t>(s);
}

shmring_error_code_t report(shmring_error_t* error, ErrorCode code, int os_error,
                            const char* message) noexcept {
  if (error != nullptr) {
    error->code = static_cast<int>(code);
    error->os_error = os_error;
    std::snprintf(error->message, sizeof error->message, "%s", message);
  }
  return static_cast<shmring_error_code_t>(code);
}

shmring_error_code_t report(shmring_error_t* error, const shmring::Error& e) noexcept {
  return report(error, e.code, e.os_error, e.message.c_str());
}

shmring_error_code_t succeed(shmring_error_t* error) noexcept {
  return report(error, ErrorCode::ok, 0, "");
}

// Runs a cold-path body; no exception leaves it.
template <class Body>
shmring_error_code_t guarded(shmring_error_t* error, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return report(error, ErrorCode::os_error, ENOMEM, "out of memory");
  } catch (const std::exception& e) {
    char buf[sizeof(shmring_error_t::message)];
    std::snprintf(buf, sizeof buf, "unexpected exception: %s", e.what());
    return report(error, ErrorCode::os_error, 0, buf);
  } catch (...) {
    return report(error, ErrorCode::os_error, 0, "unexpected exception");
  }
}

// A C caller may pass any value in a C enum parameter: read its bits without a C++ enum load
// (UBSan: "not a valid value"), then range-check it like any other input.
template <class E>
uint32_t raw_enum(const E* e) noexcept {  // by address: even a by-value copy is an enum load
  static_assert(sizeof(E) == sizeof(uint32_t), "C enums of the ABI are 32-bit");
  uint32_t v = 0;
  std::memcpy(&v, e, sizeof v);
  return v;
}

bool valid_wait(uint32_t strategy, int64_t spin_ns) noexcept {
  return strategy <= static_cast<uint32_t>(shmring::WaitStrategy::park) && spin_ns >= 0;
}

shmring::WaitOptions to_wait(uint32_t strategy, int64_t spin_ns) noexcept {
  return shmring::WaitOptions{static_cast<shmring::WaitStrategy>(strategy), spin_ns};
}

void copy_name(char (&out)[SHMRING_NAME_MAX + 1], const std::string& name) noexcept {
  const std::size_t n = name.size() < SHMRING_NAME_MAX ? name.size() : SHMRING_NAME_MAX;
  std::memcpy(out, name.data(), n);
  out[n] = '\0';
}

// The record callback as the C++ handler: no allocation, nothing to throw.
struct CallbackHandler {
  shmring_record_fn fn;
  void* user;
  void operator()(const shmring::RecordView& r) const { fn(user, r.type, r.data, r.size); }
};

shmring_status_t hand_out(shmring_producer_t* producer, Status s, shmring_claim_t* claim) noexcept {
  if (s != Status::ok) return to_c(s);
  const shmring::Claim& c = producer->claim;
  claim->data = c.data;
  claim->size = c.size;
  claim->type = c.type;
  claim->position = c.position;
  claim->ticket = ++producer->ticket;
  return SHMRING_OK;
}

// The outstanding claim, if `claim` is its receipt.
bool matches(const shmring_producer_t* producer, const shmring_claim_t* claim) noexcept {
  return claim != nullptr && producer->claim.data != nullptr &&
         claim->data == producer->claim.data && claim->ticket == producer->ticket &&
         claim->position == producer->claim.position;
}

void fill_info(shmring_counter_info_t& o, const shmring::CounterValue& c) noexcept {
  std::memset(&o, 0, sizeof o);
  o.slot = c.slot;
  o.generation = c.generation;
  o.type_id = c.type_id;
  o.owner_pid = c.owner_pid;
  o.owner_alive = c.owner_alive ? 1 : 0;
  o.value = c.value;
  const std::size_t n =
      c.label.size() < SHMRING_COUNTER_LABEL_MAX ? c.label.size() : SHMRING_COUNTER_LABEL_MAX;
  std::memcpy(o.label, c.label.data(), n);
  o.label[n] = '\0';
}

shmring_error_code_t hand_out_counters(const std::vector<shmring::CounterValue>& values,
                                       shmring_counter_info_t* out, uint32_t capacity,
                                       uint32_t* count, shmring_error_t* error) noexcept {
  *count = static_cast<uint32_t>(values.size());
  for (uint32_t i = 0; i < capacity && i < values.size(); ++i) fill_info(out[i], values[i]);
  return succeed(error);
}

}  // namespace

// ---- strings and options --------------------------------------------------------------------

extern "C" {

// A C caller may pass any int: read the bits without a C++ enum load (UBSan: out-of-range
// value), then let to_string() say "unknown".
const char* shmring_status_str(shmring_status_t status) {
  int value = 0;
  std::memcpy(&value, &status, sizeof value);
  return shmring::to_string(static_cast<Status>(value));
}

const char* shmring_error_code_str(shmring_error_code_t code) {
  int value = 0;
  std::memcpy(&value, &code, sizeof value);
  return shmring::to_string(static_cast<ErrorCode>(value));
}

void shmring_create_options_init(shmring_create_options_t* options) {
  if (options == nullptr) return;
  const shmring::CreateOptions d;
  options->kind = static_cast<uint32_t>(d.kind);
  options->capacity = d.capacity;
  options->max_record_size = d.max_record_size;
  options->mode = d.mode;
  options->max_producers = d.max_producers;
  options->initial_position = d.initial_position;
  options->max_readers = d.max_readers;
}

void shmring_producer_options_init(shmring_producer_options_t* options) {
  if (options == nullptr) return;
  const shmring::ProducerOptions d;
  options->wait_strategy = static_cast<uint32_t>(d.wait.strategy);
  options->spin_ns = d.wait.spin_ns;
  options->fail_if_consumer_dead = d.fail_if_consumer_dead ? 1 : 0;
}

void shmring_consumer_options_init(shmring_consumer_options_t* options) {
  if (options == nullptr) return;
  const shmring::ConsumerOptions d;
  options->wait_strategy = static_cast<uint32_t>(d.wait.strategy);
  options->spin_ns = d.wait.spin_ns;
  options->stuck_claim_timeout_ns = d.stuck_claim_timeout_ns;
}

// ---- rings ----------------------------------------------------------------------------------

shmring_error_code_t shmring_ring_create(const char* name, const shmring_create_options_t* options,
                                         shmring_ring_t** ring, shmring_error_t* error) {
  if (ring == nullptr)
    return report(error, ErrorCode::invalid_argument, 0, "shmring_ring_create: ring is NULL");
  *ring = nullptr;
  if (name == nullptr)
    return report(error, ErrorCode::invalid_argument, 0, "shmring_ring_create: name is NULL");
  return guarded(error, [&]() -> shmring_error_code_t {
    shmring::CreateOptions o;
    if (options != nullptr) {
      o.kind = static_cast<shmring::Kind>(options->kind);  // checked by Ring::create
      o.capacity = options->capacity;
      o.max_record_size = options->max_record_size;
      o.mode = options->mode;
      o.max_producers = options->max_producers;
      o.initial_position = options->initial_position;
      o.max_readers = options->max_readers;
    }
    auto r = shmring::Ring::create(name, o);
    if (!r) return report(error, r.error());
    auto* handle = new shmring_ring{std::move(r.value())};
    *ring = handle;
    return succeed(error);
  });
}

shmring_error_code_t shmring_ring_open(const char* name, int64_t ready_timeout_ns, int read_only,
                                       shmring_ring_t** ring, shmring_error_t* error) {
  return shmring_ring_open_flags(name, ready_timeout_ns,
                                 read_only != 0 ? SHMRING_OPEN_READ_ONLY : 0u, ring, error);
}

shmring_error_code_t shmring_ring_open_flags(const char* name, int64_t ready_timeout_ns,
                                             uint32_t flags, shmring_ring_t** ring,
                                             shmring_error_t* error) {
  if (ring == nullptr)
    return report(error, ErrorCode::invalid_argument, 0, "shmring_ring_open: ring is NULL");
  *ring = nullptr;
  if (name == nullptr)
    return report(error, ErrorCode::invalid_argument, 0, "shmring_ring_open: name is NULL");
  constexpr uint32_t kKnown = SHMRING_OPEN_READ_ONLY | SHMRING_OPEN_GLOBAL | SHMRING_OPEN_ANY_OWNER;
  if ((flags & ~kKnown) != 0)
    return report(
        error, ErrorCode::invalid_argument, 0,
        ("shmring_ring_open_flags: unknown flag bits " + std::to_string(flags & ~kKnown)).c_str());
  return guarded(error, [&]() -> shmring_error_code_t {
    shmring::OpenOptions o;
    o.ready_timeout_ns = ready_timeout_ns;
    o.read_only = (flags & SHMRING_OPEN_READ_ONLY) != 0;
    o.global_namespace = (flags & SHMRING_OPEN_GLOBAL) != 0;
    o.allow_other_owner = (flags & SHMRING_OPEN_ANY_OWNER) != 0;
    auto r = shmring::Ring::open(name, o);
    if (!r) return report(error, r.error());
    *ring = new shmring_ring{std::move(r.value())};
    return succeed(error);
  });
}

void shmring_ring_close(shmring_ring_t* ring) {
  delete ring;
}

shmring_error_code_t shmring_ring_unlink(const char* name, shmring_error_t* error) {
  if (name == nullptr)
    return report(error, ErrorCode::invalid_argument, 0, "shmring_ring_unlink: name is NULL");
  return guarded(error, [&]() -> shmring_error_code_t {
    auto r = shmring::Ring::unlink(name);
    if (!r) return report(error, r.error());
    return succeed(error);
  });
}

const char* shmring_ring_name(const shmring_ring_t* ring) {
  return ring == nullptr ? "" : ring->ring.name().c_str();
}

shmring_kind_t shmring_ring_kind(const shmring_ring_t* ring) {
  return ring == nullptr ? static_cast<shmring_kind_t>(0)
                         : static_cast<shmring_kind_t>(ring->ring.kind());
}

uint32_t shmring_ring_capacity(const shmring_ring_t* ring) {
  return ring == nullptr ? 0 : ring->ring.capacity();
}

uint32_t shmring_ring_max_payload(const shmring_ring_t* ring) {
  return ring == nullptr ? 0 : ring->ring.max_payload();
}

shmring_error_code_t shmring_ring_stat(const shmring_ring_t* ring, shmring_stat_t* stat,
                                       shmring_error_t* error) {
  if (ring == nullptr || stat == nullptr)
    return report(error, ErrorCode::invalid_argument, 0, "shmring_ring_stat: ring or stat is NULL");
  return guarded(error, [&]() -> shmring_error_code_t {
    const shmring::Stats s = ring->ring.stats();
    std::memset(stat, 0, sizeof *stat);
    copy_name(stat->name, s.name);
    stat->kind = static_cast<uint32_t>(s.kind);
    stat->capacity = s.capacity;
    stat->max_record_size = s.max_record_size;
    stat->max_producers = s.max_producers;
    stat->creator_pid = s.creator_pid;
    stat->producer_position = s.producer_position;
    stat->consumer_position = s.consumer_position;
    stat->used_bytes = s.used_bytes;
    stat->consumer_pid = s.consumer.pid;
    stat->consumer_alive = s.consumer.alive ? 1 : 0;
    stat->messages_written = s.messages_written;
    stat->messages_read = s.messages_read;
    stat->bytes_written = s.bytes_written;
    stat->bytes_read = s.bytes_read;
    stat->full_count = s.full_count;
    stat->aborts = s.aborts;
    stat->producer_sleeps = s.producer_sleeps;
    stat->consumer_sleeps = s.consumer_sleeps;
    stat->producer_wakes = s.producer_wakes_sent;
    stat->consumer_wakes = s.consumer_wakes_sent;
    stat->recovered_claims = s.recovered_claims;
    stat->recovered_bytes = s.recovered_bytes;
    for (const shmring::ProducerStats& p : s.producers) {
      if (stat->producer_count == SHMRING_MAX_PRODUCERS) break;  // the layout allows no more
      shmring_producer_stat_t& out = stat->producers[stat->producer_count++];
      out.pid = p.pid;
      out.alive = p.alive ? 1 : 0;
      out.claim_active = p.claim_active ? 1 : 0;
      out.messages_written = p.messages_written;
      out.bytes_written = p.bytes_written;
      out.full_count = p.full_count;
      out.sleeps = p.sleeps;
      out.wakes_sent = p.wakes_sent;
      out.aborts = p.aborts;
    }
    return succeed(error);
  });
}

// ---- producers ------------------------------------------------------------------------------

shmring_error_code_t shmring_producer_attach(shmring_ring_t* ring,
                                             const shmring_producer_options_t* options,
                                             shmring_producer_t** producer,
                                             shmring_error_t* error) {
  if (producer == nullptr)
    return report(error, ErrorCode::invalid_argument, 0,
                  "shmring_producer_attach: producer is NULL");
  *producer = nullptr;
  if (ring == nullptr)
    return report(error, ErrorCode::invalid_argument, 0, "shmring_producer_attach: ring is NULL");
  shmring::ProducerOptions o;
  if (options != nullptr) {
    if (!valid_wait(options->wait_strategy, options->spin_ns))
      return report(error, ErrorCode::invalid_argument, 0,
                    "shmring_producer_attach: unknown wait strategy or negative spin_ns");
    o.wait = to_wait(options->wait_strategy, options->spin_ns);
    o.fail_if_consumer_dead = options->fail_if_consumer_dead != 0;
  }
  return guarded(error, [&]() -> shmring_error_code_t {
    auto r = ring->ring.attach_producer(o);
    if (!r) return report(error, r.error());
    *producer = new shmring_producer{std::move(r.value()), {}, 0};
    return succeed(error);
  });
}

void shmring_producer_detach(shmring_producer_t* producer) {
  delete producer;  // ~Producer aborts an outstanding claim and frees the slot
}

shmring_status_t shmring_producer_write(shmring_producer_t* producer, uint32_t type,
                                        const void* data, uint32_t size) {
  if (producer == nullptr || (data == nullptr && size != 0)) return SHMRING_INVALID_ARGUMENT;
  return to_c(producer->producer.try_write(type, data, size));
}

shmring_status_t shmring_producer_write_timeout(shmring_producer_t* producer, uint32_t type,
                                                const void* data, uint32_t size,
                                                int64_t timeout_ns) {
  if (producer == nullptr || (data == nullptr && size != 0)) return SHMRING_INVALID_ARGUMENT;
  return to_c(producer->producer.write(type, data, size, timeout_ns));
}

shmring_status_t shmring_producer_claim(shmring_producer_t* producer, uint32_t type, uint32_t size,
                                        shmring_claim_t* claim) {
  if (producer == nullptr || claim == nullptr) return SHMRING_INVALID_ARGUMENT;
  if (producer->claim.data != nullptr) return SHMRING_CLAIM_PENDING;
  return hand_out(producer, producer->producer.try_claim(type, size, producer->claim), claim);
}

shmring_status_t shmring_producer_claim_timeout(shmring_producer_t* producer, uint32_t type,
                                                uint32_t size, shmring_claim_t* claim,
                                                int64_t timeout_ns) {
  if (producer == nullptr || claim == nullptr) return SHMRING_INVALID_ARGUMENT;
  if (producer->claim.data != nullptr) return SHMRING_CLAIM_PENDING;
  return hand_out(producer, producer->producer.claim(type, size, producer->claim, timeout_ns),
                  claim);
}

shmring_status_t shmring_producer_commit(shmring_producer_t* producer, shmring_claim_t* claim) {
  if (producer == nullptr || !matches(producer, claim)) return SHMRING_INVALID_ARGUMENT;
  producer->producer.commit(producer->claim);  // clears producer->claim.data
  claim->data = nullptr;
  return SHMRING_OK;
}

shmring_status_t shmring_producer_abort(shmring_producer_t* producer, shmring_claim_t* claim) {
  if (producer == nullptr || !matches(producer, claim)) return SHMRING_INVALID_ARGUMENT;
  producer->producer.abort(producer->claim);  // clears producer->claim.data
  claim->data = nullptr;
  return SHMRING_OK;
}

uint32_t shmring_producer_max_payload(const shmring_producer_t* producer) {
  return producer == nullptr ? 0 : producer->producer.max_payload();
}

const char* shmring_producer_last_error(const shmring_producer_t* producer) {
  return producer == nullptr ? "" : producer->producer.last_error().c_str();
}

shmring_status_t shmring_producer_set_wait(shmring_producer_t* producer,
                                           shmring_wait_strategy_t strategy, int64_t spin_ns) {
  if (producer == nullptr || !valid_wait(raw_enum(&strategy), spin_ns))
    return SHMRING_INVALID_ARGUMENT;
  producer->producer.set_wait(to_wait(raw_enum(&strategy), spin_ns));
  return SHMRING_OK;
}

// ---- consumers ------------------------------------------------------------------------------

shmring_error_code_t shmring_consumer_attach(shmring_ring_t* ring,
                                             const shmring_consumer_options_t* options,
                                             shmring_consumer_t** consumer,
                                             shmring_error_t* error) {
  if (consumer == nullptr)
    return report(error, ErrorCode::invalid_argument, 0,
                  "shmring_consumer_attach: consumer is NULL");
  *consumer = nullptr;
  if (ring == nullptr)
    return report(error, ErrorCode::invalid_argument, 0, "shmring_consumer_attach: ring is NULL");
  shmring::ConsumerOptions o;
  if (options != nullptr) {
    if (!valid_wait(options->wait_strategy, options->spin_ns) ||
        options->stuck_claim_timeout_ns < 0)
      return report(error, ErrorCode::invalid_argument, 0,
                    "shmring_consumer_attach: unknown wait strategy, negative spin_ns or "
                    "negative stuck_claim_timeout_ns");
    o.wait = to_wait(options->wait_strategy, options->spin_ns);
    o.stuck_claim_timeout_ns = options->stuck_claim_timeout_ns;
  }
  return guarded(error, [&]() -> shmring_error_code_t {
    auto r = ring->ring.attach_consumer(o);
    if (!r) return report(error, r.error());
    *consumer = new shmring_consumer{std::move(r.value())};
    return succeed(error);
  });
}

void shmring_consumer_detach(shmring_consumer_t* consumer) {
  delete consumer;
}

shmring_status_t shmring_consumer_poll(shmring_consumer_t* consumer, shmring_record_fn fn,
                                       void* user, size_t max, size_t* delivered) {
  if (delivered != nullptr) *delivered = 0;
  if (consumer == nullptr || fn == nullptr || max == 0) return SHMRING_INVALID_ARGUMENT;
  const shmring::PollResult r = consumer->consumer.poll(CallbackHandler{fn, user}, max);
  if (delivered != nullptr) *delivered = r.count;
  return to_c(r.status);
}

shmring_status_t shmring_consumer_poll_timeout(shmring_consumer_t* consumer, shmring_record_fn fn,
                                               void* user, size_t max, int64_t timeout_ns,
                                               size_t* delivered) {
  if (delivered != nullptr) *delivered = 0;
  // max == 0 would make Consumer::read spin forever on a readable ring: it never delivers.
  if (consumer == nullptr || fn == nullptr || max == 0) return SHMRING_INVALID_ARGUMENT;
  const shmring::PollResult r = consumer->consumer.read(CallbackHandler{fn, user}, max, timeout_ns);
  if (delivered != nullptr) *delivered = r.count;
  return to_c(r.status);
}

shmring_status_t shmring_consumer_read(shmring_consumer_t* consumer, void* buf, uint32_t capacity,
                                       uint32_t* size, uint32_t* type) {
  if (consumer == nullptr || (buf == nullptr && capacity != 0)) return SHMRING_INVALID_ARGUMENT;
  uint32_t n = 0, t = 0;
  const Status s = consumer->consumer.try_read(buf, capacity, n, t);
  if (s == Status::ok || s == Status::too_large) {
    if (size != nullptr) *size = n;
    if (type != nullptr) *type = t;
  }
  return to_c(s);
}

shmring_status_t shmring_consumer_read_timeout(shmring_consumer_t* consumer, void* buf,
                                               uint32_t capacity, uint32_t* size, uint32_t* type,
                                               int64_t timeout_ns) {
  if (consumer == nullptr || (buf == nullptr && capacity != 0)) return SHMRING_INVALID_ARGUMENT;
  uint32_t n = 0, t = 0;
  const Status s = consumer->consumer.read(buf, capacity, n, t, timeout_ns);
  if (s == Status::ok || s == Status::too_large) {
    if (size != nullptr) *size = n;
    if (type != nullptr) *type = t;
  }
  return to_c(s);
}

shmring_status_t shmring_consumer_wait_readable(shmring_consumer_t* consumer, int64_t timeout_ns) {
  if (consumer == nullptr) return SHMRING_INVALID_ARGUMENT;
  return to_c(consumer->consumer.wait_readable(timeout_ns));
}

const char* shmring_consumer_last_error(const shmring_consumer_t* consumer) {
  return consumer == nullptr ? "" : consumer->consumer.last_error().c_str();
}

shmring_status_t shmring_consumer_set_wait(shmring_consumer_t* consumer,
                                           shmring_wait_strategy_t strategy, int64_t spin_ns) {
  if (consumer == nullptr || !valid_wait(raw_enum(&strategy), spin_ns))
    return SHMRING_INVALID_ARGUMENT;
  consumer->consumer.set_wait(to_wait(raw_enum(&strategy), spin_ns));
  return SHMRING_OK;
}

// ---- broadcast readers ----------------------------------------------------------------------

void shmring_reader_options_init(shmring_reader_options_t* options) {
  if (options == nullptr) return;
  const shmring::ReaderOptions d;
  options->join = static_cast<uint32_t>(d.join);
  options->wait_strategy = static_cast<uint32_t>(d.wait.strategy);
  options->spin_ns = d.wait.spin_ns;
}

shmring_error_code_t shmring_reader_attach(shmring_ring_t* ring,
                                           const shmring_reader_options_t* options,
                                           shmring_reader_t** reader, shmring_error_t* error) {
  if (reader == nullptr)
    return report(error, ErrorCode::invalid_argument, 0, "shmring_reader_attach: reader is NULL");
  *reader = nullptr;
  if (ring == nullptr)
    return report(error, ErrorCode::invalid_argument, 0, "shmring_reader_attach: ring is NULL");
  shmring::ReaderOptions o;
  if (options != nullptr) {
    if (!valid_wait(options->wait_strategy, options->spin_ns) ||
        options->join > static_cast<uint32_t>(shmring::JoinAt::newest))
      return report(error, ErrorCode::invalid_argument, 0,
                    "shmring_reader_attach: unknown join or wait strategy, or negative spin_ns");
    o.join = static_cast<shmring::JoinAt>(options->join);
    o.wait = to_wait(options->wait_strategy, options->spin_ns);
  }
  return guarded(error, [&]() -> shmring_error_code_t {
    auto r = ring->ring.attach_reader(o);
    if (!r) return report(error, r.error());
    *reader = new shmring_reader{std::move(r.value())};
    return succeed(error);
  });
}

void shmring_reader_detach(shmring_reader_t* reader) {
  delete reader;
}

shmring_status_t shmring_reader_poll(shmring_reader_t* reader, shmring_record_fn fn, void* user,
                                     size_t max, size_t* delivered) {
  if (delivered != nullptr) *delivered = 0;
  if (reader == nullptr || fn == nullptr || max == 0) return SHMRING_INVALID_ARGUMENT;
  const shmring::PollResult r = reader->reader.poll(CallbackHandler{fn, user}, max);
  if (delivered != nullptr) *delivered = r.count;
  return to_c(r.status);
}

shmring_status_t shmring_reader_poll_timeout(shmring_reader_t* reader, shmring_record_fn fn,
                                             void* user, size_t max, int64_t timeout_ns,
                                             size_t* delivered) {
  if (delivered != nullptr) *delivered = 0;
  if (reader == nullptr || fn == nullptr || max == 0) return SHMRING_INVALID_ARGUMENT;
  const shmring::PollResult r = reader->reader.read(CallbackHandler{fn, user}, max, timeout_ns);
  if (delivered != nullptr) *delivered = r.count;
  return to_c(r.status);
}

shmring_status_t shmring_reader_read(shmring_reader_t* reader, void* buf, uint32_t capacity,
                                     uint32_t* size, uint32_t* type) {
  if (reader == nullptr || (buf == nullptr && capacity != 0)) return SHMRING_INVALID_ARGUMENT;
  uint32_t n = 0, t = 0;
  const Status s = reader->reader.try_read(buf, capacity, n, t);
  if (s == Status::ok || s == Status::too_large) {
    if (size != nullptr) *size = n;
    if (type != nullptr) *type = t;
  }
  return to_c(s);
}

shmring_status_t shmring_reader_read_timeout(shmring_reader_t* reader, void* buf, uint32_t capacity,
                                             uint32_t* size, uint32_t* type, int64_t timeout_ns) {
  if (reader == nullptr || (buf == nullptr && capacity != 0)) return SHMRING_INVALID_ARGUMENT;
  // One wait per call, as Reader::read: after it, a record that was overwritten meanwhile
  // leaves the reader resynchronised and the ring possibly empty again (TIMEOUT).
  for (int64_t wait_ns = timeout_ns;; wait_ns = 0) {
    const shmring_status_t s = shmring_reader_read(reader, buf, capacity, size, type);
    if (s != SHMRING_EMPTY) return s;
    const Status w = reader->reader.wait_readable(wait_ns);
    if (w != Status::ok) return to_c(w);
  }
}

shmring_status_t shmring_reader_wait_readable(shmring_reader_t* reader, int64_t timeout_ns) {
  if (reader == nullptr) return SHMRING_INVALID_ARGUMENT;
  return to_c(reader->reader.wait_readable(timeout_ns));
}

uint64_t shmring_reader_received(const shmring_reader_t* reader) {
  return reader == nullptr ? 0 : reader->reader.received();
}

uint64_t shmring_reader_lost(const shmring_reader_t* reader) {
  return reader == nullptr ? 0 : reader->reader.lost();
}

uint64_t shmring_reader_laps(const shmring_reader_t* reader) {
  return reader == nullptr ? 0 : reader->reader.laps();
}

uint32_t shmring_reader_position(const shmring_reader_t* reader) {
  return reader == nullptr ? 0 : reader->reader.position();
}

const char* shmring_reader_last_error(const shmring_reader_t* reader) {
  return reader == nullptr ? "" : reader->reader.last_error().c_str();
}

shmring_status_t shmring_reader_set_wait(shmring_reader_t* reader, shmring_wait_strategy_t strategy,
                                         int64_t spin_ns) {
  if (reader == nullptr || !valid_wait(raw_enum(&strategy), spin_ns))
    return SHMRING_INVALID_ARGUMENT;
  reader->reader.set_wait(to_wait(raw_enum(&strategy), spin_ns));
  return SHMRING_OK;
}

shmring_error_code_t shmring_ring_readers(const shmring_ring_t* ring, shmring_reader_stat_t* out,
                                          uint32_t capacity, uint32_t* count,
                                          shmring_error_t* error) {
  if (ring == nullptr || count == nullptr || (out == nullptr && capacity != 0))
    return report(error, ErrorCode::invalid_argument, 0,
                  "shmring_ring_readers: ring, count or out is NULL");
  return guarded(error, [&]() -> shmring_error_code_t {
    const shmring::Stats s = ring->ring.stats();
    *count = static_cast<uint32_t>(s.readers.size());
    for (uint32_t i = 0; i < capacity && i < s.readers.size(); ++i) {
      const shmring::ReaderStats& r = s.readers[i];
      shmring_reader_stat_t& o = out[i];
      std::memset(&o, 0, sizeof o);
      o.pid = r.pid;
      o.alive = r.alive ? 1 : 0;
      o.cursor = r.cursor;
      o.lag_bytes = r.lag_bytes;
      o.messages_read = r.messages_read;
      o.bytes_read = r.bytes_read;
      o.lost = r.lost;
      o.laps = r.laps;
      o.sleeps = r.sleeps;
      o.last_activity_ns = r.last_activity_ns;
    }
    return succeed(error);
  });
}

// ---- counters -------------------------------------------------------------------------------

void shmring_counters_options_init(shmring_counters_options_t* options) {
  if (options == nullptr) return;
  const shmring::CountersOptions d;
  options->slots = d.slots;
  options->mode = d.mode;
  options->reuse_delay_ns = d.reuse_delay_ns;
}

shmring_error_code_t shmring_counters_create(const char* name,
                                             const shmring_counters_options_t* options,
                                             shmring_counters_t** region, shmring_error_t* error) {
  if (region == nullptr)
    return report(error, ErrorCode::invalid_argument, 0, "shmring_counters_create: region is NULL");
  *region = nullptr;
  if (name == nullptr)
    return report(error, ErrorCode::invalid_argument, 0, "shmring_counters_create: name is NULL");
  return guarded(error, [&]() -> shmring_error_code_t {
    shmring::CountersOptions o;
    if (options != nullptr) {
      o.slots = options->slots;
      o.mode = options->mode;
      o.reuse_delay_ns = options->reuse_delay_ns;
    }
    auto r = shmring::CountersRegion::create(name, o);
    if (!r) return report(error, r.error());
    *region = new shmring_counters{std::move(r.value())};
    return succeed(error);
  });
}

shmring_error_code_t shmring_counters_open(const char* name, int read_only,
                                           shmring_counters_t** region, shmring_error_t* error) {
  if (region == nullptr)
    return report(error, ErrorCode::invalid_argument, 0, "shmring_counters_open: region is NULL");
  *region = nullptr;
  if (name == nullptr)
    return report(error, ErrorCode::invalid_argument, 0, "shmring_counters_open: name is NULL");
  return guarded(error, [&]() -> shmring_error_code_t {
    auto r = shmring::CountersRegion::open(name, read_only != 0);
    if (!r) return report(error, r.error());
    *region = new shmring_counters{std::move(r.value())};
    return succeed(error);
  });
}

void shmring_counters_close(shmring_counters_t* region) {
  delete region;
}

shmring_error_code_t shmring_counters_unlink(const char* name, shmring_error_t* error) {
  if (name == nullptr)
    return report(error, ErrorCode::invalid_argument, 0, "shmring_counters_unlink: name is NULL");
  return guarded(error, [&]() -> shmring_error_code_t {
    auto r = shmring::CountersRegion::unlink(name);
    if (!r) return report(error, r.error());
    return succeed(error);
  });
}

uint32_t shmring_counters_slot_count(const shmring_counters_t* region) {
  return region == nullptr ? 0 : region->region.slot_count();
}

shmring_error_code_t shmring_counter_allocate(shmring_counters_t* region, const char* label,
                                              uint32_t type_id, shmring_counter_t** counter,
                                              shmring_error_t* error) {
  if (counter == nullptr)
    return report(error, ErrorCode::invalid_argument, 0,
                  "shmring_counter_allocate: counter is NULL");
  *counter = nullptr;
  if (region == nullptr || label == nullptr)
    return report(error, ErrorCode::invalid_argument, 0,
                  "shmring_counter_allocate: region or label is NULL");
  return guarded(error, [&]() -> shmring_error_code_t {
    auto r = region->region.allocate(label, type_id);
    if (!r) return report(error, r.error());
    *counter = new shmring_counter{std::move(r.value())};
    return succeed(error);
  });
}

void shmring_counter_free(shmring_counter_t* counter) {
  delete counter;  // ~Counter frees the slot
}

void shmring_counter_add(shmring_counter_t* counter, uint64_t delta) {
  if (counter != nullptr) counter->counter.add(delta);
}

void shmring_counter_store(shmring_counter_t* counter, uint64_t value) {
  if (counter != nullptr) counter->counter.store(value);
}

uint64_t shmring_counter_load(const shmring_counter_t* counter) {
  return counter == nullptr ? 0 : counter->counter.load();
}

uint32_t shmring_counter_slot(const shmring_counter_t* counter) {
  return counter == nullptr ? 0 : counter->counter.slot();
}

uint32_t shmring_counter_generation(const shmring_counter_t* counter) {
  return counter == nullptr ? 0 : counter->counter.generation();
}

int shmring_counters_read(const shmring_counters_t* region, uint32_t slot, uint32_t generation,
                          uint64_t* value) {
  if (region == nullptr || value == nullptr) return 0;
  return region->region.read(slot, generation, *value) ? 1 : 0;
}

shmring_error_code_t shmring_counters_snapshot(const shmring_counters_t* region,
                                               shmring_counter_info_t* out, uint32_t capacity,
                                               uint32_t* count, shmring_error_t* error) {
  if (region == nullptr || count == nullptr || (out == nullptr && capacity != 0))
    return report(error, ErrorCode::invalid_argument, 0,
                  "shmring_counters_snapshot: region, count or out is NULL");
  return guarded(error, [&]() -> shmring_error_code_t {
    return hand_out_counters(region->region.snapshot(), out, capacity, count, error);
  });
}

shmring_error_code_t shmring_ring_counters(const shmring_ring_t* ring, shmring_counter_info_t* out,
                                           uint32_t capacity, uint32_t* count,
                                           shmring_error_t* error) {
  if (ring == nullptr || count == nullptr || (out == nullptr && capacity != 0))
    return report(error, ErrorCode::invalid_argument, 0,
                  "shmring_ring_counters: ring, count or out is NULL");
  return guarded(error, [&]() -> shmring_error_code_t {
    return hand_out_counters(shmring::ring_counters(ring->ring.stats()), out, capacity, count,
                             error);
  });
}

}  // extern "C"

/* shmring — C ABI over the C++ library (core/include/shmring/ring.hpp).
 *
 *   shmring_create_options_t o;
 *   shmring_create_options_init(&o);               // spsc, 1 MiB, owner-only
 *   shmring_ring_t* ring;
 *   shmring_error_t err;
 *   if (shmring_ring_create("orders", &o, &ring, &err) != SHMRING_E_OK) puts(err.message);
 *   shmring_producer_t* p;                          // any process: shmring_ring_open("orders")
 *   shmring_producer_attach(ring, NULL, &p, &err);
 *   if (shmring_producer_write_timeout(p, 7, "hello", 5, SHMRING_FOREVER) != SHMRING_OK) ...;
 *
 * Conventions
 *  - Names are shmring_<object>_<verb>. Handles are opaque pointers; every handle a function
 *    hands out is released by exactly one matching call (close / detach). Passing NULL to a
 *    release call is a no-op.
 *  - Cold path (create, open, unlink, attach, stat): returns shmring_error_code_t and, when the
 *    `error` argument is not NULL, fills it (code, OS error number, a message naming the ring).
 *    These calls may allocate and may make system calls.
 *  - Hot path (write, claim, commit, abort, poll, read, wait): returns shmring_status_t, never
 *    allocates. The non-blocking calls are lock-free and make no system call while the peer is
 *    awake. The *_timeout calls block: they spin, yield, then sleep in the kernel according to
 *    the handle's wait strategy. A timeout_ns < 0 (SHMRING_FOREVER) means no deadline.
 *  - Threads: a ring handle may be used by several threads at once (attach, stat, accessors),
 *    but shmring_ring_close must not race with any other use of that handle. A producer or a
 *    consumer handle is used by one thread at a time (it caches positions); give each writing
 *    thread its own producer. Different handles need no coordination.
 *  - Processes: a handle belongs to the process that made it. After fork(), the child must not
 *    use handles it inherited; it opens the ring by name and attaches its own.
 *  - No C++ exception ever crosses this interface.
 */
#ifndef SHMRING_H
#define SHMRING_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#if defined(SHMRING_C_BUILDING)
#define SHMRING_API __declspec(dllexport)
#else
#define SHMRING_API __declspec(dllimport)
#endif
#elif defined(__GNUC__)
#define SHMRING_API __attribute__((visibility("default")))
#else
#define SHMRING_API
#endif

#if (defined(__cplusplus) && __cplusplus >= 201703L) || \
    (defined(__STDC_VERSION__) && __STDC_VERSION__ >= 202311L)
#define SHMRING_NODISCARD [[nodiscard]]
#else
#define SHMRING_NODISCARD
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- constants ------------------------------------------------------------------------- */

#define SHMRING_FOREVER ((int64_t)-1)          /* timeout_ns meaning "no deadline" */
#define SHMRING_NAME_MAX 63                    /* characters in a ring name */
#define SHMRING_MAX_PRODUCERS 64               /* producer slots an mpsc ring can have */
#define SHMRING_MAX_READERS 64                 /* reader slots a broadcast ring can have */
#define SHMRING_COUNTER_LABEL_MAX 39           /* bytes in a counter label (NUL excluded) */
#define SHMRING_RESERVED_TYPE_BASE 0xFFFF0000u /* record type ids >= this are the library's */

/* ---- status and error codes -------------------------------------------------------------- */

/* Hot-path outcome. Values equal shmring::Status. */
typedef enum shmring_status {
  SHMRING_OK = 0,
  SHMRING_FULL = 1,            /* not enough free space right now (non-blocking calls only) */
  SHMRING_EMPTY = 2,           /* nothing committed to read right now (non-blocking calls only) */
  SHMRING_TIMEOUT = 3,         /* a blocking call reached its deadline */
  SHMRING_TOO_LARGE = 4,       /* record above the ring's max payload, or copy-out buffer small */
  SHMRING_CORRUPT = 5,         /* impossible record or position; the consumer handle stops */
  SHMRING_CONSUMER_DEAD = 6,   /* a blocking producer found the ring full and the consumer gone */
  SHMRING_CLAIM_PENDING = 7,   /* this producer already holds an uncommitted claim */
  SHMRING_INVALID_ARGUMENT = 8 /* NULL handle, reserved type id, stale claim, bad option... */
} shmring_status_t;

/* Cold-path error codes. Values equal shmring::ErrorCode. */
typedef enum shmring_error_code {
  SHMRING_E_OK = 0,
  SHMRING_E_INVALID_ARGUMENT = 1,  /* capacity not a power of two, NULL pointer, bad option... */
  SHMRING_E_INVALID_NAME = 2,      /* empty, too long, path separator, "..", bad character */
  SHMRING_E_ALREADY_EXISTS = 3,    /* create of a name that exists */
  SHMRING_E_NOT_FOUND = 4,         /* open or unlink of a name that does not exist */
  SHMRING_E_PERMISSION_DENIED = 5, /* the OS refused access (mode) */
  SHMRING_E_NOT_READY = 6,         /* the creator has not published the header within the wait */
  SHMRING_E_NOT_A_RING = 7,        /* wrong magic */
  SHMRING_E_VERSION_MISMATCH = 8,  /* layout version this build does not understand */
  SHMRING_E_TRUNCATED = 9,         /* mapping smaller than the header says */
  SHMRING_E_CORRUPT = 10,          /* impossible header fields, positions or record lengths */
  SHMRING_E_BUSY = 11,             /* a live consumer is attached / all producer slots taken */
  SHMRING_E_KIND_MISMATCH = 12,    /* reserved; a second spsc producer gets SHMRING_E_BUSY */
  SHMRING_E_OS_ERROR = 13          /* anything else the OS reported (also: out of memory) */
} shmring_error_code_t;

/* Detail of a failed cold-path call. `message` is always NUL-terminated (truncated if long). */
typedef struct shmring_error {
  int code;     /* shmring_error_code_t */
  int os_error; /* errno, or 0 when the failure did not come from the OS */
  char message[256];
} shmring_error_t;

/* Static strings for the codes ("ok", "full", "not_found"...); "unknown" for other values.
 * Thread-safe; never NULL. */
SHMRING_API const char* shmring_status_str(shmring_status_t status);
SHMRING_API const char* shmring_error_code_str(shmring_error_code_t code);

/* ---- options ----------------------------------------------------------------------------- */

typedef enum shmring_kind {
  SHMRING_KIND_SPSC = 1,     /* one producer, one consumer */
  SHMRING_KIND_MPSC = 2,     /* up to max_producers producers (any processes), one consumer */
  SHMRING_KIND_BROADCAST = 3 /* one producer that never blocks, up to max_readers readers */
} shmring_kind_t;

typedef enum shmring_wait_strategy {
  SHMRING_WAIT_BUSY_SPIN = 0,      /* spin until the deadline; lowest latency, burns a core */
  SHMRING_WAIT_SPIN_THEN_PARK = 1, /* spin ~spin_ns, yield a little, then sleep (default) */
  SHMRING_WAIT_PARK = 2            /* sleep in the kernel at once */
} shmring_wait_strategy_t;

typedef struct shmring_create_options {
  uint32_t kind;             /* shmring_kind_t */
  uint32_t capacity;         /* bytes; power of two in [256, 2^30] */
  uint32_t max_record_size;  /* bytes incl. the 8-byte header; 0 = capacity / 8; <= capacity / 2 */
  uint32_t mode;             /* permission bits of the OS object, within 0777 */
  uint32_t max_producers;    /* mpsc producer slots, 1..64 (ignored for spsc) */
  uint32_t initial_position; /* testing aid: start positions near 2^32 to cross the wrap */
  uint32_t max_readers;      /* broadcast reader slots, 1..64 (ignored for spsc and mpsc) */
} shmring_create_options_t;

typedef struct shmring_producer_options {
  uint32_t wait_strategy; /* shmring_wait_strategy_t */
  int64_t spin_ns;        /* spin budget before parking (spin_then_park) */
  /* A blocking write that finds the ring full while the consumer process is dead returns
   * SHMRING_CONSUMER_DEAD (non-zero) or keeps waiting for a new consumer until its timeout (0). */
  int fail_if_consumer_dead;
} shmring_producer_options_t;

typedef struct shmring_consumer_options {
  uint32_t wait_strategy; /* shmring_wait_strategy_t */
  int64_t spin_ns;        /* spin budget before parking (spin_then_park) */
  /* mpsc: how long a claimed-but-uncommitted record may block the consumer before it checks
   * whether the claiming process is alive; a dead owner's record is skipped as padding. */
  int64_t stuck_claim_timeout_ns;
} shmring_consumer_options_t;

/* Fill an options struct with the library defaults: spsc, 1 MiB, max_record_size 0, mode 0600,
 * 16 producer slots, initial_position 0, 16 reader slots / spin_then_park, 50 us spin,
 * fail_if_consumer_dead 1 / spin_then_park, 50 us spin, 200 ms stuck-claim timeout.
 * Thread-safe; NULL is a no-op. */
SHMRING_API void shmring_create_options_init(shmring_create_options_t* options);
SHMRING_API void shmring_producer_options_init(shmring_producer_options_t* options);
SHMRING_API void shmring_consumer_options_init(shmring_consumer_options_t* options);

/* ---- rings ------------------------------------------------------------------------------- */

typedef struct shmring_ring shmring_ring_t;

/* Creates the named ring (1..63 characters of [A-Za-z0-9._-], not starting with '.', no "..")
 * and maps it. Fails with SHMRING_E_ALREADY_EXISTS if the name is taken. On success *ring is a
 * new handle owned by the caller (release with shmring_ring_close); on failure *ring is NULL.
 * `options` NULL means the defaults of shmring_create_options_init. Cold path. */
SHMRING_API shmring_error_code_t shmring_ring_create(const char* name,
                                                     const shmring_create_options_t* options,
                                                     shmring_ring_t** ring, shmring_error_t* error);

/* Opens and maps an existing ring. If its creator has not finished publishing the header yet,
 * waits up to ready_timeout_ns (< 0: forever) and then fails with SHMRING_E_NOT_READY.
 * read_only != 0 maps it read-only: stat works, attach fails with SHMRING_E_INVALID_ARGUMENT.
 * Ownership as for shmring_ring_create. Cold path; may sleep (1 ms steps) while not ready. */
SHMRING_API shmring_error_code_t shmring_ring_open(const char* name, int64_t ready_timeout_ns,
                                                   int read_only, shmring_ring_t** ring,
                                                   shmring_error_t* error);

/* Flags of shmring_ring_open_flags (bitwise or). */
#define SHMRING_OPEN_READ_ONLY 0x1u /* as read_only != 0 above */
#define SHMRING_OPEN_GLOBAL 0x2u    /* Windows: the ring is in Global\ instead of Local\ */
/* Linux: a read-write open refuses (SHMRING_E_PERMISSION_DENIED) an object owned by another
 * user, a name that may have been planted before its creator ran (docs/security.md). This flag
 * allows it, for rings shared across users on purpose. */
#define SHMRING_OPEN_ANY_OWNER 0x4u

/* shmring_ring_open with flags; unknown bits fail with SHMRING_E_INVALID_ARGUMENT. */
SHMRING_API shmring_error_code_t shmring_ring_open_flags(const char* name, int64_t ready_timeout_ns,
                                                         uint32_t flags, shmring_ring_t** ring,
                                                         shmring_error_t* error);

/* Unmaps and frees the handle. Never removes the name. Producers and consumers attached
 * through it stay valid (they keep the mapping alive) until they are detached. NULL: no-op. */
SHMRING_API void shmring_ring_close(shmring_ring_t* ring);

/* Removes the name; existing mappings stay valid until closed. SHMRING_E_NOT_FOUND if absent. */
SHMRING_API shmring_error_code_t shmring_ring_unlink(const char* name, shmring_error_t* error);

/* Accessors. Thread-safe. The name string is owned by the handle, valid until close. */
SHMRING_API const char* shmring_ring_name(const shmring_ring_t* ring);
SHMRING_API shmring_kind_t shmring_ring_kind(const shmring_ring_t* ring);
SHMRING_API uint32_t shmring_ring_capacity(const shmring_ring_t* ring);
SHMRING_API uint32_t shmring_ring_max_payload(const shmring_ring_t* ring); /* max_record - 8 */

typedef struct shmring_producer_stat {
  uint32_t pid;
  uint32_t alive;        /* 1 if the process exists */
  uint32_t claim_active; /* 1 while a claim may be outstanding */
  uint32_t reserved;
  uint64_t messages_written;
  uint64_t bytes_written; /* payload bytes */
  uint64_t full_count;    /* times it found the ring full (every failed attempt counts) */
  uint64_t sleeps;        /* times it parked waiting for space */
  uint64_t wakes_sent;    /* kernel wake calls it made for the consumer */
  uint64_t aborts;
} shmring_producer_stat_t;

/* A snapshot for people (monitoring, tests), not a synchronisation point: fields are read
 * one by one and may be mutually a little out of date. Producer totals are summed over every
 * slot; `producers` lists the attached (or dead, never released) slots. */
typedef struct shmring_stat {
  char name[SHMRING_NAME_MAX + 1];
  uint32_t kind; /* shmring_kind_t */
  uint32_t capacity;
  uint32_t max_record_size; /* bytes incl. the 8-byte header */
  uint32_t max_producers;
  uint32_t creator_pid;
  uint32_t producer_position;
  uint32_t consumer_position;
  uint32_t used_bytes;
  uint32_t consumer_pid; /* 0 = no consumer attached */
  uint32_t consumer_alive;
  uint64_t messages_written;
  uint64_t messages_read;
  uint64_t bytes_written; /* payload bytes */
  uint64_t bytes_read;
  uint64_t full_count;
  uint64_t aborts;
  uint64_t producer_sleeps;
  uint64_t consumer_sleeps;
  uint64_t producer_wakes;   /* wake calls producers made for the consumer */
  uint64_t consumer_wakes;   /* wake calls the consumer made for waiting producers */
  uint64_t recovered_claims; /* dead producers' claims the consumer turned into padding */
  uint64_t recovered_bytes;
  uint32_t producer_count; /* valid entries in producers[] */
  uint32_t reserved;
  shmring_producer_stat_t producers[SHMRING_MAX_PRODUCERS];
} shmring_stat_t;

/* Fills *stat. Never writes the mapping; works on read-only handles. Thread-safe. Cold path
 * (allocates internally; makes one liveness system call per listed process). */
SHMRING_API shmring_error_code_t shmring_ring_stat(const shmring_ring_t* ring, shmring_stat_t* stat,
                                                   shmring_error_t* error);

/* ---- producers --------------------------------------------------------------------------- */

typedef struct shmring_producer shmring_producer_t;

/* A zero-copy claim: write `size` bytes at `data`, then commit or abort it with the producer
 * that made it. The struct is a receipt: commit and abort use the producer's own copy of the
 * claim and only check that `ticket` names the outstanding one, so changing `size` does not
 * change what is published. */
typedef struct shmring_claim {
  void* data;        /* where the payload goes; NULL once committed or aborted */
  uint32_t size;     /* payload bytes claimed */
  uint32_t type;     /* record type id */
  uint32_t position; /* ring position of the record header */
  uint32_t ticket;   /* identifies this claim to commit / abort */
} shmring_claim_t;

/* Takes a producer slot (spsc: the one slot; mpsc: one of max_producers). Fails with
 * SHMRING_E_BUSY when a live producer holds it / all slots are taken, SHMRING_E_INVALID_ARGUMENT
 * on a read-only handle. `options` NULL means the defaults. On success *producer is a new handle
 * owned by the caller (release with shmring_producer_detach). Thread-safe on the ring. */
SHMRING_API shmring_error_code_t shmring_producer_attach(shmring_ring_t* ring,
                                                         const shmring_producer_options_t* options,
                                                         shmring_producer_t** producer,
                                                         shmring_error_t* error);

/* Aborts an outstanding claim, frees the slot and the handle. NULL: no-op. */
SHMRING_API void shmring_producer_detach(shmring_producer_t* producer);

/* Copy-in write of one record of `size` payload bytes (data may be NULL when size is 0).
 * Non-blocking, lock-free: SHMRING_OK, FULL, TOO_LARGE (size > max_payload), CLAIM_PENDING,
 * INVALID_ARGUMENT (type >= SHMRING_RESERVED_TYPE_BASE, NULL data). */
SHMRING_NODISCARD SHMRING_API shmring_status_t shmring_producer_write(shmring_producer_t* producer,
                                                                      uint32_t type,
                                                                      const void* data,
                                                                      uint32_t size);

/* As shmring_producer_write, but waits up to timeout_ns (< 0: forever) for space: TIMEOUT at
 * the deadline, CONSUMER_DEAD if the ring stays full and the consumer process is gone (see
 * fail_if_consumer_dead). timeout_ns == 0 behaves exactly like the non-blocking call (FULL). */
SHMRING_NODISCARD SHMRING_API shmring_status_t
shmring_producer_write_timeout(shmring_producer_t* producer, uint32_t type, const void* data,
                               uint32_t size, int64_t timeout_ns);

/* Reserves space for one record and fills *claim. Non-blocking; statuses as for write. At most
 * one claim is outstanding per producer. In an mpsc ring the reserved space holds back every
 * later record (of any producer) until this claim is committed or aborted: keep it short. */
SHMRING_NODISCARD SHMRING_API shmring_status_t shmring_producer_claim(shmring_producer_t* producer,
                                                                      uint32_t type, uint32_t size,
                                                                      shmring_claim_t* claim);

/* Blocking claim; waiting as for shmring_producer_write_timeout. */
SHMRING_NODISCARD SHMRING_API shmring_status_t
shmring_producer_claim_timeout(shmring_producer_t* producer, uint32_t type, uint32_t size,
                               shmring_claim_t* claim, int64_t timeout_ns);

/* Publishes the outstanding claim (may wake a sleeping consumer: one system call then) and
 * sets claim->data to NULL. SHMRING_INVALID_ARGUMENT if `claim` is not this producer's
 * outstanding claim (already committed or aborted, or from another claim). */
SHMRING_NODISCARD SHMRING_API shmring_status_t shmring_producer_commit(shmring_producer_t* producer,
                                                                       shmring_claim_t* claim);

/* Withdraws the outstanding claim: it is never delivered (mpsc: its space becomes padding;
 * spsc: the next claim reuses it). Sets claim->data to NULL. Errors as for commit. */
SHMRING_NODISCARD SHMRING_API shmring_status_t shmring_producer_abort(shmring_producer_t* producer,
                                                                      shmring_claim_t* claim);

/* Largest payload one record can carry (the ring's max_record_size - 8). 0 for NULL. */
SHMRING_API uint32_t shmring_producer_max_payload(const shmring_producer_t* producer);

/* Why this producer returned SHMRING_CORRUPT (names the ring; e.g. the object was truncated
 * under this process), or "" if it never did. Owned by the handle, as for consumers. */
SHMRING_API const char* shmring_producer_last_error(const shmring_producer_t* producer);

/* Changes how this producer's blocking calls wait. SHMRING_INVALID_ARGUMENT for an unknown
 * strategy or a negative spin_ns. Same thread rules as the other producer calls. */
SHMRING_API shmring_status_t shmring_producer_set_wait(shmring_producer_t* producer,
                                                       shmring_wait_strategy_t strategy,
                                                       int64_t spin_ns);

/* ---- consumers --------------------------------------------------------------------------- */

typedef struct shmring_consumer shmring_consumer_t;

/* Called once per record. `data` points into the ring and is valid only during the call. The
 * callback must return normally (no longjmp, no C++ exception) and must not call functions on
 * the same consumer handle. It may call anything else, including producers of the same ring
 * (a write to a full ring then fails or waits: the batch being delivered is not released). */
typedef void (*shmring_record_fn)(void* user, uint32_t type, const void* data, uint32_t size);

/* Takes the ring's consumer slot. Fails with SHMRING_E_BUSY if a live consumer holds it (a dead
 * one is replaced), SHMRING_E_CORRUPT if the records in the ring do not check out,
 * SHMRING_E_INVALID_ARGUMENT on a read-only handle. `options` NULL means the defaults. On success
 * *consumer is a new handle owned by the caller (release with shmring_consumer_detach). */
SHMRING_API shmring_error_code_t shmring_consumer_attach(shmring_ring_t* ring,
                                                         const shmring_consumer_options_t* options,
                                                         shmring_consumer_t** consumer,
                                                         shmring_error_t* error);

/* Frees the consumer slot and the handle. NULL: no-op. */
SHMRING_API void shmring_consumer_detach(shmring_consumer_t* consumer);

/* Delivers up to `max` (>= 1) committed records in order to `fn`, then releases them all at
 * once. Non-blocking, lock-free. *delivered (may be NULL) gets the count. Returns SHMRING_OK
 * (at least one record, or padding only was skipped), EMPTY, CORRUPT, INVALID_ARGUMENT. */
SHMRING_NODISCARD SHMRING_API shmring_status_t shmring_consumer_poll(shmring_consumer_t* consumer,
                                                                     shmring_record_fn fn,
                                                                     void* user, size_t max,
                                                                     size_t* delivered);

/* As shmring_consumer_poll, but waits up to timeout_ns (< 0: forever) for at least one record:
 * OK (*delivered >= 1), TIMEOUT, CORRUPT, INVALID_ARGUMENT. */
SHMRING_NODISCARD SHMRING_API shmring_status_t
shmring_consumer_poll_timeout(shmring_consumer_t* consumer, shmring_record_fn fn, void* user,
                              size_t max, int64_t timeout_ns, size_t* delivered);

/* Copy-out read of one record into buf[0..capacity). On OK, *size and *type (either may be
 * NULL) describe it. SHMRING_TOO_LARGE when the record does not fit: the record stays in the
 * ring and *size and *type report it, so the caller can retry with a larger buffer. Non-blocking,
 * lock-free: OK, EMPTY, TOO_LARGE, CORRUPT, INVALID_ARGUMENT (buf NULL with capacity > 0). */
SHMRING_NODISCARD SHMRING_API shmring_status_t shmring_consumer_read(shmring_consumer_t* consumer,
                                                                     void* buf, uint32_t capacity,
                                                                     uint32_t* size,
                                                                     uint32_t* type);

/* Blocking copy-out read: waits up to timeout_ns (< 0: forever). OK, TIMEOUT, TOO_LARGE,
 * CORRUPT, INVALID_ARGUMENT. Unlike the producer side, timeout_ns == 0 on an empty ring returns
 * TIMEOUT, not EMPTY. */
SHMRING_NODISCARD SHMRING_API shmring_status_t
shmring_consumer_read_timeout(shmring_consumer_t* consumer, void* buf, uint32_t capacity,
                              uint32_t* size, uint32_t* type, int64_t timeout_ns);

/* Waits up to timeout_ns (< 0: forever) until a record is readable, without consuming it:
 * OK, TIMEOUT, CORRUPT. */
SHMRING_NODISCARD SHMRING_API shmring_status_t
shmring_consumer_wait_readable(shmring_consumer_t* consumer, int64_t timeout_ns);

/* Why this handle returned SHMRING_CORRUPT (names the ring, the position and the value), or ""
 * if it never did. Owned by the handle; valid until the next call on it or detach. */
SHMRING_API const char* shmring_consumer_last_error(const shmring_consumer_t* consumer);

/* Changes how this consumer's blocking calls wait; as shmring_producer_set_wait. */
SHMRING_API shmring_status_t shmring_consumer_set_wait(shmring_consumer_t* consumer,
                                                       shmring_wait_strategy_t strategy,
                                                       int64_t spin_ns);

/* ---- broadcast readers ------------------------------------------------------------------- */
/* A broadcast ring has one producer, which never blocks (shmring_producer_write* always find
 * room: the oldest records are overwritten), and any number of readers, each with its own
 * cursor. A reader that the producer overtakes loses records: it detects it, counts them
 * exactly (shmring_reader_lost) and resynchronises at the newest record. A record is copied
 * into the reader's own buffer and delivered only if the producer did not start overwriting it
 * meanwhile: no torn record is ever delivered. */

typedef struct shmring_reader shmring_reader_t;

typedef enum shmring_join {
  SHMRING_JOIN_OLDEST = 0, /* the oldest record still held (within 1/16 of the capacity) */
  SHMRING_JOIN_NEWEST = 1  /* the newest record */
} shmring_join_t;

typedef struct shmring_reader_options {
  uint32_t join;          /* shmring_join_t */
  uint32_t wait_strategy; /* shmring_wait_strategy_t */
  int64_t spin_ns;        /* spin budget before parking (spin_then_park) */
} shmring_reader_options_t;

/* Defaults: join newest, spin_then_park, 50 us spin. NULL is a no-op. */
SHMRING_API void shmring_reader_options_init(shmring_reader_options_t* options);

/* Takes one of the ring's reader slots (a dead reader's slot is reused). SHMRING_E_BUSY when
 * all max_readers slots hold live readers, SHMRING_E_KIND_MISMATCH on an spsc or mpsc ring,
 * SHMRING_E_INVALID_ARGUMENT on a read-only handle. `options` NULL means the defaults. On
 * success *reader is a new handle owned by the caller (release with shmring_reader_detach).
 * A reader never slows the producer or the other readers. */
SHMRING_API shmring_error_code_t shmring_reader_attach(shmring_ring_t* ring,
                                                       const shmring_reader_options_t* options,
                                                       shmring_reader_t** reader,
                                                       shmring_error_t* error);

/* Frees the reader slot and the handle. NULL: no-op. */
SHMRING_API void shmring_reader_detach(shmring_reader_t* reader);

/* Delivers up to `max` (>= 1) records to `fn` (the data is the reader's own copy, valid during
 * the call). Non-blocking: OK, EMPTY, CORRUPT, INVALID_ARGUMENT. *delivered (may be NULL) gets
 * the count. */
SHMRING_NODISCARD SHMRING_API shmring_status_t shmring_reader_poll(shmring_reader_t* reader,
                                                                   shmring_record_fn fn, void* user,
                                                                   size_t max, size_t* delivered);

/* As shmring_reader_poll, but waits up to timeout_ns (< 0: forever) for a record: OK, TIMEOUT,
 * CORRUPT, INVALID_ARGUMENT. */
SHMRING_NODISCARD SHMRING_API shmring_status_t shmring_reader_poll_timeout(shmring_reader_t* reader,
                                                                           shmring_record_fn fn,
                                                                           void* user, size_t max,
                                                                           int64_t timeout_ns,
                                                                           size_t* delivered);

/* Copy-out read of one record: OK, EMPTY, TOO_LARGE (the record is not skipped; *size and
 * *type report it), CORRUPT, INVALID_ARGUMENT. */
SHMRING_NODISCARD SHMRING_API shmring_status_t shmring_reader_read(shmring_reader_t* reader,
                                                                   void* buf, uint32_t capacity,
                                                                   uint32_t* size, uint32_t* type);

/* Blocking copy-out read, waiting up to timeout_ns (< 0: forever): OK, TIMEOUT, TOO_LARGE,
 * CORRUPT, INVALID_ARGUMENT. timeout_ns == 0 on an empty ring returns TIMEOUT. */
SHMRING_NODISCARD SHMRING_API shmring_status_t
shmring_reader_read_timeout(shmring_reader_t* reader, void* buf, uint32_t capacity, uint32_t* size,
                            uint32_t* type, int64_t timeout_ns);

/* Waits up to timeout_ns (< 0: forever) until something may be readable: OK, TIMEOUT, CORRUPT.
 * (A record can still be overwritten before the next read, which then resynchronises.) */
SHMRING_NODISCARD SHMRING_API shmring_status_t
shmring_reader_wait_readable(shmring_reader_t* reader, int64_t timeout_ns);

/* This reader's totals: records delivered, records lost (overwritten before it read them) and
 * times it was overtaken. 0 for NULL. */
SHMRING_API uint64_t shmring_reader_received(const shmring_reader_t* reader);
SHMRING_API uint64_t shmring_reader_lost(const shmring_reader_t* reader);
SHMRING_API uint64_t shmring_reader_laps(const shmring_reader_t* reader);
/* Ring position of the next record this reader will read. */
SHMRING_API uint32_t shmring_reader_position(const shmring_reader_t* reader);

/* Why this handle returned SHMRING_CORRUPT, or "". Owned by the handle. */
SHMRING_API const char* shmring_reader_last_error(const shmring_reader_t* reader);

/* Changes how this reader's blocking calls wait; as shmring_producer_set_wait. */
SHMRING_API shmring_status_t shmring_reader_set_wait(shmring_reader_t* reader,
                                                     shmring_wait_strategy_t strategy,
                                                     int64_t spin_ns);

typedef struct shmring_reader_stat {
  uint32_t pid;
  uint32_t alive;     /* 1 if the process exists */
  uint32_t cursor;    /* position of the next record it will read (published once per batch) */
  uint32_t lag_bytes; /* producer position - cursor; > capacity: it has been overtaken */
  uint64_t messages_read;
  uint64_t bytes_read;
  uint64_t lost;
  uint64_t laps;
  uint64_t sleeps;
  uint64_t last_activity_ns; /* monotonic clock: attach and blocking waits, not every read */
} shmring_reader_stat_t;

/* The attached (or dead, unreleased) readers of a broadcast ring: up to `capacity` entries into
 * out[]; *count gets how many readers there are (compare with capacity). Never writes the
 * mapping; works on read-only handles. Cold path. */
SHMRING_API shmring_error_code_t shmring_ring_readers(const shmring_ring_t* ring,
                                                      shmring_reader_stat_t* out, uint32_t capacity,
                                                      uint32_t* count, shmring_error_t* error);

/* ---- counters ---------------------------------------------------------------------------- */
/* A named counters region: fixed 64-bit slots, each with a label and a type id. The process that
 * allocates a counter updates it with one atomic store or add (no lock, no system call); any
 * process reads it. Allocation state lives in the region (slots are claimed by CAS). A freed
 * slot is not handed out again for reuse_delay_ns, and every allocation bumps the slot's
 * generation, so (slot, generation) identifies one counter for its whole life. Regions share
 * the ring namespace ("/dev/shm/shmring.NAME"); `shmring counters NAME` prints them. */

typedef struct shmring_counters shmring_counters_t;
typedef struct shmring_counter shmring_counter_t;

typedef struct shmring_counters_options {
  uint32_t slots;          /* 1..65536 */
  uint32_t mode;           /* permission bits, within 0777 */
  uint64_t reuse_delay_ns; /* how long a freed slot stays retired */
} shmring_counters_options_t;

typedef struct shmring_counter_info {
  uint32_t slot;
  uint32_t generation;
  uint32_t type_id;
  uint32_t owner_pid;   /* 0 for a ring's own counters */
  uint32_t owner_alive; /* 1 if the owner process exists */
  uint32_t reserved;
  uint64_t value;
  char label[SHMRING_COUNTER_LABEL_MAX + 1];
} shmring_counter_info_t;

/* Defaults: 256 slots, mode 0600, 5 s reuse delay. NULL is a no-op. */
SHMRING_API void shmring_counters_options_init(shmring_counters_options_t* options);

/* Creates / opens a region; ownership and errors as for rings (SHMRING_E_NOT_A_RING when the
 * name is a ring). read_only != 0 maps it read-only: snapshot and read work, allocate fails. */
SHMRING_API shmring_error_code_t shmring_counters_create(const char* name,
                                                         const shmring_counters_options_t* options,
                                                         shmring_counters_t** region,
                                                         shmring_error_t* error);
SHMRING_API shmring_error_code_t shmring_counters_open(const char* name, int read_only,
                                                       shmring_counters_t** region,
                                                       shmring_error_t* error);
/* Unmaps and frees the handle; counters allocated through it stay valid. NULL: no-op. */
SHMRING_API void shmring_counters_close(shmring_counters_t* region);
SHMRING_API shmring_error_code_t shmring_counters_unlink(const char* name, shmring_error_t* error);
SHMRING_API uint32_t shmring_counters_slot_count(const shmring_counters_t* region);

/* Claims a slot for a counter labelled `label` (1..39 bytes) with value 0. SHMRING_E_BUSY when
 * every slot is live or retired within the reuse delay. Lock-free. */
SHMRING_API shmring_error_code_t shmring_counter_allocate(shmring_counters_t* region,
                                                          const char* label, uint32_t type_id,
                                                          shmring_counter_t** counter,
                                                          shmring_error_t* error);
/* Frees the slot (it is retired for the reuse delay) and the handle. NULL: no-op. */
SHMRING_API void shmring_counter_free(shmring_counter_t* counter);

/* Hot path: one relaxed atomic add / store / load. NULL is a no-op (load: 0). */
SHMRING_API void shmring_counter_add(shmring_counter_t* counter, uint64_t delta);
SHMRING_API void shmring_counter_store(shmring_counter_t* counter, uint64_t value);
SHMRING_API uint64_t shmring_counter_load(const shmring_counter_t* counter);
SHMRING_API uint32_t shmring_counter_slot(const shmring_counter_t* counter);
SHMRING_API uint32_t shmring_counter_generation(const shmring_counter_t* counter);

/* Reads counter (slot, generation): 1 and *value if it is still live, 0 if it was freed or its
 * slot reused. Lock-free; works on read-only handles. */
SHMRING_API int shmring_counters_read(const shmring_counters_t* region, uint32_t slot,
                                      uint32_t generation, uint64_t* value);

/* The live counters: up to `capacity` entries into out[], *count gets how many are live.
 * Lock-free reads; works on read-only handles. Cold path (allocates internally). */
SHMRING_API shmring_error_code_t shmring_counters_snapshot(const shmring_counters_t* region,
                                                           shmring_counter_info_t* out,
                                                           uint32_t capacity, uint32_t* count,
                                                           shmring_error_t* error);

/* A ring's own counters (positions, messages, bytes, sleeps, recovered claims...) in the same
 * form, labelled like the fields of shmring_stat_t. */
SHMRING_API shmring_error_code_t shmring_ring_counters(const shmring_ring_t* ring,
                                                       shmring_counter_info_t* out,
                                                       uint32_t capacity, uint32_t* count,
                                                       shmring_error_t* error);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SHMRING_H */

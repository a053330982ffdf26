/* C ABI test: compiled as C, includes only shmring.h. Exits non-zero at the first failure,
 * naming the check, the statuses and (for the multi-process part) the sequence number. */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#include <windows.h>
#else
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "shmring.h"

/* ---- processes: fork() on POSIX, this executable run again on Windows ---------------------- */

/* The child's side: what start_child() runs in the new process; never returns. */
static void child_main(const char* role, const char* name);

#if defined(_WIN32)
typedef HANDLE child_t; /* process handle; NULL = none */
static uint32_t self_pid(void) {
  return (uint32_t)GetCurrentProcessId();
}
static uint32_t g_parent_pid; /* in a child: who started it (names the handshake events) */

/* Runs `this.exe --child ROLE NAME PARENT_PID`; main() hands that to child_main(). */
static child_t start_child(const char* role, const char* name, uint32_t* pid) {
  char self[MAX_PATH];
  char command[2 * MAX_PATH];
  const DWORD n = GetModuleFileNameA(NULL, self, sizeof self);
  if (n == 0 || n >= sizeof self) return NULL;
  snprintf(command, sizeof command, "\"%s\" --child %s %s %lu", self, role, name,
           (unsigned long)self_pid());
  STARTUPINFOA si;
  PROCESS_INFORMATION pi;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  fflush(NULL);
  if (!CreateProcessA(NULL, command, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) return NULL;
  CloseHandle(pi.hThread);
  *pid = (uint32_t)pi.dwProcessId;
  return pi.hProcess;
}
/* Waits for the child; returns its exit code (-1 if it cannot be had). */
static int finish_child(child_t child) {
  DWORD code = 0;
  if (WaitForSingleObject(child, INFINITE) != WAIT_OBJECT_0 || !GetExitCodeProcess(child, &code))
    code = (DWORD)-1;
  CloseHandle(child);
  return (int)code;
}
static void kill_child(child_t child) {
  TerminateProcess(child, 9);
  WaitForSingleObject(child, INFINITE);
  CloseHandle(child);
}

/* Parent <-> child handshake: two auto-reset events named after the parent's pid. */
static HANDLE g_done, g_go;
static void handshake_name(char* out, size_t size, uint32_t parent, const char* what) {
  snprintf(out, size, "Local\\shmring-capi-%lu-%s", (unsigned long)parent, what);
}
static int handshake_init(void) { /* parent, before start_child */
  char name[64];
  handshake_name(name, sizeof name, self_pid(), "done");
  g_done = CreateEventA(NULL, FALSE, FALSE, name);
  handshake_name(name, sizeof name, self_pid(), "go");
  g_go = CreateEventA(NULL, FALSE, FALSE, name);
  return g_done != NULL && g_go != NULL;
}
static int handshake_child_open(void) {
  char name[64];
  handshake_name(name, sizeof name, g_parent_pid, "done");
  g_done = OpenEventA(EVENT_MODIFY_STATE | SYNCHRONIZE, FALSE, name);
  handshake_name(name, sizeof name, g_parent_pid, "go");
  g_go = OpenEventA(EVENT_MODIFY_STATE | SYNCHRONIZE, FALSE, name);
  return g_done != NULL && g_go != NULL;
}
static int handshake_signal(int to_parent) {
  return SetEvent(to_parent ? g_done : g_go) != 0;
}
static int handshake_wait(int from_child) {
  return WaitForSingleObject(from_child ? g_done : g_go, 60000) == WAIT_OBJECT_0;
}
static void handshake_close(void) {
  CloseHandle(g_done);
  CloseHandle(g_go);
}
#else
typedef pid_t child_t; /* 0 = none */
static uint32_t self_pid(void) {
  return (uint32_t)getpid();
}
static child_t start_child(const char* role, const char* name, uint32_t* pid) {
  fflush(NULL);
  const pid_t child = fork();
  if (child == 0) child_main(role, name);
  if (child < 0) return 0;
  *pid = (uint32_t)child;
  return child;
}
static int finish_child(child_t child) {
  int wstatus = 0;
  if (waitpid(child, &wstatus, 0) != child) return -1;
  return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
}
static void kill_child(child_t child) {
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
}

/* Parent <-> child handshake: one byte through a pipe each way, made before the fork. */
static int g_to_parent[2] = {-1, -1}, g_to_child[2] = {-1, -1};
static int handshake_init(void) {
  return pipe(g_to_parent) == 0 && pipe(g_to_child) == 0;
}
static int handshake_child_open(void) {
  return 1;
}
static int handshake_signal(int to_parent) {
  const char byte = to_parent ? 'd' : 'g';
  return write(to_parent ? g_to_parent[1] : g_to_child[1], &byte, 1) == 1;
}
static int handshake_wait(int from_child) {
  char byte = 0;
  return read(from_child ? g_to_parent[0] : g_to_child[0], &byte, 1) == 1;
}
static void handshake_close(void) {
  close(g_to_parent[0]);
  close(g_to_parent[1]);
  close(g_to_child[0]);
  close(g_to_child[1]);
}
#endif

/* ---- harness ------------------------------------------------------------------------------ */

#define MAX_RINGS 8
static char g_names[MAX_RINGS][SHMRING_NAME_MAX + 1];
static int g_name_count;
static child_t g_child;      /* child process, killed if the parent fails */
static uint32_t g_owner_pid; /* only this process cleans up */

static void cleanup(void) {
  if (self_pid() != g_owner_pid) return;
  if (g_child) {
    kill_child(g_child);
    g_child = 0;
  }
  for (int i = 0; i < g_name_count; ++i) (void)shmring_ring_unlink(g_names[i], NULL);
}

static void fail(const char* file, int line, const char* what) {
  fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what);
  exit(1);
}

#define CHECK(cond)                               \
  do {                                            \
    if (!(cond)) fail(__FILE__, __LINE__, #cond); \
  } while (0)

#define CHECK_STATUS(expr, expected)                                                              \
  do {                                                                                            \
    const shmring_status_t got_ = (expr);                                                         \
    if (got_ != (expected)) {                                                                     \
      char why_[512];                                                                             \
      snprintf(why_, sizeof why_, "%s returned %s, expected %s", #expr, shmring_status_str(got_), \
               shmring_status_str(expected));                                                     \
      fail(__FILE__, __LINE__, why_);                                                             \
    }                                                                                             \
  } while (0)

/* Cold-path call that must succeed; the calls pass &g_err, whose message is printed. */
#define CHECK_OK(expr)                                                                \
  do {                                                                                \
    const shmring_error_code_t code_ = (expr);                                        \
    if (code_ != SHMRING_E_OK) {                                                      \
      char why_[512];                                                                 \
      snprintf(why_, sizeof why_, "%s: %s: %s", #expr, shmring_error_code_str(code_), \
               g_err.message);                                                        \
      fail(__FILE__, __LINE__, why_);                                                 \
    }                                                                                 \
  } while (0)

static shmring_error_t g_err; /* last error of CHECK_OK'd calls, for messages */

static const char* ring_name(const char* tag) {
  CHECK(g_name_count < MAX_RINGS);
  char* name = g_names[g_name_count++];
  snprintf(name, SHMRING_NAME_MAX + 1, "capi-%ld-%s", (long)self_pid(), tag);
  (void)shmring_ring_unlink(name, NULL); /* a leftover from a killed run with a recycled pid */
  return name;
}

static shmring_ring_t* create_ring(const char* name, uint32_t kind, uint32_t capacity,
                                   uint32_t max_record_size) {
  shmring_create_options_t o;
  shmring_create_options_init(&o);
  o.kind = kind;
  o.capacity = capacity;
  o.max_record_size = max_record_size;
  shmring_ring_t* ring = NULL;
  if (shmring_ring_create(name, &o, &ring, &g_err) != SHMRING_E_OK) {
    fprintf(stderr, "create %s: %s\n", name, g_err.message);
    fail(__FILE__, __LINE__, "shmring_ring_create");
  }
  return ring;
}

static shmring_producer_t* attach_producer(shmring_ring_t* ring) {
  shmring_producer_t* p = NULL;
  if (shmring_producer_attach(ring, NULL, &p, &g_err) != SHMRING_E_OK) {
    fprintf(stderr, "attach producer: %s\n", g_err.message);
    fail(__FILE__, __LINE__, "shmring_producer_attach");
  }
  return p;
}

static shmring_consumer_t* attach_consumer(shmring_ring_t* ring) {
  shmring_consumer_t* c = NULL;
  if (shmring_consumer_attach(ring, NULL, &c, &g_err) != SHMRING_E_OK) {
    fprintf(stderr, "attach consumer: %s\n", g_err.message);
    fail(__FILE__, __LINE__, "shmring_consumer_attach");
  }
  return c;
}

/* Collects what a callback poll delivered. */
typedef struct collected {
  size_t count;
  uint32_t types[16];
  uint32_t sizes[16];
  char data[16][64];
} collected_t;

static void collect(void* user, uint32_t type, const void* data, uint32_t size) {
  collected_t* c = (collected_t*)user;
  if (c->count >= 16 || size > 64) {
    fprintf(stderr, "collect: unexpected record (count %zu, size %" PRIu32 ")\n", c->count, size);
    exit(1);
  }
  c->types[c->count] = type;
  c->sizes[c->count] = size;
  if (size != 0) memcpy(c->data[c->count], data, size);
  ++c->count;
}

static void never_called(void* user, uint32_t type, const void* data, uint32_t size) {
  (void)user;
  (void)data;
  fprintf(stderr, "callback called on an empty ring (type %" PRIu32 ", size %" PRIu32 ")\n", type,
          size);
  exit(1);
}

/* Reads one record by copy-out and checks it. */
static void expect_record(shmring_consumer_t* c, uint32_t type, const char* text) {
  char buf[128];
  uint32_t size = 0, got_type = 0;
  CHECK_STATUS(shmring_consumer_read(c, buf, sizeof buf, &size, &got_type), SHMRING_OK);
  CHECK(got_type == type);
  CHECK(size == strlen(text));
  CHECK(memcmp(buf, text, size) == 0);
}

/* ---- names and cold-path errors ---------------------------------------------------------- */

static void test_names_and_errors(void) {
  shmring_ring_t* ring = (shmring_ring_t*)1;
  shmring_error_t err;

  CHECK(shmring_ring_create("a/b", NULL, &ring, &err) == SHMRING_E_INVALID_NAME);
  CHECK(ring == NULL);
  CHECK(err.code == SHMRING_E_INVALID_NAME);
  CHECK(strstr(err.message, "'a/b'") != NULL);
  CHECK(shmring_ring_create("", NULL, &ring, NULL) == SHMRING_E_INVALID_NAME); /* error NULL */
  CHECK(shmring_ring_create(NULL, NULL, &ring, &err) == SHMRING_E_INVALID_ARGUMENT);

  const char* missing = ring_name("missing");
  CHECK(shmring_ring_open(missing, 0, 0, &ring, &err) == SHMRING_E_NOT_FOUND);
  CHECK(ring == NULL);
  CHECK(err.code == SHMRING_E_NOT_FOUND);
  CHECK(strstr(err.message, missing) != NULL);
  CHECK(shmring_ring_unlink(missing, &err) == SHMRING_E_NOT_FOUND);

  const char* name = ring_name("names");
  shmring_create_options_t o;
  shmring_create_options_init(&o);
  o.capacity = 1000; /* not a power of two */
  CHECK(shmring_ring_create(name, &o, &ring, &err) == SHMRING_E_INVALID_ARGUMENT);
  CHECK(strstr(err.message, name) != NULL);
  o.capacity = 4096;
  o.kind = 0;
  CHECK(shmring_ring_create(name, &o, &ring, &err) == SHMRING_E_INVALID_ARGUMENT);

  ring = create_ring(name, SHMRING_KIND_SPSC, 4096, 0);
  CHECK(strcmp(shmring_ring_name(ring), name) == 0);
  shmring_ring_t* again = NULL;
  CHECK(shmring_ring_create(name, NULL, &again, &err) == SHMRING_E_ALREADY_EXISTS);
  CHECK(again == NULL);
  CHECK(strstr(err.message, name) != NULL);
  CHECK(shmring_ring_unlink(name, &err) == SHMRING_E_OK);
  CHECK(err.code == SHMRING_E_OK && err.message[0] == '\0');
#if defined(_WIN32)
  /* A Windows ring has no name to remove: it goes with its last handle. */
  shmring_ring_close(ring);
  ring = NULL;
#endif
  CHECK(shmring_ring_unlink(name, &err) == SHMRING_E_NOT_FOUND);
  CHECK(shmring_ring_open(name, 0, 0, &again, &err) == SHMRING_E_NOT_FOUND);
  shmring_ring_close(ring);
  shmring_ring_close(NULL);

  CHECK(strcmp(shmring_status_str(SHMRING_FULL), "full") == 0);
  CHECK(strcmp(shmring_status_str((shmring_status_t)99), "unknown") == 0);
  CHECK(strcmp(shmring_error_code_str(SHMRING_E_NOT_FOUND), "not_found") == 0);
}

/* ---- spsc: round trip, claims, full / empty / timeout, copy-out, stat ------------------- */

static void test_spsc(void) {
  const char* name = ring_name("spsc");
  shmring_ring_t* ring = create_ring(name, SHMRING_KIND_SPSC, 4096, 0);
  CHECK(shmring_ring_kind(ring) == SHMRING_KIND_SPSC);
  CHECK(shmring_ring_capacity(ring) == 4096);
  CHECK(shmring_ring_max_payload(ring) == 4096 / 8 - 8);
  shmring_producer_t* p = attach_producer(ring);
  shmring_consumer_t* c = attach_consumer(ring);
  CHECK(shmring_producer_max_payload(p) == 4096 / 8 - 8);
  uint64_t written = 0, written_bytes = 0;

  /* empty */
  char buf[512];
  uint32_t size = 0, type = 0;
  size_t delivered = 99;
  CHECK_STATUS(shmring_consumer_read(c, buf, sizeof buf, &size, &type), SHMRING_EMPTY);
  CHECK_STATUS(shmring_consumer_poll(c, never_called, NULL, 16, &delivered), SHMRING_EMPTY);
  CHECK(delivered == 0);
  CHECK_STATUS(shmring_consumer_read_timeout(c, buf, sizeof buf, &size, &type, 2000000),
               SHMRING_TIMEOUT);
  CHECK_STATUS(shmring_consumer_poll_timeout(c, never_called, NULL, 16, 2000000, &delivered),
               SHMRING_TIMEOUT);
  CHECK_STATUS(shmring_consumer_wait_readable(c, 1000000), SHMRING_TIMEOUT);
  CHECK_STATUS(shmring_consumer_poll(c, never_called, NULL, 0, NULL), SHMRING_INVALID_ARGUMENT);

  /* round trip: write, callback read (batch of 2), copy-out read of the rest */
  CHECK_STATUS(shmring_producer_write(p, 1, "alpha", 5), SHMRING_OK);
  CHECK_STATUS(shmring_producer_write(p, 2, "beta", 4), SHMRING_OK);
  CHECK_STATUS(shmring_producer_write(p, 3, NULL, 0), SHMRING_OK);
  written += 3;
  written_bytes += 9;
  collected_t got;
  memset(&got, 0, sizeof got);
  CHECK_STATUS(shmring_consumer_poll(c, collect, &got, 2, &delivered), SHMRING_OK);
  CHECK(delivered == 2 && got.count == 2);
  CHECK(got.types[0] == 1 && got.sizes[0] == 5 && memcmp(got.data[0], "alpha", 5) == 0);
  CHECK(got.types[1] == 2 && got.sizes[1] == 4 && memcmp(got.data[1], "beta", 4) == 0);
  CHECK_STATUS(shmring_consumer_wait_readable(c, 0), SHMRING_OK);
  CHECK_STATUS(shmring_consumer_read(c, NULL, 0, &size, &type), SHMRING_OK);
  CHECK(size == 0 && type == 3);
  CHECK_STATUS(shmring_consumer_read(c, buf, sizeof buf, &size, &type), SHMRING_EMPTY);

  /* copy-out buffer too small: the record stays and its size is reported */
  const char twenty[] = "0123456789abcdefghij";
  CHECK_STATUS(shmring_producer_write_timeout(p, 9, twenty, 20, SHMRING_FOREVER), SHMRING_OK);
  written += 1;
  written_bytes += 20;
  char small[4];
  size = type = 0;
  CHECK_STATUS(shmring_consumer_read(c, small, sizeof small, &size, &type), SHMRING_TOO_LARGE);
  CHECK(size == 20 && type == 9);
  CHECK_STATUS(shmring_consumer_read_timeout(c, small, sizeof small, &size, &type, 1000000),
               SHMRING_TOO_LARGE);
  CHECK_STATUS(shmring_consumer_wait_readable(c, 0), SHMRING_OK);
  expect_record(c, 9, twenty);

  /* producer argument checks */
  char big[600];
  memset(big, 'x', sizeof big);
  CHECK_STATUS(shmring_producer_write(p, 1, big, shmring_producer_max_payload(p) + 1),
               SHMRING_TOO_LARGE);
  CHECK_STATUS(shmring_producer_write(p, SHMRING_RESERVED_TYPE_BASE, "x", 1),
               SHMRING_INVALID_ARGUMENT);
  CHECK_STATUS(shmring_producer_write(p, 1, NULL, 5), SHMRING_INVALID_ARGUMENT);
  CHECK_STATUS(shmring_producer_write(NULL, 1, "x", 1), SHMRING_INVALID_ARGUMENT);

  /* claim / commit */
  shmring_claim_t claim;
  CHECK_STATUS(shmring_producer_claim(p, 5, 7, &claim), SHMRING_OK);
  CHECK(claim.data != NULL && claim.size == 7 && claim.type == 5);
  memcpy(claim.data, "claimed", 7);
  CHECK_STATUS(shmring_consumer_read(c, buf, sizeof buf, &size, &type), SHMRING_EMPTY);
  CHECK_STATUS(shmring_producer_commit(p, &claim), SHMRING_OK);
  CHECK(claim.data == NULL);
  CHECK_STATUS(shmring_producer_commit(p, &claim), SHMRING_INVALID_ARGUMENT);
  written += 1;
  written_bytes += 7;
  expect_record(c, 5, "claimed");

  /* claim / abort: the aborted record is never delivered */
  CHECK_STATUS(shmring_producer_claim_timeout(p, 6, 8, &claim, SHMRING_FOREVER), SHMRING_OK);
  memcpy(claim.data, "ABORTED!", 8);
  shmring_claim_t second;
  CHECK_STATUS(shmring_producer_claim(p, 6, 8, &second), SHMRING_CLAIM_PENDING);
  CHECK_STATUS(shmring_producer_write(p, 6, "x", 1), SHMRING_CLAIM_PENDING);
  CHECK_STATUS(shmring_producer_abort(p, &claim), SHMRING_OK);
  CHECK(claim.data == NULL);
  CHECK_STATUS(shmring_producer_abort(p, &claim), SHMRING_INVALID_ARGUMENT);
  CHECK_STATUS(shmring_consumer_read(c, buf, sizeof buf, &size, &type), SHMRING_EMPTY);
  /* a stale receipt (same place in the ring, earlier claim) is refused */
  shmring_claim_t first;
  CHECK_STATUS(shmring_producer_claim(p, 6, 8, &first), SHMRING_OK);
  shmring_claim_t stale = first;
  CHECK_STATUS(shmring_producer_abort(p, &first), SHMRING_OK);
  CHECK_STATUS(shmring_producer_claim(p, 7, 5, &second), SHMRING_OK);
  CHECK(second.data == stale.data); /* spsc: an aborted claim's space is reused */
  CHECK_STATUS(shmring_producer_commit(p, &stale), SHMRING_INVALID_ARGUMENT);
  memcpy(second.data, "after", 5);
  second.size = 1; /* the receipt does not decide what is published */
  CHECK_STATUS(shmring_producer_commit(p, &second), SHMRING_OK);
  written += 1;
  written_bytes += 5;
  expect_record(c, 7, "after");
  CHECK_STATUS(shmring_consumer_read(c, buf, sizeof buf, &size, &type), SHMRING_EMPTY);

  /* full */
  uint64_t fitted = 0;
  shmring_status_t s;
  while ((s = shmring_producer_write(p, 4, big, 100)) == SHMRING_OK) ++fitted;
  CHECK_STATUS(s, SHMRING_FULL);
  CHECK(fitted >= 4096 / 112 - 1 && fitted <= 4096 / 112);
  CHECK_STATUS(shmring_producer_write_timeout(p, 4, big, 100, 0), SHMRING_FULL);
  CHECK_STATUS(shmring_producer_write_timeout(p, 4, big, 100, 1000000), SHMRING_TIMEOUT);
  CHECK_STATUS(shmring_producer_claim_timeout(p, 4, 100, &claim, 1000000), SHMRING_TIMEOUT);
  CHECK_STATUS(shmring_producer_set_wait(p, SHMRING_WAIT_PARK, 0), SHMRING_OK);
  CHECK_STATUS(shmring_producer_write_timeout(p, 4, big, 100, 1000000), SHMRING_TIMEOUT);
  CHECK_STATUS(shmring_producer_set_wait(p, (shmring_wait_strategy_t)7, 0),
               SHMRING_INVALID_ARGUMENT);
  CHECK_STATUS(shmring_producer_set_wait(p, SHMRING_WAIT_BUSY_SPIN, -1), SHMRING_INVALID_ARGUMENT);
  written += fitted;
  written_bytes += fitted * 100;
  uint64_t drained = 0;
  while (drained < fitted) {
    CHECK_STATUS(shmring_consumer_read_timeout(c, buf, sizeof buf, &size, &type, 0), SHMRING_OK);
    CHECK(size == 100 && type == 4 && memcmp(buf, big, 100) == 0);
    ++drained;
  }
  CHECK_STATUS(shmring_consumer_set_wait(c, SHMRING_WAIT_PARK, 0), SHMRING_OK);
  CHECK_STATUS(shmring_consumer_read_timeout(c, buf, sizeof buf, &size, &type, 1000000),
               SHMRING_TIMEOUT);
  CHECK_STATUS(shmring_consumer_set_wait(c, SHMRING_WAIT_BUSY_SPIN, 0), SHMRING_OK);
  CHECK_STATUS(shmring_consumer_read_timeout(c, buf, sizeof buf, &size, &type, 0), SHMRING_TIMEOUT);
  CHECK(shmring_consumer_last_error(c)[0] == '\0');
  CHECK(shmring_producer_last_error(p)[0] == '\0');
  CHECK(shmring_producer_last_error(NULL)[0] == '\0');

  /* stat */
  shmring_stat_t st;
  CHECK_OK(shmring_ring_stat(ring, &st, &g_err));
  CHECK(strcmp(st.name, name) == 0);
  CHECK(st.kind == SHMRING_KIND_SPSC && st.capacity == 4096 && st.max_record_size == 512);
  CHECK(st.max_producers == 1 && st.creator_pid == self_pid());
  CHECK(st.messages_written == written && st.messages_read == written);
  CHECK(st.bytes_written == written_bytes && st.bytes_read == written_bytes);
  CHECK(st.full_count >= 4); /* every failed attempt counts, blocking ones included */
  CHECK(st.aborts == 2);
  CHECK(st.used_bytes == 0 && st.producer_position == st.consumer_position);
  CHECK(st.consumer_pid == self_pid() && st.consumer_alive == 1);
  CHECK(st.producer_count == 1);
  CHECK(st.producers[0].pid == self_pid() && st.producers[0].alive == 1);
  CHECK(st.producers[0].messages_written == written && st.producers[0].aborts == 2);
  CHECK(st.recovered_claims == 0);

  /* a read-only view can stat but not attach */
  shmring_ring_t* view = NULL;
  shmring_error_t err;
  CHECK_OK(shmring_ring_open(name, 1000000000, 1, &view, &g_err));
  shmring_stat_t vst;
  CHECK_OK(shmring_ring_stat(view, &vst, &g_err));
  CHECK(vst.messages_read == written && vst.consumer_pid == self_pid());
  shmring_producer_t* no = (shmring_producer_t*)1;
  CHECK(shmring_producer_attach(view, NULL, &no, &err) == SHMRING_E_INVALID_ARGUMENT);
  CHECK(no == NULL && strstr(err.message, name) != NULL);
  shmring_ring_t* flagged = NULL;
  CHECK(shmring_ring_open_flags(name, 0, 0x80u, &flagged, &err) == SHMRING_E_INVALID_ARGUMENT);
  CHECK(flagged == NULL);
  CHECK_OK(shmring_ring_open_flags(name, 0, SHMRING_OPEN_READ_ONLY | SHMRING_OPEN_ANY_OWNER,
                                   &flagged, &g_err));
  CHECK(shmring_producer_attach(flagged, NULL, &no, &err) == SHMRING_E_INVALID_ARGUMENT);
  shmring_ring_close(flagged);

  /* detach frees the slots; the view sees it */
  shmring_consumer_detach(c);
  shmring_producer_detach(p);
  shmring_producer_detach(NULL);
  shmring_consumer_detach(NULL);
  CHECK_OK(shmring_ring_stat(view, &vst, &g_err));
  CHECK(vst.consumer_pid == 0 && vst.producer_count == 0);
  CHECK(vst.messages_written == written); /* counters outlive the attachment */
  shmring_ring_close(view);
  CHECK_OK(shmring_ring_unlink(name, &g_err));
  shmring_ring_close(ring);
}

/* ---- mpsc: an open claim holds back later records; abort and detach release them --------- */

static void test_mpsc_claims(void) {
  const char* name = ring_name("mpsc");
  shmring_ring_t* ring = create_ring(name, SHMRING_KIND_MPSC, 4096, 0);
  shmring_producer_t* p1 = attach_producer(ring);
  shmring_producer_t* p2 = attach_producer(ring);
  shmring_consumer_t* c = attach_consumer(ring);
  char buf[128];
  uint32_t size = 0, type = 0;

  shmring_claim_t claim;
  CHECK_STATUS(shmring_producer_claim(p1, 1, 16, &claim), SHMRING_OK);
  memcpy(claim.data, "ABORTED-ABORTED!", 16);
  CHECK_STATUS(shmring_producer_write(p2, 2, "second", 6), SHMRING_OK);
  CHECK_STATUS(shmring_consumer_read(c, buf, sizeof buf, &size, &type), SHMRING_EMPTY);
  CHECK_STATUS(shmring_producer_abort(p2, &claim), SHMRING_INVALID_ARGUMENT); /* not p2's */
  CHECK_STATUS(shmring_producer_abort(p1, &claim), SHMRING_OK);
  expect_record(c, 2, "second");
  CHECK_STATUS(shmring_consumer_read(c, buf, sizeof buf, &size, &type), SHMRING_EMPTY);

  CHECK_STATUS(shmring_producer_claim(p1, 1, 8, &claim), SHMRING_OK);
  CHECK_STATUS(shmring_producer_write(p2, 3, "third", 5), SHMRING_OK);
  CHECK_STATUS(shmring_consumer_read(c, buf, sizeof buf, &size, &type), SHMRING_EMPTY);
  shmring_producer_detach(p1); /* abandons the claim as padding */
  expect_record(c, 3, "third");

  CHECK_STATUS(shmring_producer_claim(p2, 4, 6, &claim), SHMRING_OK);
  memcpy(claim.data, "fourth", 6);
  CHECK_STATUS(shmring_producer_commit(p2, &claim), SHMRING_OK);
  collected_t got;
  memset(&got, 0, sizeof got);
  size_t delivered = 0;
  CHECK_STATUS(shmring_consumer_poll_timeout(c, collect, &got, 16, SHMRING_FOREVER, &delivered),
               SHMRING_OK);
  CHECK(delivered == 1 && got.types[0] == 4 && memcmp(got.data[0], "fourth", 6) == 0);

  shmring_stat_t st;
  CHECK_OK(shmring_ring_stat(ring, &st, &g_err));
  CHECK(st.kind == SHMRING_KIND_MPSC && st.max_producers == 16);
  CHECK(st.messages_written == 3 && st.messages_read == 3 && st.aborts == 2);
  CHECK(st.producer_count == 1 && st.used_bytes == 0);

  /* handles outlive the ring handle they were attached through */
  CHECK_OK(shmring_ring_unlink(name, &g_err));
  shmring_ring_close(ring);
  CHECK_STATUS(shmring_producer_write(p2, 5, "fifth", 5), SHMRING_OK);
  expect_record(c, 5, "fifth");
  shmring_consumer_detach(c);
  shmring_producer_detach(p2);
}

/* ---- a forked producer process writes N sequenced records; the parent checks each ------- */

enum { kRecords = 100000, kMaxPayload = 248 };
static const int64_t kWaitNs = 30LL * 1000 * 1000 * 1000;

static uint32_t payload_size(uint64_t seq) {
  return 8 + (uint32_t)(seq % (kMaxPayload - 7));
}
static uint32_t payload_type(uint64_t seq) {
  return 1 + (uint32_t)(seq % 1000);
}

static void fill_payload(unsigned char* out, uint64_t seq, uint32_t size) {
  memcpy(out, &seq, 8);
  for (uint32_t i = 8; i < size; ++i) out[i] = (unsigned char)(seq * 31 + i);
}

typedef struct verifier {
  uint64_t expected; /* next sequence number */
  char why[256];     /* first mismatch, empty if none */
} verifier_t;

static void verify(verifier_t* v, uint32_t type, const void* data, uint32_t size) {
  if (v->why[0] != '\0') return;
  const uint64_t seq = v->expected++;
  const unsigned char* bytes = (const unsigned char*)data;
  uint64_t got_seq = UINT64_MAX;
  if (size >= 8) memcpy(&got_seq, bytes, 8);
  if (got_seq != seq || size != payload_size(seq) || type != payload_type(seq)) {
    snprintf(v->why, sizeof v->why,
             "record %" PRIu64 ": got seq %" PRIu64 ", type %" PRIu32 ", size %" PRIu32
             " (expected type %" PRIu32 ", size %" PRIu32 ")",
             seq, got_seq, type, size, payload_type(seq), payload_size(seq));
    return;
  }
  for (uint32_t i = 8; i < size; ++i) {
    if (bytes[i] != (unsigned char)(seq * 31 + i)) {
      snprintf(v->why, sizeof v->why, "record %" PRIu64 ": byte %" PRIu32 " differs", seq, i);
      return;
    }
  }
}

static void verify_cb(void* user, uint32_t type, const void* data, uint32_t size) {
  verify((verifier_t*)user, type, data, size);
}

static void child_fail(const char* what, uint64_t seq, const char* detail) {
  fprintf(stderr, "child producer: %s at record %" PRIu64 ": %s\n", what, seq, detail);
  _exit(2);
}

/* Runs in the child process: its own open and attach, never the parent's handles. */
static void run_child_producer(const char* name) {
  shmring_ring_t* ring = NULL;
  shmring_error_t err;
  if (shmring_ring_open(name, 1000000000, 0, &ring, &err) != SHMRING_E_OK)
    child_fail("open", 0, err.message);
  shmring_producer_t* p = NULL;
  if (shmring_producer_attach(ring, NULL, &p, &err) != SHMRING_E_OK)
    child_fail("attach", 0, err.message);
  if (shmring_producer_max_payload(p) != kMaxPayload) child_fail("max_payload", 0, "mismatch");
  unsigned char buf[kMaxPayload];
  for (uint64_t seq = 0; seq < kRecords; ++seq) {
    const uint32_t size = payload_size(seq);
    if (seq == kRecords / 2 && shmring_producer_set_wait(p, SHMRING_WAIT_PARK, 0) != SHMRING_OK)
      child_fail("set_wait", seq, "refused");
    shmring_status_t s;
    if (seq % 3 == 0) { /* every third record zero-copy */
      shmring_claim_t claim;
      s = shmring_producer_claim_timeout(p, payload_type(seq), size, &claim, kWaitNs);
      if (s == SHMRING_OK) {
        fill_payload((unsigned char*)claim.data, seq, size);
        s = shmring_producer_commit(p, &claim);
      }
    } else {
      fill_payload(buf, seq, size);
      s = shmring_producer_write_timeout(p, payload_type(seq), buf, size, kWaitNs);
    }
    if (s != SHMRING_OK) child_fail("write", seq, shmring_status_str(s));
  }
  shmring_producer_detach(p);
  shmring_ring_close(ring);
  _exit(0);
}

static void test_fork_mpsc(void) {
  const char* name = ring_name("fork");
  shmring_ring_t* ring = create_ring(name, SHMRING_KIND_MPSC, 4096, kMaxPayload + 8);
  shmring_consumer_t* c = attach_consumer(ring); /* before the fork: the producer sees it alive */
  uint32_t child_pid = 0;
  const child_t child = start_child("producer", name, &child_pid);
  CHECK(child);
  g_child = child;

  verifier_t v;
  memset(&v, 0, sizeof v);
  unsigned char buf[kMaxPayload];
  uint64_t round = 0;
  /* First half with the default spin_then_park, second half parking at once on both sides,
   * so that the kernel sleep / wake handshake runs between the processes many times. */
  int parking = 0;
  while (v.expected < kRecords) {
    if (!parking && v.expected >= kRecords / 2) {
      CHECK_STATUS(shmring_consumer_set_wait(c, SHMRING_WAIT_PARK, 0), SHMRING_OK);
      parking = 1;
    }
    shmring_status_t s;
    if (round++ % 2 == 0) {
      size_t delivered = 0;
      s = shmring_consumer_poll_timeout(c, verify_cb, &v, 64, kWaitNs, &delivered);
      if (s == SHMRING_OK && delivered == 0 && v.why[0] == '\0') continue; /* padding only */
    } else {
      uint32_t size = 0, type = 0;
      s = shmring_consumer_read_timeout(c, buf, sizeof buf, &size, &type, kWaitNs);
      if (s == SHMRING_OK) verify(&v, type, buf, size);
    }
    if (s != SHMRING_OK) {
      fprintf(stderr, "parent consumer: %s at record %" PRIu64 " of %d (%s)\n",
              shmring_status_str(s), v.expected, kRecords, shmring_consumer_last_error(c));
      fail(__FILE__, __LINE__, "reading the forked producer's records");
    }
    if (v.why[0] != '\0') {
      fprintf(stderr, "parent consumer: %s\n", v.why);
      fail(__FILE__, __LINE__, "verifying the forked producer's records");
    }
  }
  g_child = 0;
  CHECK(finish_child(child) == 0);
  char tail[8];
  uint32_t size = 0, type = 0;
  CHECK_STATUS(shmring_consumer_read(c, tail, sizeof tail, &size, &type), SHMRING_EMPTY);

  shmring_stat_t st;
  CHECK_OK(shmring_ring_stat(ring, &st, &g_err));
  CHECK(st.messages_written == kRecords && st.messages_read == kRecords);
  CHECK(st.bytes_written == st.bytes_read && st.used_bytes == 0);
  CHECK(st.producer_count == 0 && st.recovered_claims == 0);
  printf("fork mpsc: %d records verified; producer full %" PRIu64 ", sleeps %" PRIu64
         "; consumer sleeps %" PRIu64 "\n",
         kRecords, st.full_count, st.producer_sleeps, st.consumer_sleeps);

  shmring_consumer_detach(c);
  CHECK_OK(shmring_ring_unlink(name, &g_err));
  shmring_ring_close(ring);
}

/* ---- broadcast: a producer that never blocks, readers that count what they lost ---------- */

static shmring_reader_t* attach_reader(shmring_ring_t* ring, uint32_t join) {
  shmring_reader_options_t o;
  shmring_reader_options_init(&o);
  CHECK(o.join == SHMRING_JOIN_NEWEST);
  o.join = join;
  shmring_reader_t* r = NULL;
  if (shmring_reader_attach(ring, &o, &r, &g_err) != SHMRING_E_OK) {
    fprintf(stderr, "attach reader: %s\n", g_err.message);
    fail(__FILE__, __LINE__, "shmring_reader_attach");
  }
  return r;
}

static void test_broadcast(void) {
  const char* name = ring_name("bcast");
  shmring_create_options_t o;
  shmring_create_options_init(&o);
  CHECK(o.max_readers == 16);
  o.kind = SHMRING_KIND_BROADCAST;
  o.capacity = 4096;
  o.max_readers = 3;
  shmring_ring_t* ring = NULL;
  CHECK_OK(shmring_ring_create(name, &o, &ring, &g_err));
  CHECK(shmring_ring_kind(ring) == SHMRING_KIND_BROADCAST);
  CHECK(shmring_ring_max_payload(ring) == 4096 / 8 - 16); /* header + 64-bit sequence */

  /* a broadcast ring has readers, not a consumer; spsc rings have no readers */
  shmring_consumer_t* no_consumer = (shmring_consumer_t*)1;
  shmring_error_t err;
  CHECK(shmring_consumer_attach(ring, NULL, &no_consumer, &err) == SHMRING_E_KIND_MISMATCH);
  CHECK(no_consumer == NULL);

  shmring_reader_t* early = attach_reader(ring, SHMRING_JOIN_OLDEST);
  shmring_reader_t* fast = attach_reader(ring, SHMRING_JOIN_OLDEST);
  shmring_reader_t* third = attach_reader(ring, SHMRING_JOIN_NEWEST);
  shmring_reader_t* none = (shmring_reader_t*)1;
  CHECK(shmring_reader_attach(ring, NULL, &none, &err) == SHMRING_E_BUSY);
  CHECK(none == NULL && strstr(err.message, name) != NULL);
  shmring_reader_detach(third);

  /* empty: EMPTY, and the blocking calls time out */
  char buf[512];
  uint32_t size = 0, type = 0;
  size_t delivered = 9;
  CHECK_STATUS(shmring_reader_read(early, buf, sizeof buf, &size, &type), SHMRING_EMPTY);
  CHECK_STATUS(shmring_reader_poll(early, never_called, NULL, 8, &delivered), SHMRING_EMPTY);
  CHECK(delivered == 0);
  CHECK_STATUS(shmring_reader_read_timeout(early, buf, sizeof buf, &size, &type, 2000000),
               SHMRING_TIMEOUT);
  CHECK_STATUS(shmring_reader_poll_timeout(early, never_called, NULL, 8, 0, &delivered),
               SHMRING_TIMEOUT);
  CHECK_STATUS(shmring_reader_wait_readable(early, 1000000), SHMRING_TIMEOUT);

  /* round trip to two readers */
  shmring_producer_t* p = attach_producer(ring);
  CHECK_STATUS(shmring_producer_write(p, 1, "one", 3), SHMRING_OK);
  CHECK_STATUS(shmring_producer_write_timeout(p, 2, "two", 3, 0), SHMRING_OK);
  collected_t got;
  memset(&got, 0, sizeof got);
  CHECK_STATUS(shmring_reader_poll_timeout(fast, collect, &got, 16, SHMRING_FOREVER, &delivered),
               SHMRING_OK);
  CHECK(delivered == 2 && got.types[1] == 2 && memcmp(got.data[1], "two", 3) == 0);
  CHECK_STATUS(shmring_reader_wait_readable(early, 0), SHMRING_OK);
  char small[2];
  CHECK_STATUS(shmring_reader_read(early, small, sizeof small, &size, &type), SHMRING_TOO_LARGE);
  CHECK(size == 3 && type == 1);
  CHECK_STATUS(shmring_reader_read(early, buf, sizeof buf, &size, &type), SHMRING_OK);
  CHECK(size == 3 && type == 1 && memcmp(buf, "one", 3) == 0);
  CHECK(shmring_reader_received(early) == 1 && shmring_reader_lost(early) == 0);

  /* the producer never blocks: 200 records of 100 bytes overwrite the 4 KiB ring many times
   * over; `early` is overtaken, loses records, and the count is exact */
  char big[100];
  memset(big, 'b', sizeof big);
  for (uint32_t i = 0; i < 200; ++i) {
    memcpy(big, &i, sizeof i);
    CHECK_STATUS(shmring_producer_write_timeout(p, 3, big, sizeof big, 0), SHMRING_OK);
  }
  uint32_t last = 0;
  shmring_status_t s;
  while ((s = shmring_reader_read(early, buf, sizeof buf, &size, &type)) == SHMRING_OK) {
    CHECK(size == 100 || size == 3);
    if (size == 100) memcpy(&last, buf, sizeof last);
  }
  CHECK_STATUS(s, SHMRING_EMPTY);
  CHECK(last == 199);
  CHECK(shmring_reader_laps(early) >= 1);
  CHECK(shmring_reader_received(early) + shmring_reader_lost(early) == 202);
  CHECK(shmring_reader_last_error(early)[0] == '\0');
  CHECK_STATUS(shmring_reader_set_wait(early, SHMRING_WAIT_PARK, 0), SHMRING_OK);
  CHECK_STATUS(shmring_reader_set_wait(early, (shmring_wait_strategy_t)9, 0),
               SHMRING_INVALID_ARGUMENT);

  /* a reader joining at the newest record starts there */
  third = attach_reader(ring, SHMRING_JOIN_NEWEST);
  CHECK_STATUS(shmring_reader_read(third, buf, sizeof buf, &size, &type), SHMRING_OK);
  memcpy(&last, buf, sizeof last);
  CHECK(last == 199);
  CHECK_STATUS(shmring_reader_read(third, buf, sizeof buf, &size, &type), SHMRING_EMPTY);

  /* per-reader stats, through a read-only handle */
  shmring_ring_t* view = NULL;
  CHECK_OK(shmring_ring_open(name, 1000000000, 1, &view, &g_err));
  shmring_reader_t* ro = (shmring_reader_t*)1;
  CHECK(shmring_reader_attach(view, NULL, &ro, &err) == SHMRING_E_INVALID_ARGUMENT);
  shmring_reader_stat_t readers[SHMRING_MAX_READERS];
  uint32_t count = 0;
  CHECK_OK(shmring_ring_readers(view, readers, SHMRING_MAX_READERS, &count, &g_err));
  CHECK(count == 3);
  int found_early = 0;
  for (uint32_t i = 0; i < count; ++i) {
    CHECK(readers[i].pid == self_pid() && readers[i].alive == 1);
    if (readers[i].lost == shmring_reader_lost(early)) found_early = 1;
  }
  CHECK(found_early);
  CHECK_OK(shmring_ring_readers(view, NULL, 0, &count, &g_err)); /* count only */
  CHECK(count == 3);

  /* the ring's own counters */
  shmring_counter_info_t rc[32];
  CHECK_OK(shmring_ring_counters(view, rc, 32, &count, &g_err));
  CHECK(count <= 32);
  int seen_written = 0, seen_sequence = 0;
  for (uint32_t i = 0; i < count; ++i) {
    if (strcmp(rc[i].label, "messages_written") == 0 && rc[i].value == 202) seen_written = 1;
    if (strcmp(rc[i].label, "next_sequence") == 0 && rc[i].value == 202) seen_sequence = 1;
  }
  CHECK(seen_written && seen_sequence);

  shmring_reader_detach(early);
  shmring_reader_detach(fast);
  shmring_reader_detach(third);
  shmring_reader_detach(NULL);
  shmring_producer_detach(p);
  CHECK_OK(shmring_ring_readers(view, readers, SHMRING_MAX_READERS, &count, &g_err));
  CHECK(count == 0);
  shmring_ring_close(view);
  CHECK_OK(shmring_ring_unlink(name, &g_err));
  shmring_ring_close(ring);
}

/* ---- counters: a forked owner updates, the parent reads through a read-only handle -------- */

static void test_counters(void) {
  const char* name = ring_name("ctrs");
  shmring_counters_options_t o;
  shmring_counters_options_init(&o);
  CHECK(o.slots == 256 && o.mode == 0600);
  o.slots = 4;
  o.reuse_delay_ns = 60LL * 1000 * 1000 * 1000; /* long: a freed slot is not reused here */
  shmring_counters_t* region = NULL;
  CHECK_OK(shmring_counters_create(name, &o, &region, &g_err));
  CHECK(shmring_counters_slot_count(region) == 4);

  /* a ring open of a counters region says what it is */
  shmring_ring_t* not_ring = NULL;
  shmring_error_t err;
  CHECK(shmring_ring_open(name, 0, 1, &not_ring, &err) == SHMRING_E_NOT_A_RING);
  CHECK(strstr(err.message, "counters region") != NULL);

  shmring_counter_t* requests = NULL;
  CHECK_OK(shmring_counter_allocate(region, "requests", 7, &requests, &g_err));
  shmring_counter_add(requests, 5);
  shmring_counter_add(requests, 2);
  CHECK(shmring_counter_load(requests) == 7);
  shmring_counter_store(requests, 40);
  CHECK(shmring_counter_load(requests) == 40);
  shmring_counter_t* bad = (shmring_counter_t*)1;
  CHECK(shmring_counter_allocate(region, "", 1, &bad, &err) == SHMRING_E_INVALID_ARGUMENT);
  CHECK(bad == NULL);
  CHECK(shmring_counter_allocate(region, "0123456789012345678901234567890123456789", 1, &bad,
                                 &err) == SHMRING_E_INVALID_ARGUMENT);

  /* a child process allocates its own counter and counts to 1000 */
  CHECK(handshake_init());
  uint32_t child = 0;
  const child_t process = start_child("counters", name, &child);
  CHECK(process);
  g_child = process;
  CHECK(handshake_wait(1));

  shmring_counters_t* view = NULL;
  CHECK_OK(shmring_counters_open(name, 1, &view, &g_err));
  shmring_counter_t* none = (shmring_counter_t*)1;
  CHECK(shmring_counter_allocate(view, "x", 1, &none, &err) == SHMRING_E_INVALID_ARGUMENT);
  shmring_counter_info_t info[4];
  uint32_t count = 0;
  CHECK_OK(shmring_counters_snapshot(view, info, 4, &count, &g_err));
  CHECK(count == 2);
  uint32_t child_slot = 0, child_generation = 0;
  for (uint32_t i = 0; i < count; ++i) {
    if (strcmp(info[i].label, "requests") == 0) {
      CHECK(info[i].value == 40 && info[i].type_id == 7);
      CHECK(info[i].owner_pid == self_pid() && info[i].owner_alive == 1);
    } else {
      CHECK(strcmp(info[i].label, "child.events") == 0);
      CHECK(info[i].value == 1000 && info[i].type_id == 9);
      CHECK(info[i].owner_pid == child && info[i].owner_alive == 1);
      child_slot = info[i].slot;
      child_generation = info[i].generation;
    }
  }
  uint64_t value = 0;
  CHECK(shmring_counters_read(view, child_slot, child_generation, &value) == 1 && value == 1000);
  CHECK(shmring_counters_read(view, child_slot, child_generation + 1, &value) == 0);
  CHECK(shmring_counters_read(view, 99, 1, &value) == 0);

  /* the child frees its counter and exits: the slot reads as freed, and stays retired */
  CHECK(handshake_signal(0));
  g_child = 0;
  CHECK(finish_child(process) == 0);
  CHECK(shmring_counters_read(view, child_slot, child_generation, &value) == 0);
  CHECK_OK(shmring_counters_snapshot(view, info, 4, &count, &g_err));
  CHECK(count == 1 && strcmp(info[0].label, "requests") == 0);
  shmring_counter_t* more[3] = {NULL, NULL, NULL};
  CHECK_OK(shmring_counter_allocate(region, "a", 1, &more[0], &g_err));
  CHECK_OK(shmring_counter_allocate(region, "b", 1, &more[1], &g_err));
  CHECK(shmring_counter_slot(more[0]) != child_slot && shmring_counter_slot(more[1]) != child_slot);
  CHECK(shmring_counter_allocate(region, "c", 1, &more[2], &err) == SHMRING_E_BUSY);
  CHECK(shmring_counter_generation(more[0]) >= 1);
  for (int i = 0; i < 2; ++i) shmring_counter_free(more[i]);
  shmring_counter_free(NULL);
  handshake_close();

  shmring_counter_free(requests);
  /* Unlinked while open (fine everywhere), then gone once closed: unlinked on Linux, its last
   * handle closed on Windows. */
  CHECK_OK(shmring_counters_unlink(name, &g_err));
  shmring_counters_close(view);
  shmring_counters_close(region);
  shmring_counters_close(NULL);
  CHECK(shmring_counters_open(name, 1, &view, &err) == SHMRING_E_NOT_FOUND);
}

/* The counters child: its own counter in the parent's region, counted to 1000; then it waits
 * for the parent's go, frees the counter and exits. */
static void run_child_counters(const char* name) {
  shmring_counters_t* mine = NULL;
  shmring_counter_t* c = NULL;
  shmring_error_t e;
  if (shmring_counters_open(name, 0, &mine, &e) != SHMRING_E_OK ||
      shmring_counter_allocate(mine, "child.events", 9, &c, &e) != SHMRING_E_OK) {
    fprintf(stderr, "child: %s\n", e.message);
    _exit(2);
  }
  for (int i = 0; i < 1000; ++i) shmring_counter_add(c, 1);
  if (!handshake_child_open() || !handshake_signal(1)) _exit(3);
  if (!handshake_wait(0)) _exit(4);
  shmring_counter_free(c);
  shmring_counters_close(mine);
  _exit(0);
}

static void child_main(const char* role, const char* name) {
  if (strcmp(role, "producer") == 0) run_child_producer(name);
  if (strcmp(role, "counters") == 0) run_child_counters(name);
  fprintf(stderr, "child: unknown role '%s'\n", role);
  _exit(5);
}

int main(int argc, char** argv) {
#if defined(_WIN32)
  if (argc == 5 && strcmp(argv[1], "--child") == 0) {
    g_parent_pid = (uint32_t)strtoul(argv[4], NULL, 10);
    child_main(argv[2], argv[3]);
  }
#else
  (void)argc;
  (void)argv;
#endif
  g_owner_pid = self_pid();
  atexit(cleanup);
  test_names_and_errors();
  test_spsc();
  test_mpsc_claims();
  test_fork_mpsc();
  test_broadcast();
  test_counters();
  printf("c_api: all checks passed\n");
  return 0;
}

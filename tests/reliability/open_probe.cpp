// shmring_open_probe — opens a ring the way another user's process would, and says what
// happened. Run by test_access.cpp under setpriv(1) as `nobody`.
//   shmring_open_probe NAME [--read-only] [--attach] [--any-owner] [--create-0666]
// Prints "ok <kind> <capacity>" and exits 0, or "error <code> <message>" and exits 10 + code.
// --attach: also attach a producer (read-write open) and write one record.
// --any-owner: OpenOptions::allow_other_owner.
// --create-0666: create the ring (mpsc, 4096 bytes, mode 0666) instead of opening it, and leave
// it behind: a squatter planting a valid ring under a name another user will open.
#include <cstdio>
#include <cstring>
#include <string>

#include "shmring/ring.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s NAME [--read-only] [--attach]\n", argv[0]);
    return 2;
  }
  shmring::OpenOptions o;
  o.ready_timeout_ns = 0;
  bool attach = false, create = false;
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--read-only") == 0) o.read_only = true;
    if (std::strcmp(argv[i], "--attach") == 0) attach = true;
    if (std::strcmp(argv[i], "--any-owner") == 0) o.allow_other_owner = true;
    if (std::strcmp(argv[i], "--create-0666") == 0) create = true;
  }
  shmring::CreateOptions co;
  co.kind = shmring::Kind::mpsc;
  co.capacity = 4096;
  co.mode = 0666;
  auto ring = create ? shmring::Ring::create(argv[1], co) : shmring::Ring::open(argv[1], o);
  if (!ring) {
    std::printf("error %s %s\n", shmring::to_string(ring.error().code),
                ring.error().message.c_str());
    return 10 + static_cast<int>(ring.error().code);
  }
  if (attach) {
    auto producer = ring->attach_producer();
    if (!producer) {
      std::printf("error %s %s\n", shmring::to_string(producer.error().code),
                  producer.error().message.c_str());
      return 10 + static_cast<int>(producer.error().code);
    }
    if (producer->try_write(1, "x", 1) != shmring::Status::ok) {
      std::printf("error write\n");
      return 3;
    }
  }
  std::printf("ok %u %u\n", static_cast<unsigned>(ring->kind()), ring->capacity());
  return 0;
}

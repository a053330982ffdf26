// The kernel peers: pipe, UNIX stream socket, POSIX message queue (one write / read per
// message: batching would change them), and the two blocking references for a round trip, a raw
// futex and eventfd + shared memory (one slot: ping-pong only).
// busy mode makes the descriptors non-blocking and spins on EAGAIN.
#pragma once

#include <fcntl.h>
#include <linux/futex.h>
#include <mqueue.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "common.hpp"

namespace bench {

inline void write_full(int fd, const std::byte* p, uint32_t n) {
  uint32_t done = 0;
  while (done < n) {
    const ssize_t w = ::write(fd, p + done, n - done);
    if (w > 0) {
      done += static_cast<uint32_t>(w);
    } else if (w < 0 && errno == EAGAIN) {
      cpu_relax();
    } else if (!(w < 0 && errno == EINTR)) {
      fatal("write: %s", std::strerror(errno));
    }
  }
}

inline void read_full(int fd, std::byte* p, uint32_t n) {
  uint32_t done = 0;
  while (done < n) {
    const ssize_t r = ::read(fd, p + done, n - done);
    if (r > 0) {
      done += static_cast<uint32_t>(r);
    } else if (r < 0 && errno == EAGAIN) {
      cpu_relax();
    } else if (r == 0) {
      fatal("read: unexpected end of stream");
    } else if (errno != EINTR) {
      fatal("read: %s", std::strerror(errno));
    }
  }
}

inline void set_nonblocking(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) fatal("fcntl O_NONBLOCK failed");
}

// A byte stream carrying fixed-size messages: pipe or UNIX stream socket.
class StreamLink {
 public:
  static constexpr bool kInProcess = false;

  StreamLink(const Cell& c, const std::string& /*purpose*/, bool socket) : size_(c.size) {
    const uint64_t want = uint64_t{c.depth()} * c.size;
    if (socket) {
      if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds_) != 0)
        fatal("socketpair: %s", std::strerror(errno));
      // Root may exceed net.core.[rw]mem_max; either way the kernel doubles the value.
      int bytes = static_cast<int>(std::min<uint64_t>(want, 1u << 24) / 2);
      for (int fd : fds_) {
        for (int opt : {SO_SNDBUFFORCE, SO_RCVBUFFORCE}) {
          if (setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes) != 0) {
            const int fallback = opt == SO_SNDBUFFORCE ? SO_SNDBUF : SO_RCVBUF;
            (void)setsockopt(fd, SOL_SOCKET, fallback, &bytes, sizeof bytes);
          }
        }
      }
      int actual = 0;
      socklen_t len = sizeof actual;
      getsockopt(fds_[0], SOL_SOCKET, SO_SNDBUF, &actual, &len);
      buffer_bytes_ = static_cast<uint32_t>(actual);
    } else {
      if (pipe(fds_) != 0) fatal("pipe: %s", std::strerror(errno));
      // Up to /proc/sys/fs/pipe-max-size (1 MiB by default; root may exceed it).
      const int set =
          fcntl(fds_[1], F_SETPIPE_SZ, static_cast<int>(std::min<uint64_t>(want, 1u << 24)));
      buffer_bytes_ = static_cast<uint32_t>(set > 0 ? set : fcntl(fds_[1], F_GETPIPE_SZ));
    }
    if (c.mode == Mode::busy) {
      set_nonblocking(fds_[0]);
      set_nonblocking(fds_[1]);
    }
  }
  ~StreamLink() {
    close(fds_[0]);
    close(fds_[1]);
  }
  uint64_t warmup_hint() const { return 0; }
  uint32_t depth() const { return buffer_bytes_ / (size_ == 0 ? 1 : size_); }

  class Tx {
   public:
    explicit Tx(int fd) : fd_(fd) {}
    void send(const std::byte* data, uint32_t size) { write_full(fd_, data, size); }

   private:
    int fd_;
  };
  class Rx {
   public:
    Rx(int fd, uint32_t size) : fd_(fd), size_(size), buf_(size) {}
    template <class F>
    std::size_t receive(F&& on_message, std::size_t /*max*/) {
      read_full(fd_, buf_.data(), size_);
      on_message(buf_.data(), size_);
      return 1;
    }

   private:
    int fd_;
    uint32_t size_;
    std::vector<std::byte> buf_;
  };
  // pipe: write end fds_[1], read end fds_[0]; socketpair: either way, we pick 1 -> 0.
  Tx sender(int /*producer*/) const { return Tx(fds_[1]); }
  Rx receiver() const { return Rx(fds_[0], size_); }

 private:
  int fds_[2] = {-1, -1};
  uint32_t size_;
  uint32_t buffer_bytes_ = 0;
};

class PosixMqLink {
 public:
  static constexpr bool kInProcess = false;

  PosixMqLink(const Cell& c, const std::string& purpose)
      : name_("/" + c.tag + "." + purpose), size_(c.size), mode_(c.mode) {
    // As root, lift RLIMIT_MSGQUEUE and fs.mqueue.msg_max so the queue gets the same depth as
    // the others (up to the kernel's hard limit of 65536 messages).
    rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
    (void)setrlimit(RLIMIT_MSGQUEUE, &unlimited);
    mq_unlink(name_.c_str());
    long depth = std::min<long>(c.depth(), 65536);
    for (;;) {
      mq_attr attr{};
      attr.mq_maxmsg = depth;
      attr.mq_msgsize = c.size;
      const mqd_t q = mq_open(name_.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
      if (q != static_cast<mqd_t>(-1)) {
        mq_close(q);
        break;
      }
      if ((errno != EINVAL && errno != ENOMEM && errno != EMFILE) || depth == 1)
        fatal("mq_open %s (%ld x %u B): %s", name_.c_str(), depth, c.size, std::strerror(errno));
      depth /= 2;
    }
    depth_ = static_cast<uint32_t>(depth);
  }
  ~PosixMqLink() { mq_unlink(name_.c_str()); }
  uint64_t warmup_hint() const { return 0; }
  uint32_t depth() const { return depth_; }

  class Tx {
   public:
    Tx(const std::string& name, Mode mode) {
      q_ = mq_open(name.c_str(), O_WRONLY | (mode == Mode::busy ? O_NONBLOCK : 0));
      if (q_ == static_cast<mqd_t>(-1)) fatal("mq_open %s: %s", name.c_str(), std::strerror(errno));
    }
    void send(const std::byte* data, uint32_t size) {
      while (mq_send(q_, reinterpret_cast<const char*>(data), size, 0) != 0) {
        if (errno == EAGAIN) {
          cpu_relax();
        } else if (errno != EINTR) {
          fatal("mq_send: %s", std::strerror(errno));
        }
      }
    }

   private:
    mqd_t q_;
  };
  class Rx {
   public:
    Rx(const std::string& name, Mode mode, uint32_t size) : buf_(size) {
      q_ = mq_open(name.c_str(), O_RDONLY | (mode == Mode::busy ? O_NONBLOCK : 0));
      if (q_ == static_cast<mqd_t>(-1)) fatal("mq_open %s: %s", name.c_str(), std::strerror(errno));
    }
    template <class F>
    std::size_t receive(F&& on_message, std::size_t /*max*/) {
      for (;;) {
        const ssize_t n =
            mq_receive(q_, reinterpret_cast<char*>(buf_.data()), buf_.size(), nullptr);
        if (n >= 0) {
          on_message(buf_.data(), static_cast<uint32_t>(n));
          return 1;
        }
        if (errno == EAGAIN) {
          cpu_relax();
        } else if (errno != EINTR) {
          fatal("mq_receive: %s", std::strerror(errno));
        }
      }
    }

   private:
    mqd_t q_;
    std::vector<std::byte> buf_;
  };
  Tx sender(int /*producer*/) const { return Tx(name_, mode_); }
  Rx receiver() const { return Rx(name_, mode_, size_); }

 private:
  std::string name_;
  uint32_t size_;
  Mode mode_;
  uint32_t depth_ = 0;
};

// One slot in shared memory: a sequence word and the payload. The sender copies the payload,
// bumps the word and wakes; the receiver waits for the word to change. Ping-pong only.
struct alignas(64) SharedSlot {
  std::atomic<uint32_t> seq{0};
  std::byte* payload() { return reinterpret_cast<std::byte*>(this) + sizeof(SharedSlot); }
};

inline SharedSlot* map_slot(uint32_t size) {
  return new (map_shared(sizeof(SharedSlot) + size)) SharedSlot();
}

// Raw futex round trip: FUTEX_WAKE on every send, FUTEX_WAIT while the word is unchanged.
// Shared (not FUTEX_PRIVATE) because the two sides are different processes.
class FutexLink {
 public:
  static constexpr bool kInProcess = false;
  FutexLink(const Cell& c, const std::string& /*purpose*/)
      : size_(c.size), slot_(map_slot(c.size)) {}
  uint64_t warmup_hint() const { return 0; }
  uint32_t depth() const { return 1; }

  class Tx {
   public:
    explicit Tx(SharedSlot* s) : slot_(s) {}
    void send(const std::byte* data, uint32_t size) {
      std::memcpy(slot_->payload(), data, size);
      // release: the payload before the new sequence; pairs with the receiver's acquire load.
      slot_->seq.store(++seq_, std::memory_order_release);
      syscall(SYS_futex, &slot_->seq, FUTEX_WAKE, 1, nullptr, nullptr, 0);
    }

   private:
    SharedSlot* slot_;
    uint32_t seq_ = 0;
  };
  class Rx {
   public:
    Rx(SharedSlot* s, uint32_t size) : slot_(s), size_(size) {}
    template <class F>
    std::size_t receive(F&& on_message, std::size_t /*max*/) {
      // acquire: pairs with the sender's release store; the payload is then visible.
      while (slot_->seq.load(std::memory_order_acquire) == seen_)
        syscall(SYS_futex, &slot_->seq, FUTEX_WAIT, seen_, nullptr, nullptr, 0);
      ++seen_;
      on_message(slot_->payload(), size_);
      return 1;
    }

   private:
    SharedSlot* slot_;
    uint32_t size_;
    uint32_t seen_ = 0;
  };
  Tx sender(int /*producer*/) const { return Tx(slot_); }
  Rx receiver() const { return Rx(slot_, size_); }

 private:
  uint32_t size_;
  SharedSlot* slot_;
};

// eventfd + shared memory: the payload in a shared slot, the doorbell through an eventfd
// (blocking read and write: one system call each way).
class EventfdLink {
 public:
  static constexpr bool kInProcess = false;
  EventfdLink(const Cell& c, const std::string& /*purpose*/)
      : size_(c.size), slot_(map_slot(c.size)) {
    fd_ = eventfd(0, 0);
    if (fd_ < 0) fatal("eventfd: %s", std::strerror(errno));
  }
  ~EventfdLink() { close(fd_); }
  uint64_t warmup_hint() const { return 0; }
  uint32_t depth() const { return 1; }

  class Tx {
   public:
    Tx(SharedSlot* s, int fd) : slot_(s), fd_(fd) {}
    void send(const std::byte* data, uint32_t size) {
      std::memcpy(slot_->payload(), data, size);
      const uint64_t one = 1;  // the write() is the release: the kernel orders it
      if (::write(fd_, &one, 8) != 8) fatal("eventfd write: %s", std::strerror(errno));
    }

   private:
    SharedSlot* slot_;
    int fd_;
  };
  class Rx {
   public:
    Rx(SharedSlot* s, int fd, uint32_t size) : slot_(s), fd_(fd), size_(size) {}
    template <class F>
    std::size_t receive(F&& on_message, std::size_t /*max*/) {
      uint64_t value = 0;
      while (::read(fd_, &value, 8) != 8)
        if (errno != EINTR) fatal("eventfd read: %s", std::strerror(errno));
      on_message(slot_->payload(), size_);
      return 1;
    }

   private:
    SharedSlot* slot_;
    int fd_;
    uint32_t size_;
  };
  Tx sender(int /*producer*/) const { return Tx(slot_, fd_); }
  Rx receiver() const { return Rx(slot_, fd_, size_); }

 private:
  uint32_t size_;
  SharedSlot* slot_;
  int fd_ = -1;
};

}  // namespace bench

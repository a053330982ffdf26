// User-space peers: Boost.Interprocess message_queue (send / receive; try_* in busy mode) and the
// in-process reference, moodycamel ReaderWriterQueue and ConcurrentQueue between two threads
// (try_enqueue / try_dequeue, spinning).
#pragma once

#include <sched.h>

#include <boost/interprocess/ipc/message_queue.hpp>
#include <memory>
#include <string>
#include <vector>

#include "common.hpp"

#if SHMRING_BENCH_RWQ
#include <readerwriterqueue.h>
#endif
#if SHMRING_BENCH_CQ
#include <concurrentqueue.h>
#endif

namespace bench {

class BoostMqLink {
 public:
  static constexpr bool kInProcess = false;
  using Queue = boost::interprocess::message_queue;

  BoostMqLink(const Cell& c, const std::string& purpose)
      : name_(c.tag + "." + purpose), size_(c.size), mode_(c.mode), depth_(c.depth()) {
    Queue::remove(name_.c_str());
    try {
      Queue q(boost::interprocess::create_only, name_.c_str(), depth_, size_);
    } catch (const std::exception& e) {
      fatal("boost message_queue %s: %s", name_.c_str(), e.what());
    }
  }
  ~BoostMqLink() { Queue::remove(name_.c_str()); }
  // Two laps of its preallocated message ring: first-touch page faults stay out of the samples.
  uint64_t warmup_hint() const { return 2ull * depth_; }
  uint32_t depth() const { return depth_; }

  class Tx {
   public:
    Tx(const std::string& name, Mode mode)
        : q_(std::make_unique<Queue>(boost::interprocess::open_only, name.c_str())),
          busy_(mode == Mode::busy) {}
    void send(const std::byte* data, uint32_t size) {
      if (!busy_) return q_->send(data, size, 0);
      while (!q_->try_send(data, size, 0)) cpu_relax();
    }

   private:
    std::unique_ptr<Queue> q_;
    bool busy_;
  };
  class Rx {
   public:
    Rx(const std::string& name, Mode mode, uint32_t size)
        : q_(std::make_unique<Queue>(boost::interprocess::open_only, name.c_str())),
          busy_(mode == Mode::busy),
          buf_(size) {}
    template <class F>
    std::size_t receive(F&& on_message, std::size_t /*max*/) {
      Queue::size_type received = 0;
      unsigned priority = 0;
      if (!busy_) {
        q_->receive(buf_.data(), buf_.size(), received, priority);
      } else {
        while (!q_->try_receive(buf_.data(), buf_.size(), received, priority)) cpu_relax();
      }
      on_message(buf_.data(), static_cast<uint32_t>(received));
      return 1;
    }

   private:
    std::unique_ptr<Queue> q_;
    bool busy_;
    std::vector<std::byte> buf_;
  };
  Tx sender(int /*producer*/) const { return Tx(name_, mode_); }
  Rx receiver() const { return Rx(name_, mode_, size_); }

 private:
  std::string name_;
  uint32_t size_;
  Mode mode_;
  uint32_t depth_;
};

// A message of S bytes as a queue element (moodycamel queues hold typed elements).
template <uint32_t S>
struct Blob {
  std::byte bytes[S];
};

#if SHMRING_BENCH_RWQ
template <uint32_t S>
class RwqLink {
 public:
  static constexpr bool kInProcess = true;
  using Queue = moodycamel::ReaderWriterQueue<Blob<S>>;
  RwqLink(const Cell& c, const std::string& /*purpose*/)
      : depth_(c.depth()), q_(std::make_unique<Queue>(c.depth())) {}
  uint64_t warmup_hint() const { return 0; }
  uint32_t depth() const { return depth_; }

  class Tx {
   public:
    explicit Tx(Queue& q) : q_(q) {}
    void send(const std::byte* data, uint32_t /*size*/) {
      const auto& blob = *reinterpret_cast<const Blob<S>*>(data);
      while (!q_.try_enqueue(blob)) cpu_relax();
    }

   private:
    Queue& q_;
  };
  class Rx {
   public:
    explicit Rx(Queue& q) : q_(q), blob_(std::make_unique<Blob<S>>()) {}
    template <class F>
    std::size_t receive(F&& on_message, std::size_t /*max*/) {
      while (!q_.try_dequeue(*blob_)) cpu_relax();
      on_message(blob_->bytes, S);
      return 1;
    }

   private:
    Queue& q_;
    std::unique_ptr<Blob<S>> blob_;
  };
  Tx sender(int /*producer*/) const { return Tx(*q_); }
  Rx receiver() const { return Rx(*q_); }

 private:
  uint32_t depth_;
  std::unique_ptr<Queue> q_;
};
#endif

#if SHMRING_BENCH_CQ
template <uint32_t S>
class CqLink {
 public:
  static constexpr bool kInProcess = true;
  using Queue = moodycamel::ConcurrentQueue<Blob<S>>;
  CqLink(const Cell& c, const std::string& /*purpose*/)
      : depth_(c.depth()), q_(std::make_unique<Queue>(c.depth())) {}
  uint64_t warmup_hint() const { return 0; }
  uint32_t depth() const { return depth_; }

  class Tx {
   public:
    explicit Tx(Queue& q) : q_(q), token_(q) {}
    void send(const std::byte* data, uint32_t /*size*/) {
      const auto& blob = *reinterpret_cast<const Blob<S>*>(data);
      while (!q_.try_enqueue(token_, blob)) cpu_relax();
    }

   private:
    Queue& q_;
    moodycamel::ProducerToken token_;
  };
  class Rx {
   public:
    explicit Rx(Queue& q) : q_(q), token_(q), blob_(std::make_unique<Blob<S>>()) {}
    template <class F>
    std::size_t receive(F&& on_message, std::size_t /*max*/) {
      while (!q_.try_dequeue(token_, *blob_)) cpu_relax();
      on_message(blob_->bytes, S);
      return 1;
    }

   private:
    Queue& q_;
    moodycamel::ConsumerToken token_;
    std::unique_ptr<Blob<S>> blob_;
  };
  Tx sender(int /*producer*/) const { return Tx(*q_); }
  Rx receiver() const { return Rx(*q_); }

 private:
  uint32_t depth_;
  std::unique_ptr<Queue> q_;
};
#endif

}  // namespace bench

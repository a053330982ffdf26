// iceoryx (Debian's 2.0 packages) as a benchmark link: untyped publisher (loan, copy, publish) and
// subscriber (take, release). Lossless: the publisher waits for a slow subscriber, whose queue
// blocks the producer when full. busy mode polls take(); block / park wait in a WaitSet.
// Needs a running iox-roudi (bench/run.py starts and stops it). Compiled in only when found;
// the iceoryx headers stay inside peers_iceoryx.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common.hpp"

namespace bench {

bool iceoryx_available();

class IoxPublisher {
 public:
  IoxPublisher(const std::string& topic, Mode mode);
  IoxPublisher(IoxPublisher&&) noexcept;
  ~IoxPublisher();
  void send(const std::byte* data, uint32_t size);
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

class IoxSubscriber {
 public:
  IoxSubscriber(const std::string& topic, Mode mode, uint32_t queue_capacity);
  IoxSubscriber(IoxSubscriber&&) noexcept;
  ~IoxSubscriber();
  // Waits (per mode) for a sample and returns it; release() gives it back.
  const std::byte* take(uint32_t& size);
  const std::byte* try_take(uint32_t& size);  // nullptr if none
  void release(const std::byte* sample);
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

class IoxLink {
 public:
  static constexpr bool kInProcess = false;
  static constexpr uint32_t kMaxQueue = 256;  // MAX_SUBSCRIBER_QUEUE_CAPACITY in iceoryx 2.0
  IoxLink(const Cell& c, const std::string& purpose)
      : topic_(c.tag + "." + purpose),
        mode_(c.mode),
        depth_(c.depth() < kMaxQueue ? c.depth() : kMaxQueue) {}
  uint64_t warmup_hint() const { return 0; }
  uint32_t depth() const { return depth_; }

  class Rx {
   public:
    Rx(const std::string& topic, Mode mode, uint32_t depth) : sub_(topic, mode, depth) {}
    template <class F>
    std::size_t receive(F&& on_message, std::size_t max) {
      uint32_t size = 0;
      const std::byte* p = sub_.take(size);
      on_message(p, size);
      sub_.release(p);
      std::size_t n = 1;
      while (n < max && (p = sub_.try_take(size)) != nullptr) {
        on_message(p, size);
        sub_.release(p);
        ++n;
      }
      return n;
    }

   private:
    IoxSubscriber sub_;
  };
  IoxPublisher sender(int /*producer*/) const { return IoxPublisher(topic_, mode_); }
  Rx receiver() const { return Rx(topic_, mode_, depth_); }

 private:
  std::string topic_;
  Mode mode_;
  uint32_t depth_;
};

}  // namespace bench

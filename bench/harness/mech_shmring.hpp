// shmring as a benchmark link: one ring, producer(s) in one process, the consumer in another.
//   send:    try_write (or try_claim + memcpy + commit), spinning while the ring is full
//   receive: busy: poll(batch) spinning while empty; block / park: read(batch, kForever) with
//            the spin_then_park (default) or park wait strategy
#pragma once

#include <sched.h>

#include <memory>
#include <string>

#include "common.hpp"
#include "shmring/ring.hpp"

namespace bench {

class ShmLink {
 public:
  static constexpr bool kInProcess = false;
  static constexpr uint32_t kType = 1;

  ShmLink(const Cell& c, const std::string& purpose, shmring::Kind kind, bool claim)
      : name_(c.tag + "." + purpose), cell_(c), claim_(claim) {
    const uint32_t record = (c.size + 8 + 7) & ~7u;
    uint64_t capacity = 4096;
    while (capacity < uint64_t{c.depth()} * record) capacity *= 2;
    shmring::CreateOptions o;
    o.kind = kind;
    o.capacity = static_cast<uint32_t>(capacity);
    o.max_record_size = std::max<uint32_t>(o.capacity / 8, record);
    o.max_producers = static_cast<uint32_t>(std::max(c.producers, 1));
    (void)shmring::Ring::unlink(name_);  // a leftover of a killed run
    auto ring = shmring::Ring::create(name_, o);
    if (!ring) fatal("%s", ring.error().message.c_str());
    ring_ = std::make_unique<shmring::Ring>(std::move(ring.value()));
    depth_ = o.capacity / record;
  }
  ~ShmLink() {
    ring_.reset();
    (void)shmring::Ring::unlink(name_);
  }
  uint32_t depth() const { return depth_; }
  // Two laps of the ring: first-touch page faults of a fresh ring stay out of the samples.
  uint64_t warmup_hint() const { return 2ull * depth_; }

  class Tx {
   public:
    Tx(const std::string& name, bool claim, bool yield_on_full)
        : claim_(claim), yield_(yield_on_full) {
      auto ring = shmring::Ring::open(name);
      if (!ring) fatal("%s", ring.error().message.c_str());
      ring_ = std::make_unique<shmring::Ring>(std::move(ring.value()));
      auto p = ring_->attach_producer();
      if (!p) fatal("%s", p.error().message.c_str());
      producer_ = std::make_unique<shmring::Producer>(std::move(p.value()));
    }
    void send(const std::byte* data, uint32_t size) {
      uint32_t spins = 0;
      if (claim_) {
        shmring::Claim c;
        for (;;) {
          const shmring::Status s = producer_->try_claim(kType, size, c);
          if (s == shmring::Status::ok) break;
          on_not_ok(s, ++spins);
        }
        std::memcpy(c.data, data, size);
        producer_->commit(c);
        return;
      }
      for (;;) {
        const shmring::Status s = producer_->try_write(kType, data, size);
        if (s == shmring::Status::ok) return;
        on_not_ok(s, ++spins);
      }
    }

   private:
    void on_not_ok(shmring::Status s, uint32_t spins) {
      if (s != shmring::Status::full) fatal("try_write: %s", shmring::to_string(s));
      cpu_relax();
      // Only when roles outnumber CPUs (mpsc, 2 producers): let the other producer run.
      if (yield_ && (spins & 255) == 0) sched_yield();
    }
    bool claim_, yield_;
    std::unique_ptr<shmring::Ring> ring_;
    std::unique_ptr<shmring::Producer> producer_;
  };

  class Rx {
   public:
    Rx(const std::string& name, Mode mode) : mode_(mode) {
      auto ring = shmring::Ring::open(name);
      if (!ring) fatal("%s", ring.error().message.c_str());
      ring_ = std::make_unique<shmring::Ring>(std::move(ring.value()));
      shmring::ConsumerOptions o;
      o.wait.strategy =
          mode == Mode::park ? shmring::WaitStrategy::park : shmring::WaitStrategy::spin_then_park;
      auto c = ring_->attach_consumer(o);
      if (!c) fatal("%s", c.error().message.c_str());
      consumer_ = std::make_unique<shmring::Consumer>(std::move(c.value()));
    }
    template <class F>
    std::size_t receive(F&& on_message, std::size_t max) {
      auto handler = [&](const shmring::RecordView& r) { on_message(r.data, r.size); };
      if (mode_ == Mode::busy) {
        for (;;) {
          const shmring::PollResult r = consumer_->poll(handler, max);
          if (r.count > 0) return r.count;
          if (r.status == shmring::Status::corrupt)
            fatal("poll: %s", consumer_->last_error().c_str());
          cpu_relax();
        }
      }
      const shmring::PollResult r = consumer_->read(handler, max, shmring::kForever);
      if (r.status != shmring::Status::ok) fatal("read: %s", shmring::to_string(r.status));
      return r.count;
    }

   private:
    Mode mode_;
    std::unique_ptr<shmring::Ring> ring_;
    std::unique_ptr<shmring::Consumer> consumer_;
  };

  Tx sender(int /*producer*/) const { return Tx(name_, claim_, cell_.producers > 1); }
  Rx receiver() const { return Rx(name_, cell_.mode); }

 private:
  std::string name_;
  Cell cell_;
  bool claim_;
  uint32_t depth_ = 0;
  std::unique_ptr<shmring::Ring> ring_;
};

}  // namespace bench

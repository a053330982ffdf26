// The two measurements, written once for every link type L (see mech_*.hpp):
//   throughput: producer(s) send stamped messages for a fixed time (or count), then an end
//               message carrying their count; the consumer verifies order, size and count.
//   latency:    ping-pong over two links; the pinger times each round trip (after a warm-up).
// A link L offers: L(cell, purpose, ...) in the parent (creates the OS objects),
// L::kInProcess, depth(), sender(i) -> Tx{send(data, size)}, receiver() -> Rx{receive(f, max)}.
#pragma once

#include <string>
#include <vector>

#include "common.hpp"

namespace bench {

struct Cpus {
  int producer = -1, consumer = -1;
};
inline Cpus cpus_for(const Cell& c) {
  Cpus out;
  const std::vector<int> cpus = usable_cpus();
  if (c.pin && cpus.size() >= 2) {
    out.producer = cpus[0];
    out.consumer = cpus[1];
  }
  return out;
}

template <class L>
int throughput(const Cell& c, L& link, const std::string& label) {
  Control& ctl = *make_control();
  const Cpus cpus = cpus_for(c);
  std::vector<Role> roles;
  roles.push_back({cpus.consumer, [&]() -> int {
                     auto rx = link.receiver();
                     Verifier verify(c.size, c.producers);
                     ctl.ready.fetch_add(1);
                     while (!verify.done()) rx.receive(verify, 1024);
                     ctl.end_ns.store(now_ns());
                     ctl.delivered.store(verify.messages());
                     ctl.errors.store(verify.errors());
                     if (verify.errors() != 0) {
                       ctl.fail("consumer: " + verify.first_error());
                       return 1;
                     }
                     return 0;
                   }});
  for (int p = 0; p < c.producers; ++p) {
    roles.push_back({cpus.producer, [&, p]() -> int {
                       auto tx = link.sender(p);
                       std::vector<std::byte> buf(c.size, std::byte{0x5a});
                       ctl.ready.fetch_add(1);
                       wait_go(ctl);
                       const uint64_t start = ctl.start_ns.load();
                       const auto duration = static_cast<uint64_t>(c.seconds * 1e9);
                       const auto id = static_cast<uint32_t>(p);
                       uint64_t sent = 0;
                       for (;;) {
                         if (c.count != 0) {
                           if (sent == c.count) break;
                         } else if ((sent & 63) == 0 && now_ns() - start >= duration) {
                           break;
                         }
                         stamp(buf.data(), c.size, make_word(id, sent));
                         tx.send(buf.data(), c.size);
                         ++sent;
                         if (c.gap_ns != 0) busy_wait_ns(c.gap_ns);
                       }
                       stamp(buf.data(), c.size, kEndFlag | make_word(id, sent));
                       tx.send(buf.data(), c.size);
                       ctl.sent.fetch_add(sent);
                       return 0;
                     }});
  }
  const bool ok = run_roles(roles, L::kInProcess, c.timeout_s, ctl);
  const uint64_t msgs = ctl.delivered.load();
  const double seconds = static_cast<double>(ctl.end_ns.load() - ctl.start_ns.load()) / 1e9;
  const bool valid = ok && msgs == ctl.sent.load() && ctl.errors.load() == 0 && msgs > 0;
  JsonLine out;
  out.add("kind", "throughput")
      .add("mech", label)
      .add("size", c.size)
      .add("mode", to_string(c.mode))
      .add("producers", c.producers)
      .add("pin", c.pin)
      .add("depth", link.depth())
      .add("sent", ctl.sent.load())
      .add("delivered", msgs)
      .add("seconds", seconds)
      .add("msgs_per_s", valid ? static_cast<double>(msgs) / seconds : 0.0)
      .add("mb_per_s", valid ? static_cast<double>(msgs) * c.size / seconds / 1e6 : 0.0)
      .add("valid", valid);
  if (!valid) out.add("error", ctl.error_set.load() ? ctl.error : "delivered count differs");
  out.print();
  return valid ? 0 : 1;
}

// The pinger's loop, shared by the links and by the bare cache-line probe.
template <class RoundTrip>
int ping_loop(const Cell& c, Control& ctl, RoundTrip&& round_trip) {
  std::vector<uint64_t> samples;
  samples.reserve(c.round_trips);
  const uint64_t total = c.warmup + c.round_trips;
  ctl.ready.fetch_add(1);
  wait_go(ctl);
  for (uint64_t i = 0; i < total; ++i) {
    const uint64_t t0 = now_ns();
    if (!round_trip(i)) {
      ctl.fail("round trip " + std::to_string(i) + ": wrong reply");
      return 1;
    }
    const uint64_t t1 = now_ns();
    if (i >= c.warmup) samples.push_back(t1 - t0);
  }
  summarize(samples, ctl);
  return 0;
}

inline void print_latency(const Cell& c, const std::string& label, bool ok, const Control& ctl,
                          uint32_t depth) {
  JsonLine out;
  out.add("kind", "latency")
      .add("mech", label)
      .add("size", c.size)
      .add("mode", to_string(c.mode))
      .add("pin", c.pin)
      .add("depth", depth)
      .add("round_trips", ctl.samples)
      .add("warmup", c.warmup)
      .add("p50_ns", ctl.p50)
      .add("p90_ns", ctl.p90)
      .add("p99_ns", ctl.p99)
      .add("p999_ns", ctl.p999)
      .add("max_ns", ctl.max)
      .add("min_ns", ctl.min)
      .add("mean_ns", ctl.mean)
      .add("valid", ok);
  if (!ok) out.add("error", ctl.error);
  out.print();
}

template <class L>
int latency(const Cell& cell, L& ping, L& pong, const std::string& label) {
  Cell c = cell;
  if (c.warmup < ping.warmup_hint()) c.warmup = ping.warmup_hint();
  Control& ctl = *make_control();
  const Cpus cpus = cpus_for(c);
  const uint64_t total = c.warmup + c.round_trips;
  std::vector<Role> roles;
  // Both sides create their receiver before their sender: a sender may wait for its receiver.
  roles.push_back({cpus.producer, [&]() -> int {
                     auto rx = pong.receiver();
                     auto tx = ping.sender(0);
                     std::vector<std::byte> buf(c.size, std::byte{0x5a});
                     return ping_loop(c, ctl, [&](uint64_t i) {
                       stamp(buf.data(), c.size, i);
                       tx.send(buf.data(), c.size);
                       uint64_t word = ~uint64_t{0};
                       rx.receive(
                           [&](const std::byte* p, uint32_t n) {
                             if (!read_word(p, n, c.size, word)) word = ~uint64_t{0};
                           },
                           1);
                       return word == i;
                     });
                   }});
  roles.push_back({cpus.consumer, [&]() -> int {
                     auto rx = ping.receiver();
                     auto tx = pong.sender(0);
                     std::vector<std::byte> reply(c.size);
                     ctl.ready.fetch_add(1);
                     for (uint64_t i = 0; i < total; ++i) {
                       uint32_t length = 0;
                       rx.receive(
                           [&](const std::byte* p, uint32_t n) {
                             length = n < c.size ? n : c.size;
                             std::memcpy(reply.data(), p, length);
                           },
                           1);
                       tx.send(reply.data(), length);
                     }
                     return 0;
                   }});
  const bool ok = run_roles(roles, L::kInProcess, c.timeout_s, ctl);
  print_latency(c, label, ok, ctl, ping.depth());
  return ok ? 0 : 1;
}

// The physical limit of a round trip: one shared cache line, both sides spinning on it.
inline int cacheline_probe(const Cell& c, const std::string& label) {
  Control& ctl = *make_control();
  struct alignas(64) Line {
    std::atomic<uint64_t> value{0};
  };
  Line* line = new (map_shared(sizeof(Line))) Line();
  const Cpus cpus = cpus_for(c);
  const uint64_t total = c.warmup + c.round_trips;
  std::vector<Role> roles;
  roles.push_back({cpus.producer, [&]() -> int {
                     return ping_loop(c, ctl, [&](uint64_t i) {
                       line->value.store(2 * i + 1, std::memory_order_release);
                       while (line->value.load(std::memory_order_acquire) != 2 * i + 2) cpu_relax();
                       return true;
                     });
                   }});
  roles.push_back({cpus.consumer, [&]() -> int {
                     ctl.ready.fetch_add(1);
                     for (uint64_t i = 0; i < total; ++i) {
                       while (line->value.load(std::memory_order_acquire) != 2 * i + 1) cpu_relax();
                       line->value.store(2 * i + 2, std::memory_order_release);
                     }
                     return 0;
                   }});
  const bool ok = run_roles(roles, false, c.timeout_s, ctl);
  print_latency(c, label, ok, ctl, 1);
  return ok ? 0 : 1;
}

}  // namespace bench

// shmring_micro — per-record cost of the fast path in one process (Google Benchmark), for each
// message size and both ring kinds. No peer process: this is the instruction cost of the calls,
// not a transfer between cores (bench/harness measures that).
//
//   try_write + try_read     one copy in, one copy out, one release per record
//   claim/commit + poll      zero-copy: memcpy into the claim, read the view
//   try_write x64 + poll(64) a batch: the release and the wake check are paid once per 64
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "shmring/ring.hpp"

namespace {

using shmring::Status;

struct Pair {
  shmring::Ring ring;
  shmring::Producer producer;
  shmring::Consumer consumer;
};

std::unique_ptr<Pair> make_pair(benchmark::State& state, uint32_t size, bool mpsc,
                                uint32_t records) {
  static std::atomic<int> counter{0};
  const std::string name = "micro." + std::to_string(getpid()) + "." + std::to_string(counter++);
  const uint32_t record = (size + 8 + 7) & ~7u;
  uint32_t capacity = 64 * 1024;
  while (capacity < records * record) capacity *= 2;
  shmring::CreateOptions o;
  o.kind = mpsc ? shmring::Kind::mpsc : shmring::Kind::spsc;
  o.capacity = capacity;
  o.max_record_size = std::max(capacity / 8, record);
  auto ring = shmring::Ring::create(name, o);
  if (!ring) {
    state.SkipWithError(ring.error().message.c_str());
    return nullptr;
  }
  (void)shmring::Ring::unlink(name);  // the mapping stays until the ring is closed
  auto producer = ring->attach_producer();
  auto consumer = ring->attach_consumer();
  if (!producer || !consumer) {
    state.SkipWithError("attach failed");
    return nullptr;
  }
  return std::unique_ptr<Pair>(
      new Pair{std::move(ring.value()), std::move(producer.value()), std::move(consumer.value())});
}

void set_counters(benchmark::State& state, uint32_t size, int64_t per_iteration) {
  state.SetItemsProcessed(state.iterations() * per_iteration);
  state.SetBytesProcessed(state.iterations() * per_iteration * size);
}

void BM_try_write_try_read(benchmark::State& state) {
  const auto size = static_cast<uint32_t>(state.range(0));
  auto p = make_pair(state, size, state.range(1) != 0, 16);
  if (!p) return;
  std::vector<std::byte> in(size, std::byte{1}), out(size);
  for (auto _ : state) {
    if (p->producer.try_write(1, in.data(), size) != Status::ok) {
      state.SkipWithError("try_write failed");
      break;
    }
    uint32_t n = 0, type = 0;
    if (p->consumer.try_read(out.data(), size, n, type) != Status::ok) {
      state.SkipWithError("try_read failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, size, 1);
}

void BM_claim_commit_poll(benchmark::State& state) {
  const auto size = static_cast<uint32_t>(state.range(0));
  auto p = make_pair(state, size, state.range(1) != 0, 16);
  if (!p) return;
  std::vector<std::byte> in(size, std::byte{1});
  uint64_t sum = 0;
  auto handler = [&](const shmring::RecordView& r) { sum += static_cast<uint8_t>(r.data[0]); };
  for (auto _ : state) {
    shmring::Claim c;
    if (p->producer.try_claim(1, size, c) != Status::ok) {
      state.SkipWithError("try_claim failed");
      break;
    }
    std::memcpy(c.data, in.data(), size);
    p->producer.commit(c);
    if (p->consumer.poll(handler, 1).count != 1) {
      state.SkipWithError("poll failed");
      break;
    }
  }
  benchmark::DoNotOptimize(sum);
  set_counters(state, size, 1);
}

constexpr int kBatch = 64;

void BM_try_write_batch_poll(benchmark::State& state) {
  const auto size = static_cast<uint32_t>(state.range(0));
  auto p = make_pair(state, size, state.range(1) != 0, 2 * kBatch);
  if (!p) return;
  std::vector<std::byte> in(size, std::byte{1});
  uint64_t sum = 0;
  auto handler = [&](const shmring::RecordView& r) { sum += static_cast<uint8_t>(r.data[0]); };
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) {
      if (p->producer.try_write(1, in.data(), size) != Status::ok) {
        state.SkipWithError("try_write failed");
        return;
      }
    }
    if (p->consumer.poll(handler, kBatch).count != kBatch) {
      state.SkipWithError("poll failed");
      return;
    }
  }
  benchmark::DoNotOptimize(sum);
  set_counters(state, size, kBatch);
}

void sizes_and_kinds(benchmark::internal::Benchmark* b) {
  b->ArgNames({"size", "mpsc"});
  for (int mpsc : {0, 1})
    for (int size : {8, 64, 512, 4096, 65536}) b->Args({size, mpsc});
}

BENCHMARK(BM_try_write_try_read)->Apply(sizes_and_kinds);
BENCHMARK(BM_claim_commit_poll)->Apply(sizes_and_kinds);
BENCHMARK(BM_try_write_batch_poll)->Apply(sizes_and_kinds);

}  // namespace

BENCHMARK_MAIN();

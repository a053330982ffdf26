#include "peers_iceoryx.hpp"

#include <unistd.h>

#if SHMRING_BENCH_ICEORYX
#include "iceoryx_hoofs/log/logmanager.hpp"
#include "iceoryx_posh/mepoo/chunk_header.hpp"
#include "iceoryx_posh/popo/untyped_publisher.hpp"
#include "iceoryx_posh/popo/untyped_subscriber.hpp"
#include "iceoryx_posh/popo/wait_set.hpp"
#include "iceoryx_posh/runtime/posh_runtime.hpp"
#endif

namespace bench {

#if SHMRING_BENCH_ICEORYX

namespace {

// One runtime per process; roles are forked, so each registers itself with RouDi under its pid.
// The role's process ends with exit(), whose static destructors deregister it.
void init_runtime() {
  static bool done = false;
  if (done) return;
  iox::log::LogManager::GetLogManager().SetDefaultLogLevel(iox::log::LogLevel::kWarn);
  const std::string name = "shmring-bench-" + std::to_string(getpid());
  iox::runtime::PoshRuntime::initRuntime(iox::RuntimeName_t(iox::cxx::TruncateToCapacity, name));
  done = true;
}

iox::capro::ServiceDescription service(const std::string& topic) {
  return {"shmring", "bench", iox::capro::IdString_t(iox::cxx::TruncateToCapacity, topic)};
}

iox::popo::PublisherOptions publisher_options() {
  iox::popo::PublisherOptions o;
  o.historyCapacity = 0;
  o.subscriberTooSlowPolicy = iox::popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;  // lossless
  return o;
}

iox::popo::SubscriberOptions subscriber_options(uint32_t queue_capacity) {
  iox::popo::SubscriberOptions o;
  o.queueCapacity = queue_capacity;
  o.historyRequest = 0;
  o.queueFullPolicy = iox::popo::QueueFullPolicy::BLOCK_PRODUCER;  // lossless
  return o;
}

constexpr uint64_t kConnectTimeoutNs = 10'000'000'000;

}  // namespace

bool iceoryx_available() {
  return true;
}

struct IoxPublisher::Impl {
  explicit Impl(const std::string& topic) : publisher(service(topic), publisher_options()) {}
  iox::popo::UntypedPublisher publisher;
};

IoxPublisher::IoxPublisher(const std::string& topic, Mode /*mode*/) {
  init_runtime();
  impl_ = std::make_unique<Impl>(topic);
  // Without history a sample published before the subscriber is connected is gone.
  const uint64_t deadline = now_ns() + kConnectTimeoutNs;
  while (!impl_->publisher.hasSubscribers()) {
    if (now_ns() > deadline) fatal("iceoryx: no subscriber for %s", topic.c_str());
    usleep(1000);
  }
}
IoxPublisher::IoxPublisher(IoxPublisher&&) noexcept = default;
IoxPublisher::~IoxPublisher() = default;

void IoxPublisher::send(const std::byte* data, uint32_t size) {
  for (;;) {
    auto loaned = impl_->publisher.loan(size, alignof(uint64_t));
    if (!loaned.has_error()) {
      std::memcpy(loaned.value(), data, size);
      impl_->publisher.publish(loaned.value());
      return;
    }
    cpu_relax();  // out of chunks: the subscriber still holds them
  }
}

struct IoxSubscriber::Impl {
  Impl(const std::string& topic, uint32_t queue_capacity)
      : subscriber(service(topic), subscriber_options(queue_capacity)) {}
  iox::popo::UntypedSubscriber subscriber;
  std::unique_ptr<iox::popo::WaitSet<>> waitset;  // block / park only; destroyed first
};

IoxSubscriber::IoxSubscriber(const std::string& topic, Mode mode, uint32_t queue_capacity) {
  init_runtime();
  impl_ = std::make_unique<Impl>(topic, queue_capacity);
  const uint64_t deadline = now_ns() + kConnectTimeoutNs;
  while (impl_->subscriber.getSubscriptionState() != iox::SubscribeState::SUBSCRIBED) {
    if (now_ns() > deadline) fatal("iceoryx: subscription to %s not confirmed", topic.c_str());
    usleep(1000);
  }
  if (mode != Mode::busy) {
    impl_->waitset = std::make_unique<iox::popo::WaitSet<>>();
    auto attached =
        impl_->waitset->attachState(impl_->subscriber, iox::popo::SubscriberState::HAS_DATA);
    if (attached.has_error()) fatal("iceoryx: attaching the subscriber to a WaitSet failed");
  }
}
IoxSubscriber::IoxSubscriber(IoxSubscriber&&) noexcept = default;
IoxSubscriber::~IoxSubscriber() = default;

const std::byte* IoxSubscriber::try_take(uint32_t& size) {
  auto taken = impl_->subscriber.take();
  if (taken.has_error()) return nullptr;
  const void* payload = taken.value();
  size = iox::mepoo::ChunkHeader::fromUserPayload(payload)->userPayloadSize();
  return static_cast<const std::byte*>(payload);
}

const std::byte* IoxSubscriber::take(uint32_t& size) {
  for (;;) {
    if (const std::byte* p = try_take(size)) return p;
    if (impl_->waitset) {
      (void)impl_->waitset->wait();
    } else {
      cpu_relax();
    }
  }
}

void IoxSubscriber::release(const std::byte* sample) {
  impl_->subscriber.release(sample);
}

#else  // iceoryx not compiled in

bool iceoryx_available() {
  return false;
}
struct IoxPublisher::Impl {};
struct IoxSubscriber::Impl {};
IoxPublisher::IoxPublisher(const std::string&, Mode) {
  fatal("iceoryx was not found at build time");
}
IoxPublisher::IoxPublisher(IoxPublisher&&) noexcept = default;
IoxPublisher::~IoxPublisher() = default;
void IoxPublisher::send(const std::byte*, uint32_t) {}
IoxSubscriber::IoxSubscriber(const std::string&, Mode, uint32_t) {
  fatal("iceoryx was not found at build time");
}
IoxSubscriber::IoxSubscriber(IoxSubscriber&&) noexcept = default;
IoxSubscriber::~IoxSubscriber() = default;
const std::byte* IoxSubscriber::take(uint32_t&) {
  return nullptr;
}
const std::byte* IoxSubscriber::try_take(uint32_t&) {
  return nullptr;
}
void IoxSubscriber::release(const std::byte*) {}

#endif

}  // namespace bench

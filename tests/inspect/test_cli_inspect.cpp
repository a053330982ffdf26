// The shmring CLI as an inspection tool, run as a real process against real rings:
//  * dump / stat / watch / tail / counters / ls never modify a ring (the whole mapping hashes the
//    same before and after), and a consumer then receives exactly the records dump showed;
//  * dump of live rings (records checked as they are walked, never misread);
//  * dump and stat of a ring whose producer was killed mid-record;
//  * dump of deliberately corrupted rings: where the walk stopped and why;
//  * ls marks stale objects.
#include <catch2/catch.hpp>
#include <cinttypes>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "inspect_util.hpp"
#include "shmring/counters.hpp"
#include "shmring/platform.hpp"

namespace shmring::inspecttest {
namespace {

Json run_json(const std::vector<std::string>& args) {
  const CliResult r = run_cli(args);
  INFO("shmring " << args[0] << ": " << r.describe());
  REQUIRE(r.exit_code == 0);
  try {
    return parse_json(r.out);
  } catch (const std::exception& e) {
    FAIL("shmring " << args[0] << " printed invalid JSON: " << e.what() << "\n" << r.out);
  }
  return Json{};
}

std::string last_line(const std::string& text) {
  std::size_t end = text.size();
  while (end > 0 && text[end - 1] == '\n') --end;
  const std::size_t start = text.rfind('\n', end == 0 ? 0 : end - 1);
  return text.substr(start == std::string::npos ? 0 : start + 1,
                     end - (start == std::string::npos ? 0 : start + 1));
}

std::vector<std::byte> unhex(const std::string& hex) {
  std::vector<std::byte> out;
  for (std::size_t i = 2; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<std::byte>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  return out;
}

void write_text(Producer& p, uint64_t seq) {
  const std::string t = text_record(seq);
  REQUIRE(p.write(1, t.data(), static_cast<uint32_t>(t.size()), 5'000'000'000) == Status::ok);
}

// Reads every readable record of a consumer as text.
std::vector<std::string> consume_all(Consumer& c) {
  std::vector<std::string> got;
  for (;;) {
    const PollResult r = c.poll([&](const RecordView& v) {
      got.emplace_back(reinterpret_cast<const char*>(v.data), v.size);
    });
    if (r.count == 0) break;
  }
  return got;
}

const char* kind_name_for_test(Kind kind) {
  switch (kind) {
    case Kind::spsc:
      return "spsc";
    case Kind::mpsc:
      return "mpsc";
    case Kind::broadcast:
      return "broadcast";
  }
  return "?";
}

std::vector<std::string> dumped_texts(const Json& dump) {
  std::vector<std::string> out;
  for (const Json& rec : dump["records"].items) {
    if (rec["state"].text == "committed") out.push_back(rec["text"].text);
  }
  return out;
}

}  // namespace

// ---- never modifies
// -------------------------------------------------------------------------------

TEST_CASE("inspection never modifies a ring; a consumer then gets exactly what dump showed",
          "[inspect]") {
  for (Kind kind : {Kind::spsc, Kind::mpsc, Kind::broadcast}) {
    DYNAMIC_SECTION("kind " << static_cast<int>(kind)) {
      ObjectName name("never");
      CreateOptions o;
      o.kind = kind;
      o.capacity = 4096;
      o.initial_position = 0xFFFFFF00u;  // the walk crosses the 2^32 wrap
      auto ring = Ring::create(name.str(), o);
      REQUIRE(ring.ok());
      Producer p = ring->attach_producer().value();
      std::optional<Consumer> consumer;
      std::optional<Reader> idle_reader;
      const bool broadcast = kind == Kind::broadcast;
      if (!broadcast) {
        consumer.emplace(ring->attach_consumer().value());
        for (uint64_t i = 0; i < 40; ++i) write_text(p, i);
        uint64_t taken = 0;
        (void)consumer->poll([&](const RecordView&) { ++taken; }, 25);
        REQUIRE(taken == 25);
        for (uint64_t i = 40; i < 60; ++i) write_text(p, i);
      } else {
        idle_reader.emplace(ring->attach_reader().value());  // joins newest, then idles
        for (uint64_t i = 0; i < 300; ++i) write_text(p, i);
      }
      const std::string n = name.str();
      const Stats s = ring->stats();
      const uint64_t before = hash_object(n);
      REQUIRE(before != 0);

      std::vector<std::vector<std::string>> commands = {
          {"dump", n},
          {"dump", n, "--format", "hex"},
          {"dump", n, "--from", "consumer"},
          {"dump", n, "--max", "2"},
          {"stat", n, "--interval-ms", "20"},
          {"stat", n, "--json", "--no-rates"},
          {"watch", n, "--iterations", "2", "--interval-ms", "20"},
          {"counters", n},
          {"counters", n, "--json"},
          {"counters", n, "--watch", "--iterations", "2", "--interval-ms", "20"},
          {"ls"},
          {"ls", "--json"}};
      if (!broadcast) {
        char hex[16];
        std::snprintf(hex, sizeof hex, "0x%x", s.consumer_position);
        commands.push_back({"dump", n, "--from", std::to_string(s.consumer_position)});
        commands.push_back({"dump", n, "--from", hex});
        commands.push_back({"tail", n, "-n", "3"});
        commands.push_back({"tail", n, "-f", "--timeout-ms", "60", "--interval-ms", "10"});
      }
      for (const auto& args : commands) {
        const CliResult r = run_cli(args);
        INFO("shmring " << args[0] << " " << (args.size() > 2 ? args[2] : "") << ": "
                        << r.describe());
        REQUIRE(r.exit_code == 0);
        REQUIRE(hash_object(n) == before);
      }
      const Json dump = run_json({"dump", n, "--format", "json"});
      REQUIRE(hash_object(n) == before);
      REQUIRE(dump["stop"]["reason"].text == "end");
      REQUIRE(dump["kind"].text == kind_name_for_test(kind));
      const std::vector<std::string> shown = dumped_texts(dump);

      if (!broadcast) {
        REQUIRE(shown.size() == 35);
        for (std::size_t i = 0; i < shown.size(); ++i) REQUIRE(shown[i] == text_record(25 + i));
        const CliResult tail = run_cli({"tail", n, "-n", "3"});
        REQUIRE(tail.out == shown[32] + "\n" + shown[33] + "\n" + shown[34] + "\n");
        // The consumer still receives every record that was dumped, in the same order.
        REQUIRE(consume_all(*consumer) == shown);
      } else {
        uint64_t first = 0;
        REQUIRE(parse_text_record(shown.front(), first));
        REQUIRE(first > 0);  // overwritten many times: the oldest held record
        for (std::size_t i = 0; i < shown.size(); ++i) REQUIRE(shown[i] == text_record(first + i));
        REQUIRE(first + shown.size() == 300);
        // A reader joining at the oldest record gets the same records.
        Reader r = ring->attach_reader(ReaderOptions{JoinAt::oldest, {}}).value();
        std::vector<std::string> got;
        while (r.poll([&](const RecordView& v) {
                  got.emplace_back(reinterpret_cast<const char*>(v.data), v.size);
                }).count > 0) {
        }
        REQUIRE(got == shown);
        // stat shows the idle reader's lag.
        const Json st = run_json({"stat", n, "--json", "--no-rates"});
        REQUIRE(st["readers"].size() == 2);
        bool lagging = false;
        for (const Json& rd : st["readers"].items) {
          REQUIRE(rd["pid"].u64() == platform::current_pid());
          REQUIRE(rd["alive"].b);
          const uint32_t lag = static_cast<uint32_t>(st["producer_position"].u64()) -
                               static_cast<uint32_t>(rd["cursor"].u64());
          if (rd["lag_bytes"].u64() == lag && lag > 4096 && rd["lapped"].b) lagging = true;
        }
        REQUIRE(lagging);
      }
    }
  }
}

// ---- live rings ---------------------------------------------------------------------------------

namespace {

// Writes text records id * 1e9 + 0..count-1 (blocking), 'R'.
int text_producer_role(ChildIo& io, const Params& p) {
  auto ring = Ring::open(p.str("ring"));
  if (!ring) return io.fail("producer: open: %s", ring.error().message.c_str());
  auto producer = ring->attach_producer();
  if (!producer) return io.fail("producer: attach: %s", producer.error().message.c_str());
  io.send('A');
  if (io.wait_control(30'000) != 'G') return io.fail("producer: no go");
  const uint64_t base = p.u64("id") * 1'000'000'000ull;
  for (uint64_t i = 0; i < p.u64("count"); ++i) {
    const std::string t = text_record(base + i);
    const Status s = producer->write(1, t.data(), static_cast<uint32_t>(t.size()), 30'000'000'000);
    if (s != Status::ok) return io.fail("producer: write %" PRIu64 ": %s", i, to_string(s));
  }
  io.send('R');
  return 0;
}
const ChildRole kTextProducerRole("text-producer", text_producer_role);

// Consumes `producers` x `count` text records, slowly (a batch of 16, then 100 us), checking
// that each producer's records arrive complete and in order; 'R' {received}.
int text_consumer_role(ChildIo& io, const Params& p) {
  auto ring = Ring::open(p.str("ring"));
  if (!ring) return io.fail("consumer: open: %s", ring.error().message.c_str());
  auto consumer = ring->attach_consumer();
  if (!consumer) return io.fail("consumer: attach: %s", consumer.error().message.c_str());
  io.send('A');
  const uint32_t producers = p.u32("producers");
  const uint64_t count = p.u64("count");
  std::vector<uint64_t> next(producers, 0);
  uint64_t received = 0;
  std::string error;
  while (received < producers * count) {
    const PollResult r = consumer->read(
        [&](const RecordView& v) {
          uint64_t seq = 0;
          const std::string t(reinterpret_cast<const char*>(v.data), v.size);
          if (!parse_text_record(t, seq)) {
            if (error.empty()) error = "bad record '" + t + "'";
            return;
          }
          const uint64_t id = seq / 1'000'000'000ull, i = seq % 1'000'000'000ull;
          if (id >= producers || next[id] != i) {
            if (error.empty()) error = "out of order: '" + t + "'";
            return;
          }
          ++next[id];
          ++received;
        },
        16, 30'000'000'000);
    if (!error.empty()) return io.fail("consumer: %s", error.c_str());
    if (r.status != Status::ok)
      return io.fail("consumer: %s after %" PRIu64 " records", to_string(r.status), received);
    platform::sleep_ns(100'000);
  }
  io.send('R', received);
  return 0;
}
const ChildRole kTextConsumerRole("text-consumer", text_consumer_role);

void check_stop(const Json& dump, std::set<std::string>& reasons) {
  const std::string reason = dump["stop"]["reason"].text;
  INFO("stop: " << reason << ": " << dump["stop"]["detail"].text);
  REQUIRE((reason == "end" || reason == "max" || reason == "in_flight" || reason == "overwritten"));
  reasons.insert(reason);
}

}  // namespace

TEST_CASE("dump walks a live mpsc ring without disturbing it", "[inspect]") {
  ObjectName name("live-mpsc");
  CreateOptions o;
  o.kind = Kind::mpsc;
  o.capacity = 16384;
  auto ring = Ring::create(name.str(), o);
  REQUIRE(ring.ok());
  const uint64_t count = 15'000;
  Params cp;
  cp.set("ring", name.str()).set("producers", uint32_t{2}).set("count", count);
  Child consumer("text-consumer", cp);
  Event e;
  std::string why;
  REQUIRE(consumer.expect_event('A', e, 30'000, why));
  std::vector<std::unique_ptr<Child>> producers;
  for (uint32_t id = 0; id < 2; ++id) {
    Params pp;
    pp.set("ring", name.str()).set("id", id).set("count", count);
    producers.push_back(std::make_unique<Child>("text-producer", pp));
    REQUIRE(producers.back()->expect_event('A', e, 30'000, why));
  }
  for (auto& p : producers) p->send('G');

  uint64_t dumps = 0, records = 0;
  std::set<std::string> reasons;
  bool consumer_done = false;
  const uint64_t deadline = now_ns() + 120'000'000'000ull;
  while (!consumer_done && now_ns() < deadline) {
    const Json dump = run_json({"dump", name.str(), "--format", "json", "--max", "300"});
    ++dumps;
    check_stop(dump, reasons);
    for (const Json& rec : dump["records"].items) {
      if (rec["state"].text != "committed") {
        REQUIRE((rec["state"].text == "claimed" || rec["state"].text == "reserved"));
        continue;
      }
      uint64_t seq = 0;
      INFO("dumped record: " << rec["text"].text);
      REQUIRE(parse_text_record(rec["text"].text, seq));  // never a misread record
      REQUIRE(seq % 1'000'000'000ull < count);
      ++records;
    }
    if (consumer.next_event(e, 0)) {
      INFO(consumer.errors());
      REQUIRE(e.tag == 'R');
      REQUIRE(e.v[0] == 2 * count);  // every record, each producer's in order
      consumer_done = true;
    }
  }
  REQUIRE(consumer_done);
  REQUIRE(consumer.wait_exit(30'000));
  REQUIRE(consumer.succeeded());
  for (auto& p : producers) {
    REQUIRE(p->wait_exit(30'000));
    REQUIRE(p->succeeded());
  }
  std::string stops;
  for (const std::string& r : reasons) stops += " " + r;
  std::printf("live mpsc dump: %" PRIu64 " dumps, %" PRIu64
              " records seen while streaming; stops:%s\n",
              dumps, records, stops.c_str());
  REQUIRE(records > 0);
  const Stats s = ring->stats();
  REQUIRE(s.messages_read == 2 * count);
  REQUIRE(s.used_bytes == 0);
}

TEST_CASE("dump walks a live broadcast ring: never a torn record", "[inspect]") {
  ObjectName name("live-bc");
  CreateOptions o;
  o.kind = Kind::broadcast;
  o.capacity = 16384;
  o.max_record_size = 256;
  auto ring = Ring::create(name.str(), o);
  REQUIRE(ring.ok());
  Params pp;
  pp.set("ring", name.str()).set("count", uint64_t{400'000}).set("sleep_us", uint64_t{100});
  Child producer("bc-producer", pp);
  Event e;
  std::string why;
  REQUIRE(producer.expect_event('A', e, 30'000, why));
  producer.send('G');
  uint64_t dumps = 0, records = 0;
  std::set<std::string> reasons;
  bool done = false;
  while (!done) {
    const Json dump = run_json({"dump", name.str(), "--format", "json"});
    ++dumps;
    check_stop(dump, reasons);
    REQUIRE(dump["stop"]["reason"].text != "in_flight");
    uint64_t previous = 0;
    bool first = true;
    for (const Json& rec : dump["records"].items) {
      const std::vector<std::byte> bytes = unhex(rec["hex"].text);
      uint64_t seq = 0;
      std::string bad;
      INFO("record at " << rec["position"].u64() << ": " << bad);
      REQUIRE(check_binary_record(bytes.data(), static_cast<uint32_t>(bytes.size()), seq, bad));
      REQUIRE(rec["sequence"].u64() == seq);
      if (!first) REQUIRE(seq == previous + 1);  // consecutive within one walk
      previous = seq;
      first = false;
      ++records;
    }
    done = producer.next_event(e, 0) && e.tag == 'R';
    if (!done && producer.exited()) FAIL("producer: " << producer.describe() << producer.errors());
  }
  REQUIRE(producer.wait_exit(30'000));
  REQUIRE(producer.succeeded());
  std::string stops;
  for (const std::string& r : reasons) stops += " " + r;
  std::printf("live broadcast dump: %" PRIu64 " dumps, %" PRIu64 " records checked; stops:%s\n",
              dumps, records, stops.c_str());
  REQUIRE(dumps >= 2);
}

// ---- a producer killed mid-record ---------------------------------------------------------------

namespace {

// Writes `committed` text records, then claims a record of `claim_size` payload bytes, fills half
// of it and sends 'C' {claim position}; waits to be killed.
int claim_victim_role(ChildIo& io, const Params& p) {
  auto ring = Ring::open(p.str("ring"));
  if (!ring) return io.fail("victim: open: %s", ring.error().message.c_str());
  auto producer = ring->attach_producer();
  if (!producer) return io.fail("victim: attach: %s", producer.error().message.c_str());
  for (uint64_t i = 0; i < p.u64("committed"); ++i) {
    const std::string t = text_record(i);
    const Status s = producer->write(1, t.data(), static_cast<uint32_t>(t.size()), 5'000'000'000);
    if (s != Status::ok) return io.fail("victim: write: %s", to_string(s));
  }
  Claim claim;
  const uint32_t size = p.u32("claim_size");
  const Status s = producer->try_claim(5, size, claim);
  if (s != Status::ok) return io.fail("victim: claim: %s", to_string(s));
  std::memset(claim.data, 'x', size / 2);
  io.send('C', claim.position);
  (void)io.wait_control(300'000);
  return io.fail("victim: was not killed");
}
const ChildRole kClaimVictimRole("claim-victim", claim_victim_role);

}  // namespace

TEST_CASE("dump and stat of a ring whose producer was killed mid-record", "[inspect]") {
  for (Kind kind : {Kind::mpsc, Kind::spsc, Kind::broadcast}) {
    DYNAMIC_SECTION("kind " << kind_name_for_test(kind)) {
      ObjectName name("killed");
      CreateOptions o;
      o.kind = kind;
      o.capacity = 4096;
      auto ring = Ring::create(name.str(), o);
      REQUIRE(ring.ok());
      const uint64_t committed = kind == Kind::broadcast ? 200 : 10;  // broadcast: wraps
      Params vp;
      vp.set("ring", name.str()).set("committed", committed).set("claim_size", uint32_t{48});
      Child victim("claim-victim", vp);
      Event e;
      std::string why;
      const bool claimed = victim.expect_event('C', e, 30'000, why);
      INFO(why << " " << victim.errors());
      REQUIRE(claimed);
      const uint32_t claim_position = static_cast<uint32_t>(e.v[0]);
      const uint32_t victim_pid = victim.pid();
      victim.kill_and_reap();
      REQUIRE_FALSE(platform::process_alive(victim_pid));
      const uint64_t before = hash_object(name.str());

      const Json dump = run_json({"dump", name.str(), "--format", "json"});
      const CliResult text = run_cli({"dump", name.str()});
      REQUIRE(text.exit_code == 0);
      const Json st = run_json({"stat", name.str(), "--json", "--interval-ms", "50"});
      REQUIRE(hash_object(name.str()) == before);
      const std::vector<std::string> shown = dumped_texts(dump);
      if (kind == Kind::mpsc) {
        // Every committed record, then the claimed one, shown with its length and its dead owner.
        REQUIRE(shown.size() == committed);
        for (uint64_t i = 0; i < committed; ++i) REQUIRE(shown[i] == text_record(i));
        const Json& last = dump["records"].items.back();
        REQUIRE(last["state"].text == "claimed");
        REQUIRE(last["position"].u64() == claim_position);
        REQUIRE(last["length"].text == "-56");
        REQUIRE(dump["stop"]["reason"].text == "in_flight");
        REQUIRE(dump["stop"]["position"].u64() == claim_position);
        REQUIRE_THAT(dump["stop"]["detail"].text,
                     Catch::Contains("pid " + std::to_string(victim_pid) + " (DEAD)"));
        REQUIRE_THAT(text.out, Catch::Contains("CLAIMED, not committed: 56 bytes (48 payload)"));
        REQUIRE_THAT(last_line(text.out), Catch::StartsWith("-- in_flight at position " +
                                                            std::to_string(claim_position)));
        // stat: the first record in flight, its dead owner and an age.
        const Json& f = st["in_flight"];
        REQUIRE(f.type == Json::object);
        REQUIRE(f["position"].u64() == claim_position);
        REQUIRE(f["state"].text == "claimed");
        REQUIRE(f["records_before"].u64() == committed);
        REQUIRE_FALSE(f["at_consumer"].b);
        REQUIRE(f["owner_pid"].u64() == victim_pid);
        REQUIRE_FALSE(f["owner_alive"].b);
        REQUIRE(f["unchanged_across_samples"].b);
        REQUIRE(f["owner_last_activity_age_ns"].u64() > 0);
        // A consumer reads the committed records and stops at the claim: now it waits there.
        ConsumerOptions co;
        co.stuck_claim_timeout_ns = 20'000'000;
        Consumer c = ring->attach_consumer(co).value();
        std::vector<std::string> got;
        const PollResult first = c.poll([&](const RecordView& v) {
          got.emplace_back(reinterpret_cast<const char*>(v.data), v.size);
        });
        REQUIRE(first.count == committed);
        REQUIRE(got == shown);
        const CliResult stat_text = run_cli({"stat", name.str(), "--interval-ms", "30"});
        REQUIRE_THAT(stat_text.out, Catch::Contains("in flight:"));
        REQUIRE_THAT(stat_text.out, Catch::Contains("claimed, 56 bytes (48 payload), by pid " +
                                                    std::to_string(victim_pid) + " (DEAD)"));
        REQUIRE_THAT(stat_text.out, Catch::Contains("unchanged for at least"));
        REQUIRE_THAT(stat_text.out, Catch::Contains("the consumer waits for it"));
        REQUIRE(
            run_json({"stat", name.str(), "--json", "--no-rates"})["in_flight"]["at_consumer"].b);
        // The consumer recovers the dead claim; dump then sees an empty ring.
        const uint64_t deadline = now_ns() + 10'000'000'000ull;
        while (ring->stats().recovered_claims == 0 && now_ns() < deadline) {
          (void)c.read([&](const RecordView&) { FAIL("no record after the claim"); }, 64,
                       10'000'000);
        }
        REQUIRE(ring->stats().recovered_claims == 1);
        const Json after = run_json({"dump", name.str(), "--format", "json"});
        REQUIRE(after["stop"]["reason"].text == "end");
        REQUIRE(after["records"].size() == 0);
        REQUIRE(run_json({"stat", name.str(), "--json", "--no-rates"})["in_flight"].type ==
                Json::null);
      } else if (kind == Kind::spsc) {
        // An spsc claim is never published: dump shows the committed records and ends.
        REQUIRE(shown.size() == committed);
        REQUIRE(dump["stop"]["reason"].text == "end");
        REQUIRE(st["in_flight"].type == Json::null);
        REQUIRE(st["producers"].size() == 1);
        REQUIRE(st["producers"][0]["pid"].u64() == victim_pid);
        REQUIRE_FALSE(st["producers"][0]["alive"].b);
      } else {
        // Broadcast: the announced overwrite is not a record; what is held is intact.
        REQUIRE(dump["stop"]["reason"].text == "end");
        REQUIRE(shown.size() > 10);
        uint64_t first = 0;
        REQUIRE(parse_text_record(shown.front(), first));
        for (std::size_t i = 0; i < shown.size(); ++i) REQUIRE(shown[i] == text_record(first + i));
        REQUIRE(first + shown.size() == committed);
        REQUIRE(st["broadcast"]["next_sequence"].u64() == committed);
        REQUIRE(st["broadcast"]["tail_intent"].u64() != st["producer_position"].u64());
        Reader r = ring->attach_reader(ReaderOptions{JoinAt::oldest, {}}).value();
        std::vector<std::string> got;
        while (r.poll([&](const RecordView& v) {
                  got.emplace_back(reinterpret_cast<const char*>(v.data), v.size);
                }).count > 0) {
        }
        REQUIRE(got == shown);
      }
    }
  }
}

// ---- corrupted rings ----------------------------------------------------------------------------

namespace {

struct CorruptRing {
  ObjectName name{"corrupt"};
  std::vector<uint32_t> positions;  // of the records written
  std::shared_ptr<void> keep;
  std::byte* base = nullptr;
  std::size_t size = 0;
  layout::RingHeader* header() { return reinterpret_cast<layout::RingHeader*>(base); }
  layout::RecordHeader* record(std::size_t i) {
    return reinterpret_cast<layout::RecordHeader*>(base + header()->header_size +
                                                   (positions.at(i) & (header()->capacity - 1)));
  }
};

void make_corruptible(CorruptRing& c, Kind kind) {
  CreateOptions o;
  o.kind = kind;
  o.capacity = 4096;
  auto ring = Ring::create(c.name.str(), o);
  REQUIRE(ring.ok());
  Producer p = ring->attach_producer().value();
  for (uint64_t i = 0; i < 5; ++i) {
    const std::string t = text_record(i + 10);
    Claim claim;
    REQUIRE(p.try_claim(1, static_cast<uint32_t>(t.size()), claim) == Status::ok);
    std::memcpy(claim.data, t.data(), t.size());
    c.positions.push_back(claim.position);
    p.commit(claim);
  }
  c.base = map_writable(c.name.str(), c.size, c.keep);
}

// Runs dump; it must fail (exit 1) after printing `records` records, and say where and why.
void expect_corrupt_dump(const std::string& name, std::size_t records, const std::string& where,
                         const std::string& why) {
  const CliResult r = run_cli({"dump", name});
  INFO(r.describe());
  REQUIRE(r.exit_code == 1);
  std::size_t printed = 0;
  for (std::size_t at = r.out.find("\n["); at != std::string::npos; at = r.out.find("\n[", at + 1))
    ++printed;
  REQUIRE(printed == records);
  REQUIRE_THAT(last_line(r.out), Catch::StartsWith("-- corrupt at position " + where));
  REQUIRE_THAT(last_line(r.out), Catch::Contains(why));
  REQUIRE_THAT(r.err, Catch::Contains(why));
  const Json j = parse_json(run_cli({"dump", name, "--format", "json"}).out);
  REQUIRE(j["stop"]["reason"].text == "corrupt");
  REQUIRE(j["records"].size() == records);
}

}  // namespace

TEST_CASE("dump of a corrupted ring says where the walk stopped and why", "[inspect]") {
  CorruptRing c;
  SECTION("an impossible record length") {
    make_corruptible(c, Kind::spsc);
    c.record(2)->length.store(99999);
    expect_corrupt_dump(c.name.str(), 2, std::to_string(c.positions[2]),
                        "impossible length (99999)");
    // stat still works: the header is fine.
    REQUIRE(run_cli({"stat", c.name.str(), "--no-rates"}).exit_code == 0);
  }
  SECTION("a record longer than max_record_size") {
    make_corruptible(c, Kind::mpsc);
    c.record(1)->length.store(static_cast<int32_t>(c.header()->max_record_size + 8));
    expect_corrupt_dump(c.name.str(), 1, std::to_string(c.positions[1]), "impossible length");
  }
  SECTION("a negative length in an spsc ring") {
    make_corruptible(c, Kind::spsc);
    c.record(0)->length.store(-16);
    expect_corrupt_dump(c.name.str(), 0, std::to_string(c.positions[0]), "non-positive length");
  }
  SECTION("a record that runs past the producer position") {
    make_corruptible(c, Kind::spsc);
    c.record(4)->length.store(1000);
    expect_corrupt_dump(c.name.str(), 4, std::to_string(c.positions[4]), "impossible length");
  }
  SECTION("wrong magic") {
    make_corruptible(c, Kind::spsc);
    c.header()->magic.store(0x1122334455667788ull);
    expect_corrupt_dump(c.name.str(), 0, "", "not a shmring mapping");
    const CliResult st = run_cli({"stat", c.name.str()});
    REQUIRE(st.exit_code == 1);
    REQUIRE_THAT(st.err, Catch::Contains("not a shmring mapping"));
  }
  SECTION("an unknown layout version") {
    make_corruptible(c, Kind::mpsc);
    c.header()->layout_version = 99;
    expect_corrupt_dump(c.name.str(), 0, "", "layout version 99");
  }
  SECTION("a producer position more than a lap ahead") {
    make_corruptible(c, Kind::mpsc);
    c.header()->producer_position.store(c.header()->consumer_position.load() + 3 * 4096);
    expect_corrupt_dump(c.name.str(), 0, "", "ahead of consumer position");
  }
  SECTION("a truncated object") {
    make_corruptible(c, Kind::spsc);
    ObjectName small("truncated");
    auto region = platform::create_region(small.str(), 4096 + 100, platform::RegionOptions{});
    REQUIRE(region.ok());
    std::memcpy(region->data(), c.base, 4096 + 100);  // the header says 8192 bytes
    expect_corrupt_dump(small.str(), 0, "", "header says 8192");
  }
  SECTION("a position outside the records held, and a misaligned one") {
    make_corruptible(c, Kind::spsc);
    const CliResult outside = run_cli({"dump", c.name.str(), "--from", "4000"});
    REQUIRE(outside.exit_code == 1);
    REQUIRE_THAT(outside.err, Catch::Contains("outside the records held"));
    REQUIRE(run_cli({"dump", c.name.str(), "--from", "12"}).exit_code == 2);
    REQUIRE(run_cli({"dump", c.name.str(), "--from", "0x1g"}).exit_code == 2);
    const Json from_second = run_json(
        {"dump", c.name.str(), "--format", "json", "--from", std::to_string(c.positions[1])});
    REQUIRE(from_second["records"].size() == 4);
  }
}

// ---- ls -----------------------------------------------------------------------------------------

namespace {

// Creates a ring (or, with counters, a counters region holding one counter) and sends 'A'. With
// hold it then waits to be killed (a counter stays live with a dead owner); else it exits.
int creator_role(ChildIo& io, const Params& p) {
  if (p.flag("counters")) {
    auto region = CountersRegion::create(p.str("name"), CountersOptions{});
    if (!region) return io.fail("creator: %s", region.error().message.c_str());
    auto counter = region->allocate("left.behind", 1);
    if (!counter) return io.fail("creator: %s", counter.error().message.c_str());
    counter->add(5);
    io.send('A');
    (void)io.wait_control(300'000);
    return 0;
  }
  CreateOptions o;
  o.kind = Kind::mpsc;
  o.capacity = 4096;
  auto ring = Ring::create(p.str("name"), o);
  if (!ring) return io.fail("creator: %s", ring.error().message.c_str());
  io.send('A');
  if (p.flag("hold")) (void)io.wait_control(300'000);
  return 0;
}
const ChildRole kCreatorRole("creator", creator_role);

// Attaches a producer to ring "name", sends 'A', waits to be killed.
int attached_producer_role(ChildIo& io, const Params& p) {
  auto ring = Ring::open(p.str("name"));
  if (!ring) return io.fail("producer: %s", ring.error().message.c_str());
  auto producer = ring->attach_producer();
  if (!producer) return io.fail("producer: %s", producer.error().message.c_str());
  io.send('A');
  (void)io.wait_control(300'000);
  return 0;
}
const ChildRole kAttachedProducerRole("attached-producer", attached_producer_role);

void create_in_child(const std::string& name, bool counters, bool kill) {
  Params p;
  p.set("name", name).set("counters", counters).set("hold", kill);
  Child child("creator", p);
  Event e;
  std::string why;
  INFO(why << child.errors());
  REQUIRE(child.expect_event('A', e, 30'000, why));
  if (kill) child.kill_and_reap();
  REQUIRE(child.wait_exit(30'000));
}

const Json* entry(const Json& ls, const std::string& name) {
  for (const Json& e : ls.items) {
    if (e["name"].text == name) return &e;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("ls lists rings and counters regions and marks stale ones", "[inspect]") {
  ObjectName live_ring("ls-live"), orphan("ls-orphan"), dead_peer("ls-deadpeer"),
      adopted("ls-adopted"), live_counters("ls-ctrs"), dead_counters("ls-deadctrs"),
      garbage("ls-garbage"), short_object("ls-short");
  // Alive: created by this process.
  CreateOptions o;
  o.kind = Kind::spsc;
  o.capacity = 4096;
  auto ring = Ring::create(live_ring.str(), o);
  REQUIRE(ring.ok());
  Producer p = ring->attach_producer().value();
  REQUIRE(p.try_write(1, "0123456789abcdef0123456789abcdef", 32) == Status::ok);
  // Stale: created by a process that exited; nothing attached.
  create_in_child(orphan.str(), false, false);
  // Stale: its creator exited and its only producer was killed (the slot still names it).
  create_in_child(dead_peer.str(), false, false);
  uint32_t dead_producer = 0;
  {
    Params pp;
    pp.set("name", dead_peer.str());
    Child producer("attached-producer", pp);
    Event e;
    std::string why;
    REQUIRE(producer.expect_event('A', e, 30'000, why));
    dead_producer = producer.pid();
    producer.kill_and_reap();
  }
  // Not stale: its creator exited, but this process is attached as the consumer.
  create_in_child(adopted.str(), false, false);
  Ring adopted_ring = Ring::open(adopted.str()).value();
  Consumer adopted_consumer = adopted_ring.attach_consumer().value();
  // Counters: one region with a live owner, one whose creator and owner were killed.
  CountersRegion region = CountersRegion::create(live_counters.str(), CountersOptions{}).value();
  Counter counter = region.allocate("alive", 2).value();
  create_in_child(dead_counters.str(), true, true);
  // Garbage and a truncated ring image.
  {
    auto g = platform::create_region(garbage.str(), 4096, platform::RegionOptions{});
    REQUIRE(g.ok());
    std::memset(g->data(), 0x5A, 4096);
    auto s = platform::create_region(short_object.str(), 1024, platform::RegionOptions{});
    REQUIRE(s.ok());
    // left zero-filled: a creator that never published its header
  }

  const uint64_t hash_live = hash_object(live_ring.str());
  const Json ls = run_json({"ls", "--json"});
  REQUIRE(hash_object(live_ring.str()) == hash_live);
  REQUIRE(ls.type == Json::array);
  auto get = [&](const ObjectName& n) {
    const Json* e = entry(ls, n.str());
    INFO("ls --json has no entry for " << n.str());
    REQUIRE(e != nullptr);
    return *e;
  };
  const Json live = get(live_ring);
  REQUIRE(live["type"].text == "ring");
  REQUIRE(live["kind"].text == "spsc");
  REQUIRE(live["capacity"].u64() == 4096);
  REQUIRE(live["used_bytes"].u64() == 40);
  REQUIRE(live["state"].text == "live");
  REQUIRE(live["creator_alive"].b);
  REQUIRE(live["peers"].size() == 1);
  REQUIRE(live["peers"][0]["role"].text == "producer");
  REQUIRE(live["peers"][0]["pid"].u64() == platform::current_pid());

  const Json o1 = get(orphan);
  REQUIRE(o1["state"].text == "stale");
  REQUIRE(o1["stale"].b);
  REQUIRE_FALSE(o1["creator_alive"].b);
  REQUIRE(o1["peers"].size() == 0);

  const Json dp = get(dead_peer);
  REQUIRE(dp["state"].text == "stale");
  REQUIRE(dp["peers"].size() == 1);
  REQUIRE(dp["peers"][0]["pid"].u64() == dead_producer);
  REQUIRE_FALSE(dp["peers"][0]["alive"].b);

  const Json ad = get(adopted);
  REQUIRE(ad["state"].text == "live");
  REQUIRE_FALSE(ad["creator_alive"].b);
  REQUIRE(ad["peers"][0]["role"].text == "consumer");
  REQUIRE(ad["peers"][0]["alive"].b);

  const Json lc = get(live_counters);
  REQUIRE(lc["type"].text == "counters");
  REQUIRE(lc["slots"].u64() == 256);
  REQUIRE(lc["live_counters"].u64() == 1);
  REQUIRE(lc["state"].text == "live");
  const Json dc = get(dead_counters);
  REQUIRE(dc["type"].text == "counters");
  REQUIRE(dc["live_counters"].u64() == 1);
  REQUIRE(dc["state"].text == "stale");
  REQUIRE_FALSE(dc["peers"][0]["alive"].b);

  const Json g = get(garbage);
  REQUIRE(g["type"].text == "invalid");
  REQUIRE_THAT(g["error"].text, Catch::Contains("not a shmring mapping"));
  const Json sh = get(short_object);
  REQUIRE(sh["type"].text == "invalid");
  REQUIRE_THAT(sh["error"].text, Catch::Contains("not yet published"));

  // The text form says the same, one line per object.
  const CliResult text = run_cli({"ls"});
  REQUIRE(text.exit_code == 0);
  auto line_of = [&](const ObjectName& n) {
    const std::size_t at = text.out.find(n.str() + " ");
    REQUIRE(at != std::string::npos);
    return text.out.substr(at, text.out.find('\n', at) - at);
  };
  REQUIRE_THAT(line_of(orphan), Catch::Contains(" stale "));
  REQUIRE_THAT(line_of(dead_peer),
               Catch::Contains("producer " + std::to_string(dead_producer) + " (dead)"));
  REQUIRE_THAT(line_of(adopted), Catch::Contains(" live "));
  REQUIRE_THAT(line_of(garbage), Catch::Contains("invalid: "));
  REQUIRE_THAT(line_of(live_counters), Catch::Contains("counters"));

  // --stale: only the stale ones.
  const Json stale = run_json({"ls", "--json", "--stale"});
  std::set<std::string> names;
  for (const Json& e : stale.items) names.insert(e["name"].text);
  for (const ObjectName* n : {&orphan, &dead_peer, &dead_counters}) REQUIRE(names.count(n->str()));
  for (const ObjectName* n : {&live_ring, &adopted, &live_counters, &garbage})
    REQUIRE_FALSE(names.count(n->str()));
}

// ---- counters, tail and rates -------------------------------------------------------------------

TEST_CASE("counters, tail and stat rates through the CLI", "[inspect]") {
  SECTION("counters of a region and of a ring") {
    ObjectName name("cli-ctrs");
    CountersRegion region = CountersRegion::create(name.str(), CountersOptions{}).value();
    Counter a = region.allocate("requests", 3).value();
    Counter b = region.allocate("errors", 4).value();
    a.add(12345);
    b.store(7);
    const Json j = run_json({"counters", name.str(), "--json"});
    REQUIRE(j["type"].text == "counters");
    REQUIRE(j["counters"].size() == 2);
    for (const Json& c : j["counters"].items) {
      if (c["label"].text == "requests") {
        REQUIRE(c["value"].u64() == 12345);
        REQUIRE(c["type_id"].u64() == 3);
        REQUIRE(c["owner_pid"].u64() == platform::current_pid());
        REQUIRE(c["owner_alive"].b);
      } else {
        REQUIRE(c["label"].text == "errors");
        REQUIRE(c["value"].u64() == 7);
      }
    }
    const CliResult text = run_cli({"counters", name.str()});
    REQUIRE_THAT(text.out, Catch::Contains("requests"));
    REQUIRE_THAT(text.out, Catch::Contains("12345"));
    const CliResult watch =
        run_cli({"counters", name.str(), "--watch", "--iterations", "2", "--interval-ms", "30"});
    REQUIRE(watch.exit_code == 0);
    REQUIRE_THAT(watch.out, Catch::Contains("RATE/s"));
    // dump / stat / tail refuse a counters region, and say what it is.
    for (const char* cmd : {"dump", "stat", "tail"}) {
      const CliResult r = run_cli({cmd, name.str()});
      REQUIRE(r.exit_code == 1);
      REQUIRE_THAT(r.err, Catch::Contains("counters region"));
    }
  }
  SECTION("tail -f on a broadcast ring follows as a reader and reports losses") {
    ObjectName name("cli-tail");
    CreateOptions o;
    o.kind = Kind::broadcast;
    o.capacity = 4096;
    auto ring = Ring::create(name.str(), o);
    REQUIRE(ring.ok());
    Producer p = ring->attach_producer().value();
    for (uint64_t i = 0; i < 5; ++i) write_text(p, i);
    const CliResult t = run_cli({"tail", name.str(), "-n", "2"});
    REQUIRE(t.exit_code == 0);
    REQUIRE(t.out == text_record(3) + "\n" + text_record(4) + "\n");
    REQUIRE(ring->stats().readers.empty());  // detached again
  }
  SECTION("stat rates from two samples of a live ring") {
    ObjectName name("cli-rates");
    CreateOptions o;
    o.kind = Kind::mpsc;
    o.capacity = 16384;
    auto ring = Ring::create(name.str(), o);
    REQUIRE(ring.ok());
    Params cp;
    cp.set("ring", name.str()).set("producers", uint32_t{1}).set("count", uint64_t{100'000});
    Child consumer("text-consumer", cp);
    Event e;
    std::string why;
    REQUIRE(consumer.expect_event('A', e, 30'000, why));
    Params pp;
    pp.set("ring", name.str()).set("id", uint32_t{0}).set("count", uint64_t{100'000});
    Child producer("text-producer", pp);
    REQUIRE(producer.expect_event('A', e, 30'000, why));
    producer.send('G');
    const Json st = run_json({"stat", name.str(), "--json", "--interval-ms", "150"});
    REQUIRE(st["rates"].type == Json::object);
    REQUIRE(st["rates"]["messages_in_per_s"].num > 0);
    REQUIRE(st["rates"]["messages_out_per_s"].num > 0);
    REQUIRE(st["rates"]["interval_ns"].u64() >= 150'000'000);
    REQUIRE(st["consumer"]["pid"].u64() == consumer.pid());
    REQUIRE(st["consumer"]["alive"].b);
    REQUIRE(st["producers"][0]["last_activity_age_ns"].type == Json::number);
    const CliResult text = run_cli({"stat", name.str(), "--interval-ms", "50"});
    REQUIRE_THAT(text.out, Catch::Contains("msgs/s"));
    REQUIRE_THAT(text.out, Catch::Contains("last active"));
    const CliResult watch =
        run_cli({"watch", name.str(), "--iterations", "2", "--interval-ms", "50"});
    REQUIRE(watch.exit_code == 0);
    REQUIRE_THAT(watch.out, Catch::Contains("msgs/s"));
    REQUIRE(consumer.expect_event('R', e, 60'000, why));
    REQUIRE(producer.wait_exit(30'000));
    REQUIRE(consumer.wait_exit(30'000));
  }
}

}  // namespace shmring::inspecttest

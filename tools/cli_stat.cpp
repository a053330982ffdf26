// shmring CLI — `stat`: a read-only snapshot of a ring, as text or JSON, with rates from two
// samples, per-reader lag (broadcast), peers with the age of their last activity, and the
// claimed-but-uncommitted record at the consumer position (mpsc).
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "cli_commands.hpp"
#include "cli_common.hpp"
#include "cli_format.hpp"
#include "cli_inspect.hpp"
#include "shmring/platform.hpp"

namespace shmring::tools {

const char* const kStatHelp =
    "usage: shmring stat NAME [--json] [--interval-ms MS | --no-rates]\n"
    "\n"
    "Prints a snapshot of ring NAME: geometry, producer and consumer positions, fill\n"
    "level, traffic counters and rates, the consumer, producer and reader processes\n"
    "attached (whether they are alive, and how long ago each was last active), the\n"
    "lag of every broadcast reader, and the first claimed-but-uncommitted record\n"
    "from the consumer position on (an mpsc producer that is slow or died\n"
    "mid-record: the consumer stops there until it is committed or recovered).\n"
    "Maps the ring read-only and never writes to it; the counters are read without\n"
    "stopping traffic, so they may be a moment apart.\n"
    "\n"
    "Rates (msgs/s, MB/s) come from two samples MS apart. 'Last active' is the last\n"
    "attach or blocking wait of a process, not its last message: a peer that streams\n"
    "without ever waiting shows its attach time.\n"
    "\n"
    "  --json            print one JSON object instead of text\n"
    "  --interval-ms MS  time between the two samples (default 200)\n"
    "  --no-rates        take one sample and print no rates\n"
    "  --global          Windows: the ring is in Global\\\n";

namespace {

std::string utc_time(uint64_t wall_ns) {
  const std::time_t secs = static_cast<std::time_t>(wall_ns / 1'000'000'000u);
  std::tm tm{};
  char buf[64];
  if (!utc_time_of(secs, tm) || std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
    return "?";
  return buf;
}

const char* alive_word(bool alive) {
  return alive ? "alive" : "DEAD";
}

uint32_t header_bytes(const Stats& s) {
  return s.kind == Kind::broadcast ? layout::kBroadcastRecordHeaderSize : layout::kRecordHeaderSize;
}

struct Report {
  Sample first, last;  // last == first without rates
  bool have_rates = false;
  Rates rates;
  std::optional<InFlight> in_flight;
  bool in_flight_in_both = false;  // the same record was in flight in both samples
  bool stale = false;
};

std::string in_flight_text(const Report& r, uint64_t now) {
  const InFlight& f = *r.in_flight;
  const inspect::WalkedRecord& rec = f.record;
  std::string text = "record at position " + std::to_string(rec.position) + " (index " +
                     std::to_string(rec.index) + "): " + record_state_name(rec.state);
  if (rec.state == inspect::RecordState::claimed) {
    const uint32_t claimed = static_cast<uint32_t>(-static_cast<int64_t>(rec.length));
    text += ", " + std::to_string(claimed) + " bytes (" +
            std::to_string(claimed - layout::kRecordHeaderSize) + " payload)";
  } else {
    text += " (header not written yet)";
  }
  if (f.owner_known)
    text += ", by pid " + std::to_string(f.owner_pid) + " (" + alive_word(f.owner_alive) +
            "), producer last active " + age_text(f.owner_last_activity_ns, now);
  else
    text += ", no producer slot claims it";
  if (r.have_rates)
    text += std::string("; ") + (r.in_flight_in_both ? "unchanged for at least " : "new within ") +
            human_duration_ns(r.last.at_ns - r.first.at_ns);
  text += f.at_consumer ? "; the consumer waits for it"
                        : "; " + std::to_string(f.records_before) + " committed records before it";
  return text;
}

void print_text(const Report& r) {
  const Stats& s = r.last.stats;
  const uint64_t now = r.last.at_ns;
  const std::string object = platform::object_name(s.name);
  std::printf("ring '%s' (%s)\n", s.name.c_str(), object.c_str());
  auto row = [](const char* key, const std::string& value) {
    std::printf("  %-19s %s\n", key, value.c_str());
  };
  auto num = [](uint64_t v) { return std::to_string(v); };
  auto bytes = [](uint64_t v) {
    return std::to_string(v) + (v < 1024 ? "" : " (" + human_bytes(v) + ")");
  };
  const bool broadcast = s.kind == Kind::broadcast;
  row("kind:", kind_name(s.kind));
  row("capacity:", num(s.capacity) + " bytes (" + human_bytes(s.capacity) + ")");
  row("max_record_size:", num(s.max_record_size) + " bytes (max payload " +
                              num(s.max_record_size - header_bytes(s)) + ")");
  row("producer_position:", num(s.producer_position));
  if (!broadcast) row("consumer_position:", num(s.consumer_position));
  char fill[96];
  std::snprintf(fill, sizeof fill, "%u bytes (%.2f%% full%s)", s.used_bytes, fill_percent(s),
                broadcast ? ": retained for readers" : "");
  row("used_bytes:", fill);
  if (broadcast) {
    row("next_sequence:", num(s.next_sequence) + " (records written since creation)");
    row("latest_position:", num(s.latest_position) + " (the newest record)");
    if (s.tail_intent != s.producer_position)
      row("write in progress:", "up to position " + num(s.tail_intent));
  }
  row("messages_written:", num(s.messages_written));
  row("messages_read:", num(s.messages_read) + (broadcast ? " (attached readers)" : ""));
  row("bytes_written:", bytes(s.bytes_written));
  row("bytes_read:", bytes(s.bytes_read));
  if (r.have_rates) {
    const Rates& x = r.rates;
    row("rates:", "in " + si_number(x.messages_in) + " msgs/s, " + si_number(x.bytes_in / 1e6) +
                      " MB/s; out " + si_number(x.messages_out) + " msgs/s, " +
                      si_number(x.bytes_out / 1e6) + " MB/s (over " +
                      human_duration_ns(r.last.at_ns - r.first.at_ns) + ")");
  }
  if (broadcast) {
    // The producer never waits; readers sleep on their own (per-reader sleeps below).
    row("wakes:", "producer " + num(s.producer_wakes_sent) + " (kernel wake-ups of readers)");
    row("aborts:", num(s.aborts));
  } else {
    row("full_count:", num(s.full_count));
    row("sleeps:", "producers " + num(s.producer_sleeps) + ", consumer " + num(s.consumer_sleeps));
    row("wakes:", "producers " + num(s.producer_wakes_sent) + ", consumer " +
                      num(s.consumer_wakes_sent) + " (kernel wake-ups sent)");
    row("waiting now:", std::string("consumer ") + (s.consumer_waiting ? "yes" : "no") +
                            ", producers " + (s.producers_waiting ? "yes" : "no"));
    row("recovered_claims:", num(s.recovered_claims) + " (" + num(s.recovered_bytes) + " bytes)");
    row("aborts:", num(s.aborts));
  }
  if (s.kind == Kind::mpsc) row("in flight:", r.in_flight ? in_flight_text(r, now) : "none");
  if (!broadcast) {
    if (s.consumer.pid == 0)
      row("consumer:", "none attached");
    else
      row("consumer:", "pid " + num(s.consumer.pid) + " (" + alive_word(s.consumer.alive) +
                           "), last active " + age_text(s.consumer.last_activity_ns, now));
  }
  row("producers:", num(s.producers.size()) + " attached, " + num(s.max_producers) + " slot" +
                        (s.max_producers == 1 ? "" : "s"));
  for (const ProducerStats& p : s.producers) {
    std::string line = "pid " + num(p.pid) + " (" + alive_word(p.alive) +
                       "): " + num(p.messages_written) + " messages, " + num(p.bytes_written) +
                       " bytes, full " + num(p.full_count) + ", sleeps " + num(p.sleeps) +
                       ", wakes " + num(p.wakes_sent);
    if (p.aborts != 0) line += ", aborts " + num(p.aborts);
    if (p.claim_active)
      line += ", claim at " + num(p.claim_position) + " (+" + num(p.claim_length) + ")";
    line += ", last active " + age_text(p.last_activity_ns, now);
    std::printf("    %s\n", line.c_str());
  }
  if (broadcast) {
    row("readers:", num(s.readers.size()) + " attached, " + num(s.max_readers) + " slots");
    for (const ReaderStats& rd : s.readers) {
      char lag[96];
      if (rd.lag_bytes > s.capacity)
        std::snprintf(lag, sizeof lag, "lag %u bytes (lapped: it will resynchronise)",
                      rd.lag_bytes);
      else
        std::snprintf(lag, sizeof lag, "lag %u bytes (%.1f%% of capacity)", rd.lag_bytes,
                      s.capacity == 0 ? 0.0 : 100.0 * rd.lag_bytes / s.capacity);
      std::printf("    pid %u (%s): cursor %u, %s, read %" PRIu64 ", lost %" PRIu64
                  ", laps %" PRIu64 ", sleeps %" PRIu64 ", last active %s\n",
                  rd.pid, alive_word(rd.alive), rd.cursor, lag, rd.messages_read, rd.lost, rd.laps,
                  rd.sleeps, age_text(rd.last_activity_ns, now).c_str());
    }
  }
  row("created:", utc_time(s.creation_time_ns) + " by pid " + num(s.creator_pid) + " (" +
                      (platform::process_alive(s.creator_pid) ? "alive" : "exited") +
                      "), layout v" + num(s.layout_version) + ", " + num(s.total_size) +
                      " bytes mapped");
  if (r.stale) row("state:", "stale (the creator and every attached process are dead)");
}

void print_json(const Report& r) {
  const Stats& s = r.last.stats;
  const uint64_t now = r.last.at_ns;
  auto age = [now](uint64_t t) { return t == 0 || t > now ? uint64_t{0} : now - t; };
  JsonWriter j;
  j.begin_object();
  j.field("name", s.name);
  j.field("object", platform::object_name(s.name));
  j.field("kind", std::string(kind_name(s.kind)));
  j.field("capacity", uint64_t{s.capacity});
  j.field("max_record_size", uint64_t{s.max_record_size});
  j.field("max_payload", uint64_t{s.max_record_size - header_bytes(s)});
  j.field("max_producers", uint64_t{s.max_producers});
  j.field("max_readers", uint64_t{s.max_readers});
  j.field("layout_version", uint64_t{s.layout_version});
  j.field("header_size", uint64_t{s.header_size});
  j.field("total_size", s.total_size);
  j.field("creator_pid", uint64_t{s.creator_pid});
  j.field("creator_alive", platform::process_alive(s.creator_pid));
  j.field("creation_time_ns", s.creation_time_ns);
  j.field("stale", r.stale);
  j.field("sampled_at_ns", now);
  j.field("producer_position", uint64_t{s.producer_position});
  j.field("consumer_position", uint64_t{s.consumer_position});
  j.field("used_bytes", uint64_t{s.used_bytes});
  j.field("fill_percent", fill_percent(s));
  j.field("messages_written", s.messages_written);
  j.field("messages_read", s.messages_read);
  j.field("bytes_written", s.bytes_written);
  j.field("bytes_read", s.bytes_read);
  j.field("full_count", s.full_count);
  j.field("producer_sleeps", s.producer_sleeps);
  j.field("consumer_sleeps", s.consumer_sleeps);
  j.field("producer_wakes_sent", s.producer_wakes_sent);
  j.field("consumer_wakes_sent", s.consumer_wakes_sent);
  j.field("consumer_waiting", s.consumer_waiting);
  j.field("producers_waiting", s.producers_waiting);
  j.field("recovered_claims", s.recovered_claims);
  j.field("recovered_bytes", s.recovered_bytes);
  j.field("aborts", s.aborts);
  if (r.have_rates) {
    j.begin_object("rates");
    j.field("interval_ns", r.last.at_ns - r.first.at_ns);
    j.field("messages_in_per_s", r.rates.messages_in);
    j.field("bytes_in_per_s", r.rates.bytes_in);
    j.field("messages_out_per_s", r.rates.messages_out);
    j.field("bytes_out_per_s", r.rates.bytes_out);
    j.field("full_per_s", r.rates.full);
    j.field("producer_sleeps_per_s", r.rates.producer_sleeps);
    j.field("consumer_sleeps_per_s", r.rates.consumer_sleeps);
    j.end_object();
  } else {
    j.null_field("rates");
  }
  j.begin_object("consumer");
  j.field("attached", s.consumer.pid != 0);
  j.field("pid", uint64_t{s.consumer.pid});
  j.field("alive", s.consumer.alive);
  j.field("last_activity_ns", s.consumer.last_activity_ns);
  j.field("last_activity_age_ns", age(s.consumer.last_activity_ns));
  j.end_object();
  j.begin_array("producers");
  for (const ProducerStats& p : s.producers) {
    j.begin_object();
    j.field("pid", uint64_t{p.pid});
    j.field("alive", p.alive);
    j.field("messages_written", p.messages_written);
    j.field("bytes_written", p.bytes_written);
    j.field("full_count", p.full_count);
    j.field("sleeps", p.sleeps);
    j.field("wakes_sent", p.wakes_sent);
    j.field("aborts", p.aborts);
    j.field("claim_active", p.claim_active);
    j.field("claim_position", uint64_t{p.claim_position});
    j.field("claim_length", uint64_t{p.claim_length});
    j.field("last_activity_ns", p.last_activity_ns);
    j.field("last_activity_age_ns", age(p.last_activity_ns));
    j.end_object();
  }
  j.end_array();
  if (s.kind == Kind::broadcast) {
    j.begin_object("broadcast");
    j.field("next_sequence", s.next_sequence);
    j.field("latest_position", uint64_t{s.latest_position});
    j.field("tail_intent", uint64_t{s.tail_intent});
    j.end_object();
  }
  j.begin_array("readers");
  for (const ReaderStats& rd : s.readers) {
    j.begin_object();
    j.field("pid", uint64_t{rd.pid});
    j.field("alive", rd.alive);
    j.field("cursor", uint64_t{rd.cursor});
    j.field("lag_bytes", uint64_t{rd.lag_bytes});
    j.field("lapped", rd.lag_bytes > s.capacity);
    j.field("messages_read", rd.messages_read);
    j.field("bytes_read", rd.bytes_read);
    j.field("lost", rd.lost);
    j.field("laps", rd.laps);
    j.field("sleeps", rd.sleeps);
    j.field("last_activity_ns", rd.last_activity_ns);
    j.field("last_activity_age_ns", age(rd.last_activity_ns));
    j.end_object();
  }
  j.end_array();
  if (r.in_flight) {
    const InFlight& f = *r.in_flight;
    j.begin_object("in_flight");
    j.field("position", uint64_t{f.record.position});
    j.field("index", uint64_t{f.record.index});
    j.field("length", int64_t{f.record.length});
    j.field("state", record_state_name(f.record.state));
    j.field("at_consumer", f.at_consumer);
    j.field("records_before", f.records_before);
    j.field("owner_known", f.owner_known);
    j.field("owner_pid", uint64_t{f.owner_pid});
    j.field("owner_alive", f.owner_alive);
    j.field("owner_last_activity_age_ns", age(f.owner_last_activity_ns));
    if (r.have_rates) j.field("unchanged_across_samples", r.in_flight_in_both);
    j.end_object();
  } else {
    j.null_field("in_flight");
  }
  j.end_object();
  std::printf("%s\n", j.str().c_str());
}

bool same_record(const std::optional<InFlight>& a, const std::optional<InFlight>& b) {
  return a && b && a->record.position == b->record.position &&
         a->record.length == b->record.length && a->owner_pid == b->owner_pid;
}

}  // namespace

int cmd_stat(const std::vector<std::string>& argv) {
  const Args args(
      argv,
      {{"--json", false}, {"--global", false}, {"--interval-ms", true}, {"--no-rates", false}});
  if (args.help()) return print_help(kStatHelp);
  const std::string name = ring_name_argument(args.positionals(), false);
  int64_t interval_ns = 200'000'000;
  if (auto t = args.value("--interval-ms")) {
    interval_ns = parse_timeout_ms(*t, "--interval-ms");
    if (interval_ns == 0) usage_error("--interval-ms must be at least 1");
    if (args.has("--no-rates")) usage_error("--interval-ms and --no-rates exclude each other");
  }
  const bool global = args.has("--global");
  const Ring ring = open_ring_read_only(name, global);
  const Probe probe = probe_object(name, global);  // the read-only image for the walker

  Report r;
  r.first = take_sample(ring);
  const std::optional<InFlight> first_in_flight = find_in_flight(name, probe.image, r.first.stats);
  r.last = r.first;
  r.in_flight = first_in_flight;
  if (!args.has("--no-rates")) {
    platform::sleep_ns(interval_ns);
    r.last = take_sample(ring);
    r.have_rates = true;
    r.rates = rates_between(r.first, r.last);
    r.in_flight = find_in_flight(name, probe.image, r.last.stats);
    r.in_flight_in_both = same_record(first_in_flight, r.in_flight);
  }
  r.stale = ring_is_stale(r.last.stats);
  if (args.has("--json"))
    print_json(r);
  else
    print_text(r);
  return std::fflush(stdout) == 0 ? kExitOk : kExitError;
}

}  // namespace shmring::tools

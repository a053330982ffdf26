// shmring CLI — `stat`: a read-only snapshot of a ring, as text or JSON.
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "cli_commands.hpp"
#include "cli_common.hpp"
#include "shmring/platform.hpp"

namespace shmring::tools {

const char* const kStatHelp =
    "usage: shmring stat NAME [--json]\n"
    "\n"
    "Prints a snapshot of ring NAME: geometry, producer and consumer positions, fill\n"
    "level, traffic counters, and the consumer and producer processes attached (and\n"
    "whether they are alive). Maps the ring read-only and never writes to it; the\n"
    "counters are read without stopping traffic, so they may be a moment apart.\n"
    "\n"
    "  --json   print one JSON object instead of text\n";

namespace {

double fill_percent(const Stats& s) {
  return s.capacity == 0 ? 0.0 : 100.0 * static_cast<double>(s.used_bytes) / s.capacity;
}

std::string utc_time(uint64_t wall_ns) {
  const std::time_t secs = static_cast<std::time_t>(wall_ns / 1'000'000'000u);
  std::tm tm{};
  char buf[64];
  if (gmtime_r(&secs, &tm) == nullptr ||
      std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
    return "?";
  return buf;
}

const char* alive_word(const PeerInfo& p) {
  return p.alive ? "alive" : "DEAD";
}

void print_text(const Stats& s) {
  const std::string object = platform::object_name(s.name);
  std::printf("ring '%s' (%s)\n", s.name.c_str(), object.c_str());
  auto row = [](const char* key, const std::string& value) {
    std::printf("  %-19s %s\n", key, value.c_str());
  };
  auto num = [](uint64_t v) { return std::to_string(v); };
  auto bytes = [](uint64_t v) {
    return std::to_string(v) + (v < 1024 ? "" : " (" + human_bytes(v) + ")");
  };
  row("kind:", kind_name(s.kind));
  row("capacity:", num(s.capacity) + " bytes (" + human_bytes(s.capacity) + ")");
  row("max_record_size:", num(s.max_record_size) + " bytes (max payload " +
                              num(s.max_record_size - layout::kRecordHeaderSize) + ")");
  row("producer_position:", num(s.producer_position));
  row("consumer_position:", num(s.consumer_position));
  char fill[64];
  std::snprintf(fill, sizeof fill, "%u bytes (%.2f%% full)", s.used_bytes, fill_percent(s));
  row("used_bytes:", fill);
  row("messages_written:", num(s.messages_written));
  row("messages_read:", num(s.messages_read));
  row("bytes_written:", bytes(s.bytes_written));
  row("bytes_read:", bytes(s.bytes_read));
  row("full_count:", num(s.full_count));
  row("sleeps:", "producers " + num(s.producer_sleeps) + ", consumer " + num(s.consumer_sleeps));
  row("wakes:", "producers " + num(s.producer_wakes_sent) + ", consumer " +
                    num(s.consumer_wakes_sent) + " (kernel wake-ups sent)");
  row("waiting now:", std::string("consumer ") + (s.consumer_waiting ? "yes" : "no") +
                          ", producers " + (s.producers_waiting ? "yes" : "no"));
  row("recovered_claims:", num(s.recovered_claims) + " (" + num(s.recovered_bytes) + " bytes)");
  row("aborts:", num(s.aborts));
  if (s.consumer.pid == 0)
    row("consumer:", "none attached");
  else
    row("consumer:", "pid " + num(s.consumer.pid) + " (" + alive_word(s.consumer) + ")");
  row("producers:", num(s.producers.size()) + " attached, " + num(s.max_producers) + " slot" +
                        (s.max_producers == 1 ? "" : "s"));
  for (const ProducerStats& p : s.producers) {
    std::string line = "pid " + num(p.pid) + " (" + alive_word(p) +
                       "): " + num(p.messages_written) + " messages, " + num(p.bytes_written) +
                       " bytes, full " + num(p.full_count) + ", sleeps " + num(p.sleeps) +
                       ", wakes " + num(p.wakes_sent);
    if (p.aborts != 0) line += ", aborts " + num(p.aborts);
    if (p.claim_active)
      line += ", claim at " + num(p.claim_position) + " (+" + num(p.claim_length) + ")";
    std::printf("    %s\n", line.c_str());
  }
  row("created:", utc_time(s.creation_time_ns) + " by pid " + num(s.creator_pid) + ", layout v" +
                      num(s.layout_version) + ", " + num(s.total_size) + " bytes mapped");
}

// A minimal JSON writer: objects, arrays, numbers, booleans and escaped strings.
class JsonWriter {
 public:
  void begin_object(const char* key = nullptr) { open(key, '{'); }
  void end_object() { close('}'); }
  void begin_array(const char* key) { open(key, '['); }
  void end_array() { close(']'); }
  void field(const char* key, uint64_t v) { prefix(key) += std::to_string(v); }
  void field(const char* key, bool v) { prefix(key) += v ? "true" : "false"; }
  void field(const char* key, const std::string& v) { append_string(prefix(key), v); }
  void field(const char* key, double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4f", v);
    prefix(key) += buf;
  }
  const std::string& str() const { return out_; }

 private:
  std::string& prefix(const char* key) {
    if (!first_.empty()) {
      if (!first_.back()) out_ += ',';
      first_.back() = false;
      out_ += '\n';
      out_.append(2 * first_.size(), ' ');
    }
    if (key != nullptr) {
      append_string(out_, key);
      out_ += ": ";
    }
    return out_;
  }
  void open(const char* key, char bracket) {
    prefix(key) += bracket;
    first_.push_back(true);
  }
  void close(char bracket) {
    const bool empty = first_.back();
    first_.pop_back();
    if (!empty) {
      out_ += '\n';
      out_.append(2 * first_.size(), ' ');
    }
    out_ += bracket;
  }
  static void append_string(std::string& out, const std::string& v) {
    out += '"';
    for (unsigned char c : v) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20 || c == 0x7F) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
          } else {
            out += static_cast<char>(c);
          }
      }
    }
    out += '"';
  }

  std::string out_;
  std::vector<bool> first_;  // per open container: no member written yet
};

void print_json(const Stats& s) {
  JsonWriter j;
  j.begin_object();
  j.field("name", s.name);
  j.field("object", platform::object_name(s.name));
  j.field("kind", std::string(kind_name(s.kind)));
  j.field("capacity", uint64_t{s.capacity});
  j.field("max_record_size", uint64_t{s.max_record_size});
  j.field("max_payload", uint64_t{s.max_record_size - layout::kRecordHeaderSize});
  j.field("max_producers", uint64_t{s.max_producers});
  j.field("layout_version", uint64_t{s.layout_version});
  j.field("header_size", uint64_t{s.header_size});
  j.field("total_size", s.total_size);
  j.field("creator_pid", uint64_t{s.creator_pid});
  j.field("creation_time_ns", s.creation_time_ns);
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
  j.begin_object("consumer");
  j.field("attached", s.consumer.pid != 0);
  j.field("pid", uint64_t{s.consumer.pid});
  j.field("alive", s.consumer.alive);
  j.field("last_activity_ns", s.consumer.last_activity_ns);
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
    j.end_object();
  }
  j.end_array();
  j.end_object();
  std::printf("%s\n", j.str().c_str());
}

}  // namespace

int cmd_stat(const std::vector<std::string>& argv) {
  const Args args(argv, {{"--json", false}});
  if (args.help()) return print_help(kStatHelp);
  const std::string name = ring_name_argument(args.positionals(), false);
  OpenOptions options;
  options.read_only = true;
  const Ring ring = must(Ring::open(name, options));
  const Stats stats = ring.stats();
  if (args.has("--json"))
    print_json(stats);
  else
    print_text(stats);
  return std::fflush(stdout) == 0 ? kExitOk : kExitError;
}

}  // namespace shmring::tools

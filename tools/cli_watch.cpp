// shmring CLI — `watch`: a live view of one ring, like top. Read-only, like stat.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "cli_commands.hpp"
#include "cli_common.hpp"
#include "cli_format.hpp"
#include "cli_inspect.hpp"
#include "cli_terminal.hpp"

namespace shmring::tools {

const char* const kWatchHelp =
    "usage: shmring watch NAME [--interval-ms MS] [--iterations N]\n"
    "\n"
    "A live view of ring NAME, refreshed every MS milliseconds: a fill bar, rates\n"
    "(msgs/s, MB/s in and out), and every attached process with its liveness, the age\n"
    "of its last activity and, for broadcast readers, its lag. Quit with q or Ctrl-C.\n"
    "When standard output is not a terminal, watch prints one plain line per refresh\n"
    "instead. Like stat, it maps the ring read-only and never writes to it.\n"
    "\n"
    "  --interval-ms MS  time between refreshes (default 1000)\n"
    "  --iterations N    exit after N refreshes (default: until q or Ctrl-C)\n"
    "  --global          Windows: the ring is in Global\\\n";

namespace {

std::string clock_text() {
  const std::time_t secs = static_cast<std::time_t>(platform::wall_clock_ns() / 1'000'000'000u);
  std::tm tm{};
  char buf[32];
  if (!utc_time_of(secs, tm) || std::strftime(buf, sizeof buf, "%H:%M:%SZ", &tm) == 0) return "?";
  return buf;
}

std::string bar(double percent, int width) {
  if (width < 1) width = 1;
  const double clamped = std::min(100.0, std::max(0.0, percent));
  const int filled = static_cast<int>(clamped / 100.0 * width + 0.5);
  return "[" + std::string(static_cast<std::size_t>(filled), '#') +
         std::string(static_cast<std::size_t>(width - filled), '.') + "]";
}

std::string rate_pair(double messages, double bytes) {
  return si_number(messages) + " msgs/s  " + si_number(bytes / 1e6) + " MB/s";
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string screen(const std::string& name, const Sample& now, const std::optional<Rates>& rates,
                   const std::optional<InFlight>& in_flight, int columns, int interval_ms) {
  const Stats& s = now.stats;
  const bool broadcast = s.kind == Kind::broadcast;
  std::string out;
  auto line = [&](const std::string& text) {
    out += text.size() > static_cast<std::size_t>(columns)
               ? text.substr(0, static_cast<std::size_t>(columns))
               : text;
    out += '\n';
  };
  line("shmring watch " + name + " (" + kind_name(s.kind) + ", " + human_bytes(s.capacity) +
       ")  q: quit  " + clock_text() + ", every " +
       human_duration_ns(static_cast<uint64_t>(interval_ms) * 1'000'000));
  line("");
  char pct[32];
  std::snprintf(pct, sizeof pct, "%5.1f%%", fill_percent(s));
  const int bar_width = std::max(10, std::min(60, columns - 40));
  line(std::string(broadcast ? "held " : "fill ") + bar(fill_percent(s), bar_width) + " " + pct +
       "  " + std::to_string(s.used_bytes) + " / " + std::to_string(s.capacity) + " bytes");
  const std::string measuring = "measuring...";
  line("in   " + pad(rates ? rate_pair(rates->messages_in, rates->bytes_in) : measuring, 30) +
       "total " + std::to_string(s.messages_written) + " msgs");
  line("out  " + pad(rates ? rate_pair(rates->messages_out, rates->bytes_out) : measuring, 30) +
       "total " + std::to_string(s.messages_read) + " msgs" + (broadcast ? " (readers)" : ""));
  if (!broadcast)
    line("full " + (rates ? si_number(rates->full) + "/s" : std::string("-")) +
         "   sleeps: producers " +
         (rates ? si_number(rates->producer_sleeps) + "/s" : std::string("-")) + ", consumer " +
         (rates ? si_number(rates->consumer_sleeps) + "/s" : std::string("-")) +
         "   recovered claims " + std::to_string(s.recovered_claims));
  else
    line("sequence " + std::to_string(s.next_sequence) + "   newest record at " +
         std::to_string(s.latest_position));
  if (s.kind == Kind::mpsc) {
    std::string f = "in flight: ";
    if (!in_flight) {
      f += "none";
    } else {
      f += "position " + std::to_string(in_flight->record.position) + " " +
           record_state_name(in_flight->record.state);
      if (in_flight->owner_known)
        f += " by pid " + std::to_string(in_flight->owner_pid) +
             (in_flight->owner_alive ? " (alive)" : " (DEAD)");
      f += in_flight->at_consumer ? ", the consumer waits for it" : "";
    }
    line(f);
  }
  line("");
  line("ROLE      PID       STATE  LAST ACTIVE   DETAIL");
  const uint64_t t = now.at_ns;
  auto peer = [&](const char* role, uint32_t pid, bool alive, uint64_t activity,
                  const std::string& detail) {
    line(pad(role, 10) + pad(std::to_string(pid), 10) + pad(alive ? "alive" : "DEAD", 7) +
         pad(age_text(activity, t), 14) + detail);
  };
  if (s.consumer.pid != 0)
    peer("consumer", s.consumer.pid, s.consumer.alive, s.consumer.last_activity_ns,
         "read " + std::to_string(s.messages_read));
  for (const ProducerStats& p : s.producers)
    peer("producer", p.pid, p.alive, p.last_activity_ns,
         "written " + std::to_string(p.messages_written) + ", full " +
             std::to_string(p.full_count) + (p.claim_active ? ", claim open" : ""));
  for (const ReaderStats& r : s.readers) {
    const double lag = s.capacity == 0 ? 0 : 100.0 * r.lag_bytes / s.capacity;
    peer("reader", r.pid, r.alive, r.last_activity_ns,
         "lag " + bar(lag, 10) + (r.lag_bytes > s.capacity ? " lapped" : "") + " read " +
             std::to_string(r.messages_read) + ", lost " + std::to_string(r.lost) + ", laps " +
             std::to_string(r.laps));
  }
  if (s.consumer.pid == 0 && s.producers.empty() && s.readers.empty())
    line("(no process attached)");
  return out;
}

std::string plain_line(const std::string& name, const Sample& now, const Rates& rates) {
  const Stats& s = now.stats;
  const std::vector<Peer> peers = peers_of(s);
  const auto alive =
      std::count_if(peers.begin(), peers.end(), [](const Peer& p) { return p.alive; });
  char fill[48];
  std::snprintf(fill, sizeof fill, "%.1f%% (%u/%u B)", fill_percent(s), s.used_bytes, s.capacity);
  std::string text = clock_text() + " " + name + " fill " + fill + " in " +
                     rate_pair(rates.messages_in, rates.bytes_in) + " out " +
                     rate_pair(rates.messages_out, rates.bytes_out) + " peers " +
                     std::to_string(peers.size()) + " (" + std::to_string(alive) + " alive)";
  uint64_t lost = 0;
  for (const ReaderStats& r : s.readers) lost += r.lost;
  if (s.kind == Kind::broadcast) text += " lost " + std::to_string(lost);
  return text;
}

}  // namespace

int cmd_watch(const std::vector<std::string>& argv) {
  const Args args(argv, {{"--interval-ms", true}, {"--iterations", true}, {"--global", false}});
  if (args.help()) return print_help(kWatchHelp);
  const std::string name = ring_name_argument(args.positionals(), false);
  int64_t interval_ns = 1'000'000'000;
  if (auto t = args.value("--interval-ms")) {
    interval_ns = parse_timeout_ms(*t, "--interval-ms");
    if (interval_ns == 0) usage_error("--interval-ms must be at least 1");
    if (interval_ns > 3'600'000'000'000) usage_error("--interval-ms must be at most one hour");
  }
  std::optional<uint64_t> iterations;
  if (auto n = args.value("--iterations")) iterations = parse_uint(*n, "--iterations", UINT64_MAX);
  const bool global = args.has("--global");
  const Ring ring = open_ring_read_only(name, global);
  const Probe probe = probe_object(name, global);
  const int interval_ms = static_cast<int>(interval_ns / 1'000'000);

  Terminal terminal(Terminal::stdout_is_terminal());
  Sample previous = take_sample(ring);
  if (terminal.interactive())
    terminal.draw(screen(name, previous, std::nullopt,
                         find_in_flight(name, probe.image, previous.stats), terminal.columns(),
                         interval_ms));
  for (uint64_t done = 0; !iterations || done < *iterations; ++done) {
    if (terminal.wait_quit(interval_ms)) break;
    const Sample now = take_sample(ring);
    const Rates rates = rates_between(previous, now);
    if (terminal.interactive()) {
      terminal.draw(screen(name, now, rates, find_in_flight(name, probe.image, now.stats),
                           terminal.columns(), interval_ms));
    } else {
      std::printf("%s\n", plain_line(name, now, rates).c_str());
      if (std::fflush(stdout) != 0) return kExitError;
    }
    previous = now;
  }
  return kExitOk;
}

}  // namespace shmring::tools

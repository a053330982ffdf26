// shmring CLI — `send` and `recv`: records in and out through the shell.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "cli_commands.hpp"
#include "cli_common.hpp"
#include "cli_format.hpp"
#include "shmring/platform.hpp"

namespace shmring::tools {

namespace {

std::string ring_prefix(const std::string& name) {
  return "ring '" + name + "': ";
}

std::string plural(uint64_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

// ---- send ------------------------------------------------------------------------------------

const char* const kSendHelp =
    "usage: shmring send NAME [--type N] [--timeout-ms MS] [--] [MESSAGE...]\n"
    "\n"
    "Writes each MESSAGE argument as one record. With no MESSAGE, writes one record\n"
    "per line of standard input, without its newline, as soon as the line is read.\n"
    "Several 'send' processes may feed one mpsc ring at the same time.\n"
    "\n"
    "send blocks while the ring is full and never drops a record. If the ring is\n"
    "full and its consumer process has died, send fails (exit 1). On a broadcast\n"
    "ring send never blocks: the oldest records are overwritten.\n"
    "\n"
    "  --type N         type id stored with every record, 0..4294901759 (default 0)\n"
    "  --timeout-ms MS  fail (exit 3) when one record waits more than MS for space\n"
    "  --global         Windows: the ring is in Global\\\n"
    "  --any-owner      Linux: attach even if another user owns the object (a ring shared\n"
    "                   across users on purpose; by default that is refused as squatting)\n"
    "  --               end of options: later arguments are messages\n";

namespace {

class Sender {
 public:
  Sender(std::string name, Ring& ring, Producer& producer, uint32_t type, int64_t timeout_ns)
      : name_(std::move(name)),
        ring_(ring),
        producer_(producer),
        type_(type),
        timeout_ns_(timeout_ns) {}

  void send(const char* data, std::size_t size) {
    if (size > producer_.max_payload())
      fail(kExitError, ring_prefix(name_) + "record " + std::to_string(sent_ + 1) + " is " +
                           plural(size, "byte") + ", above the ring's max payload of " +
                           plural(producer_.max_payload(), "byte") + "; sent " +
                           plural(sent_, "record"));
    const Status s = producer_.write(type_, data, static_cast<uint32_t>(size), timeout_ns_);
    switch (s) {
      case Status::ok:
        ++sent_;
        return;
      case Status::timeout:
        fail(kExitTimeout, ring_prefix(name_) + "timed out after " +
                               std::to_string(timeout_ns_ / 1'000'000) +
                               " ms waiting for space; sent " + plural(sent_, "record"));
      case Status::consumer_dead:
        fail(kExitError, ring_prefix(name_) + "the ring is full and its consumer (pid " +
                             std::to_string(ring_.stats().consumer.pid) + ") has died; sent " +
                             plural(sent_, "record"));
      default:
        fail(kExitError, ring_prefix(name_) + "write failed: " + to_string(s) + "; sent " +
                             plural(sent_, "record"));
    }
  }

 private:
  std::string name_;
  Ring& ring_;
  Producer& producer_;
  uint32_t type_;
  int64_t timeout_ns_;
  uint64_t sent_ = 0;
};

}  // namespace

int cmd_send(const std::vector<std::string>& argv) {
  const Args args(
      argv,
      {{"--type", true}, {"--timeout-ms", true}, {"--global", false}, {"--any-owner", false}});
  if (args.help()) return print_help(kSendHelp);
  const std::string name = ring_name_argument(args.positionals(), true);
  uint32_t type = 0;
  if (auto t = args.value("--type"))
    type = static_cast<uint32_t>(parse_uint(*t, "--type", layout::kReservedTypeBase - 1));
  int64_t timeout_ns = kForever;
  if (auto t = args.value("--timeout-ms")) timeout_ns = parse_timeout_ms(*t, "--timeout-ms");
  OpenOptions open_options;
  open_options.global_namespace = args.has("--global");
  open_options.allow_other_owner = args.has("--any-owner");

  Ring ring = must(Ring::open(name, open_options));
  Producer producer = must(ring.attach_producer());
  Sender sender(name, ring, producer, type, timeout_ns);

  const std::vector<std::string>& positionals = args.positionals();
  if (positionals.size() > 1) {
    for (std::size_t i = 1; i < positionals.size(); ++i)
      sender.send(positionals[i].data(), positionals[i].size());
    return kExitOk;
  }
  std::string line;
  for (;;) {
    errno = 0;
    if (!read_line(stdin, line)) {
      if (std::ferror(stdin))
        fail(kExitError, std::string("reading standard input: ") + std::strerror(errno));
      break;
    }
    sender.send(line.data(), line.size());
  }
  return kExitOk;
}

// ---- recv ------------------------------------------------------------------------------------

const char* const kRecvHelp =
    "usage: shmring recv NAME [--count N] [--timeout-ms MS] [--hex]\n"
    "\n"
    "Attaches as the ring's consumer and prints every record's payload on a line of\n"
    "its own: as text when it is printable UTF-8 (a trailing newline in the payload\n"
    "is not doubled), otherwise as 0x followed by hex digits. Records read are\n"
    "removed from the ring. A ring has one consumer at a time.\n"
    "\n"
    "  --count N         exit after N records\n"
    "  --timeout-ms MS   overall deadline. With --count, reaching it before N records\n"
    "                    is a failure (exit 3); without, recv stops there (exit 0)\n"
    "  --hex             print every payload as hex\n"
    "  --global          Windows: the ring is in Global\\\n"
    "  --any-owner       Linux: attach even if another user owns the object (a ring shared\n"
    "                    across users on purpose; by default that is refused as squatting)\n"
    "\n"
    "With neither --count nor --timeout-ms, recv runs until it is killed.\n";

namespace {

// The poll() handler: must not throw, so it only writes to stdout with stdio.
struct RecordPrinter {
  bool hex_only;

  void operator()(const RecordView& r) const noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(r.data);
    std::size_t n = r.size;
    if (!hex_only) {
      std::size_t text = n;
      if (text > 0 && p[text - 1] == '\n') --text;
      if (printable_text(p, text)) {
        std::fwrite(p, 1, text, stdout);
        std::fputc('\n', stdout);
        return;
      }
    }
    static const char digits[] = "0123456789abcdef";
    char buf[2 + 2 * 256];
    std::size_t used = 0;
    buf[used++] = '0';
    buf[used++] = 'x';
    for (std::size_t i = 0; i < n; ++i) {
      if (used + 2 > sizeof buf) {
        std::fwrite(buf, 1, used, stdout);
        used = 0;
      }
      buf[used++] = digits[p[i] >> 4];
      buf[used++] = digits[p[i] & 0xF];
    }
    std::fwrite(buf, 1, used, stdout);
    std::fputc('\n', stdout);
  }
};

}  // namespace

int cmd_recv(const std::vector<std::string>& argv) {
  const Args args(argv, {{"--count", true},
                         {"--timeout-ms", true},
                         {"--hex", false},
                         {"--global", false},
                         {"--any-owner", false}});
  if (args.help()) return print_help(kRecvHelp);
  const std::string name = ring_name_argument(args.positionals(), false);
  std::optional<uint64_t> count;
  if (auto c = args.value("--count")) count = parse_uint(*c, "--count", UINT64_MAX);
  std::optional<int64_t> timeout_ns;
  if (auto t = args.value("--timeout-ms")) timeout_ns = parse_timeout_ms(*t, "--timeout-ms");
  OpenOptions open_options;
  open_options.global_namespace = args.has("--global");
  open_options.allow_other_owner = args.has("--any-owner");

  Ring ring = must(Ring::open(name, open_options));
  if (ring.kind() == Kind::broadcast)
    usage_error(ring_prefix(name) +
                "a broadcast ring has readers, not a consumer: use 'shmring tail " + name + " -f'");
  Consumer consumer = must(ring.attach_consumer());
  const RecordPrinter printer{args.has("--hex")};
  const uint64_t start = platform::monotonic_ns();
  constexpr uint64_t kBatch = 1024;
  uint64_t received = 0;
  while (!count || received < *count) {
    int64_t wait_ns = kForever;
    if (timeout_ns) {
      const uint64_t elapsed = platform::monotonic_ns() - start;
      wait_ns = elapsed >= static_cast<uint64_t>(*timeout_ns)
                    ? 0
                    : *timeout_ns - static_cast<int64_t>(elapsed);
    }
    const uint64_t max = count ? std::min(kBatch, *count - received) : kBatch;
    const PollResult r = consumer.read(printer, static_cast<std::size_t>(max), wait_ns);
    received += r.count;
    if (r.count > 0 && (std::fflush(stdout) != 0 || std::ferror(stdout)))
      fail(kExitError, std::string("writing standard output: ") + std::strerror(errno));
    if (r.status == Status::corrupt) fail(kExitError, consumer.last_error());
    if (r.status == Status::timeout) {
      if (!count) break;
      fail(kExitTimeout, ring_prefix(name) + "timed out after " +
                             std::to_string(*timeout_ns / 1'000'000) + " ms with " +
                             std::to_string(received) + " of " + plural(*count, "record"));
    }
  }
  return kExitOk;
}

}  // namespace shmring::tools

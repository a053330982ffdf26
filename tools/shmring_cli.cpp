// shmring — command-line tool: create, feed, drain, inspect and remove rings.
//
//   shmring create orders --capacity 1M --kind mpsc
//   seq 10 | shmring send orders
//   shmring recv orders --count 10
//   shmring stat orders --json
//   shmring rm orders
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cli_commands.hpp"
#include "cli_common.hpp"
#include "shmring/platform.hpp"

#ifndef SHMRING_VERSION
#define SHMRING_VERSION "unknown"
#endif

namespace shmring::tools {
namespace {

const char* const kMainHelp =
    "usage: shmring <command> [options]\n"
    "\n"
    "Create, feed, drain, inspect and remove shmring shared-memory rings.\n"
    "\n"
    "commands:\n"
    "  create NAME --capacity BYTES ...   create a ring\n"
    "  send NAME [MESSAGE...]             write records (arguments, or one per stdin line)\n"
    "  recv NAME [--count N]              read records and print one per line\n"
    "  stat NAME [--json]                 show geometry, positions, counters, rates, peers\n"
    "  rm NAME                            remove a ring's name\n"
    "  help [COMMAND]                     show this help, or a command's\n"
    "\n"
    "inspection (read-only: never consumes, never writes a byte of a ring):\n"
    "  ls [--json]                        list rings and counters regions, mark stale ones\n"
    "  dump NAME [--from ...] [--max N]   print the records held, without consuming them\n"
    "  watch NAME                         live view: fill, rates, peers (q to quit)\n"
    "  tail NAME [-f]                     newest records; -f follows (broadcast: as a reader)\n"
    "  counters NAME [--json] [--watch]   a counters region's counters, or a ring's own\n"
    "\n"
    "A ring NAME is 1 to 63 characters of [A-Za-z0-9._-], not starting with '.'.\n"
    "On Linux ring NAME is the shared-memory object /dev/shm/shmring.NAME.\n"
    "On Windows it is the named file mapping Local\\shmring.NAME (Global\\ with\n"
    "--global), which exists only while some process has it open.\n"
    "Sizes take binary suffixes: 64k = 65536, 1M = 1048576.\n"
    "\n"
    "exit status: 0 success, 1 error, 2 usage error, 3 timeout\n"
    "Run 'shmring COMMAND --help' for the options of a command.\n";

struct Command {
  const char* name;
  int (*run)(const std::vector<std::string>&);
  const char* const* help;
};

const Command kCommands[] = {
    {"create", cmd_create, &kCreateHelp},
    {"send", cmd_send, &kSendHelp},
    {"recv", cmd_recv, &kRecvHelp},
    {"stat", cmd_stat, &kStatHelp},
    {"rm", cmd_rm, &kRmHelp},
    {"ls", cmd_ls, &kLsHelp},
    {"dump", cmd_dump, &kDumpHelp},
    {"watch", cmd_watch, &kWatchHelp},
    {"tail", cmd_tail, &kTailHelp},
    {"counters", cmd_counters, &kCountersHelp},
};

const Command* find_command(const std::string& name) {
  for (const Command& c : kCommands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

int run(const std::vector<std::string>& args, std::string& command) {
  if (args.empty()) {
    std::fputs(kMainHelp, stderr);
    return kExitUsage;
  }
  const std::string& first = args[0];
  if (first == "-h" || first == "--help") return print_help(kMainHelp);
  if (first == "--version") {
    std::printf("shmring %s\n", SHMRING_VERSION);
    return kExitOk;
  }
  if (first == "help") {
    if (args.size() == 1) return print_help(kMainHelp);
    const Command* c = find_command(args[1]);
    if (c == nullptr) usage_error("unknown command '" + args[1] + "'");
    return print_help(*c->help);
  }
  const Command* c = find_command(first);
  if (c == nullptr) {
    if (!first.empty() && first[0] == '-') usage_error("unknown option '" + first + "'");
    usage_error("unknown command '" + first + "'");
  }
  command = first;
  return c->run(std::vector<std::string>(args.begin() + 1, args.end()));
}

}  // namespace

std::string ring_name_argument(const std::vector<std::string>& positionals, bool extra_allowed) {
  if (positionals.empty()) usage_error("missing ring NAME");
  if (!extra_allowed && positionals.size() > 1)
    usage_error("unexpected argument '" + positionals[1] + "'");
  return positionals[0];
}

// ---- create ----------------------------------------------------------------------------------

const char* const kCreateHelp =
    "usage: shmring create NAME --capacity BYTES [--kind spsc|mpsc|broadcast]\n"
    "                           [--mode OCTAL] [--max-record BYTES] [--producers N]\n"
    "                           [--readers N] [--hold]\n"
    "                           [--sddl SDDL] [--global]\n"
    "\n"
    "Creates ring NAME as the shared-memory object /dev/shm/shmring.NAME. It stays\n"
    "until 'shmring rm NAME' (or a reboot). Fails if NAME already exists.\n"
    "On Windows NAME is the file mapping Local\\shmring.NAME, and it disappears when\n"
    "the last process that has it open closes it: use --hold to keep it.\n"
    "\n"
    "  --capacity BYTES    size of the record area: a power of two in [256, 1G],\n"
    "                      e.g. 4096, 64k, 1M\n"
    "  --kind KIND         spsc: one producer process (default); mpsc: many;\n"
    "                      broadcast: one producer that never blocks, and any number\n"
    "                      of readers, each with its own cursor (see 'shmring tail')\n"
    "  --mode OCTAL        permission bits of the object (default 600: owner only)\n"
    "  --max-record BYTES  largest record including its 8-byte header: a multiple of 8\n"
    "                      in [16, capacity/2] (default capacity/8)\n"
    "  --producers N       mpsc only: producer slots, 1..64 (default 16)\n"
    "  --readers N         broadcast only: reader slots, 1..64 (default 16)\n"
    "  --hold              keep the ring open, and this process running, until standard\n"
    "                      input reaches end of file (or the command is interrupted)\n"
    "  --sddl SDDL         Windows: the security descriptor of the ring's objects,\n"
    "                      instead of the default (the current user only)\n"
    "  --global            Windows: create in Global\\ instead of Local\\ (outside\n"
    "                      session 0 this needs SeCreateGlobalPrivilege)\n";

int cmd_create(const std::vector<std::string>& argv) {
  const Args args(argv, {{"--capacity", true},
                         {"--kind", true},
                         {"--mode", true},
                         {"--max-record", true},
                         {"--producers", true},
                         {"--readers", true},
                         {"--hold", false},
                         {"--sddl", true},
                         {"--global", false}});
  if (args.help()) return print_help(kCreateHelp);
  const std::string name = ring_name_argument(args.positionals(), false);
  CreateOptions options;
  const auto capacity = args.value("--capacity");
  if (!capacity) usage_error("missing --capacity BYTES");
  options.capacity = static_cast<uint32_t>(parse_size(*capacity, "--capacity", UINT32_MAX));
  if (auto kind = args.value("--kind")) options.kind = parse_kind(*kind, "--kind");
  if (auto mode = args.value("--mode")) options.mode = parse_mode(*mode, "--mode");
  if (auto max_record = args.value("--max-record"))
    options.max_record_size =
        static_cast<uint32_t>(parse_size(*max_record, "--max-record", UINT32_MAX));
  if (auto producers = args.value("--producers")) {
    options.max_producers =
        static_cast<uint32_t>(parse_uint(*producers, "--producers", layout::kMaxProducers));
    if (options.kind == Kind::spsc && options.max_producers != 1)
      usage_error("--producers applies to mpsc rings (an spsc ring has exactly one producer)");
    if (options.kind == Kind::broadcast && options.max_producers != 1)
      usage_error("--producers applies to mpsc rings (a broadcast ring has one producer)");
  }
  if (auto readers = args.value("--readers")) {
    if (options.kind != Kind::broadcast) usage_error("--readers applies to broadcast rings");
    options.max_readers =
        static_cast<uint32_t>(parse_uint(*readers, "--readers", layout::kMaxReaders));
  }
  if (auto sddl = args.value("--sddl")) options.security_descriptor = *sddl;
  options.global_namespace = args.has("--global");
  Ring ring = must(Ring::create(name, options));
  std::printf("created ring '%s' (%s, capacity %u bytes, max payload %u bytes, mode %03o) at %s\n",
              name.c_str(), kind_name(ring.kind()), ring.capacity(), ring.max_payload(),
              options.mode, platform::object_name(name).c_str());
  if (args.has("--hold")) {
    std::fprintf(stderr, "holding ring '%s' open until standard input closes\n", name.c_str());
    std::fflush(stdout);
    while (std::getc(stdin) != EOF) {
    }
    return kExitOk;
  }
#if defined(_WIN32)
  std::fprintf(stderr,
               "note: a Windows ring exists only while a process has it open; unless one "
               "does, '%s' is gone when this command exits (see --hold)\n",
               name.c_str());
#endif
  return kExitOk;
}

// ---- rm ----------------------------------------------------------------------------------------

const char* const kRmHelp =
    "usage: shmring rm NAME [--force] [--global]\n"
    "\n"
    "Removes ring NAME (the object /dev/shm/shmring.NAME). Processes that have it\n"
    "mapped keep using it until they close it; new opens fail.\n"
    "On Windows a ring has no name to remove: it disappears when the last process\n"
    "that has it open closes it (e.g. 'shmring create --hold' ends). There rm only\n"
    "checks that NAME exists.\n"
    "\n"
    "  --force    succeed even if NAME does not exist\n"
    "  --global   Windows: the ring is in Global\\\n";

int cmd_rm(const std::vector<std::string>& argv) {
  const Args args(argv, {{"--force", false}, {"--global", false}});
  if (args.help()) return print_help(kRmHelp);
  const std::string name = ring_name_argument(args.positionals(), false);
  auto removed = Ring::unlink(name, args.has("--global"));
  if (!removed && !(args.has("--force") && removed.error().code == ErrorCode::not_found))
    library_error(removed.error());
  return kExitOk;
}

}  // namespace shmring::tools

int main(int argc, char** argv) {
  using namespace shmring::tools;
  std::string command;
  binary_stdio();
  try {
    return run(std::vector<std::string>(argv + 1, argv + argc), command);
  } catch (const Failure& f) {
    std::fflush(stdout);
    const std::string who = command.empty() ? "shmring" : "shmring " + command;
    std::fprintf(stderr, "%s: %s\n", who.c_str(), f.what());
    if (f.exit_code() == kExitUsage)
      std::fprintf(stderr, "Try '%s --help' for more information.\n", who.c_str());
    return f.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmring%s%s: unexpected error: %s\n", command.empty() ? "" : " ",
                 command.c_str(), e.what());
    return kExitError;
  } catch (...) {
    std::fprintf(stderr, "shmring: unexpected error\n");
    return kExitError;
  }
}

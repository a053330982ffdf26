// shmring CLI — one function per subcommand. Each takes the arguments after the subcommand
// name, returns the exit code, and reports errors by throwing tools::Failure.
#pragma once

#include <string>
#include <vector>

namespace shmring::tools {

int cmd_create(const std::vector<std::string>& argv);
int cmd_send(const std::vector<std::string>& argv);
int cmd_recv(const std::vector<std::string>& argv);
int cmd_stat(const std::vector<std::string>& argv);
int cmd_rm(const std::vector<std::string>& argv);
int cmd_ls(const std::vector<std::string>& argv);        // cli_ls.cpp
int cmd_dump(const std::vector<std::string>& argv);      // cli_dump.cpp
int cmd_watch(const std::vector<std::string>& argv);     // cli_watch.cpp
int cmd_tail(const std::vector<std::string>& argv);      // cli_tail.cpp
int cmd_counters(const std::vector<std::string>& argv);  // cli_counters.cpp

extern const char* const kCreateHelp;
extern const char* const kSendHelp;
extern const char* const kRecvHelp;
extern const char* const kStatHelp;
extern const char* const kRmHelp;
extern const char* const kLsHelp;
extern const char* const kDumpHelp;
extern const char* const kWatchHelp;
extern const char* const kTailHelp;
extern const char* const kCountersHelp;

// The single NAME positional of a command (usage error if missing or repeated).
std::string ring_name_argument(const std::vector<std::string>& positionals, bool extra_allowed);

}  // namespace shmring::tools

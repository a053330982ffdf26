// shmring tools — argument parsing and small helpers shared by `shmring` and `shmring-demo`.
//
// Exit codes (both tools): 0 success, 1 error (library or OS), 2 usage error, 3 timeout.
// Errors travel as `Failure` exceptions up to main(), which prints "<tool> <cmd>: <message>"
// on stderr and exits with the failure's code. Nothing here is on a hot path.
#pragma once

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "shmring/ring.hpp"

namespace shmring::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitTimeout = 3;

// An error that ends the command with `exit_code` after printing the message.
class Failure : public std::runtime_error {
 public:
  Failure(int exit_code, const std::string& message)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const noexcept { return exit_code_; }

 private:
  int exit_code_;
};

[[noreturn]] void usage_error(const std::string& message);  // exit 2
[[noreturn]] void library_error(const Error& error);        // exit 1
[[noreturn]] void fail(int exit_code, const std::string& message);

// Unwraps a cold-path Result or throws library_error.
template <class T>
T must(Result<T>&& result) {
  if (!result) library_error(result.error());
  return std::move(result.value());
}
inline void must(Result<void>&& result) {
  if (!result) library_error(result.error());
}

struct OptionSpec {
  std::string_view name;  // "--capacity"
  bool takes_value;
};

// GNU-style long options: "--name value", "--name=value", flags, "--" ends options, "-" is a
// positional. "-h" / "--help" anywhere before "--" sets help(). Unknown options and missing
// values are usage errors.
class Args {
 public:
  Args(const std::vector<std::string>& argv, const std::vector<OptionSpec>& specs);

  bool help() const noexcept { return help_; }
  bool has(std::string_view name) const;
  std::optional<std::string> value(std::string_view name) const;  // last occurrence wins
  const std::vector<std::string>& positionals() const noexcept { return positionals_; }

 private:
  bool help_ = false;
  std::map<std::string, std::string, std::less<>> values_;
  std::vector<std::string> positionals_;
};

// Numbers. `what` names the option in error messages ("--count").
uint64_t parse_uint(std::string_view text, std::string_view what, uint64_t max);
// Byte sizes with optional binary suffix: 4096, 64k, 64K, 64KiB, 1M, 1MiB, 1G.
uint64_t parse_size(std::string_view text, std::string_view what, uint64_t max);
uint32_t parse_mode(std::string_view text, std::string_view what);  // octal, <= 0777
Kind parse_kind(std::string_view text, std::string_view what);      // spsc | mpsc
// Milliseconds -> nanoseconds for the library's timeout_ns.
int64_t parse_timeout_ms(std::string_view text, std::string_view what);

// Prints a help text on stdout; returns the exit code (0, or 1 if stdout failed).
int print_help(const char* text);

const char* kind_name(Kind kind) noexcept;
std::string human_bytes(uint64_t bytes);  // "1 MiB", "1.5 KiB", "300 B"

// ---- the few things that differ between operating systems -----------------------------------

// Reads one line of `in` into `line` without its '\n' (any bytes, NUL included; a last line may
// lack the '\n'). false at end of input or on error (check ferror). On Windows the standard
// streams are binary (see binary_stdio), and a "\r\n" line ending counts as one newline.
bool read_line(std::FILE* in, std::string& line);
// Windows: switches stdin and stdout to binary mode, so that payloads pass unchanged (no CRLF
// translation, no Ctrl-Z end of file). Elsewhere nothing to do.
void binary_stdio();
// gmtime_r / gmtime_s.
bool utc_time_of(std::time_t seconds, std::tm& out);

}  // namespace shmring::tools

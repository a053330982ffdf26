#include "cli_common.hpp"

#if defined(_WIN32)
#include <fcntl.h>
#include <io.h>
#endif

#include <cstdio>
#include <limits>

namespace shmring::tools {

void usage_error(const std::string& message) {
  throw Failure(kExitUsage, message);
}
void library_error(const Error& error) {
  throw Failure(kExitError, error.message);
}
void fail(int exit_code, const std::string& message) {
  throw Failure(exit_code, message);
}

Args::Args(const std::vector<std::string>& argv, const std::vector<OptionSpec>& specs) {
  bool options_done = false;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (options_done || arg.size() < 2 || arg[0] != '-') {
      positionals_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      help_ = true;
      continue;
    }
    const std::size_t eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const OptionSpec* spec = nullptr;
    for (const OptionSpec& s : specs) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr) usage_error("unknown option '" + name + "'");
    if (!spec->takes_value) {
      if (eq != std::string::npos) usage_error("option " + name + " takes no value");
      values_[name] = "";
    } else if (eq != std::string::npos) {
      values_[name] = arg.substr(eq + 1);
    } else {
      if (i + 1 >= argv.size()) usage_error("option " + name + " needs a value");
      values_[name] = argv[++i];
    }
  }
}

bool Args::has(std::string_view name) const {
  return values_.find(name) != values_.end();
}

std::optional<std::string> Args::value(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

namespace {

// Parses the leading decimal digits of `text`; returns how many characters it used (0: none).
std::size_t leading_digits(std::string_view text, uint64_t& out, bool& overflow) {
  out = 0;
  overflow = false;
  std::size_t i = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (out > (std::numeric_limits<uint64_t>::max() - digit) / 10) overflow = true;
    if (!overflow) out = out * 10 + digit;
  }
  return i;
}

[[noreturn]] void bad_number(std::string_view text, std::string_view what, const char* expected) {
  usage_error("bad value '" + std::string(text) + "' for " + std::string(what) + ": expected " +
              expected);
}

}  // namespace

uint64_t parse_uint(std::string_view text, std::string_view what, uint64_t max) {
  uint64_t v = 0;
  bool overflow = false;
  const std::size_t used = leading_digits(text, v, overflow);
  if (used == 0 || used != text.size()) bad_number(text, what, "a non-negative integer");
  if (overflow || v > max)
    usage_error("value " + std::string(text) + " for " + std::string(what) + " is above " +
                std::to_string(max));
  return v;
}

uint64_t parse_size(std::string_view text, std::string_view what, uint64_t max) {
  uint64_t v = 0;
  bool overflow = false;
  const std::size_t used = leading_digits(text, v, overflow);
  if (used == 0) bad_number(text, what, "a size in bytes, e.g. 4096, 64k or 1M");
  std::string_view suffix = text.substr(used);
  unsigned shift = 0;
  if (!suffix.empty()) {
    switch (suffix[0]) {
      case 'k':
      case 'K':
        shift = 10;
        break;
      case 'm':
      case 'M':
        shift = 20;
        break;
      case 'g':
      case 'G':
        shift = 30;
        break;
      case 'b':
      case 'B':
        shift = 0;
        break;
      default:
        bad_number(text, what, "a size in bytes, e.g. 4096, 64k or 1M");
    }
    std::string_view rest = suffix.substr(1);
    const bool ok = suffix[0] == 'b' || suffix[0] == 'B'
                        ? rest.empty()
                        : (rest.empty() || rest == "B" || rest == "iB" || rest == "b");
    if (!ok) bad_number(text, what, "a size in bytes, e.g. 4096, 64k or 1M");
  }
  if (overflow || (shift != 0 && v > (std::numeric_limits<uint64_t>::max() >> shift)))
    usage_error("size " + std::string(text) + " for " + std::string(what) + " is too large");
  v <<= shift;
  if (v > max)
    usage_error("size " + std::string(text) + " for " + std::string(what) + " is above " +
                std::to_string(max) + " bytes");
  return v;
}

uint32_t parse_mode(std::string_view text, std::string_view what) {
  std::string_view digits = text;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'o' || digits[1] == 'O'))
    digits.remove_prefix(2);
  if (digits.empty() || digits.size() > 4)
    bad_number(text, what, "octal permission bits, e.g. 600");
  uint32_t mode = 0;
  for (char ch : digits) {
    if (ch < '0' || ch > '7') bad_number(text, what, "octal permission bits, e.g. 600");
    mode = mode * 8 + static_cast<uint32_t>(ch - '0');
  }
  if (mode > 0777)
    usage_error("mode " + std::string(text) + " for " + std::string(what) +
                " has bits outside 0777 (no setuid/setgid/sticky)");
  return mode;
}

Kind parse_kind(std::string_view text, std::string_view what) {
  if (text == "spsc") return Kind::spsc;
  if (text == "mpsc") return Kind::mpsc;
  if (text == "broadcast") return Kind::broadcast;
  usage_error("bad value '" + std::string(text) + "' for " + std::string(what) +
              ": expected spsc, mpsc or broadcast");
}

int64_t parse_timeout_ms(std::string_view text, std::string_view what) {
  // Bounded so that the value in nanoseconds fits an int64 (~292 years).
  const uint64_t ms = parse_uint(text, what, 9'223'372'036'854ull);
  return static_cast<int64_t>(ms) * 1'000'000;
}

int print_help(const char* text) {
  std::fputs(text, stdout);
  return std::fflush(stdout) == 0 ? kExitOk : kExitError;
}

const char* kind_name(Kind kind) noexcept {
  switch (kind) {
    case Kind::spsc:
      return "spsc";
    case Kind::mpsc:
      return "mpsc";
    case Kind::broadcast:
      return "broadcast";
  }
  return "unknown";
}

std::string human_bytes(uint64_t bytes) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (v >= 1024.0 && unit + 1 < sizeof units / sizeof units[0]) {
    v /= 1024.0;
    ++unit;
  }
  char buf[32];
  if (unit == 0 || v == static_cast<double>(static_cast<uint64_t>(v)))
    std::snprintf(buf, sizeof buf, "%.0f %s", v, units[unit]);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[unit]);
  return buf;
}

bool read_line(std::FILE* in, std::string& line) {
  line.clear();
  int c = 0;
  while ((c = std::getc(in)) != EOF && c != '\n') line.push_back(static_cast<char>(c));
  if (c == EOF && (line.empty() || std::ferror(in))) return false;
#if defined(_WIN32)
  if (c == '\n' && !line.empty() && line.back() == '\r') line.pop_back();
#endif
  return true;
}

void binary_stdio() {
#if defined(_WIN32)
  (void)_setmode(_fileno(stdin), _O_BINARY);
  (void)_setmode(_fileno(stdout), _O_BINARY);
#endif
}

bool utc_time_of(std::time_t seconds, std::tm& out) {
#if defined(_WIN32)
  return gmtime_s(&out, &seconds) == 0;
#else
  return gmtime_r(&seconds, &out) != nullptr;
#endif
}

}  // namespace shmring::tools

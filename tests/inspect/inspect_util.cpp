#include "inspect_util.hpp"

#if !defined(_WIN32)
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "shmring/platform.hpp"

#if !defined(_WIN32)
extern char** environ;
#endif

namespace shmring::inspecttest {

std::string unique_name(const char* tag) {
  static std::atomic<uint32_t> counter{0};
  return "in-" + std::to_string(platform::current_pid()) + "-" +
         std::to_string(counter.fetch_add(1)) + "-" + tag;
}

uint64_t now_ns() {
  return platform::monotonic_ns();
}

void sleep_ms(int ms) {
  platform::sleep_ns(int64_t{ms} * 1'000'000);
}

uint64_t hash_object(const std::string& name) {
  auto region = platform::open_region(name, /*writable=*/false, platform::RegionOptions{});
  if (!region) return 0;
  uint64_t h = 0xcbf29ce484222325ull;
  const auto* p = reinterpret_cast<const unsigned char*>(region->data());
  for (std::size_t i = 0; i < region->size(); ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

std::byte* map_writable(const std::string& name, std::size_t& size,
                        std::shared_ptr<void>& keep_alive) {
  auto region = platform::open_region(name, /*writable=*/true, platform::RegionOptions{});
  if (!region) throw std::runtime_error(region.error().message);
  auto owned = std::make_shared<platform::Region>(std::move(region.value()));
  size = owned->size();
  std::byte* data = owned->data();
  keep_alive = owned;
  return data;
}

// ---- the CLI ----------------------------------------------------------------------------------

std::string CliResult::describe() const {
  return "exit " + std::to_string(exit_code) + "\n--- stdout:\n" + out + "--- stderr:\n" + err;
}

#if defined(_WIN32)

// Not ported: the CLI cases (test_cli_inspect.cpp) are built on POSIX only.
CliResult run_cli(const std::vector<std::string>&, int) {
  CliResult r;
  r.err = "run_cli: not implemented on Windows";
  return r;
}

#else

namespace {

std::string read_file(const std::string& path) {
  std::string data;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return data;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return data;
}

std::string temp_path(const char* what) {
  static std::atomic<uint32_t> counter{0};
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/shmring-inspect-" +
         std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)) + "." + what;
}

}  // namespace

CliResult run_cli(const std::vector<std::string>& args, int timeout_ms) {
  CliResult result;
  const std::string out_path = temp_path("out"), err_path = temp_path("err");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  std::vector<std::string> storage;
  storage.push_back(SHMRING_CLI);
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, SHMRING_CLI, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    result.err = std::string("posix_spawn failed: ") + std::strerror(rc);
    return result;
  }
  const uint64_t deadline = now_ns() + static_cast<uint64_t>(timeout_ms) * 1'000'000u;
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) break;
    if (now_ns() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      status = -1;
      break;
    }
    sleep_ms(1);
  }
  if (status != -1 && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  result.out = read_file(out_path);
  result.err = read_file(err_path);
  ::unlink(out_path.c_str());
  ::unlink(err_path.c_str());
  return result;
}

#endif  // !_WIN32

// ---- JSON -------------------------------------------------------------------------------------

namespace {

class JsonParser {
 public:
  explicit JsonParser(const std::string& t) : t_(t) {}
  Json document() {
    Json v = value();
    skip();
    if (i_ != t_.size()) error("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void error(const char* what) {
    throw std::runtime_error(std::string("JSON: ") + what + " at offset " + std::to_string(i_));
  }
  void skip() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\n' || t_[i_] == '\r' || t_[i_] == '\t'))
      ++i_;
  }
  bool take(char c) {
    skip();
    if (i_ < t_.size() && t_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!take(c)) error("unexpected character");
  }
  bool literal(const char* word) {
    const std::size_t n = std::strlen(word);
    if (t_.compare(i_, n, word) != 0) return false;
    i_ += n;
    return true;
  }
  std::string string_value() {
    expect('"');
    std::string out;
    for (;;) {
      if (i_ >= t_.size()) error("unterminated string");
      const char c = t_[i_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) error("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= t_.size()) error("bad escape");
      const char e = t_[i_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'u': {
          if (i_ + 4 > t_.size()) error("bad \\u escape");
          const unsigned cp = static_cast<unsigned>(std::stoul(t_.substr(i_, 4), nullptr, 16));
          i_ += 4;
          if (cp >= 0x80) error("non-ASCII \\u escape (not produced by shmring)");
          out += static_cast<char>(cp);
          break;
        }
        default:
          error("bad escape");
      }
    }
  }
  Json value() {
    skip();
    if (i_ >= t_.size()) error("unexpected end");
    Json v;
    const char c = t_[i_];
    if (c == '{') {
      ++i_;
      v.type = Json::object;
      if (take('}')) return v;
      do {
        skip();
        std::string key = string_value();
        expect(':');
        v.fields[key] = value();
      } while (take(','));
      expect('}');
    } else if (c == '[') {
      ++i_;
      v.type = Json::array;
      if (take(']')) return v;
      do {
        v.items.push_back(value());
      } while (take(','));
      expect(']');
    } else if (c == '"') {
      v.type = Json::string;
      v.text = string_value();
    } else if (literal("true")) {
      v.type = Json::boolean;
      v.b = true;
    } else if (literal("false")) {
      v.type = Json::boolean;
    } else if (literal("null")) {
      v.type = Json::null;
    } else {
      const std::size_t start = i_;
      if (t_[i_] == '-') ++i_;
      while (i_ < t_.size() && std::strchr("0123456789.eE+-", t_[i_]) != nullptr) ++i_;
      if (i_ == start) error("unexpected character");
      v.type = Json::number;
      v.text = t_.substr(start, i_ - start);
      v.num = std::strtod(v.text.c_str(), nullptr);
    }
    return v;
  }

  const std::string& t_;
  std::size_t i_ = 0;
};

}  // namespace

const Json& Json::operator[](const std::string& key) const {
  static const Json none;
  auto it = fields.find(key);
  return it == fields.end() ? none : it->second;
}

uint64_t Json::u64() const {
  if (type != number) return 0;
  if (text.find_first_of(".eE-") == std::string::npos)
    return std::strtoull(text.c_str(), nullptr, 10);
  return static_cast<uint64_t>(num);
}

Json parse_json(const std::string& text) {
  return JsonParser(text).document();
}

// ---- record formats ---------------------------------------------------------------------------

std::string text_record(uint64_t seq) {
  std::string s = "seq=" + std::to_string(seq) + " ";
  const std::size_t filler = seq % 53;
  for (std::size_t i = 0; i < filler; ++i) s += static_cast<char>('a' + (seq + i) % 26);
  return s;
}

bool parse_text_record(const std::string& payload, uint64_t& seq) {
  if (payload.compare(0, 4, "seq=") != 0) return false;
  char* end = nullptr;
  seq = std::strtoull(payload.c_str() + 4, &end, 10);
  if (end == payload.c_str() + 4) return false;
  return payload == text_record(seq);
}

namespace {

uint32_t fnv32(const std::byte* p, std::size_t n, uint32_t h = 0x811c9dc5u) {
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<uint8_t>(p[i]);
    h *= 0x01000193u;
  }
  return h;
}

uint32_t record_checksum(const std::byte* data, uint32_t size) {
  uint32_t h = fnv32(data, 8);         // sequence
  h = fnv32(data + 12, size - 12, h);  // size field and body
  return h;
}

}  // namespace

uint32_t binary_record_size(uint64_t seq, uint32_t max_payload) {
  const uint32_t span = max_payload - 16 + 1;
  return 16 + static_cast<uint32_t>((seq * 2654435761u) % span);
}

void fill_binary_record(std::byte* out, uint32_t size, uint64_t seq) {
  std::memcpy(out, &seq, 8);
  std::memcpy(out + 12, &size, 4);
  uint64_t x = seq * 0x9E3779B97F4A7C15ull + 1;
  for (uint32_t i = 16; i < size; ++i) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    out[i] = static_cast<std::byte>((x * 0x2545F4914F6CDD1Dull) >> 56);
  }
  const uint32_t sum = record_checksum(out, size);
  std::memcpy(out + 8, &sum, 4);
}

bool check_binary_record(const std::byte* data, uint32_t size, uint64_t& seq, std::string& why) {
  if (size < 16) {
    why = "record of " + std::to_string(size) + " bytes, below 16";
    return false;
  }
  uint32_t stored_size = 0, sum = 0;
  std::memcpy(&seq, data, 8);
  std::memcpy(&sum, data + 8, 4);
  std::memcpy(&stored_size, data + 12, 4);
  if (stored_size != size) {
    why = "seq " + std::to_string(seq) + ": size field " + std::to_string(stored_size) +
          ", record " + std::to_string(size);
    return false;
  }
  if (record_checksum(data, size) != sum) {
    why = "seq " + std::to_string(seq) + ": checksum mismatch (torn record)";
    return false;
  }
  return true;
}

}  // namespace shmring::inspecttest

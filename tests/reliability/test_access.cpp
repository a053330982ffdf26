// [security] The access-control model (docs/security.md): names are validated before any OS
// call; rings and counters regions are created owner-only (0600) unless a mode is given, whatever
// the umask; the mode is honoured by the API and by `shmring create --mode`; and another uid
// cannot open an owner-only ring. The other-uid test needs root: it runs shmring_open_probe as
// `nobody` under setpriv(1) and is skipped (with a warning) when not root.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "rel_util.hpp"
#include "shmring/counters.hpp"

using namespace shmring;
using namespace shmring::proctest;
using namespace shmring::reltest;

namespace {

int object_mode(const std::string& ring) {
  struct stat st {};
  if (::stat(object_path(ring).c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

// Runs argv (no shell), returns its exit status (128 + signal if killed, -1 if it could not
// run) and its stdout + stderr in `output`. Gives up (SIGKILL) after 30 s.
int run(const std::vector<std::string>& argv, std::string& output) {
  int fds[2];
  if (::pipe(fds) != 0) return -1;
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(fds[1]);
  output.clear();
  char buf[512];
  const uint64_t deadline = now_ns() + 30'000'000'000ull;
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) output.append(buf, static_cast<std::size_t>(n));
    if (n == 0 || (n < 0 && errno != EINTR)) break;
    if (now_ns() > deadline) ::kill(pid, SIGKILL);
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// The probe, copied where `nobody` can run it (the build tree may not be reachable).
class ProbeCopy {
 public:
  ProbeCopy() {
    char tmpl[] = "/tmp/shmring-probe-XXXXXX";
    const char* dir = ::mkdtemp(tmpl);
    REQUIRE(dir != nullptr);
    dir_ = dir;
    path_ = dir_ + "/shmring_open_probe";
    std::filesystem::copy_file(SHMRING_OPEN_PROBE, path_);
    ::chmod(dir_.c_str(), 0755);
    ::chmod(path_.c_str(), 0755);
  }
  ~ProbeCopy() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string dir_, path_;
};

Ring create_with_mode(const std::string& name, uint32_t mode) {
  CreateOptions co;
  co.kind = Kind::mpsc;
  co.capacity = 4096;
  co.mode = mode;
  auto r = Ring::create(name, co);
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r.ok());
  return std::move(r.value());
}

class Umask {
 public:
  explicit Umask(mode_t m) : old_(::umask(m)) {}
  ~Umask() { ::umask(old_); }

 private:
  mode_t old_;
};

}  // namespace

TEST_CASE("security: ring names are validated before any OS call", "[security]") {
  const std::string long_name(layout::kNameMax + 1, 'a');
  const std::vector<std::string> bad = {"",       "a/b",      "/abs",       "..",      "a..b",
                                        "../etc", ".hidden",  "a\\b",       "sp ace",  "t\tab",
                                        "nl\n",   "\xc3\xbc", "semi;colon", "q\"uote", long_name};
  for (const std::string& name : bad) {
    INFO("name '" << name << "'");
    CreateOptions co;
    co.capacity = 4096;
    auto created = Ring::create(name, co);
    REQUIRE_FALSE(created.ok());
    CHECK(created.error().code == ErrorCode::invalid_name);
    CHECK(created.error().message.find("invalid ring name") != std::string::npos);
    auto opened = Ring::open(name);
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.error().code == ErrorCode::invalid_name);
    CHECK(Ring::unlink(name).error().code == ErrorCode::invalid_name);
    auto counters = CountersRegion::create(name, CountersOptions{});
    REQUIRE_FALSE(counters.ok());
    CHECK(counters.error().code == ErrorCode::invalid_name);
  }
  CHECK_FALSE(std::filesystem::exists("/dev/shm/evil"));
  // The longest valid name works.
  RingName base;
  const std::string longest = (base.str() + std::string(layout::kNameMax, 'z')).substr(0, 63);
  CreateOptions co;
  co.capacity = 4096;
  auto ok = Ring::create(longest, co);
  INFO((ok ? std::string() : ok.error().message));
  CHECK(ok.ok());
  (void)Ring::unlink(longest);
  // The CLI refuses them too, and creates nothing.
  std::string out;
  CHECK(run({SHMRING_CLI_PATH, "create", "../evil", "--capacity", "4096"}, out) != 0);
  CHECK(out.find("invalid ring name") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists("/dev/shm/evil"));
}

TEST_CASE("security: owner-only by default and --mode honoured, whatever the umask", "[security]") {
  for (mode_t mask : {mode_t{0}, mode_t{022}, mode_t{077}}) {
    INFO("umask " << std::oct << mask);
    const Umask um(mask);
    {
      RingName name;
      CreateOptions co;
      co.capacity = 4096;
      auto r = Ring::create(name.str(), co);
      REQUIRE(r.ok());
      CHECK(object_mode(name.str()) == 0600);
    }
    for (uint32_t mode : {0600u, 0640u, 0644u, 0660u, 0666u, 0400u}) {
      INFO("mode " << std::oct << mode);
      RingName name;
      Ring r = create_with_mode(name.str(), mode);
      CHECK(object_mode(name.str()) == static_cast<int>(mode));
    }
    {
      RingName name;
      CountersOptions o;
      o.mode = 0640;
      auto c = CountersRegion::create(name.str(), o);
      REQUIRE(c.ok());
      CHECK(object_mode(name.str()) == 0640);
    }
    {
      RingName name;
      std::string out;
      const int rc = run({SHMRING_CLI_PATH, "create", name.str(), "--capacity", "4096", "--kind",
                          "mpsc", "--mode", "640"},
                         out);
      INFO(out);
      CHECK(rc == 0);
      CHECK(object_mode(name.str()) == 0640);
      RingName plain;
      CHECK(run({SHMRING_CLI_PATH, "create", plain.str(), "--capacity", "4096"}, out) == 0);
      CHECK(object_mode(plain.str()) == 0600);
    }
  }
  RingName name;
  CreateOptions co;
  co.capacity = 4096;
  co.mode = 01777;  // setuid/sticky bits are not a ring's business
  auto r = Ring::create(name.str(), co);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::invalid_argument);
}

TEST_CASE("security: another uid cannot open an owner-only ring", "[security][other-uid]") {
  if (::geteuid() != 0) {
    WARN("skipped: needs root to run the opener as another uid (nobody)");
    return;
  }
  const std::string setpriv = setpriv_path();
  if (setpriv.empty()) {
    WARN("skipped: setpriv (util-linux) is not installed");
    return;
  }
  const ProbeCopy probe;
  auto as_nobody = [&](const std::string& ring, std::vector<std::string> extra, std::string& out) {
    std::vector<std::string> argv = {setpriv,          "--reuid=nobody", "--regid=nogroup",
                                     "--clear-groups", probe.path(),     ring};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run(argv, out);
  };
  const int denied = 10 + static_cast<int>(ErrorCode::permission_denied);
  std::string out;
  {
    RingName name;
    Ring ring = create_with_mode(name.str(), 0600);
    for (const char* mode : {"", "--read-only"}) {
      std::vector<std::string> extra;
      if (*mode != '\0') extra.push_back(mode);
      const int rc = as_nobody(name.str(), extra, out);
      INFO("0600 ring, open " << (*mode ? mode : "read-write") << " as nobody: " << out);
      CHECK(rc == denied);
      CHECK(out.find("permission_denied") != std::string::npos);
      CHECK(out.find("'" + name.str() + "'") != std::string::npos);
    }
  }
  {
    RingName name;
    Ring ring = create_with_mode(name.str(), 0644);
    int rc = as_nobody(name.str(), {"--read-only"}, out);
    INFO("0644 ring, read-only open as nobody: " << out);
    CHECK(rc == 0);
    CHECK(out.rfind("ok 2 4096", 0) == 0);
    rc = as_nobody(name.str(), {}, out);
    INFO("0644 ring, read-write open as nobody: " << out);
    CHECK(rc == denied);
  }
  {
    RingName name;
    Ring ring = create_with_mode(name.str(), 0666);
    const int rc = as_nobody(name.str(), {"--attach"}, out);
    INFO("0666 ring, attach a producer as nobody: " << out);
    CHECK(rc == 0);
    CHECK(ring.stats().messages_written == 1);
  }
  {
    // Squatting: nobody plants a valid, world-writable ring under a name before its owner runs.
    // Writing to it would hand our records to nobody; reading from it would take theirs.
    RingName name;
    int rc = as_nobody(name.str(), {"--create-0666"}, out);
    INFO("nobody plants a 0666 ring: " << out);
    REQUIRE(rc == 0);
    auto planted = Ring::open(name.str());
    REQUIRE_FALSE(planted.ok());
    INFO(planted.error().message);
    CHECK(planted.error().code == ErrorCode::permission_denied);
    CHECK(planted.error().message.find("'" + name.str() + "'") != std::string::npos);
    CHECK(planted.error().message.find("owned by uid") != std::string::npos);
    OpenOptions read_only;
    read_only.read_only = true;  // inspection is safe on any contents
    CHECK(Ring::open(name.str(), read_only).ok());
    OpenOptions shared;
    shared.allow_other_owner = true;  // sharing across users on purpose
    auto on_purpose = Ring::open(name.str(), shared);
    CHECK(on_purpose.ok());
  }
}

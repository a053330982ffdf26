// shmring inspection tests — helpers: unique names, hashing a whole mapping, running the
// `shmring` CLI, a small JSON reader for its --json output, and the record formats the tests
// write (text records for dump / tail, checksummed binary records for broadcast).
//
// Tiers: ctest -L inspect (the walker, counters, and the CLI's inspection commands against real
// rings: never modifies, live dump, killed producers, corrupted rings, ls) and ctest -L
// broadcast (the broadcast kind in one process and across processes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "child.hpp"
#include "shmring/ring.hpp"

namespace shmring::inspecttest {

using proctest::Child;
using proctest::ChildIo;
using proctest::ChildRole;
using proctest::Event;
using proctest::Params;

// "in-<pid>-<n>-<tag>"; unlinked by ObjectName's destructor.
std::string unique_name(const char* tag);
class ObjectName {
 public:
  explicit ObjectName(const char* tag) : name_(unique_name(tag)) { (void)Ring::unlink(name_); }
  ~ObjectName() { (void)Ring::unlink(name_); }
  ObjectName(const ObjectName&) = delete;
  ObjectName& operator=(const ObjectName&) = delete;
  const std::string& str() const noexcept { return name_; }
  const char* c_str() const noexcept { return name_.c_str(); }

 private:
  std::string name_;
};

uint64_t now_ns();
void sleep_ms(int ms);

// FNV-1a over every byte of the object, read through a read-only mapping. 0 if it cannot be
// opened.
uint64_t hash_object(const std::string& name);

// Maps the object writable (to corrupt it on purpose); the mapping stays valid while the
// returned region lives.
std::byte* map_writable(const std::string& name, std::size_t& size,
                        std::shared_ptr<void>& keep_alive);

// ---- the CLI ----------------------------------------------------------------------------------

struct CliResult {
  int exit_code = -1;  // -1: did not finish within the timeout (it was killed)
  std::string out, err;
  std::string describe() const;  // for failure messages
};
// Runs `shmring args...` with stdin from /dev/null, stdout and stderr captured.
CliResult run_cli(const std::vector<std::string>& args, int timeout_ms = 30'000);

// ---- a small JSON reader ------------------------------------------------------------------------

struct Json {
  enum Type { null, boolean, number, string, array, object } type = null;
  bool b = false;
  double num = 0;
  std::string text;  // string value, or a number's literal
  std::vector<Json> items;
  std::map<std::string, Json> fields;

  const Json& operator[](const std::string& key) const;  // null Json if absent
  const Json& operator[](std::size_t i) const { return items.at(i); }
  bool has(const std::string& key) const { return fields.count(key) != 0; }
  uint64_t u64() const;  // exact for integer literals
  std::size_t size() const { return type == array ? items.size() : fields.size(); }
};
// Throws std::runtime_error with the offset on malformed input.
Json parse_json(const std::string& text);

// ---- record formats ---------------------------------------------------------------------------

// A text record for sequence `seq`: "seq=<seq> <filler>", printable, 12..~70 bytes.
std::string text_record(uint64_t seq);
// Parses and checks a text record; false if it is not exactly text_record(seq) for some seq.
bool parse_text_record(const std::string& payload, uint64_t& seq);

// A checksummed binary record (broadcast tests), `size` bytes >= 16:
//   0 uint64 sequence   8 uint32 checksum of everything else   12 uint32 size   16 body
void fill_binary_record(std::byte* out, uint32_t size, uint64_t seq);
// Checks the checksum, the size field and the body; false (and why) if torn or wrong.
bool check_binary_record(const std::byte* data, uint32_t size, uint64_t& seq, std::string& why);
uint32_t binary_record_size(uint64_t seq, uint32_t max_payload);

}  // namespace shmring::inspecttest

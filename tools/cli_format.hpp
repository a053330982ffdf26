// shmring tools — output formatting shared by the subcommands: payloads as text or hex, a
// minimal JSON writer, rates and ages. Pure functions, no OS calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace shmring::tools {

// Printable: valid UTF-8 without control characters (tab allowed).
bool printable_text(const unsigned char* p, std::size_t n);

// "0x" followed by two lowercase hex digits per byte.
std::string hex_string(const unsigned char* p, std::size_t n);

// A payload for one line of output: the text itself when printable (a trailing newline is
// dropped), otherwise hex_string. `max_bytes` (0: no limit) cuts long payloads, marked " ...".
std::string payload_line(const unsigned char* p, std::size_t n, std::size_t max_bytes = 0);

// Classic 16-bytes-per-line hex dump with an ASCII column, each line prefixed by `indent`.
std::string hex_dump(const unsigned char* p, std::size_t n, const std::string& indent);

// "12.3 k", "1.20 M": a rate or count with an SI suffix, 3 significant digits.
std::string si_number(double v);
// "850 ms", "3.2 s", "4 min", "2.0 h": a duration for people.
std::string human_duration_ns(uint64_t ns);

// A minimal JSON writer: objects, arrays, numbers, booleans, null and escaped strings.
class JsonWriter {
 public:
  void begin_object(const char* key = nullptr) { open(key, '{'); }
  void end_object() { close('}'); }
  void begin_array(const char* key = nullptr) { open(key, '['); }
  void end_array() { close(']'); }
  void field(const char* key, uint64_t v) { prefix(key) += std::to_string(v); }
  void field(const char* key, int64_t v) { prefix(key) += std::to_string(v); }
  void field(const char* key, uint32_t v) { field(key, uint64_t{v}); }
  void field(const char* key, int32_t v) { field(key, int64_t{v}); }
  void field(const char* key, bool v) { prefix(key) += v ? "true" : "false"; }
  void field(const char* key, const std::string& v) { append_string(prefix(key), v); }
  void field(const char* key, const char* v) { append_string(prefix(key), v); }
  void field(const char* key, double v);
  void null_field(const char* key) { prefix(key) += "null"; }
  const std::string& str() const { return out_; }
  static void append_string(std::string& out, const std::string& v);

 private:
  std::string& prefix(const char* key);
  void open(const char* key, char bracket) {
    prefix(key) += bracket;
    first_.push_back(true);
  }
  void close(char bracket);

  std::string out_;
  std::vector<bool> first_;  // per open container: no member written yet
};

}  // namespace shmring::tools

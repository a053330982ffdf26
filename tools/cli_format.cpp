#include "cli_format.hpp"

#include <cmath>
#include <cstdio>

namespace shmring::tools {

bool printable_text(const unsigned char* p, std::size_t n) {
  std::size_t i = 0;
  while (i < n) {
    const unsigned c = p[i];
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t') || c == 0x7F) return false;
      ++i;
      continue;
    }
    std::size_t len = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    const bool overlong =
        (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp < 0xA0) return false;
    i += len;
  }
  return true;
}

std::string hex_string(const unsigned char* p, std::size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string out = "0x";
  out.reserve(2 + 2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 0xF];
  }
  return out;
}

std::string payload_line(const unsigned char* p, std::size_t n, std::size_t max_bytes) {
  const bool cut = max_bytes != 0 && n > max_bytes;
  std::size_t shown = cut ? max_bytes : n;
  std::size_t text = shown;
  if (!cut && text > 0 && p[text - 1] == '\n') --text;
  // A cut may split a UTF-8 sequence: back up to a character boundary (at most 3 bytes).
  for (int back = 0; cut && back < 3 && text > 0 && (p[text] & 0xC0) == 0x80; ++back) --text;
  std::string out = printable_text(p, text) ? std::string(reinterpret_cast<const char*>(p), text)
                                            : hex_string(p, shown);
  if (cut) out += " ...";
  return out;
}

std::string hex_dump(const unsigned char* p, std::size_t n, const std::string& indent) {
  std::string out;
  char buf[32];
  for (std::size_t line = 0; line < n; line += 16) {
    out += indent;
    std::snprintf(buf, sizeof buf, "%04zx  ", line);
    out += buf;
    for (std::size_t i = 0; i < 16; ++i) {
      if (line + i < n) {
        std::snprintf(buf, sizeof buf, "%02x ", p[line + i]);
        out += buf;
      } else {
        out += "   ";
      }
      if (i == 7) out += ' ';
    }
    out += " |";
    for (std::size_t i = 0; i < 16 && line + i < n; ++i) {
      const unsigned char c = p[line + i];
      out += c >= 0x20 && c < 0x7F ? static_cast<char>(c) : '.';
    }
    out += "|\n";
  }
  return out;
}

std::string si_number(double v) {
  static const char* const suffix[] = {"", " k", " M", " G", " T"};
  std::size_t unit = 0;
  while (std::fabs(v) >= 999.5 && unit + 1 < sizeof suffix / sizeof suffix[0]) {
    v /= 1000.0;
    ++unit;
  }
  char buf[32];
  if (unit == 0 && v == std::floor(v))
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (std::fabs(v) >= 99.95)
    std::snprintf(buf, sizeof buf, "%.0f%s", v, suffix[unit]);
  else if (std::fabs(v) >= 9.995)
    std::snprintf(buf, sizeof buf, "%.1f%s", v, suffix[unit]);
  else
    std::snprintf(buf, sizeof buf, "%.2f%s", v, suffix[unit]);
  return buf;
}

std::string human_duration_ns(uint64_t ns) {
  char buf[32];
  const double s = static_cast<double>(ns) / 1e9;
  if (ns < 1'000'000)
    std::snprintf(buf, sizeof buf, "%.0f us", static_cast<double>(ns) / 1e3);
  else if (ns < 1'000'000'000)
    std::snprintf(buf, sizeof buf, "%.0f ms", static_cast<double>(ns) / 1e6);
  else if (s < 60)
    std::snprintf(buf, sizeof buf, "%.1f s", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%.0f min", s / 60);
  else if (s < 86400 * 2)
    std::snprintf(buf, sizeof buf, "%.1f h", s / 3600);
  else
    std::snprintf(buf, sizeof buf, "%.1f days", s / 86400);
  return buf;
}

// ---- JsonWriter -------------------------------------------------------------------------------

void JsonWriter::field(const char* key, double v) {
  char buf[32];
  if (std::isfinite(v))
    std::snprintf(buf, sizeof buf, "%.4f", v);
  else
    std::snprintf(buf, sizeof buf, "null");
  prefix(key) += buf;
}

std::string& JsonWriter::prefix(const char* key) {
  if (!first_.empty()) {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
    out_ += '\n';
    out_.append(2 * first_.size(), ' ');
  }
  if (key != nullptr) {
    append_string(out_, key);
    out_ += ": ";
  }
  return out_;
}

void JsonWriter::close(char bracket) {
  const bool empty = first_.back();
  first_.pop_back();
  if (!empty) {
    out_ += '\n';
    out_.append(2 * first_.size(), ' ');
  }
  out_ += bracket;
}

void JsonWriter::append_string(std::string& out, const std::string& v) {
  out += '"';
  for (unsigned char c : v) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

}  // namespace shmring::tools

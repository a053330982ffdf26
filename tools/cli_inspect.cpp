#include "cli_inspect.hpp"

#if defined(__linux__)
#include <dirent.h>
#elif defined(_WIN32)
#include <windows.h>
// windows.h first.
#include <winternl.h>

#include <cwchar>
#endif

#include <algorithm>
#include <cstring>

#include "cli_common.hpp"
#include "cli_format.hpp"
#include "shmring/validate.hpp"

namespace shmring::tools {

// ---- enumeration: the OS-specific part -------------------------------------------------------

std::vector<std::string> list_object_names() {
  std::vector<std::string> names;
#if defined(__linux__)
  // platform::object_name("x") is "/dev/shm/shmring.x": list that directory.
  static const char kPrefix[] = "shmring.";
  DIR* dir = ::opendir("/dev/shm");
  if (dir == nullptr) return names;
  while (const struct dirent* entry = ::readdir(dir)) {
    if (std::strncmp(entry->d_name, kPrefix, sizeof kPrefix - 1) != 0) continue;
    const char* name = entry->d_name + sizeof kPrefix - 1;
    if (*name != '\0') names.emplace_back(name);
  }
  ::closedir(dir);
#elif defined(_WIN32)
  // platform::object_name("x") is the section Local\shmring.x: list the Section objects of this
  // session's object directory, \Sessions\<id>\BaseNamedObjects (what Local\ links to),
  // through the native API (there is no documented Win32 call for it).
  struct DirectoryEntry {
    UNICODE_STRING name;
    UNICODE_STRING type;
  };
  using OpenDirectory = LONG(NTAPI*)(PHANDLE, ACCESS_MASK, POBJECT_ATTRIBUTES);
  using QueryDirectory = LONG(NTAPI*)(HANDLE, PVOID, ULONG, BOOLEAN, BOOLEAN, PULONG, PULONG);
  HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
  const auto open_directory = reinterpret_cast<OpenDirectory>(
      reinterpret_cast<void*>(::GetProcAddress(ntdll, "NtOpenDirectoryObject")));
  const auto query_directory = reinterpret_cast<QueryDirectory>(
      reinterpret_cast<void*>(::GetProcAddress(ntdll, "NtQueryDirectoryObject")));
  DWORD session = 0;
  if (open_directory != nullptr && query_directory != nullptr &&
      ::ProcessIdToSessionId(::GetCurrentProcessId(), &session)) {
    wchar_t path[64];
    std::swprintf(path, sizeof path / sizeof path[0], L"\\Sessions\\%lu\\BaseNamedObjects",
                  static_cast<unsigned long>(session));
    UNICODE_STRING us;
    us.Buffer = path;
    us.Length = static_cast<USHORT>(std::wcslen(path) * sizeof(wchar_t));
    us.MaximumLength = us.Length;
    OBJECT_ATTRIBUTES attributes;
    InitializeObjectAttributes(&attributes, &us, 0, nullptr, nullptr);
    HANDLE directory = nullptr;
    if (open_directory(&directory, 0x0001 /* DIRECTORY_QUERY */, &attributes) == 0) {
      static const wchar_t kPrefix[] = L"shmring.";
      const std::size_t prefix_length = sizeof kPrefix / sizeof kPrefix[0] - 1;
      alignas(8) static char buffer[16384];
      ULONG context = 0, returned = 0;
      while (query_directory(directory, buffer, sizeof buffer, TRUE, FALSE, &context, &returned) ==
             0) {
        const auto* entry = reinterpret_cast<const DirectoryEntry*>(buffer);
        const std::wstring name(entry->name.Buffer, entry->name.Length / sizeof(wchar_t));
        const std::wstring type(entry->type.Buffer, entry->type.Length / sizeof(wchar_t));
        if (type != L"Section" || name.compare(0, prefix_length, kPrefix) != 0 ||
            name.size() == prefix_length)
          continue;
        std::string ring;
        for (std::size_t i = prefix_length; i < name.size(); ++i)
          ring += name[i] < 0x80 ? static_cast<char>(name[i]) : '?';
        names.push_back(ring);
      }
      ::CloseHandle(directory);
    }
  }
#endif
  std::sort(names.begin(), names.end());
  return names;
}

// ---- probing ---------------------------------------------------------------------------------

Probe probe_object(const std::string& name, bool global_namespace) {
  Probe p;
  p.name = name;
  if (auto valid = Ring::validate_name(name); !valid) {
    p.type = ObjectType::unreadable;
    p.code = valid.error().code;
    p.reason = valid.error().message;
    return p;
  }
  platform::RegionOptions ro;
  ro.global = global_namespace;
  auto region = platform::open_region(name, /*writable=*/false, ro);
  if (!region) {
    p.type = ObjectType::unreadable;
    p.code = region.error().code;
    p.reason = region.error().message;
    return p;
  }
  p.image = std::move(region.value());
  const std::byte* base = p.image.data();
  const std::size_t size = p.image.size();
  uint64_t magic = 0;
  if (base != nullptr && size >= sizeof magic)
    magic = reinterpret_cast<const std::atomic<uint64_t>*>(base)->load(std::memory_order_acquire);
  if (magic == layout::kCountersMagic) {
    auto valid = CountersRegion::validate(name, base, size);
    p.type = valid ? ObjectType::counters : ObjectType::invalid;
    if (!valid) {
      p.code = valid.error().code;
      p.reason = valid.error().message;
    }
    return p;
  }
  auto valid = validate_header(name, base, size);
  p.type = valid ? ObjectType::ring : ObjectType::invalid;
  if (!valid) {
    p.code = valid.error().code;
    p.reason = valid.error().message;
  }
  return p;
}

Ring open_ring_read_only(const std::string& name, bool global_namespace) {
  OpenOptions options;
  options.read_only = true;
  options.global_namespace = global_namespace;
  auto ring = Ring::open(name, options);
  if (!ring) {
    if (ring.error().code == ErrorCode::not_a_ring) {
      const Probe p = probe_object(name, global_namespace);
      if (p.type == ObjectType::counters)
        fail(kExitError, "'" + name + "' is a counters region, not a ring: see 'shmring counters " +
                             name + "'");
    }
    library_error(ring.error());
  }
  return std::move(ring.value());
}

// ---- samples, rates, peers -------------------------------------------------------------------

Sample take_sample(const Ring& ring) {
  Sample s;
  s.stats = ring.stats();
  s.at_ns = platform::monotonic_ns();
  return s;
}

Rates rates_between(const Sample& a, const Sample& b) {
  Rates r;
  if (b.at_ns <= a.at_ns) return r;
  r.seconds = static_cast<double>(b.at_ns - a.at_ns) / 1e9;
  auto per_second = [&](uint64_t before, uint64_t after) {
    return after > before ? static_cast<double>(after - before) / r.seconds : 0.0;
  };
  r.messages_in = per_second(a.stats.messages_written, b.stats.messages_written);
  r.bytes_in = per_second(a.stats.bytes_written, b.stats.bytes_written);
  r.messages_out = per_second(a.stats.messages_read, b.stats.messages_read);
  r.bytes_out = per_second(a.stats.bytes_read, b.stats.bytes_read);
  r.full = per_second(a.stats.full_count, b.stats.full_count);
  r.producer_sleeps = per_second(a.stats.producer_sleeps, b.stats.producer_sleeps);
  r.consumer_sleeps = per_second(a.stats.consumer_sleeps, b.stats.consumer_sleeps);
  return r;
}

std::vector<Peer> peers_of(const Stats& s) {
  std::vector<Peer> peers;
  if (s.consumer.pid != 0)
    peers.push_back({"consumer", s.consumer.pid, s.consumer.alive, s.consumer.last_activity_ns});
  for (const ProducerStats& p : s.producers)
    peers.push_back({"producer", p.pid, p.alive, p.last_activity_ns});
  for (const ReaderStats& r : s.readers)
    peers.push_back({"reader", r.pid, r.alive, r.last_activity_ns});
  return peers;
}

bool ring_is_stale(const Stats& s) {
  if (platform::process_alive(s.creator_pid)) return false;
  for (const Peer& p : peers_of(s)) {
    if (p.alive) return false;
  }
  return true;
}

double fill_percent(const Stats& s) {
  return s.capacity == 0 ? 0.0 : 100.0 * static_cast<double>(s.used_bytes) / s.capacity;
}

std::string age_text(uint64_t last_activity_ns, uint64_t now_ns) {
  if (last_activity_ns == 0) return "never";
  if (last_activity_ns > now_ns) return "just now";
  return human_duration_ns(now_ns - last_activity_ns) + " ago";
}

// ---- the record at the consumer position ----------------------------------------------------

std::optional<InFlight> find_in_flight(const std::string& name, const platform::Region& image,
                                       const Stats& stats) {
  if (stats.kind != Kind::mpsc || image.data() == nullptr) return std::nullopt;
  uint32_t start = 0;
  std::string reason;
  if (!inspect::start_position(name, image.data(), image.size(), inspect::From::consumer, start,
                               reason))
    return std::nullopt;
  InFlight found;
  bool claimed = false;
  const inspect::WalkResult r =
      inspect::walk(name, image.data(), image.size(), start, kInFlightSearch, [&](const auto& rec) {
        if (rec.state == inspect::RecordState::claimed ||
            rec.state == inspect::RecordState::reserved) {
          found.record = rec;
          found.record.payload = nullptr;  // the walker's copy dies with the walk
          claimed = true;
        } else {
          ++found.records_before;
        }
        return true;
      });
  inspect::WalkResult settled = r;
  settle_stop(image, settled);
  if (!claimed || settled.stop != inspect::WalkStop::in_flight) return std::nullopt;
  found.at_consumer = found.record.position == start;
  const uint32_t at = found.record.position;
  for (const ProducerStats& p : stats.producers) {
    if (p.claim_active && at - p.claim_position < std::max(p.claim_length, 1u)) {
      found.owner_known = true;
      found.owner_pid = p.pid;
      found.owner_alive = p.alive;
      found.owner_last_activity_ns = p.last_activity_ns;
      break;
    }
  }
  return found;
}

void settle_stop(const platform::Region& image, inspect::WalkResult& r) {
  if (r.stop != inspect::WalkStop::corrupt && r.stop != inspect::WalkStop::in_flight) return;
  if (!validate_header("", image.data(), image.size())) return;  // the header itself is bad
  const auto* h = reinterpret_cast<const layout::RingHeader*>(image.data());
  // acquire: whatever the walker read came before these loads.
  std::atomic_thread_fence(std::memory_order_acquire);
  bool gone = false;
  if (h->kind == static_cast<uint32_t>(Kind::broadcast)) {
    gone = h->tail_intent.load(std::memory_order_acquire) - r.position > h->capacity;
  } else {
    const uint32_t consumer = h->consumer_position.load(std::memory_order_acquire);
    const uint32_t tail = h->producer_position.load(std::memory_order_acquire);
    gone = r.position - consumer > tail - consumer;
  }
  if (!gone) return;
  r.reason = "record at position " + std::to_string(r.position) + ": " +
             (h->kind == static_cast<uint32_t>(Kind::broadcast) ? "overwritten by the producer"
                                                                : "consumed") +
             " while it was read";
  r.stop = inspect::WalkStop::overwritten;
}

const char* record_state_name(inspect::RecordState state) {
  switch (state) {
    case inspect::RecordState::committed:
      return "committed";
    case inspect::RecordState::padding:
      return "padding";
    case inspect::RecordState::claimed:
      return "claimed";
    case inspect::RecordState::reserved:
      return "reserved";
  }
  return "?";
}

const char* walk_stop_name(inspect::WalkStop stop) {
  switch (stop) {
    case inspect::WalkStop::end:
      return "end";
    case inspect::WalkStop::max_records:
      return "max";
    case inspect::WalkStop::in_flight:
      return "in_flight";
    case inspect::WalkStop::overwritten:
      return "overwritten";
    case inspect::WalkStop::corrupt:
      return "corrupt";
    case inspect::WalkStop::stopped:
      return "stopped";
  }
  return "?";
}

uint32_t parse_position(const std::string& text, const char* what) {
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    uint64_t v = 0;
    const std::string digits = text.substr(2);
    if (digits.empty() || digits.size() > 8)
      usage_error("bad value '" + text + "' for " + what + ": expected a 32-bit position");
    for (char c : digits) {
      int d = -1;
      if (c >= '0' && c <= '9') d = c - '0';
      if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      if (d < 0) usage_error("bad value '" + text + "' for " + what + ": expected hex digits");
      v = v * 16 + static_cast<uint64_t>(d);
    }
    return static_cast<uint32_t>(v);
  }
  return static_cast<uint32_t>(parse_uint(text, what, UINT32_MAX));
}

}  // namespace shmring::tools

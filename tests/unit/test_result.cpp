// Result<T> ownership and move semantics; Status and ErrorCode names.
#include <memory>
#include <set>

#include "support.hpp"

using namespace shmring;

namespace {

// Counts live instances, so a leak or a double destruction shows as a wrong count.
struct Tracked {
  static int live;
  int value;
  explicit Tracked(int v) : value(v) { ++live; }
  Tracked(Tracked&& o) noexcept : value(o.value) {
    o.value = -1;
    ++live;
  }
  Tracked& operator=(Tracked&&) = delete;
  Tracked(const Tracked&) = delete;
  ~Tracked() { --live; }
};
int Tracked::live = 0;

Result<Tracked> make_value(int v) {
  return Tracked(v);
}
Result<Tracked> make_failure(const char* msg) {
  return make_error(ErrorCode::not_found, msg, 2);
}

}  // namespace

TEST_CASE("Result: value and error", "[unit][result]") {
  Tracked::live = 0;
  {
    Result<Tracked> ok = make_value(7);
    CHECK(ok.ok());
    CHECK(static_cast<bool>(ok));
    CHECK(ok.value().value == 7);
    CHECK(ok->value == 7);
    CHECK((*ok).value == 7);
    CHECK(ok.error().code == ErrorCode::ok);
    CHECK(Tracked::live == 1);

    Result<Tracked> bad = make_failure("ring 'x': gone");
    CHECK_FALSE(bad.ok());
    CHECK_FALSE(static_cast<bool>(bad));
    CHECK(bad.error().code == ErrorCode::not_found);
    CHECK(bad.error().os_error == 2);
    CHECK(bad.error().message == "ring 'x': gone");
    CHECK(Tracked::live == 1);
  }
  CHECK(Tracked::live == 0);
}

TEST_CASE("Result: move construction and assignment", "[unit][result]") {
  Tracked::live = 0;
  {
    Result<Tracked> a = make_value(1);
    Result<Tracked> b(std::move(a));
    REQUIRE(b.ok());
    CHECK(b->value == 1);

    // error over value: the value is destroyed
    Result<Tracked> e = make_failure("boom");
    b = std::move(e);
    CHECK_FALSE(b.ok());
    CHECK(b.error().message == "boom");
    CHECK(b.error().code == ErrorCode::not_found);

    // value over error
    Result<Tracked> c = make_value(3);
    b = std::move(c);
    REQUIRE(b.ok());
    CHECK(b->value == 3);
    CHECK(b.error().code == ErrorCode::ok);

    // value over value
    Result<Tracked> d = make_value(4);
    b = std::move(d);
    REQUIRE(b.ok());
    CHECK(b->value == 4);

    // self-move leaves it intact
    Result<Tracked>& same = b;
    b = std::move(same);
    REQUIRE(b.ok());
    CHECK(b->value == 4);

    // take the value out of an rvalue Result
    Tracked t = std::move(b).value();
    CHECK(t.value == 4);
  }
  CHECK(Tracked::live == 0);
}

TEST_CASE("Result: move-only payloads", "[unit][result]") {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(42));
  REQUIRE(r.ok());
  Result<std::unique_ptr<int>> s(std::move(r));
  REQUIRE(s.ok());
  REQUIRE(s.value() != nullptr);
  CHECK(*s.value() == 42);
  std::unique_ptr<int> p = std::move(s).value();
  CHECK(*p == 42);
}

TEST_CASE("Result<void>", "[unit][result]") {
  Result<void> ok;
  CHECK(ok.ok());
  CHECK(static_cast<bool>(ok));
  Result<void> bad = make_error(ErrorCode::busy, "ring 'y': taken", 16);
  CHECK_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::busy);
  CHECK(bad.error().os_error == 16);
  CHECK(bad.error().message == "ring 'y': taken");
  Result<void> moved = std::move(bad);
  CHECK_FALSE(moved.ok());
  CHECK(moved.error().code == ErrorCode::busy);
}

TEST_CASE("Status and ErrorCode names", "[unit][result]") {
  CHECK(std::string(to_string(Status::ok)) == "ok");
  CHECK(std::string(to_string(Status::full)) == "full");
  CHECK(std::string(to_string(Status::empty)) == "empty");
  CHECK(std::string(to_string(Status::timeout)) == "timeout");
  CHECK(std::string(to_string(Status::too_large)) == "too_large");
  CHECK(std::string(to_string(Status::corrupt)) == "corrupt");
  CHECK(std::string(to_string(Status::consumer_dead)) == "consumer_dead");
  CHECK(std::string(to_string(Status::claim_pending)) == "claim_pending");
  CHECK(std::string(to_string(Status::invalid_argument)) == "invalid_argument");
  CHECK(std::string(to_string(static_cast<Status>(99))) == "unknown");
  CHECK(std::string(to_string(static_cast<Status>(-1))) == "unknown");

  // C ABI values are fixed.
  CHECK(static_cast<int>(Status::ok) == 0);
  CHECK(static_cast<int>(Status::invalid_argument) == 8);
  CHECK(static_cast<int>(ErrorCode::os_error) == 13);

  std::set<std::string> names;
  for (int c = 0; c <= 13; ++c) {
    const std::string n = to_string(static_cast<ErrorCode>(c));
    CAPTURE(c, n);
    CHECK(n != "unknown");
    names.insert(n);
  }
  CHECK(names.size() == 14u);
  CHECK(std::string(to_string(ErrorCode::not_ready)) == "not_ready");
  CHECK(std::string(to_string(ErrorCode::version_mismatch)) == "version_mismatch");
  CHECK(std::string(to_string(static_cast<ErrorCode>(14))) == "unknown");
}
